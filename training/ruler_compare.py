"""Paired comparison of two generators on the fixed ruler: per split, the difference in concept top-5 between a
candidate and a base row of one evaluate.py run (the same items, so each item is a pair), with a 95% paired
bootstrap interval and the exact McNemar test on the items only one of them gets right; with 250 items a split's
top-5 near 0.1 has a standard error of about 0.02, so differences of a few hundredths can be chance.

A last row, `held-out mean`, gives the difference of the mean top-5 over the held-out splits (seen, unseen,
paraphrase; never train): the unweighted mean of the per-split means, with a 95% bootstrap interval that resamples
items within each split (stratified, 10,000 resamples, `--seed` fixes the draws); its n is the held-out items
together, and its McNemar p is over those items pooled (which tests the item-weighted difference: the same one when
the splits have the same number of items, as the ruler's do).

The project's ship rule on the ruler (ship_verdict, `--verdict`): the candidate may replace the base when
(a) the held-out mean difference's 95% interval lies above zero and (b) no held-out split is significantly worse
(no split's interval lies below zero); all three held-out splits must be scored. The everyday grid is judged beside
it, by eye and by the machine count, which this tool does not do.

    python training/ruler_compare.py RUN.json --base mmamba-v2 --cand mmamba-m-stage5 [--verdict] [--json OUT] \
        [--md OUT]
    python training/ruler_compare.py CAND_RUN.json --base-run BASE_RUN.json --base mmamba-v2 --cand ...

RUN.json: `evaluate.py --ruler N --json` output whose rows carry per-split `hits` (evaluate.py writes them).
--base-run takes the base row from another run of the same items (its `items_sha256` must match: e.g. each
model at its own sampling settings).
"""

from __future__ import annotations

import argparse
import json
import math
import os

import numpy as np

MAX_RUN_BYTES = 64 << 20  # a ruler run of a few rows is well under 1 MB
RESAMPLES = 10_000
HELD_OUT = ("seen", "unseen", "paraphrase")  # the splits the ship rule reads; train measures memorising, not it


def mcnemar_exact_p(only_base: int, only_cand: int) -> float:
    """Two-sided exact McNemar p-value: under "no difference" each discordant item is a fair coin flip."""
    n = only_base + only_cand
    if n == 0:
        return 1.0
    k = min(only_base, only_cand)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n  # integers: 2.0**n overflows past 1,023 items
    return min(1.0, 2.0 * tail)


def parse_hits(hits: object, what: str) -> np.ndarray:
    if not isinstance(hits, str) or not hits or set(hits) - {"0", "1"}:
        raise ValueError(f"{what}: hits must be a non-empty string of 0 and 1 (evaluate.py writes them)")
    return np.frombuffer(hits.encode(), dtype=np.uint8) - ord("0")


def paired_difference(base_hits: str, cand_hits: str, resamples: int = RESAMPLES, seed: int = 0) -> dict:
    """cand − base top-5 over the same items, its 95% paired bootstrap interval (items resampled with replacement,
    `seed` fixes the draws) and the exact McNemar p-value: mean_difference over a single split."""
    r = mean_difference({"items": (base_hits, cand_hits)}, resamples, seed)
    del r["splits"]
    return r


def read_run(path: str) -> dict:
    size = os.path.getsize(path)
    if size > MAX_RUN_BYTES:
        raise ValueError(f"{path}: {size} bytes is more than a ruler run ({MAX_RUN_BYTES}); not read")
    with open(path, encoding="utf-8") as f:
        run = json.load(f)
    if not isinstance(run, dict) or not isinstance(run.get("rows"), list):
        raise ValueError(f"{path}: not an evaluate.py run (no rows)")
    return run


def row_of(run: dict, name: str) -> dict:
    rows = {r.get("name"): r for r in run["rows"] if isinstance(r, dict)}
    if name not in rows:
        raise ValueError(f"no row named {name!r}; the run has {sorted(map(str, rows))}")
    return rows[name]


