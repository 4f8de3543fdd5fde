"""Byte-level BPE tokenizer for captions (Sennrich et al. 2016; byte-level as in GPT-2, simplified).

The algorithm, which the TypeScript side re-implements from `to_dict()`:
1. Normalise: ASCII A-Z -> a-z only (no Unicode case folding, so JS and Python agree exactly);
   tab, newline and carriage return become spaces.
2. Pre-tokenise: split on ASCII space ' ', drop empty pieces. Each word becomes the UTF-8 bytes of
   " " + word (a leading space marks the word start, so decoding restores spaces).
3. Ids: 0 = pad, 1 = bos, 2 = eos, 3 + b for byte b (3..258), then merge i creates id 259 + i.
4. Encode a word: start from its byte ids; repeatedly take the adjacent pair whose merge has the lowest
   rank (index in `merges`), replace all its non-overlapping occurrences left to right by the merged id;
   stop when no adjacent pair has a merge.
5. Sequence: [bos] + word ids concatenated, truncated to max_len − 2 ids, + [eos], padded with pad to max_len.
Training: count words (after steps 1-2) over the corpus; repeatedly merge the most frequent adjacent pair
(weighted by word count; ties: the smallest (left id, right id)) until vocab_size is reached or no pair
occurs at least `min_frequency` times. Deterministic.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterable, Sequence

PAD, BOS, EOS = 0, 1, 2
BYTE_OFFSET = 3
FIRST_MERGE_ID = BYTE_OFFSET + 256


def normalise(text: str) -> str:
    text = text.replace("\t", " ").replace("\n", " ").replace("\r", " ")
    return "".join(chr(ord(ch) + 32) if "A" <= ch <= "Z" else ch for ch in text)


def words_of(text: str) -> list[tuple[int, ...]]:
    return [tuple(BYTE_OFFSET + b for b in (" " + w).encode("utf-8"))
            for w in normalise(text).split(" ") if w]


def _merge_word(word: tuple[int, ...], pair: tuple[int, int], new_id: int) -> tuple[int, ...]:
    out, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and word[i] == pair[0] and word[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


class BPETokenizer:
    def __init__(self, merges: Sequence[tuple[int, int]], max_len: int = 16):
        self.merges = [tuple(m) for m in merges]
        self.max_len = max_len
        self.ranks = {m: i for i, m in enumerate(self.merges)}
        self._cache: dict[tuple[int, ...], tuple[int, ...]] = {}

    @property
    def vocab_size(self) -> int:
        return FIRST_MERGE_ID + len(self.merges)

    # -- training -------------------------------------------------------------------------------
    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int, max_len: int = 16,
              min_frequency: int = 2) -> "BPETokenizer":
        counts: Counter = Counter()
        for t in texts:
            counts.update(words_of(t))
        words = dict(counts)                           # word (tuple of ids) -> count
        merges: list[tuple[int, int]] = []
        while FIRST_MERGE_ID + len(merges) < vocab_size:
            pairs: Counter = Counter()
            for w, n in words.items():
                for a, b in zip(w, w[1:]):
                    pairs[(a, b)] += n
            if not pairs:
                break
            best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))
            if best[1] < min_frequency:
                break
            pair, new_id = best[0], FIRST_MERGE_ID + len(merges)
            merges.append(pair)
            new_words: dict[tuple[int, ...], int] = {}
            for w, n in words.items():
                w2 = _merge_word(w, pair, new_id) if pair[0] in w else w
                new_words[w2] = new_words.get(w2, 0) + n
            words = new_words
        return cls(merges, max_len)

    # -- encoding -------------------------------------------------------------------------------
    def encode_word(self, word: tuple[int, ...]) -> tuple[int, ...]:
        if word in self._cache:
            return self._cache[word]
        w = word
        while len(w) > 1:
            ranked = [(self.ranks[p], p) for p in zip(w, w[1:]) if p in self.ranks]
            if not ranked:
                break
            rank, pair = min(ranked)
            w = _merge_word(w, pair, FIRST_MERGE_ID + rank)
        self._cache[word] = w
        return w

    def tokenize(self, text: str) -> list[int]:
        """Ids of the text without bos/eos/padding."""
        return [i for w in words_of(text) for i in self.encode_word(w)]

    def encode(self, text: str, max_len: int | None = None) -> list[int]:
        L = max_len or self.max_len
        ids = [BOS] + self.tokenize(text)[: L - 2] + [EOS]
        return ids + [PAD] * (L - len(ids))

    def encode_batch(self, texts: Sequence[str], max_len: int | None = None):
        import torch
        return torch.tensor([self.encode(t, max_len) for t in texts], dtype=torch.long)

    def empty_ids(self, max_len: int | None = None) -> list[int]:
        """The empty prompt (unconditional branch / text dropout): [bos, eos, pad, ...]."""
        return self.encode("", max_len)

    # -- decoding -------------------------------------------------------------------------------
    def _bytes_of(self, i: int) -> bytes:
        if i < BYTE_OFFSET:
            return b""
        if i < FIRST_MERGE_ID:
            return bytes([i - BYTE_OFFSET])
        a, b = self.merges[i - FIRST_MERGE_ID]
        return self._bytes_of(a) + self._bytes_of(b)

    def decode(self, ids: Iterable[int]) -> str:
        data = b"".join(self._bytes_of(int(i)) for i in ids)
        text = data.decode("utf-8", errors="replace")
        return text[1:] if text.startswith(" ") else text

    # -- serialisation (manifest "tokenizer") ---------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"type": "byte-bpe", "version": 1, "normalise": "ascii-lowercase", "split": "space",
                "word_prefix": " ", "specials": {"pad": PAD, "bos": BOS, "eos": EOS},
                "byte_offset": BYTE_OFFSET, "vocab_size": self.vocab_size, "max_len": self.max_len,
                "merges": [list(m) for m in self.merges]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "BPETokenizer":
        if d.get("type") != "byte-bpe" or d.get("version") != 1:
            raise ValueError(f"unsupported tokenizer {d.get('type')!r} v{d.get('version')}")
        return cls([tuple(m) for m in d["merges"]], d["max_len"])
