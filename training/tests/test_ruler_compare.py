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
    # pooled held-out items can pass 1,024 discordant ones (2.0**n overflows a float there)
    assert RC.mcnemar_exact_p(700, 700) == 1.0
    assert 0 < RC.mcnemar_exact_p(560, 640) < 0.05 and RC.mcnemar_exact_p(560, 640) == RC.mcnemar_exact_p(640, 560)


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


# The held-out mean and the ship rule: candidate beats base on the mean of seen, unseen and paraphrase (interval
# above zero) and is significantly worse on none of them; train never counts.


def pair(n, both=0, only_base=0, only_cand=0):
    """(base hits, cand hits) over n items with these counts of agreeing hits and of items only one gets right."""
    rest = n - both - only_base - only_cand
    base = "1" * both + "1" * only_base + "0" * only_cand + "0" * rest
    cand = "1" * both + "0" * only_base + "1" * only_cand + "0" * rest
    return base, cand


def run_of_pairs(pairs):
    return run_of({k: b for k, (b, _) in pairs.items()}, {k: c for k, (_, c) in pairs.items()})


def verdict_of(pairs, seed=0):
    run = run_of_pairs(pairs)
    rows = RC.compare(run, "base", "cand", seed=seed)
    mean_row = RC.held_out_mean(run, "base", "cand", seed=seed)
    return RC.ship_verdict(rows, mean_row), rows, mean_row


BETTER = pair(250, both=20, only_base=5, only_cand=45)  # +0.16, far from zero
TIED = pair(250, both=30, only_base=10, only_cand=10)  # 0, interval around it
WORSE = pair(250, both=25, only_base=25)  # −0.10, interval well below zero
NUDGE = pair(250, both=30, only_base=9, only_cand=10)  # +0.004: noise


def test_held_out_mean_is_seeded_and_covers_the_true_difference():
    rng = np.random.default_rng(SEED + 2)
    p = {"seen": (0.30, 0.36), "unseen": (0.14, 0.12), "paraphrase": (0.30, 0.35)}  # (base, cand) top-5
    n = 1500
    pairs = {s: (hits(rng, n, pb), hits(rng, n, pc)) for s, (pb, pc) in p.items()}
    r = RC.mean_difference(pairs, seed=3)
    assert RC.mean_difference(pairs, seed=3) == r, SEED  # seeded: the same draws
    assert RC.mean_difference(pairs, seed=4)["low"] != r["low"], SEED  # and the seed does choose them
    d = {s: np.array(list(c), int) - np.array(list(b), int) for s, (b, c) in pairs.items()}
    assert r["diff"] == pytest.approx(np.mean([v.mean() for v in d.values()])), SEED
    assert r["n"] == 3 * n and r["splits"] == ["seen", "unseen", "paraphrase"]
    true = np.mean([pc - pb for pb, pc in p.values()])  # +0.0267
    assert r["low"] < true < r["high"], SEED
    assert r["low"] > 0, SEED  # 4,500 items resolve a difference of this size
    # stratified: the variance of a mean of independent split means, 1.96 · √(Σ var(d_s)/n_s) / 3
    half = 1.96 * math.sqrt(sum(v.var() / v.size for v in d.values())) / 3
    assert r["low"] == pytest.approx(r["diff"] - half, abs=0.003), SEED
    assert r["high"] == pytest.approx(r["diff"] + half, abs=0.003), SEED


def test_held_out_mean_resamples_within_splits_and_weighs_them_equally():
    # every seen item improves, no other changes: within each split every resample is the same, so a stratified
    # interval has no width (a pooled bootstrap would move the share of seen items, and so the mean)
    pairs = {"seen": pair(30, only_cand=30), "unseen": pair(300, both=30), "paraphrase": pair(90)}
    r = RC.mean_difference(pairs, seed=5)
    assert r["diff"] == r["low"] == r["high"] == pytest.approx(1 / 3)  # unweighted: pooled items would say 30/420
    assert (r["base"], r["cand"]) == (pytest.approx(1 / 3 * 0.1), pytest.approx(1 / 3 * 1.1))
    assert (r["only_base"], r["only_cand"], r["p_mcnemar"]) == (0, 30, RC.mcnemar_exact_p(0, 30))  # pooled


def test_held_out_mean_leaves_out_train():
    held = {"seen": BETTER, "unseen": TIED, "paraphrase": NUDGE}
    with_train = RC.held_out_mean(run_of_pairs({**held, "train": WORSE}), "base", "cand", seed=1)
    assert with_train == RC.held_out_mean(run_of_pairs(held), "base", "cand", seed=1)
    assert with_train["splits"] == ["seen", "unseen", "paraphrase"] and with_train["n"] == 750
    assert RC.held_out_mean(run_of_pairs({"train": BETTER}), "base", "cand") is None


