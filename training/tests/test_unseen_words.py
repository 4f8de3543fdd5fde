"""unseen_words.unseen_word_report: the counts of the unseen split's items by whether their concept's words occur in
training concept names, and each new word's nearest training word and distance in the row-normalised table."""

import numpy as np
import pytest
from unseen_words import unseen_word_report, words_of

SEED = 20261204


def test_counts_nearest_words_and_distances():
    rng = np.random.default_rng(SEED)
    print("seed", SEED)
    words = ["teddy", "bear", "polar", "taxi", "oncoming", "zebra", "barn", "house"]
    vec = rng.standard_normal((len(words), 6)) * 4  # any scale: the report scales rows to RMS norm 1
    train = ["teddy bear", "polar bear", "oncoming taxi", "house"]
    unseen = ["bear", "taxi", "Zebra", "barn", "barn", "gizmo thing", "bear"]
    r = unseen_word_report(unseen, train, words, vec)
    assert r["items"] == 7 and r["items_all_words_known"] == 3  # bear, taxi, bear
    assert r["new_words"] == ["barn", "gizmo", "thing", "zebra"]
    assert r["new_words_not_in_table"] == ["gizmo", "thing"]
    v = vec / np.sqrt((vec**2).sum(1).mean())
    known = ["bear", "house", "oncoming", "polar", "taxi", "teddy"]
    for w in ("barn", "zebra"):
        d = {k: float(np.linalg.norm(v[words.index(w)] - v[words.index(k)])) for k in known}
        best = min(d, key=d.get)
        assert r["nearest"][w][0] == best and r["nearest"][w][1] == pytest.approx(d[best], rel=1e-9)
    # the scale of the table does not matter, only its shape
    r2 = unseen_word_report(unseen, train, words, vec * 0.01)
    assert {w: n for w, (n, _) in r2["nearest"].items()} == {w: n for w, (n, _) in r["nearest"].items()}
    assert r2["nearest"]["barn"][1] == pytest.approx(r["nearest"]["barn"][1], rel=1e-6)


def test_words_and_refusal():
    assert words_of("Last-quarter moon face, 2x!") == ["last", "quarter", "moon", "face", "2x"]
    with pytest.raises(ValueError, match="no training concept word is in the table"):
        unseen_word_report(["a"], ["qq"], ["a", "b"], np.ones((2, 3)))
