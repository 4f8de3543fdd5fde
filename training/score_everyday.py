"""Machine count of an everyday grid (sample_grid.py --everyday: 16 prompts x 4 seeds) with the fixed ruler's concept
classifier, beside the count by eye.

A seed shows its prompt's subject when one of the prompt's concepts (mmamba/everyday_concepts.py: the concept the
prompt names, then the other concepts of the label set that draw the same subject) is among the classifier's top-5
for that image, the top-5 that evaluate.py scores (same preprocessing: area-resize to the classifier's 64 px). A
prompt passes with >= 3 of its 4 seeds; the grid's number is how many prompts pass. "strict" counts the named
concept only. Per seed the rank (1 = top-1) and softmax probability of the best-ranked accepted concept and the
top-5 are kept, so a reader can see why the count differs from the eye.

Kept grids are scored without regenerating them: the PNG is cut into its cells by the grid's own layout
(mmamba/grid_layout.py). The prompts are those of <png>.json beside it (sample_grid writes it) or else the everyday
prompts. sample_grid.py --score EVALUATORS does the same for the grid it has just drawn.

  python training/score_everyday.py docs/img/everyday-mmamba-v2-stage4.png docs/img/everyday-mmamba-m-stage2.png \
      --evaluators training/ruler/evaluators.pt [--json scores.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mmamba.evaluator import Evaluators, load_evaluators, preprocess  # noqa: E402
from mmamba.everyday_concepts import EVERYDAY_CONCEPTS  # noqa: E402
from mmamba.grid_layout import cut  # noqa: E402

TOP_K = 5  # a seed shows the subject when an accepted concept is in the top-5
PASS_SEEDS = 3  # a prompt passes with at least this many seeds (of 4)
RULE = (
    f"a seed shows the subject when one of the prompt's concepts (mmamba/everyday_concepts.py) is in the ruler "
    f"classifier's top-{TOP_K}; a prompt passes with >= {PASS_SEEDS} seeds; strict: the named (first) concept only"
)


@torch.no_grad()
def classify(ev: Evaluators, u8: np.ndarray, batch: int = 256) -> torch.Tensor:
    """(N, S, S, 3) uint8 -> (N, concepts) f32 logits of the ruler's classifier (as evaluate.Scorer.images)."""
    dev = next(ev.classifier.parameters()).device
    out = []
    for i in range(0, u8.shape[0], batch):
        x = preprocess(torch.from_numpy(np.ascontiguousarray(u8[i : i + batch])).to(dev), ev.image_size)
        out.append(ev.classifier.head(ev.classifier.features(x)).float().cpu())
    return torch.cat(out)


def count(logits: torch.Tensor, prompts: list[str], concepts: list[str], mapping=EVERYDAY_CONCEPTS) -> dict:
    """logits (P, seeds, C) over the label set `concepts` -> the grid's count (see the module docstring)."""
    P, K, C = logits.shape
    if len(prompts) != P or len(concepts) != C:
        raise ValueError(f"logits {tuple(logits.shape)} vs {len(prompts)} prompts and {len(concepts)} concepts")
    index = {c: i for i, c in enumerate(concepts)}
    prob = logits.float().softmax(-1)
    order = torch.argsort(logits, dim=-1, descending=True, stable=True)  # (P, K, C)
    rank = torch.empty_like(order)
    rank.scatter_(-1, order, torch.arange(1, C + 1).expand(P, K, C))  # rank[p, k, c]: 1 = top-1
    rows = []
    for p, prompt in enumerate(prompts):
        names = mapping[prompt]
        ids = [index[n] for n in names]  # KeyError: a concept the label set lacks
        seeds = []
        for k in range(K):
            r = rank[p, k, ids]
            best = int(r.argmin())
            seeds.append(
                {
                    "hit": int(r[best]) <= TOP_K,
                    "hit_strict": int(r[0]) <= TOP_K,
                    "concept": names[best],
                    "rank": int(r[best]),
                    "prob": round(float(prob[p, k, ids[best]]), 4),
                    "top5": [[concepts[int(c)], round(float(prob[p, k, c]), 4)] for c in order[p, k, :TOP_K]],
                }
            )
        n, n_strict = sum(s["hit"] for s in seeds), sum(s["hit_strict"] for s in seeds)
        rows.append(
            {
                "prompt": prompt,
                "concepts": list(names),
                "count": n,
                "count_strict": n_strict,
                "passed": n >= PASS_SEEDS,
                "seeds": seeds,
            }
        )
    return {
        "rule": RULE,
        "seeds": K,
        "prompts": P,
        "passed": sum(r["passed"] for r in rows),
        "passed_strict": sum(r["count_strict"] >= PASS_SEEDS for r in rows),
        "per_prompt": rows,
    }


