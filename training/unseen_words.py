"""What the ruler's unseen split asks of the text side: of its items, how many name a concept whose words all occur in
training concept names (a new combination of known words), how many bring a word no training concept uses, and how
far such a word lies from the nearest training word in the word-prior table (rows scaled to RMS norm 1, as the text
encoder scales them). The distances size `train_gen.py --prior-noise` (docs/training.md "Text side").

    python training/unseen_words.py --data data/packed --prior training/prior/minilm128.npz [--ruler 250]
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mmamba.bpe import pieces_v2  # noqa: E402
from mmamba.text_encoder import rms_row_norm  # noqa: E402


def words_of(text: str) -> list[str]:
    """The pieces of a text that can be prior words: the v2 tokenizer's [a-z0-9] runs (case folded)."""
    return [p for p in pieces_v2(text) if p[0].isascii() and p[0].isalnum()]


def unseen_word_report(
    unseen_concepts: list[str], train_concepts: list[str], table_words: list[str], vectors: np.ndarray
) -> dict:
    """unseen_concepts: the concept of each unseen-split item (repeats count); train_concepts: every training concept
    name; table_words/vectors: the prior table (n,) and (n, dim). Returns the item counts, the new words (in the
    table or not) and, for each new word in the table, its nearest training word and the distance."""
    v = vectors.astype(np.float64)
    v = v / rms_row_norm(v)  # as text_encoder.read_prior: mean squared row norm 1
    index = {w: i for i, w in enumerate(table_words)}
    train_words = {w for c in train_concepts for w in words_of(c)}
    known = sorted(w for w in train_words if w in index)
    if not known:
        raise ValueError("no training concept word is in the table")
    all_known = sum(all(w in train_words for w in words_of(c)) for c in unseen_concepts)
    new = sorted({w for c in unseen_concepts for w in words_of(c) if w not in train_words})
    in_table = [w for w in new if w in index]
    kv = v[[index[w] for w in known]]  # (k, dim)
    nearest = {}
    for w in in_table:
        d = np.sqrt(((kv - v[index[w]]) ** 2).sum(1))
        j = int(d.argmin())
        nearest[w] = (known[j], float(d[j]))
    return {
        "items": len(unseen_concepts),
        "items_all_words_known": int(all_known),
        "new_words": new,
        "new_words_not_in_table": [w for w in new if w not in index],
        "nearest": nearest,
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="data/packed")
    ap.add_argument("--prior", default="training/prior/minilm128.npz")
    ap.add_argument("--ruler", type=int, default=250, help="items of the unseen split, as evaluate.py --ruler")
    args = ap.parse_args(argv)
    from mmamba.data import load_pack, ruler_items
    from mmamba.text_encoder import read_prior

    pack = load_pack(args.data)
    table = read_prior(args.prior)
    train = sorted({pack.bases[pack.entries[ei].base]["concept"] for ei in pack.splits["train"]})
    items = ruler_items(pack, "unseen_concept", args.ruler)
    r = unseen_word_report([it["concept"] for it in items], train, table.words, table.vectors)
    dist = np.array([d for _, d in r["nearest"].values()])
    print(
        f"unseen split, {r['items']} items: {r['items_all_words_known']} name a concept whose words all occur in "
        f"training concept names; {len(r['new_words'])} distinct words are new to training "
        f"({len(r['new_words_not_in_table'])} of them not in {table.name})"
    )
    if len(dist):
        q = np.quantile(dist, [0.1, 0.25, 0.5, 0.75, 0.9])
        quantiles = " / ".join(f"{x:.3f}" for x in q)
        print(f"distance of a new word to its nearest training word, quantiles 10/25/50/75/90: {quantiles}")
        for w, (n, d) in sorted(r["nearest"].items(), key=lambda kv: kv[1][1])[:: max(1, len(dist) // 10)]:
            print(f"  {w:>16} -> {n:<16} {d:.3f}")


if __name__ == "__main__":
    main()
