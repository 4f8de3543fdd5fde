"""Word-boundary pieces on a v1 tokenizer (the fine-tuning captions' split): the word keeps its ids next to
punctuation and in any case, texts without punctuation keep v1's ids, and the split round-trips through to_dict."""

import pytest
from mmamba.bpe import BPETokenizer

CORPUS = ["a zorblat on a white background", "zorblat, flat emoji", "a red apple", "blue car, outline icon"] * 3


def test_word_boundary_split_on_v1():
    v1 = BPETokenizer.train(CORPUS, vocab_size=320)
    words = v1.with_split("word-boundary")
    assert v1.split == "space" and words.split == "word-boundary"
    word = words.tokenize("zorblat")
    for s in ["zorblat,", "Zorblat!", "(ZORBLAT)", "a zorblat, outline icon"]:
        assert " ".join(map(str, word)) in " ".join(map(str, words.tokenize(s)))
    assert v1.tokenize("zorblat,") != words.tokenize("zorblat,")
    for s in ["a red apple", "A Red APPLE", "zorblat on a blue background"]:
        assert words.encode(s) == v1.encode(s)
    again = BPETokenizer.from_dict(words.to_dict())
    assert again.split == "word-boundary" and again.encode("Zorblat, x") == words.encode("Zorblat, x")
    assert BPETokenizer.from_dict(v1.to_dict()).split == "space"


def test_split_checked():
    with pytest.raises(ValueError):
        BPETokenizer([], version=2, split="space")
    with pytest.raises(ValueError):
        BPETokenizer([], split="chars")