def score_canvas(canvas: np.ndarray, prompts: list[str], evaluators: str | Evaluators) -> dict:
    """A grid canvas (H, W, 3) uint8 with one row per prompt -> count(); evaluators: a path or loaded pair (CPU)."""
    ev = load_evaluators(evaluators, "cpu") if isinstance(evaluators, str) else evaluators
    cells = cut(canvas, len(prompts))  # (P, K, S, S, 3)
    P, K = cells.shape[:2]
    logits = classify(ev, cells.reshape(P * K, *cells.shape[2:])).view(P, K, -1)
    return count(logits, prompts, list(ev.concepts))


def table(score: dict) -> str:
    """One line per prompt: each seed's rank of the subject (* = in the top-5), the count, the strict count and the
    classifier's top-1 per seed; then the grid's number."""
    w = max(len(r["prompt"]) for r in score["per_prompt"])
    lines = [f"{'prompt':<{w}} | rank per seed (* top-{TOP_K}) | n | strict | top-1 per seed"]
    for r in score["per_prompt"]:
        ranks = " ".join(f"{s['rank']}{'*' if s['hit'] else ''}" for s in r["seeds"])
        top1 = ", ".join(s["top5"][0][0] for s in r["seeds"])
        lines.append(f"{r['prompt']:<{w}} | {ranks:<24} | {r['count']} | {r['count_strict']:>6} | {top1}")
    lines.append(
        f"prompts with >= {PASS_SEEDS} of {score['seeds']} seeds: {score['passed']} of {score['prompts']} "
        f"(strict: {score['passed_strict']})"
    )
    return "\n".join(lines)


def compare(scores: dict[str, dict]) -> str:
    """Markdown table: per prompt the count of each grid, the last row the grids' numbers."""
    names = list(scores)
    first = scores[names[0]]["per_prompt"]
    lines = ["| prompt | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for i, r in enumerate(first):
        cells = [str(scores[n]["per_prompt"][i]["count"]) for n in names]
        lines.append(f"| {r['prompt']} | " + " | ".join(cells) + " |")
    lines.append(
        f"| **>= {PASS_SEEDS} of {scores[names[0]]['seeds']}** | "
        + " | ".join(f"**{scores[n]['passed']}** (strict {scores[n]['passed_strict']})" for n in names)
        + " |"
    )
    return "\n".join(lines)


def grid_prompts(png: str) -> list[str]:
    """The prompts of <png>.json beside the grid, else the everyday prompts."""
    meta = os.path.splitext(png)[0] + ".json"
    if os.path.exists(meta):
        with open(meta) as f:
            return list(json.load(f)["prompts"])
    from sample_grid import EVERYDAY_PROMPTS

    return list(EVERYDAY_PROMPTS)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description="machine count of everyday grids with the ruler's classifier")
    ap.add_argument("grids", nargs="+", help="grid PNGs written by sample_grid.py --everyday")
    ap.add_argument("--evaluators", default="training/ruler/evaluators.pt", help="the fixed ruler's evaluators.pt")
    ap.add_argument("--json", default=None, help="write every grid's count here")
    args = ap.parse_args(argv)
    scores = {}
    with torch.no_grad():  # a scope, not the global flag: main() also runs inside the test process
        ev = load_evaluators(args.evaluators, "cpu")
        for png in args.grids:
            from PIL import Image

            with Image.open(png) as im:
                canvas = np.asarray(im.convert("RGB"))
            scores[os.path.basename(png)] = s = score_canvas(canvas, grid_prompts(png), ev)
            print(f"{png}\n{table(s)}\n", flush=True)
    if len(scores) > 1:
        print(compare(scores), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"evaluators": args.evaluators, "rule": RULE, "grids": scores}, f, indent=1)
    return scores


if __name__ == "__main__":
    main()