def test_verdict_ships_a_clearly_better_candidate_with_a_tied_split():
    v, rows, mean_row = verdict_of({"seen": BETTER, "unseen": TIED, "paraphrase": BETTER})
    assert rows[1]["diff"] == 0 and rows[1]["low"] < 0 < rows[1]["high"]  # unseen: no difference either way
    assert mean_row["low"] > 0
    assert v["ship"] is True
    assert v["reasons"][0].startswith("held-out mean: +0.107, 95% interval [") and "lies above zero" in v["reasons"][0]


def test_verdict_keeps_the_base_when_a_split_is_significantly_worse():
    v, rows, mean_row = verdict_of({"seen": BETTER, "unseen": WORSE, "paraphrase": BETTER})
    assert mean_row["low"] > 0  # the mean alone would ship: +0.073
    unseen = rows[1]
    assert v == {
        "ship": False,
        "reasons": [f"unseen: -0.100, 95% interval [{unseen['low']:+.3f}, {unseen['high']:+.3f}] is below zero"],
    }
    assert unseen["high"] < 0


def test_verdict_keeps_the_base_when_the_mean_interval_includes_zero():
    v, rows, mean_row = verdict_of({"seen": NUDGE, "unseen": NUDGE, "paraphrase": NUDGE})
    assert mean_row["diff"] == pytest.approx(0.004) and mean_row["low"] < 0 < mean_row["high"]
    assert v["ship"] is False
    assert len(v["reasons"]) == 1 and v["reasons"][0].startswith("held-out mean: +0.004, 95% interval [-")
    assert v["reasons"][0].endswith("does not lie above zero")


def test_verdict_needs_every_held_out_split():
    v, _, mean_row = verdict_of({"seen": BETTER, "unseen": BETTER, "train": BETTER})
    assert mean_row["low"] > 0 and mean_row["splits"] == ["seen", "unseen"]
    assert v["ship"] is False
    assert v["reasons"][0] == "paraphrase: not scored by both rows"
    # a mean row over fewer splits than the rows is refused too
    run = run_of_pairs({"seen": BETTER, "unseen": BETTER, "paraphrase": BETTER})
    partial = RC.mean_difference({"seen": BETTER, "unseen": BETTER})
    v = RC.ship_verdict(RC.compare(run, "base", "cand"), partial)
    assert v == {"ship": False, "reasons": ["held-out mean: over seen, unseen only"]}
    assert RC.ship_verdict([], None)["reasons"][-1] == "held-out mean: no held-out split to average"


def test_train_never_changes_the_verdict():
    for held in (
        {"seen": BETTER, "unseen": TIED, "paraphrase": BETTER},  # ships
        {"seen": NUDGE, "unseen": NUDGE, "paraphrase": NUDGE},  # does not
        {"seen": BETTER, "unseen": WORSE, "paraphrase": BETTER},  # does not
    ):
        alone, _, _ = verdict_of(held, seed=2)
        for train in (BETTER, WORSE, TIED):
            assert verdict_of({**held, "train": train}, seed=2)[0] == alone


def test_cli_verdict_line_and_json(tmp_path, capsys):
    ship = run_of_pairs({"seen": BETTER, "unseen": TIED, "paraphrase": BETTER, "train": WORSE})
    keep = run_of_pairs({"seen": BETTER, "unseen": WORSE, "paraphrase": BETTER, "train": BETTER})
    (tmp_path / "ship.json").write_text(json.dumps(ship))
    (tmp_path / "keep.json").write_text(json.dumps(keep))
    out = tmp_path / "out.json"
    rows = RC.main([str(tmp_path / "ship.json"), "--base", "base", "--cand", "cand", "--verdict", "--json", str(out)])
    assert [r["split"] for r in rows] == ["seen", "unseen", "paraphrase", "train"]  # still the per-split rows
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2].startswith("| held-out mean | 750 | 0.120 | 0.227 | +0.107 | [+")
    assert lines[-1].startswith("verdict: ship (held-out mean: +0.107, 95% interval [")
    saved = json.loads(out.read_text())
    assert saved["splits"] == rows and saved["base"] == "base" and saved["seed"] == 0
    assert saved["held_out_mean"] == RC.held_out_mean(ship, "base", "cand")
    assert saved["verdict"] == RC.ship_verdict(rows, saved["held_out_mean"]) and saved["verdict"]["ship"] is True

    RC.main([str(tmp_path / "keep.json"), "--base", "base", "--cand", "cand", "--verdict", "--json", str(out)])
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("verdict: keep the base (unseen: -0.100, 95% interval [") and last.endswith("below zero)")
    assert json.loads(out.read_text())["verdict"]["ship"] is False

    RC.main([str(tmp_path / "keep.json"), "--base", "base", "--cand", "cand"])  # without --verdict: the table only
    assert not capsys.readouterr().out.splitlines()[-1].startswith("verdict")
