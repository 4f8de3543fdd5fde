"""Sampling sweep on the fixed ruler: picks default sampling settings (guidance, choice temperature tau, steps,
token temperature)
for one generator by what the ruler measures, not by validation CE (docs/evaluation.md "Sampling sweep").

Every setting of the grid samples the same ruler items (evaluate.select_ruler_items: N prompts of each of
--splits, item i with seed i) with evaluate.sample_images and is scored by evaluate.Scorer, exactly as
`evaluate.py --ruler N --steps S --guidance G --tau T --temperature X` scores one setting. The generator is loaded once.

Winner rule: the highest mean concept top-5 over the ranked splits (seen, unseen, paraphrase); ties broken by
the higher mean CLIP over the same splits, then by fewer steps (cheaper), then by the grid order.

Default grid: guidance 2, 3, 4, 5 × tau 0.75, 1.5, 3, 4.5 × steps 8, 12, 16 × token temperature 1 = 48 settings
(`--temperature 1,0.8,0.6` multiplies it; narrow the other axes then), around the last
sweep's winner (guidance 4, tau 1.5: both at the edge of the grid before, which ran guidance 1-4 and tau 1.5-4.5;
guidance 1 was far behind everywhere). At 100 prompts per split (300 images per setting) it samples 14,400 guided
images, as many as 14,400 guided 12-step images: about 50 s at the ~300 images/s of M-Mamba v2 on one H200
(evaluate.py's images/s column; 128 for M-Mamba S), plus about 30 s of set-up (pack, evaluators, the test split's
real features). Keep the whole run under 4 minutes: a wider grid or more prompts scales that sampling time
linearly.

  python training/sweep_sampling.py --data data/packed --evaluators training/ruler/evaluators.pt \\
      --vq public/models/vq-s --gen mmamba-s=public/models/mmamba-s --ruler 100 \\
      --json /tmp/runs/sweep.json --md /tmp/runs/sweep.md
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evaluate as E  # noqa: E402
from mmamba import data as D  # noqa: E402
from mmamba.evaluator import load_evaluators  # noqa: E402
from mmamba.model_index import PAGE_SAMPLING as PAGE_DEFAULT  # noqa: E402
from mmamba.runutil import load_split  # noqa: E402
from ruler_compare import HELD_OUT as RANKED_SPLITS  # noqa: E402  (the splits the ship rule reads)

SETTING_KEYS = ("steps", "guidance", "tau", "temperature")


def floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def grid(guidance: list[float], tau: list[float], steps: list[int], temperature: list[float] = (1.0,)) -> list[dict]:
    """Every (steps, guidance, tau, temperature) setting, steps slowest."""
    return [
        {"steps": s, "guidance": g, "tau": t, "temperature": x}
        for s, g, t, x in itertools.product(steps, guidance, tau, temperature)
    ]


def ranking_key(row: dict, splits=RANKED_SPLITS) -> tuple:
    """Sort key of the winner rule (smaller is better): -mean top-5, -mean CLIP, steps, grid index."""
    present = [row["by_split"][x] for x in splits if x in row["by_split"]]
    top5 = float(np.mean([h["top5"] for h in present])) if present else 0.0
    clip = float(np.mean([h["clip"] for h in present])) if present else 0.0
    return (-top5, -clip, row["steps"], row["index"])


def markdown(rows: list[dict], winner: dict, splits=RANKED_SPLITS) -> str:
    cols = [x for x in splits if any(x in r["by_split"] for r in rows)]
    head = (
        "| steps | guidance | tau | temperature | "
        + " | ".join(f"{x} top-5" for x in cols)
        + " | mean top-5 | "
        + " | ".join(f"{x} CLIP" for x in cols)
        + " | mean CLIP | colour (seen) | images/s |"
    )
    lines = [head, "| " + " | ".join(["---"] * (7 + 2 * len(cols) + 1)) + " |"]
    for r in sorted(rows, key=ranking_key):
        h = r["by_split"]
        cell = lambda x, k, fmt: fmt.format(h[x][k]) if x in h else "–"  # noqa: E731
        mark = (
            " **(winner)**" if r["index"] == winner["index"] else (" (page default)" if r.get("page_default") else "")
        )
        seen_colour = cell("seen", "colour", "{:.3f}")
        lines.append(
            f"| {r['steps']}{mark} | {r['guidance']:g} | {r['tau']:g} | {r.get('temperature', 1.0):g} | "
            + " | ".join(cell(x, "top5", "{:.3f}") for x in cols)
            + f" | {r['mean_top5']:.3f} | "
            + " | ".join(cell(x, "clip", "{:.1f}") for x in cols)
            + f" | {r['mean_clip']:.1f} | "
            + f"{seen_colour} | {r['images_s']:.0f} |"
        )
    rule = "Winner: highest mean top-5 over " + ", ".join(cols) + "; ties: higher mean CLIP, then fewer steps."
    return "\n".join(lines) + "\n\n" + rule + "\n"


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description="sweep guidance / choice temperature / steps on the fixed ruler")
    ap.add_argument("--data", default="data/packed")
    ap.add_argument("--evaluators", required=True, help="evaluators.pt (the fixed ruler)")
    ap.add_argument("--vq", default="public/models/vq-s")
    ap.add_argument("--gen", required=True, help="name=generator (manifest dir, run dir or ckpt), or a path")
    ap.add_argument("--ruler", type=int, default=100, metavar="N", help="prompts per split")
    ap.add_argument(
        "--splits",
        default=",".join(RANKED_SPLITS),
        help="ruler splits sampled (add 'train' for PSNR to the exact drawing; only seen/unseen/paraphrase rank)",
    )
    ap.add_argument("--guidance", type=floats, default=[2.0, 3.0, 4.0, 5.0])
    ap.add_argument("--tau", type=floats, default=[0.75, 1.5, 3.0, 4.5], help="choice temperature (confidence noise)")
    ap.add_argument("--steps", type=ints, default=[8, 12, 16])
    ap.add_argument("--temperature", type=floats, default=[1.0], help="token sampling temperature")
    ap.add_argument("--batch", type=int, default=250, help="items sampled together")
    ap.add_argument("--json", default=None)
    ap.add_argument("--md", default=None, help="append the markdown table here")
    ap.add_argument("--seed", type=int, default=0, help="dataset split seed")
    ap.add_argument("--device", default=None)
    args = ap.parse_args(argv)
    dev = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    t_start = time.time()
    E.exact_f32()  # the images are those the browser's f32 engine draws

    splits = [x for x in args.splits.split(",") if x]
    unknown = set(splits) - set(E.RULER_SPLITS)
    if unknown:
        raise SystemExit(f"--splits: unknown {sorted(unknown)}; choose from {E.RULER_SPLITS}")
    items = [it for it in E.select_ruler_items(args.data, args.ruler, args.seed) if it["split"] in splits]
    name, path = E.named([args.gen])[0]
    from encode_tokens import load_vq
    from sample_grid import load_generator

    ev = load_evaluators(args.evaluators, dev)
    vq = load_vq(args.vq, dev)
    scorer = E.Scorer(ev, dev)
    real_test, _ = load_split(args.data, "test", seed=args.seed)
    real_features = scorer.images(real_test.numpy())["features"]
    prompt_emb = scorer.prompts([it["prompt"] for it in items])
    pack = D.load_pack(args.data, args.seed)
    exact = D.decode_images(pack, [it["entry"] for it in items]) if "train" in splits else None
    model, bpe = load_generator(path, dev)
    settings = grid(args.guidance, args.tau, args.steps, args.temperature)
    print(
        f"sweep {name}: {len(settings)} settings x {len(items)} items ({time.time() - t_start:.1f}s set-up)", flush=True
    )

    rows: list[dict] = []
    for k, st in enumerate(settings):
        u8, info = E.sample_images(
            model, bpe, vq, items, dev, st["steps"], st["guidance"], st["tau"], args.batch, st["temperature"]
        )
        sc = scorer.score(u8, items, real_features, prompt_emb, exact)
        row = {
            "index": k,
            **st,
            "page_default": st == PAGE_DEFAULT,
            "by_split": sc["by_split"],
            "clip": sc["clip"],
            "top5": sc["top5"],
            "colour": sc["colour"],
            "images_s": info["images_s"],
            "gen_seconds": info["seconds"],
        }
        ranked = [row["by_split"][x] for x in RANKED_SPLITS if x in row["by_split"]]
        row["mean_top5"] = float(np.mean([h["top5"] for h in ranked])) if ranked else 0.0
        row["mean_clip"] = float(np.mean([h["clip"] for h in ranked])) if ranked else 0.0
        rows.append(row)
        print(
            f"[{k + 1}/{len(settings)}] steps {st['steps']} guidance {st['guidance']:g} tau {st['tau']:g} "
            f"temperature {st['temperature']:g}: "
            f"mean top-5 {row['mean_top5']:.3f} CLIP {row['mean_clip']:.1f} ({info['images_s']:.0f} images/s)",
            flush=True,
        )
    winner = min(rows, key=ranking_key)
    table = markdown(rows, winner)
    result = {
        "generator": name,
        "path": path,
        "evaluators": args.evaluators,
        "vq": args.vq,
        "items": len(items),
        "per_split": args.ruler,
        "splits": splits,
        "rule": "max mean top-5 over seen/unseen/paraphrase; ties: max mean CLIP, then fewer steps",
        "winner": {k: winner[k] for k in SETTING_KEYS},
        "rows": rows,
        "seconds": round(time.time() - t_start, 1),
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    if args.md:
        with open(args.md, "a") as f:
            f.write(f"Sampling sweep of {name} ({args.ruler} prompts per split):\n\n" + table)
    print(table, flush=True)
    print(
        f"WINNER {name}: steps {winner['steps']} guidance {winner['guidance']:g} tau {winner['tau']:g} "
        f"temperature {winner['temperature']:g} "
        f"({result['seconds']}s)",
        flush=True,
    )
    return result


if __name__ == "__main__":
    main()