def paired_hits(run: dict, base: str, cand: str, base_run: dict | None = None) -> dict[str, tuple[str, str]]:
    """split → (base hits, candidate hits) for every split both rows scored, in the base row's order. The base row
    comes from `base_run` when given, which must have scored the same items as `run`."""
    if base_run is not None:
        a, b = base_run.get("items_sha256"), run.get("items_sha256")
        if not a or not b:
            raise ValueError(
                "a run has no items_sha256 (from before evaluate.py recorded its items): compare rows of one run"
            )
        if a != b:
            raise ValueError("the two runs scored different items (items_sha256 differs)")
    base_row, cand_row = row_of(base_run if base_run is not None else run, base), row_of(run, cand)
    out = {}
    for split, b in (base_row.get("by_split") or {}).items():
        c = (cand_row.get("by_split") or {}).get(split)
        if c is None:
            continue
        if "hits" not in b or "hits" not in c:
            raise ValueError(f"split {split}: a row has no per-item hits (a run from before evaluate.py wrote them)")
        out[split] = (b["hits"], c["hits"])
    if not out:
        raise ValueError(f"{base} and {cand} share no split")
    return out


def compare(run: dict, base: str, cand: str, seed: int = 0, base_run: dict | None = None) -> list[dict]:
    """One paired difference per split that both rows scored (in the base row's order). The base row comes from
    `base_run` when given, which must have scored the same items as `run`."""
    return split_rows(paired_hits(run, base, cand, base_run), seed)


def split_rows(pairs: dict[str, tuple[str, str]], seed: int = 0) -> list[dict]:
    return [{"split": split, **paired_difference(b, c, seed=seed)} for split, (b, c) in pairs.items()]


def mean_difference(pairs: dict[str, tuple[str, str]], resamples: int = RESAMPLES, seed: int = 0) -> dict:
    """cand − base of the unweighted mean of per-split top-5 means over the splits in `pairs` (split → (base hits,
    cand hits)), with its 95% stratified bootstrap interval: each resample draws every split's items with replacement
    within that split, so each split keeps its size and weight. One generator seeded with `seed` draws the splits in
    turn (in `pairs`' order), so a seed gives the same interval. n and McNemar are over the items pooled."""
    if not pairs:
        raise ValueError("no split to average")
    rng = np.random.default_rng(seed)
    base_means, cand_means, diffs, boot = [], [], [], np.zeros(resamples)
    only_base = only_cand = n = 0
    for split, (base_hits, cand_hits) in pairs.items():
        a, b = parse_hits(base_hits, f"{split}: base"), parse_hits(cand_hits, f"{split}: candidate")
        if a.size != b.size:
            raise ValueError(
                f"{split}: the rows scored different items ({a.size} vs {b.size}); compare rows of one run"
            )
        d = b.astype(np.float64) - a
        boot += d[rng.integers(0, d.size, size=(resamples, d.size))].mean(1)
        base_means.append(a.mean())
        cand_means.append(b.mean())
        diffs.append(d.mean())
        only_base += int(((a == 1) & (b == 0)).sum())
        only_cand += int(((a == 0) & (b == 1)).sum())
        n += int(d.size)
    lo, hi = np.percentile(boot / len(pairs), [2.5, 97.5])
    base_mean, cand_mean = float(np.mean(base_means)), float(np.mean(cand_means))
    return {
        "splits": list(pairs),
        "n": n,
        "base": base_mean,
        "cand": cand_mean,
        "diff": float(np.mean(diffs)),
        "low": float(lo),
        "high": float(hi),
        "only_base": only_base,
        "only_cand": only_cand,
        "p_mcnemar": mcnemar_exact_p(only_base, only_cand),
    }


def held_out_mean(run: dict, base: str, cand: str, seed: int = 0, base_run: dict | None = None) -> dict | None:
    """mean_difference over the held-out splits both rows scored (HELD_OUT's order; train left out), or None when
    they share none of them."""
    return held_out_row(paired_hits(run, base, cand, base_run), seed)


def held_out_row(pairs: dict[str, tuple[str, str]], seed: int = 0) -> dict | None:
    held = {split: pairs[split] for split in HELD_OUT if split in pairs}
    return mean_difference(held, seed=seed) if held else None


