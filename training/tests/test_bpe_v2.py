"""Tokenizer v2 (bpe.py docstring): word-boundary pre-tokenisation, known-word ids, training over the pieces that
are not known words, bounded input; v1 unchanged."""

import json
import random
import time

import pytest
from mmamba.bpe import BOS, EOS, FIRST_MERGE_ID, MAX_TEXT_CHARS, PAD, BPETokenizer, normalise, pieces_v1, pieces_v2

WORDS = ["a", "red", "apple", "zorblat", "thumbs", "up", "2", "42", "car"]
CORPUS = [
    "a red apple",
    "a blue car!",
    "thumbs-up, please",
    "zorblat zorblat",
    "fire 🔥🔥 emoji",
    "blue blue blue",
    "bluish green",
    "x-ray",
] * 3


def tok2():
    return BPETokenizer.train(CORPUS, vocab_size=280, max_len=12, words=WORDS, version=2)


@pytest.mark.parametrize(
    "text,pieces",
    [
        ("zorblat,", ["zorblat", ","]),
        ("Zorblat!", ["zorblat", "!"]),
        ("thumbs-up", ["thumbs", "-", "up"]),
        ("🔥🔥x🔥", ["🔥🔥", "x", "🔥"]),
        ("héllo", ["h", "é", "llo"]),
        ("abc123 4.5", ["abc123", "4", ".", "5"]),
        ("", []),
        (" \t\n\r  ", []),
        ("a...b", ["a", ".", ".", ".", "b"]),
        ("\x01a", ["\x01", "a"]),
        ("ÉCOLE", ["É", "cole"]),
    ],
)
def test_pieces(text, pieces):
    assert pieces_v2(text) == pieces


def test_known_words_ignore_punctuation_and_case():
    t = tok2()
    zid = t.word_offset + WORDS.index("zorblat")
    assert t.tokenize("zorblat") == [zid]
    assert t.tokenize("zorblat,")[0] == zid and t.tokenize("Zorblat!")[0] == zid and t.tokenize("ZORBLAT")[0] == zid
    th, up = t.word_offset + WORDS.index("thumbs"), t.word_offset + WORDS.index("up")
    ids = t.tokenize("thumbs-up")
    assert ids[0] == th and ids[-1] == up and len(ids) == 3  # the hyphen is one byte-level piece
    assert t.tokenize("42") == [t.word_offset + WORDS.index("42")]
    assert t.tokenize("421") != t.tokenize("42")  # an unknown digit run is BPE-encoded
    assert all(i < t.word_offset for i in t.tokenize("bluish 🔥"))
    assert t.vocab_size == t.word_offset + len(WORDS) and t.word_offset == FIRST_MERGE_ID + len(t.merges)


def test_v2_sequence_empty_whitespace_long():
    t = tok2()
    assert t.encode("") == [BOS, EOS] + [PAD] * 10
    assert t.encode("   \n\t ") == [BOS, EOS] + [PAD] * 10
    long = "zorblat " * 5000
    ids = t.encode(long)
    assert len(ids) == 12 and ids[-1] == EOS and ids[1:-1] == [t.word_offset + WORDS.index("zorblat")] * 10
    # only the first MAX_TEXT_CHARS code points count: a word past the cap does not appear
    assert t.tokenize("a" * MAX_TEXT_CHARS + " red") == t.tokenize("a" * MAX_TEXT_CHARS)


def test_bounded_work_on_huge_inputs():
    t = tok2()
    t0 = time.time()
    for text in ["x" * 100_000, "🔥" * 60_000, "a b " * 50_000, "-" * 100_000]:
        ids = t.encode(text)
        assert len(ids) == 12 and ids[0] == BOS and ids[-1] == EOS
    assert time.time() - t0 < 10


def test_v2_training_deterministic_and_oov_only():
    a, b = tok2(), BPETokenizer.train(list(CORPUS), vocab_size=280, max_len=12, words=list(WORDS), version=2)
    assert a.merges == b.merges and len(a.merges) > 0
    # merges are learned only from pieces that are not known words: "zorblat" (6 times in the corpus) yields
    # no merge that only it would produce, while the unknown "blue" does compress
    plain = BPETokenizer.train(CORPUS, vocab_size=280, max_len=12, version=2)
    assert len(plain.tokenize("zorblat")) < len(b" zorblat")
    assert len(a.encode_word(tuple(3 + x for x in b" zorblat"))) > len(
        plain.encode_word(tuple(3 + x for x in b" zorblat"))
    )
    assert len(a.tokenize("blue")) == 1
    # the vocab_size budget covers fixed ids + merges; words come on top
    assert FIRST_MERGE_ID + len(a.merges) <= 280 < a.vocab_size


def test_v2_serialisation_and_validation():
    t = tok2()
    d = json.loads(json.dumps(t.to_dict()))
    assert d["version"] == 2 and d["words"] == WORDS and d["word_offset"] == t.word_offset
    u = BPETokenizer.from_dict(d)
    for s in ["Zorblat, thumbs-up 🔥!", "x-ray of a red apple"]:
        assert u.encode(s) == t.encode(s)
    assert t.decode(t.encode("Zorblat, red!")) == "zorblat , red !"
    for bad in [["Red"], ["a", "a"], ["a b"], [""], ["x" * 65], ["é"]]:
        with pytest.raises(ValueError):
            BPETokenizer([], words=bad, version=2)
    with pytest.raises(ValueError, match="vocab_size"):
        BPETokenizer.from_dict({**d, "vocab_size": d["vocab_size"] + 1})
    with pytest.raises(ValueError):
        BPETokenizer([], words=["a"], version=1)


def test_v1_dict_without_version_and_v1_unchanged():
    t1 = BPETokenizer.train(CORPUS, vocab_size=280, max_len=12)
    d = t1.to_dict()
    assert d["version"] == 1 and "words" not in d
    d.pop("version")
    assert BPETokenizer.from_dict(d).encode("a red, apple!") == t1.encode("a red, apple!")
    assert pieces_v1("zorblat, x") == ["zorblat,", "x"]  # v1 splits on spaces only
    assert t1.tokenize("zorblat,") != t1.tokenize("zorblat")


def test_random_strings_roundtrip_bytes():
    seed = 1234
    print("seed", seed)
    rng = random.Random(seed)
    t = tok2()
    alphabet = "abzZ09 ,.-!🔥é\t"
    for _ in range(200):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20)))
        ids = t.tokenize(s)
        assert all(3 <= i < t.vocab_size for i in ids)
        assert t.decode(ids).replace(" ", "") == normalise(s).replace(" ", "")
