"""Byte-level BPE tokenizer for captions (Sennrich et al. 2016; byte-level as in GPT-2, simplified), with an
optional list of known words (version 2). The TypeScript side (src/model/bpe.ts) re-implements it from
`to_dict()`; this docstring is the spec both follow byte for byte.

Bounding: every input text is first cut to its first MAX_TEXT_CHARS (4096) code points, so the work per prompt
is bounded (a caption is never that long; only the first max_len − 2 ids are kept anyway).

Version 1 (`{"type": "byte-bpe", "version": 1, ...}`; a dict without "version" is also read as v1):
1. Normalise: ASCII A-Z -> a-z only (no Unicode case folding, so JS and Python agree exactly);
   tab, newline and carriage return become spaces.
2. Pre-tokenise: split on ASCII space ' ', drop empty pieces. Each piece becomes the UTF-8 bytes of
   " " + piece (a leading space marks the word start, so decoding restores spaces).
3. Ids: 0 = pad, 1 = bos, 2 = eos, 3 + b for byte b (3..258), then merge i creates id 259 + i.
4. Encode a piece: start from its byte ids; repeatedly take the adjacent pair whose merge has the lowest
   rank (index in `merges`), replace all its non-overlapping occurrences left to right by the merged id;
   stop when no adjacent pair has a merge.
5. Sequence: [bos] + piece ids concatenated, truncated to max_len − 2 ids, + [eos], padded with pad to max_len.

Version 2 (`{"type": "byte-bpe", "version": 2, "merges": [...], "words": [...], "max_len": Lt, ...}`):
1. Normalise as v1.
2. Pre-tokenise by word boundaries, scanning code points left to right: a maximal run of ASCII [a-z0-9] is one
   piece; a maximal run of non-ASCII code points (>= U+0080) is one piece; every other non-space ASCII
   character (punctuation, symbols, control characters) is a piece on its own; spaces separate and are dropped.
   So "Zorblat!" -> "zorblat", "!"; "thumbs-up" -> "thumbs", "-", "up"; "🔥🔥x" -> "🔥🔥", "x".
3. A piece found in `words` is the single id word_offset + its index; any other piece is the v1 BPE (step 4)
   of the UTF-8 bytes of " " + piece. Ids: 0 pad, 1 bos, 2 eos, 3..258 bytes, 259.. merges, then
   word_offset = 259 + len(merges), vocab_size = word_offset + len(words). (A lone UTF-16 surrogate, which
   only a JS string can hold, is encoded as U+FFFD, as the browser's TextEncoder does.)
4. Sequence as v1.
`words`: unique strings of 1..64 characters of [a-z0-9] (at most MAX_WORDS), in the order of the word-vector
table they come from (training/prior/<name>.npz), so word id word_offset + i is row i of that table.

Split "word-boundary" on a v1 tokenizer (`"split": "word-boundary"` in the dict; `with_split("word-boundary")`):
the v1 ids (no word list), but pieces cut by v2's step 2, so "Zorblat," and "zorblat" share the piece "zorblat".
Fine-tuning uses it for its captions and for the prompts of the adapter it trained (src/worker/finetune/); a
model's own training captions keep the split it was trained with ("space", the v1 default).

Training: count pieces (after steps 1-2) over the corpus; repeatedly merge the most frequent adjacent pair
(weighted by piece count; ties: the smallest (left id, right id)) until vocab_size ids (fixed ids + merges;
v2 words come on top) are reached or no pair occurs at least `min_frequency` times. v2 counts only the
pieces that are not known words, so merges serve only out-of-vocabulary pieces. Deterministic.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

PAD, BOS, EOS = 0, 1, 2
BYTE_OFFSET = 3
FIRST_MERGE_ID = BYTE_OFFSET + 256
MAX_TEXT_CHARS = 4096  # code points of a text that are tokenised; the rest is ignored
MAX_WORDS = 200_000  # longest `words` list (the TypeScript manifest parser refuses more)
MAX_WORD_CHARS = 64
SPLITS = ("space", "word-boundary")  # step 2: v1's split on spaces, or v2's word boundaries
_WORD_RE = re.compile(rf"[a-z0-9]{{1,{MAX_WORD_CHARS}}}")


def normalise(text: str) -> str:
    text = text.replace("\t", " ").replace("\n", " ").replace("\r", " ")
    return "".join(chr(ord(ch) + 32) if "A" <= ch <= "Z" else ch for ch in text)


def _alnum(ch: str) -> bool:
    return "a" <= ch <= "z" or "0" <= ch <= "9"


def pieces_v1(text: str) -> list[str]:
    return [w for w in normalise(text[:MAX_TEXT_CHARS]).split(" ") if w]


def pieces_v2(text: str) -> list[str]:
    """Step 2 of v2: [a-z0-9] runs, non-ASCII runs, single other non-space ASCII characters."""
    out: list[str] = []
    t = normalise(text[:MAX_TEXT_CHARS])
    i, n = 0, len(t)
    while i < n:
        ch = t[i]
        if ch == " ":
            i += 1
            continue
        j = i + 1
        if _alnum(ch):
            while j < n and _alnum(t[j]):
                j += 1
        elif ord(ch) >= 0x80:
            while j < n and ord(t[j]) >= 0x80:
                j += 1
        out.append(t[i:j])
        i = j
    return out


def contains_word(text: str, word: str) -> bool:
    """The word gate (src/finetune/word_gate.ts containsWord): the word's v2 pieces in a row among the text's, so
    case and punctuation do not matter ("Zorblat!") and a longer letter run is another word ("zorblats")."""
    w, t = pieces_v2(word), pieces_v2(text)
    return bool(w) and any(t[i : i + len(w)] == w for i in range(len(t) - len(w) + 1))


def piece_bytes(piece: str) -> tuple[int, ...]:
    """Byte ids of " " + piece (lone surrogates -> U+FFFD, as the browser's TextEncoder)."""
    if any(0xD800 <= ord(c) <= 0xDFFF for c in piece):
        piece = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in piece)
    return tuple(BYTE_OFFSET + b for b in (" " + piece).encode("utf-8"))


