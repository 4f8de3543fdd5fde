"""Markdown table of an ablation: one row per train_gen.py run (its summary.json: parameters, images seen,
steps, throughput, validation CE) joined with evaluate.py's rows for the same names (FID, CLIP, accuracy).

  python training/ablation_table.py --runs /tmp/runs/abl --eval /tmp/runs/eval/ablation-*.json --target-steps 200
"""
from __future__ import annotations

import argparse
import glob
import json
import os


def load_eval_rows(paths: list[str]) -> dict[str, dict]:
    rows = {}
    for p in paths:
        with open(p) as f:
            for r in json.load(f).get("rows", []):
                rows[r["name"]] = r
    return rows


def table(runs_dir: str, eval_rows: dict[str, dict], target_steps: int = 0) -> str:
    lines = ["| variant | config | params | steps | train images | images/s (shared GPU) | val CE (EMA) | FID ↓ | CLIP ↑ | top-5 ↑ | colour ↑ |",
             "| " + " | ".join(["---"] * 11) + " |"]
    for summ in sorted(glob.glob(os.path.join(runs_dir, "*", "summary.json"))):
        name = os.path.basename(os.path.dirname(summ))
        with open(summ) as f:
            s = json.load(f)
        c = s["config"]
        desc = (f"{c['arch']} d={c['d']} L={c['layers']}" +
                (f" dirs={c['directions']} text={c['text_position']} ffn={'x' + str(c['ffn_mult']) if c['ffn'] else 'no'}"
                 f" pos={'yes' if c['pos_emb'] else 'no'}" if c["arch"] == "mmamba" else ""))
        ev = (s.get("last_eval") or {})
        ce = ev.get("val_loss_ema", ev.get("val_loss"))
        e = eval_rows.get(name, {})
        short = f" (stopped early, target {target_steps})" if target_steps and s["steps"] < target_steps else ""
        fmt = lambda v, f: f.format(v) if v is not None else "–"  # noqa: E731
        lines.append(f"| {name} | {desc} | {s['params'] / 1e6:.2f} M | {s['steps']}{short} | {s['train_images']:,} | "
                     f"{s['images_s']:.0f} | {fmt(ce, '{:.3f}')} | {fmt(e.get('fid'), '{:.2f}')} | {fmt(e.get('clip'), '{:.2f}')} | "
                     f"{fmt(e.get('top5'), '{:.3f}')} | {fmt(e.get('colour'), '{:.3f}')} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> str:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", required=True, help="dir of train_gen.py run dirs (one per variant)")
    ap.add_argument("--eval", nargs="*", default=[], help="evaluate.py --json outputs")
    ap.add_argument("--target-steps", type=int, default=0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    md = table(args.runs, load_eval_rows([p for g in args.eval for p in glob.glob(g)]), args.target_steps)
    print(md, flush=True)
    if args.out:
        with open(args.out, "w") as f:
            f.write(md)
    return md


if __name__ == "__main__":
    main()
