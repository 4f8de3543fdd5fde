"""ruler_compare.py: the paired top-5 difference of two rows of one ruler run, its bootstrap interval and the exact
McNemar test, checked against closed forms; bad runs are refused with a message."""

import json
import math

import numpy as np
import pytest
import ruler_compare as RC

SEED = 20261204


def hits(rng, n, p):
    return "".join("1" if x else "0" for x in rng.random(n) < p)


def test_mcnemar_exact_against_the_binomial():
    assert RC.mcnemar_exact_p(0, 0) == 1.0
    assert RC.mcnemar_exact_p(5, 5) == 1.0
    assert RC.mcnemar_exact_p(0, 10) == pytest.approx(2 * 0.5**10)
    assert RC.mcnemar_exact_p(10, 0) == RC.mcnemar_exact_p(0, 10)
    # 3 of 20 discordant one way: 2 · P(X ≤ 3), X ~ Bin(20, 1/2)
    assert RC.mcnemar_exact_p(3, 17) == pytest.approx(2 * sum(math.comb(20, i) for i in range(4)) / 2**20)


def test_paired_difference_matches_its_definition():
    rng = np.random.default_rng(SEED)
    a, b = hits(rng, 250, 0.12), hits(rng, 250, 0.2)
    r = RC.paired_difference(a, b, seed=1)
    av, bv = np.array(list(a), int), np.array(list(b), int)
    assert r["n"] == 250, SEED
    assert r["base"] == pytest.approx(av.mean()) and r["cand"] == pytest.approx(bv.mean()), SEED
    assert r["diff"] == pytest.approx(bv.mean() - av.mean()), SEED
    assert (r["only_base"], r["only_cand"]) == (int(((av == 1) & (bv == 0)).sum()), int(((av == 0) & (bv == 1)).sum()))
    assert r["low"] < r["diff"] < r["high"], SEED
    # the bootstrap interval of a paired mean is close to the normal one, ±1.96 · sd(d) / √n
    d = bv - av
    half = 1.96 * d.std() / math.sqrt(d.size)
    assert r["low"] == pytest.approx(r["diff"] - half, abs=0.01), SEED
    assert r["high"] == pytest.approx(r["diff"] + half, abs=0.01), SEED
    assert RC.paired_difference(a, b, seed=1) == r  # seeded: the same draws


def test_identical_rows_give_zero_and_no_evidence():
    rng = np.random.default_rng(SEED + 1)
    a = hits(rng, 100, 0.3)
    r = RC.paired_difference(a, a)
    assert (r["diff"], r["low"], r["high"], r["p_mcnemar"]) == (0.0, 0.0, 0.0, 1.0)


def run_of(base_splits, cand_splits):
    return {
        "rows": [
            {"name": "base", "by_split": {k: {"hits": v} for k, v in base_splits.items()}},
            {"name": "cand", "by_split": {k: {"hits": v} for k, v in cand_splits.items()}},
        ]
    }


def test_compare_per_split_and_the_cli(tmp_path):
    run = run_of({"seen": "0011", "unseen": "0000", "train": "1111"}, {"seen": "0111", "unseen": "1000"})
    rows = RC.compare(run, "base", "cand")
    assert [r["split"] for r in rows] == ["seen", "unseen"]  # train: only the base scored it
    assert [r["diff"] for r in rows] == [0.25, 0.25]
    p = tmp_path / "run.json"
    p.write_text(json.dumps(run))
    out = RC.main(
        [str(p), "--base", "base", "--cand", "cand", "--json", str(tmp_path / "c.json"), "--md", str(tmp_path / "c.md")]
    )
    assert out == rows
    assert json.loads((tmp_path / "c.json").read_text())["splits"] == rows
    assert "| seen | 4 | 0.500 | 0.750 | +0.250 |" in (tmp_path / "c.md").read_text()


def test_bad_runs_are_refused_with_a_message(tmp_path):
    with pytest.raises(ValueError, match="no row named 'x'"):
        RC.compare(run_of({"seen": "01"}, {"seen": "01"}), "base", "x")
    with pytest.raises(ValueError, match="different items"):
        RC.compare(run_of({"seen": "01"}, {"seen": "011"}), "base", "cand")
    with pytest.raises(ValueError, match="0 and 1"):
        RC.compare(run_of({"seen": "01"}, {"seen": "0x"}), "base", "cand")
    old = {"rows": [{"name": "base", "by_split": {"seen": {"top5": 0.1}}}, {"name": "cand", "by_split": {"seen": {}}}]}
    with pytest.raises(ValueError, match="no per-item hits"):
        RC.compare(old, "base", "cand")
    with pytest.raises(ValueError, match="share no split"):
        RC.compare(run_of({"seen": "01"}, {"unseen": "01"}), "base", "cand")
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="not an evaluate.py run"):
        RC.read_run(str(tmp_path / "bad.json"))


def test_base_row_from_another_run_of_the_same_items(tmp_path):
    cand = run_of({"seen": "0000"}, {"seen": "1100"})
    base = run_of({"seen": "1000"}, {"seen": "0000"})
    with pytest.raises(ValueError, match="no items_sha256"):
        RC.compare(cand, "base", "cand", base_run=base)
    cand["items_sha256"], base["items_sha256"] = "abc", "abd"
    with pytest.raises(ValueError, match="different items"):
        RC.compare(cand, "base", "cand", base_run=base)
    base["items_sha256"] = "abc"
    (r,) = RC.compare(cand, "base", "cand", base_run=base)
    assert (r["base"], r["cand"], r["only_base"], r["only_cand"]) == (0.25, 0.5, 0, 1)  # base row from base_run
    (tmp_path / "c.json").write_text(json.dumps(cand))
    (tmp_path / "b.json").write_text(json.dumps(base))
    assert RC.main(
        [str(tmp_path / "c.json"), "--base-run", str(tmp_path / "b.json"), "--base", "base", "--cand", "cand"]
    ) == [r]
