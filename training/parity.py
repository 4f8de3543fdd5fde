"""The page's engine against PyTorch without the dataset: PyTorch generates the items (the kept everyday prompts x
seeds 0..K-1 with --everyday-seeds K, or a prompts file of evaluate.py --write-prompts: prompt and seed each) with
the same sampler the ruler uses (evaluate.generate), and
each generator's images from the WebGPU engine (bench/generate_eval.ts, raw uint8 N x S x S x 3) are compared with
them: a PARITY line per generator (evaluate.parity_stats) and, with --json, every number. The full evaluate.py
scores parity too, but needs the data pack and the evaluators; this needs only the models, so it fits a device call
beside the staged WebGPU runtime (training/gpu/parity.sh).

  python training/parity.py --everyday-seeds 4 --write-prompts /tmp/items.json     # the items, for generate_eval.ts
  python training/parity.py --prompts /tmp/items.json --vq public/models/vq-s \
      --gen mmamba-v2=public/models/mmamba-v2 --external mmamba-v2=/tmp/webgpu/mmamba-v2.u8 [--json out.json]
"""

from __future__ import annotations

import argparse
import json

import evaluate as E
import torch
from encode_tokens import load_vq
from sample_grid import EVERYDAY_PROMPTS


def everyday_items(seeds: int) -> list[dict]:
    """The kept everyday prompts, each with seeds 0..seeds-1 (prompt-major)."""
    return [{"prompt": p, "seed": s} for p in EVERYDAY_PROMPTS for s in range(seeds)]


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description="WebGPU engine vs PyTorch images for the same items and seeds")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--prompts", help="items JSON (evaluate.py --write-prompts or --write-prompts here)")
    src.add_argument("--everyday-seeds", type=int, metavar="K", help="the everyday prompts x seeds 0..K-1")
    ap.add_argument("--write-prompts", default=None, help="write the items JSON here and exit")
    ap.add_argument("--vq", default="public/models/vq-s")
    ap.add_argument("--gen", action="append", default=[], help="name=generator manifest dir; repeatable")
    ap.add_argument("--external", action="append", default=[], help="name=images.u8 of the same items; repeatable")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--guidance", type=float, default=4.0)
    ap.add_argument("--tau", type=float, default=4.5)
    ap.add_argument("--temperature", type=float, default=1.0, help="token sampling temperature")
    ap.add_argument("--device", default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    items = E.read_items(args.prompts) if args.prompts else everyday_items(args.everyday_seeds)
    if args.write_prompts:
        with open(args.write_prompts, "w") as f:
            json.dump(items, f, indent=0)
        print(f"wrote {len(items)} items -> {args.write_prompts}")
        return []
    gens, exts = dict(E.named(args.gen)), dict(E.named(args.external))
    missing = sorted(set(exts) - set(gens))
    if missing or not exts:
        raise SystemExit(f"parity: every --external needs a --gen of the same name (missing: {missing or 'all'})")
    dev = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    E.exact_f32()
    vq = load_vq(args.vq, dev)
    out = []
    for name, path in exts.items():
        ref, _ = E.generate(
            gens[name], vq, items, dev, args.steps, args.guidance, args.tau, temperature=args.temperature
        )
        ext = E.read_external_images(path, len(items), size=ref.shape[1])
        p = E.parity_stats(name, ext, ref)
        print(E.parity_line(p), flush=True)
        out.append(p)
    if args.json:
        with open(args.json, "w") as f:
            run = {"items": len(items), "steps": args.steps, "guidance": args.guidance, "tau": args.tau}
            json.dump({**run, "temperature": args.temperature, "parity": out}, f, indent=1)
    return out


if __name__ == "__main__":
    main()