def words_of(text: str) -> list[tuple[int, ...]]:
    """v1 steps 1-2: the byte ids of each piece."""
    return [piece_bytes(w) for w in pieces_v1(text)]


def check_words(words: Sequence[str]) -> list[str]:
    """The v2 `words` list, validated (bounded count, [a-z0-9]{1,64}, unique); ValueError otherwise."""
    if not isinstance(words, (list, tuple)):
        raise ValueError(f"tokenizer words must be a list, got {type(words).__name__}")
    if len(words) > MAX_WORDS:
        raise ValueError(f"tokenizer has {len(words)} words; at most {MAX_WORDS}")
    out = list(words)
    for w in out:
        if not isinstance(w, str) or not _WORD_RE.fullmatch(w):
            raise ValueError(f"tokenizer word {w!r} is not 1-{MAX_WORD_CHARS} characters of [a-z0-9]")
    if len(set(out)) != len(out):
        raise ValueError("tokenizer words are not unique")
    return out


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
    def __init__(
        self,
        merges: Sequence[tuple[int, int]],
        max_len: int = 16,
        words: Sequence[str] | None = None,
        version: int = 1,
        split: str | None = None,
    ):
        if version not in (1, 2):
            raise ValueError(f"tokenizer version must be 1 or 2, got {version!r}")
        if version == 1 and words:
            raise ValueError("a v1 tokenizer has no word list; use version=2")
        split = split or ("space" if version == 1 else "word-boundary")
        if split not in SPLITS or (version == 2 and split != "word-boundary"):
            raise ValueError(f"tokenizer v{version} cannot split by {split!r}")
        self.version = version
        self.split = split
        self.merges = [tuple(m) for m in merges]
        self.max_len = max_len
        self.ranks = {m: i for i, m in enumerate(self.merges)}
        self.words = check_words(list(words or []))
        self.word_ids = {w: self.word_offset + i for i, w in enumerate(self.words)}
        self._cache: dict[tuple[int, ...], tuple[int, ...]] = {}

    def with_split(self, split: str) -> BPETokenizer:
        """The same ids with step 2 done by `split` ("word-boundary" on v1: the fine-tuning captions' split)."""
        return BPETokenizer(self.merges, self.max_len, words=self.words or None, version=self.version, split=split)

    @property
    def word_offset(self) -> int:
        """First word id (v2); equals vocab_size for v1 and for a v2 tokenizer without words."""
        return FIRST_MERGE_ID + len(self.merges)

    @property
    def vocab_size(self) -> int:
        return self.word_offset + len(self.words)

    # -- training -------------------------------------------------------------------------------
    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        vocab_size: int,
        max_len: int = 16,
        min_frequency: int = 2,
        words: Sequence[str] | None = None,
        version: int = 1,
    ) -> BPETokenizer:
        """vocab_size counts the fixed ids and merges (v2 words come on top)."""
        known = set(check_words(list(words or [])))
        if version == 1 and known:
            raise ValueError("a v1 tokenizer has no word list; use version=2")
        split = pieces_v2 if version == 2 else pieces_v1
        counts: Counter = Counter()
        for t in texts:
            counts.update(p for p in split(t) if p not in known)
        pieces: dict[tuple[int, ...], int] = {}  # piece (tuple of byte ids) -> count
        for p, n in counts.items():
            b = piece_bytes(p)
            pieces[b] = pieces.get(b, 0) + n
        merges: list[tuple[int, int]] = []
        while FIRST_MERGE_ID + len(merges) < vocab_size:
            pairs: Counter = Counter()
            for w, n in pieces.items():
                for a, b in zip(w, w[1:]):
                    pairs[(a, b)] += n
            if not pairs:
                break
            best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))
            if best[1] < min_frequency:
                break
            pair, new_id = best[0], FIRST_MERGE_ID + len(merges)
            merges.append(pair)
            new_pieces: dict[tuple[int, ...], int] = {}
            for w, n in pieces.items():
                w2 = _merge_word(w, pair, new_id) if pair[0] in w else w
                new_pieces[w2] = new_pieces.get(w2, 0) + n
            pieces = new_pieces
        return cls(merges, max_len, words=list(words or []) if version == 2 else None, version=version)

    # -- encoding -------------------------------------------------------------------------------
    def encode_word(self, word: tuple[int, ...]) -> tuple[int, ...]:
        """Step 4: the BPE of one piece's byte ids."""
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
        if self.split == "space":
            return [i for w in words_of(text) for i in self.encode_word(w)]
        out: list[int] = []
        for p in pieces_v2(text):
            wid = self.word_ids.get(p)
            if wid is not None:
                out.append(wid)
            else:
                out.extend(self.encode_word(piece_bytes(p)))
        return out

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
        if i >= self.word_offset:
            return (" " + self.words[i - self.word_offset]).encode("ascii")
        a, b = self.merges[i - FIRST_MERGE_ID]
        return self._bytes_of(a) + self._bytes_of(b)

    def decode(self, ids: Iterable[int]) -> str:
        """Text of the ids (v2 puts a space before every piece, so "a, b" decodes as "a , b")."""
        data = b"".join(self._bytes_of(int(i)) for i in ids)
        text = data.decode("utf-8", errors="replace")
        return text[1:] if text.startswith(" ") else text

    # -- serialisation (manifest "tokenizer") ---------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = {
            "type": "byte-bpe",
            "version": self.version,
            "normalise": "ascii-lowercase",
            "split": self.split,
            "word_prefix": " ",
            "specials": {"pad": PAD, "bos": BOS, "eos": EOS},
            "byte_offset": BYTE_OFFSET,
            "vocab_size": self.vocab_size,
            "max_len": self.max_len,
            "merges": [list(m) for m in self.merges],
        }
        if self.version == 2:
            d["word_offset"] = self.word_offset
            d["words"] = list(self.words)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BPETokenizer:
        version = d.get("version", 1)
        if d.get("type") != "byte-bpe" or version not in (1, 2):
            raise ValueError(f"unsupported tokenizer {d.get('type')!r} v{version}")
        words = d.get("words") if version == 2 else None
        tok = cls([tuple(m) for m in d["merges"]], d["max_len"], words=words, version=version, split=d.get("split"))
        if "vocab_size" in d and d["vocab_size"] != tok.vocab_size:
            raise ValueError(
                f"tokenizer says vocab_size {d['vocab_size']} but its merges and words make {tok.vocab_size}"
            )
        return tok