def ship_verdict(rows: list[dict], mean_row: dict | None) -> dict:
    """The ship rule on the ruler, from compare's rows and held_out_mean's row: the candidate may replace the base
    when (a) the held-out mean difference's 95% interval lies above zero (low > 0) and (b) no held-out split is
    significantly worse (none with high < 0); every held-out split must be there. Train never counts.
    Returns {"ship": bool, "reasons": [...]}: what failed, or (when it ships) why it passes."""

    def said(r: dict) -> str:
        return f"{r['diff']:+.3f}, 95% interval [{r['low']:+.3f}, {r['high']:+.3f}]"

    by_split = {r["split"]: r for r in rows}
    failed = [f"{split}: not scored by both rows" for split in HELD_OUT if split not in by_split]
    # (b) no held-out split significantly worse
    worse = [by_split[s] for s in HELD_OUT if s in by_split and by_split[s]["high"] < 0]
    failed += [f"{r['split']}: {said(r)} is below zero" for r in worse]
    # (a) the held-out mean significantly better
    if mean_row is None:
        failed.append("held-out mean: no held-out split to average")
    elif set(mean_row.get("splits", HELD_OUT)) != set(HELD_OUT):
        failed.append(f"held-out mean: over {', '.join(mean_row['splits'])} only")
    elif not mean_row["low"] > 0:
        failed.append(f"held-out mean: {said(mean_row)} does not lie above zero")
    if failed:
        return {"ship": False, "reasons": failed}
    splits = ", ".join(f"{s} [{by_split[s]['low']:+.3f}, {by_split[s]['high']:+.3f}]" for s in HELD_OUT)
    return {
        "ship": True,
        "reasons": [
            f"held-out mean: {said(mean_row)} lies above zero",
            f"no held-out split significantly worse ({splits})",
        ],
    }


def verdict_line(verdict: dict) -> str:
    return f"verdict: {'ship' if verdict['ship'] else 'keep the base'} ({'; '.join(verdict['reasons'])})"


def markdown(base: str, cand: str, rows: list[dict], mean_row: dict | None = None) -> str:
    """The per-split rows, and `mean_row` (held_out_mean's) last as `held-out mean` when given."""
    lines = [
        f"| split | n | {base} top-5 | {cand} top-5 | difference | 95% interval | items only {base} / only {cand} "
        "| McNemar p |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows + ([{**mean_row, "split": "held-out mean"}] if mean_row is not None else []):
        lines.append(
            f"| {r['split']} | {r['n']} | {r['base']:.3f} | {r['cand']:.3f} | {r['diff']:+.3f} | "
            f"[{r['low']:+.3f}, {r['high']:+.3f}] | {r['only_base']} / {r['only_cand']} | {r['p_mcnemar']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> list[dict]:
    """Prints the table (and with --verdict the ship rule's verdict line); returns the per-split rows."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", help="evaluate.py --json output (the candidate's row, and the base's without --base-run)")
    ap.add_argument("--base-run", default=None, help="evaluate.py --json output of the same items with the base row")
    ap.add_argument("--base", required=True, help="row name of the shipped model")
    ap.add_argument("--cand", required=True, help="row name of the candidate")
    ap.add_argument("--seed", type=int, default=0, help="bootstrap draws")
    ap.add_argument("--verdict", action="store_true", help="print the ship rule's verdict after the table")
    ap.add_argument("--json", default=None)
    ap.add_argument("--md", default=None, help="append the table (with --verdict, and the verdict line) here")
    args = ap.parse_args(argv)
    base_run = read_run(args.base_run) if args.base_run else None
    pairs = paired_hits(read_run(args.run), args.base, args.cand, base_run)
    rows, mean_row = split_rows(pairs, args.seed), held_out_row(pairs, args.seed)
    verdict = ship_verdict(rows, mean_row)
    table = markdown(args.base, args.cand, rows, mean_row)
    print(table, end="")
    if args.verdict:
        print(verdict_line(verdict))
    if args.json:
        with open(args.json, "w") as f:
            out = {"base": args.base, "cand": args.cand, "seed": args.seed, "splits": rows}
            json.dump({**out, "held_out_mean": mean_row, "verdict": verdict}, f, indent=1)
    if args.md:
        with open(args.md, "a") as f:
            f.write(table + (verdict_line(verdict) + "\n" if args.verdict else ""))
    return rows


if __name__ == "__main__":
    main()
