"""sweep_sampling.py on the tiny fixtures (CPU): one row per setting, the same numbers evaluate.py gives for that
setting, and the winner named by the stated rule."""

import json

import evaluate as E
import pytest
import sweep_sampling as S
from eval_fixtures import build_world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(str(tmp_path_factory.mktemp("world")))


def test_sweep_rows_match_evaluate_and_winner_follows_rule(world, tmp_path):
    common = ["--data", world["pack"], "--evaluators", world["evaluators"], "--vq", world["vq"], "--device", "cpu"]
    res = S.main(
        common
        + [
            "--gen",
            f"tiny={world['gen']}",
            "--ruler",
            "3",
            "--guidance",
            "1,3",
            "--tau",
            "4.5",
            "--steps",
            "2,3",
            "--json",
            str(tmp_path / "s.json"),
            "--md",
            str(tmp_path / "s.md"),
        ]
    )
    rows = res["rows"]
    assert [(r["steps"], r["guidance"], r["tau"]) for r in rows] == [(2, 1, 4.5), (2, 3, 4.5), (3, 1, 4.5), (3, 3, 4.5)]
    assert set(rows[0]["by_split"]) <= set(S.RANKED_SPLITS) and rows[0]["by_split"]
    # one setting scored by evaluate.py itself: identical per-split numbers
    ref = E.main(
        common + ["--gen", f"tiny={world['gen']}", "--ruler", "3", "--steps", "3", "--guidance", "3", "--tau", "4.5"]
    )
    ref_split = {k: v for k, v in ref["rows"][0]["by_split"].items() if k in S.RANKED_SPLITS}
    assert ref_split == rows[3]["by_split"]
    # the winner: max mean top-5, then max mean CLIP, then fewer steps
    best = max(rows, key=lambda r: (r["mean_top5"], r["mean_clip"], -r["steps"], -r["index"]))
    assert res["winner"] == {k: best[k] for k in S.SETTING_KEYS} and best["temperature"] == 1.0
    saved = json.load(open(tmp_path / "s.json"))
    assert saved["winner"] == res["winner"] and len(saved["rows"]) == 4
    md = open(tmp_path / "s.md").read()
    assert md.count("**(winner)**") == 1 and "Winner: highest mean top-5" in md


def test_ranking_key_breaks_ties_by_clip_then_steps():
    def row(i, steps, top5, clip):
        return {"index": i, "steps": steps, "by_split": {x: {"top5": top5, "clip": clip} for x in S.RANKED_SPLITS}}

    rows = [row(0, 16, 0.2, 50.0), row(1, 8, 0.2, 50.0), row(2, 12, 0.2, 51.0), row(3, 8, 0.1, 60.0)]
    assert [r["index"] for r in sorted(rows, key=S.ranking_key)] == [2, 1, 0, 3]
    assert len(S.grid([1, 2, 3, 4], [1.5, 3, 4.5], [8, 12, 16])) == 36
    assert len(S.grid([1, 2], [1.5], [12], [1.0, 0.8, 0.6])) == 6


def test_token_temperature_reaches_the_sampler(world):
    """A sweep row at --temperature 0.5 is evaluate.py's row at that temperature, and its images differ from 1's."""
    common = ["--data", world["pack"], "--evaluators", world["evaluators"], "--vq", world["vq"], "--device", "cpu"]
    one = ["--gen", f"tiny={world['gen']}", "--ruler", "2", "--steps", "2", "--guidance", "3", "--tau", "4.5"]
    res = S.main(common + one + ["--temperature", "1,0.5"])
    assert [r["temperature"] for r in res["rows"]] == [1.0, 0.5]
    ref = E.main(common + one + ["--temperature", "0.5"])
    assert ref["temperature"] == 0.5
    assert {k: v for k, v in ref["rows"][0]["by_split"].items() if k in S.RANKED_SPLITS} == res["rows"][1]["by_split"]

    import torch
    from encode_tokens import load_vq
    from sample_grid import load_generator

    dev = torch.device("cpu")
    model, bpe = load_generator(world["gen"], dev)
    vq = load_vq(world["vq"], dev)
    items = E.select_ruler_items(world["pack"], 2, 0)
    hot, _ = E.sample_images(model, bpe, vq, items, dev, 2, 3.0, 4.5, 8, 1.0)
    cold, _ = E.sample_images(model, bpe, vq, items, dev, 2, 3.0, 4.5, 8, 0.5)
    assert (hot != cold).any(), "the token temperature changed no image"


def test_page_default_is_the_page_settings():
    """PAGE_DEFAULT (model_index.PAGE_SAMPLING) marks the page's row: it must be src/model/settings.ts's defaults."""
    import os
    import re

    ts = open(os.path.join(os.path.dirname(__file__), "..", "..", "src", "model", "settings.ts")).read()
    block = ts[ts.index("GENERATION_SETTINGS") :]
    found = {k: float(re.search(rf"\b{k}: {{[^}}]*default: ([0-9.]+)", block).group(1)) for k in S.SETTING_KEYS}
    assert found == {k: float(v) for k, v in S.PAGE_DEFAULT.items()}
