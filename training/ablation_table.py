"""Markdown table of an ablation: one row per train_gen.py run (its summary.json: parameters, images seen,
steps, throughput, validation CE) joined with evaluate.py's rows for the same names (FID, CLIP, accuracy).

Training compute per run = images seen × 3 × forward FLOPs of one image (backward ≈ 2× forward). Forward FLOPs
are counted by torch.utils.flop_counter on one batch-1 forward (matmuls, convolutions, attention) with the
reference selective scan, whose recurrence is added analytically: 6 FLOPs per (layer, direction, position,
inner channel, state) (Δ·A, the state update's multiply-add pair, Δ·B·u, and C·h's multiply-add).

  python training/ablation_table.py --runs /tmp/runs/abl --eval /tmp/runs/eval/ablation-*.json --target-steps 200
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def load_eval_rows(paths: list[str]) -> dict[str, dict]:
    rows = {}
    for p in paths:
        with open(p) as f:
            for r in json.load(f).get("rows", []):
                rows[r["name"]] = r
    return rows


def forward_gflops(config: dict) -> float:
    """Forward GFLOPs of one image (text + fully masked grid) for a generator config dict."""
    import torch
    from mmamba.config import config_from_dict
    from mmamba.mmamba import build_model
    from torch.utils.flop_counter import FlopCounterMode

    cfg = config_from_dict(config)
    with torch.device("meta"):  # shapes only: counting needs no arithmetic
        model = build_model(cfg).eval()
        tokens = torch.full((1, cfg.hw), cfg.mask_id, dtype=torch.long)
        text = torch.ones(1, cfg.text.max_len, dtype=torch.long)
    scan = 0
    if hasattr(model, "use_ref_scan"):
        model.use_ref_scan = True  # plain elementwise recurrence: no matmul hidden inside
        scan = 6 * cfg.layers * cfg.directions * cfg.seq_len * cfg.d_inner * cfg.d_state
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(tokens, text)
    return (counter.get_total_flops() + scan) / 1e9


class FlopsCache:
    """forward_gflops by config, kept in a JSON file so a second invocation (eval.sh: once in the background
    while the ablations are evaluated, once for the final table) costs nothing."""

    def __init__(self, path: str | None):
        self.path = path
        self.data = json.load(open(path)) if path and os.path.exists(path) else {}

    def __call__(self, config: dict) -> float:
        key = json.dumps(config, sort_keys=True)
        if key not in self.data:
            self.data[key] = forward_gflops(config)
            if self.path:
                with open(self.path + ".tmp", "w") as f:
                    json.dump(self.data, f)
                os.replace(self.path + ".tmp", self.path)
        return self.data[key]


def table(runs_dir: str, eval_rows: dict[str, dict], target_steps: int = 0, flops=None) -> str:
    """flops: a callable config -> forward GFLOPs (FlopsCache), or None to leave the compute columns empty."""
    lines = [
        "| variant | config | params | steps | train images | fwd GFLOPs/image | train PFLOPs | images/s (shared GPU) "
        "| val CE (EMA) | FID ↓ | CLIP ↑ | top-5 ↑ | colour ↑ |",
        "| " + " | ".join(["---"] * 13) + " |",
    ]
    for summ in sorted(glob.glob(os.path.join(runs_dir, "*", "summary.json"))):
        name = os.path.basename(os.path.dirname(summ))
        with open(summ) as f:
            s = json.load(f)
        c = s["config"]
        desc = f"{c['arch']} d={c['d']} L={c['layers']}" + (
            f" dirs={c['directions']} text={c['text_position']} ffn={'x' + str(c['ffn_mult']) if c['ffn'] else 'no'}"
            f" pos={'yes' if c['pos_emb'] else 'no'}"
            if c["arch"] == "mmamba"
            else ""
        )
        ev = s.get("last_eval") or {}
        ce = ev.get("val_loss_ema", ev.get("val_loss"))
        e = eval_rows.get(name, {})
        short = f" (stopped early, target {target_steps})" if target_steps and s["steps"] < target_steps else ""
        fmt = lambda v, f: f.format(v) if v is not None else "–"  # noqa: E731
        gf = flops(c) if flops else None
        pf = 3 * gf * s["train_images"] / 1e6 if gf is not None else None
        lines.append(
            f"| {name} | {desc} | {s['params'] / 1e6:.2f} M | {s['steps']}{short} | {s['train_images']:,} | "
            f"{fmt(gf, '{:.2f}')} | {fmt(pf, '{:.1f}')} | {s['images_s']:.0f} | {fmt(ce, '{:.3f}')} | "
            f"{fmt(e.get('fid'), '{:.2f}')} | {fmt(e.get('clip'), '{:.2f}')} | "
            f"{fmt(e.get('top5'), '{:.3f}')} | {fmt(e.get('colour'), '{:.3f}')} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> str:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", required=True, help="dir of train_gen.py run dirs (one per variant)")
    ap.add_argument("--eval", nargs="*", default=[], help="evaluate.py --json outputs")
    ap.add_argument("--target-steps", type=int, default=0)
    ap.add_argument("--out", default=None)
    ap.add_argument(
        "--flops",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="count forward FLOPs per image (one shape-only forward per config, seconds each)",
    )
    ap.add_argument("--flops-cache", default=None, help="JSON file of counted configs (read and extended)")
    args = ap.parse_args(argv)
    flops = FlopsCache(args.flops_cache) if args.flops else None
    md = table(args.runs, load_eval_rows([p for g in args.eval for p in glob.glob(g)]), args.target_steps, flops)
    print(md, flush=True)
    if args.out:
        with open(args.out, "w") as f:
            f.write(md)
    return md


if __name__ == "__main__":
    main()
