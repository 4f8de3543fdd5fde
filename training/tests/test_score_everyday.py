"""score_everyday.py: the count from classifier outputs, a grid PNG scored cell by cell, and the kept grid's count."""

import json
import os
from types import SimpleNamespace

import numpy as np
import pytest
import score_everyday as SE
import torch
from mmamba.grid_layout import compose

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
CONCEPTS = ["apple", "food apple", "rocket", "pear", "key", "bell", "moon", "boat", "rocket launch"]
MAPPING = {"red apple": ("apple", "food apple"), "rocket": ("rocket",)}


def logits_ranking(order: list[str]) -> torch.Tensor:
    """Logits over CONCEPTS that rank them in `order` (first = top-1)."""
    x = torch.full((len(CONCEPTS),), -100.0)  # concepts not in `order` rank last
    for r, name in enumerate(order):
        x[CONCEPTS.index(name)] = 10.0 - r
    return x


def test_count_on_synthetic_outputs():
    others = ["pear", "key", "bell", "moon", "boat"]
    seeds_apple = [
        ["apple", "food apple", "rocket", *others],  # named concept top-1
        ["pear", "key", "bell", "moon", "food apple", "apple", "rocket", "boat"],  # other concept at rank 5: hit
        ["pear", "key", "bell", "moon", "boat", "food apple", "apple", "rocket"],  # best at rank 6: miss
        ["pear", "apple", "food apple", "key", "bell", "moon", "rocket", "boat"],  # named at rank 2
    ]
    seeds_rocket = [
        ["rocket", "apple", "food apple", *others],
        ["pear", "key", "bell", "moon", "rocket", "boat", "apple", "food apple"],  # rank 5
        ["pear", "key", "bell", "moon", "boat", "rocket", "apple", "food apple"],  # rank 6
        ["apple", "food apple", "pear", "key", "bell", "moon", "boat", "rocket"],  # rank 8
    ]
    logits = torch.stack([torch.stack([logits_ranking(o) for o in s]) for s in (seeds_apple, seeds_rocket)])
    out = SE.count(logits, ["red apple", "rocket"], CONCEPTS, MAPPING)
    apple, rocket = out["per_prompt"]
    assert [s["rank"] for s in apple["seeds"]] == [1, 5, 6, 2]
    assert [s["concept"] for s in apple["seeds"]] == ["apple", "food apple", "food apple", "apple"]
    assert [s["hit"] for s in apple["seeds"]] == [True, True, False, True]
    assert [s["hit_strict"] for s in apple["seeds"]] == [True, False, False, True]
    assert (apple["count"], apple["count_strict"], apple["passed"]) == (3, 2, True)
    assert [s["rank"] for s in rocket["seeds"]] == [1, 5, 6, 8]
    assert (rocket["count"], rocket["count_strict"], rocket["passed"]) == (2, 2, False)
    assert (out["passed"], out["passed_strict"], out["prompts"], out["seeds"]) == (1, 0, 2, 4)
    p = torch.softmax(logits[0, 1], -1)
    assert apple["seeds"][1]["prob"] == pytest.approx(float(p[CONCEPTS.index("food apple")]), abs=1e-4)
    assert [n for n, _ in apple["seeds"][1]["top5"]] == seeds_apple[1][:5]
    assert "3 of 4 seeds: 1 of 2 (strict: 0)" in SE.table(out)


def test_count_rejects_an_unknown_concept():
    with pytest.raises(KeyError):
        SE.count(torch.zeros(1, 1, len(CONCEPTS)), ["x"], CONCEPTS, {"x": ("no such concept",)})


def test_grid_png_is_scored_cell_by_cell(tmp_path, monkeypatch):
    """A stub classifier (label set CONCEPTS) reads each cell's red level as the index of its top-1 concept and
    ranks the prompts' concepts (EVERYDAY_CONCEPTS) last otherwise: the counts follow the cells only if the PNG is
    cut into the right cells in the right (prompt, seed) order."""
    top1 = np.array([[0, 1, 4, 0], [2, 3, 2, 5]])  # (prompt, seed) -> concept index
    cells = np.full((2, 4, 16, 16, 3), 255, np.uint8)
    cells[..., 0] = (top1 * 10)[:, :, None, None]
    compose(cells, ["red apple", "rocket"]).save(tmp_path / "grid.png")
    (tmp_path / "grid.json").write_text(json.dumps({"prompts": ["red apple", "rocket"]}))
    below = ["pear", "key", "bell", "moon", "boat", "apple", "food apple", "rocket", "rocket launch"]  # after top-1
    base = torch.tensor([-float(below.index(c)) for c in CONCEPTS])

    def classify(ev, u8):
        idx = torch.from_numpy(u8[:, 8, 8, 0].astype(np.int64) // 10)
        return torch.nn.functional.one_hot(idx, len(CONCEPTS)).float() * 100 + base

    monkeypatch.setattr(SE, "classify", classify)
    monkeypatch.setattr(SE, "load_evaluators", lambda path, device: SimpleNamespace(concepts=CONCEPTS))
    scores = SE.main([str(tmp_path / "grid.png"), "--evaluators", "stub", "--json", str(tmp_path / "s.json")])
    s = scores["grid.png"]
    assert [r["prompt"] for r in s["per_prompt"]] == ["red apple", "rocket"]
    assert [[x["seeds"][k]["top5"][0][0] for k in range(4)] for x in s["per_prompt"]] == [
        ["apple", "food apple", "key", "apple"],
        ["rocket", "pear", "rocket", "bell"],
    ]
    assert [[x["seeds"][k]["rank"] for k in range(4)] for x in s["per_prompt"]] == [[1, 1, 6, 1], [1, 8, 1, 8]]
    assert [x["count"] for x in s["per_prompt"]] == [3, 2]
    assert json.loads((tmp_path / "s.json").read_text())["grids"]["grid.png"]["passed"] == 1


def test_kept_grid_count_with_the_ruler():
    """The kept grid at the page's setting scored with the fixed ruler: a change of the ruler, the mapping, the
    preprocessing or the cut shows here (these numbers are the ones written down beside the eye count)."""
    png = os.path.join(ROOT, "docs", "img", "everyday-mmamba-v2-stage4-page.png")
    ruler = os.path.join(ROOT, "training", "ruler", "evaluators.pt")
    if not (os.path.exists(png) and os.path.exists(ruler)):
        pytest.skip("kept grid or ruler not in this checkout")
    from PIL import Image
    from sample_grid import EVERYDAY_PROMPTS

    with Image.open(png) as im:
        s = SE.score_canvas(np.asarray(im.convert("RGB")), list(EVERYDAY_PROMPTS), ruler)
    assert [r["count"] for r in s["per_prompt"]] == [4, 1, 0, 2, 1, 4, 4, 1, 1, 4, 3, 3, 0, 4, 3, 4]
    assert (s["passed"], s["passed_strict"]) == (9, 7)
