"""Paired comparison of two generators on the fixed ruler: per split, the difference in concept top-5 between a
candidate and a base row of one evaluate.py run (the same items, so each item is a pair), with a 95% paired
bootstrap interval and the exact McNemar test on the items only one of them gets right. The ship rule
(docs/shipping.md) asks for a higher top-5 on every split; this says how far that difference is from noise: with
250 items a split's top-5 near 0.1 has a standard error of about 0.02.

    python training/ruler_compare.py RUN.json --base mmamba-v2 --cand mmamba-m-stage5 [--json OUT] [--md OUT]
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


def mcnemar_exact_p(only_base: int, only_cand: int) -> float:
    """Two-sided exact McNemar p-value: under "no difference" each discordant item is a fair coin flip."""
    n = only_base + only_cand
    if n == 0:
        return 1.0
    k = min(only_base, only_cand)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2.0**n
    return min(1.0, 2.0 * tail)


def parse_hits(hits: object, what: str) -> np.ndarray:
    if not isinstance(hits, str) or not hits or set(hits) - {"0", "1"}:
        raise ValueError(f"{what}: hits must be a non-empty string of 0 and 1 (evaluate.py writes them)")
    return np.frombuffer(hits.encode(), dtype=np.uint8) - ord("0")


def paired_difference(base_hits: str, cand_hits: str, resamples: int = RESAMPLES, seed: int = 0) -> dict:
    """cand − base top-5 over the same items, its 95% paired bootstrap interval (items resampled with replacement,
    `seed` fixes the draws) and the exact McNemar p-value."""
    a, b = parse_hits(base_hits, "base"), parse_hits(cand_hits, "candidate")
    if a.size != b.size:
        raise ValueError(f"the rows scored different items ({a.size} vs {b.size}); compare rows of one run")
    d = b.astype(np.float64) - a
    idx = np.random.default_rng(seed).integers(0, d.size, size=(resamples, d.size))
    boot = d[idx].mean(1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    only_base, only_cand = int(((a == 1) & (b == 0)).sum()), int(((a == 0) & (b == 1)).sum())
    return {
        "n": int(d.size),
        "base": float(a.mean()),
        "cand": float(b.mean()),
        "diff": float(d.mean()),
        "low": float(lo),
        "high": float(hi),
        "only_base": only_base,
        "only_cand": only_cand,
        "p_mcnemar": mcnemar_exact_p(only_base, only_cand),
    }


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


def compare(run: dict, base: str, cand: str, seed: int = 0, base_run: dict | None = None) -> list[dict]:
    """One paired difference per split that both rows scored (in the base row's order). The base row comes from
    `base_run` when given, which must have scored the same items as `run`."""
    if base_run is not None:
        a, b = base_run.get("items_sha256"), run.get("items_sha256")
        if not a or not b:
            raise ValueError(
                "a run has no items_sha256 (from before evaluate.py recorded its items): compare rows of one run"
            )
        if a != b:
            raise ValueError("the two runs scored different items (items_sha256 differs)")
    base_row, cand_row = row_of(base_run if base_run is not None else run, base), row_of(run, cand)
    out = []
    for split, b in (base_row.get("by_split") or {}).items():
        c = (cand_row.get("by_split") or {}).get(split)
        if c is None:
            continue
        if "hits" not in b or "hits" not in c:
            raise ValueError(f"split {split}: a row has no per-item hits (a run from before evaluate.py wrote them)")
        out.append({"split": split, **paired_difference(b["hits"], c["hits"], seed=seed)})
    if not out:
        raise ValueError(f"{base} and {cand} share no split")
    return out


def markdown(base: str, cand: str, rows: list[dict]) -> str:
    lines = [
        f"| split | n | {base} top-5 | {cand} top-5 | difference | 95% interval | items only {base} / only {cand} "
        "| McNemar p |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['split']} | {r['n']} | {r['base']:.3f} | {r['cand']:.3f} | {r['diff']:+.3f} | "
            f"[{r['low']:+.3f}, {r['high']:+.3f}] | {r['only_base']} / {r['only_cand']} | {r['p_mcnemar']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", help="evaluate.py --json output (the candidate's row, and the base's without --base-run)")
    ap.add_argument("--base-run", default=None, help="evaluate.py --json output of the same items with the base row")
    ap.add_argument("--base", required=True, help="row name of the shipped model")
    ap.add_argument("--cand", required=True, help="row name of the candidate")
    ap.add_argument("--seed", type=int, default=0, help="bootstrap draws")
    ap.add_argument("--json", default=None)
    ap.add_argument("--md", default=None, help="append the table here")
    args = ap.parse_args(argv)
    base_run = read_run(args.base_run) if args.base_run else None
    rows = compare(read_run(args.run), args.base, args.cand, args.seed, base_run)
    table = markdown(args.base, args.cand, rows)
    print(table, end="")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"base": args.base, "cand": args.cand, "seed": args.seed, "splits": rows}, f, indent=1)
    if args.md:
        with open(args.md, "a") as f:
            f.write(table)
    return rows


if __name__ == "__main__":
    main()
