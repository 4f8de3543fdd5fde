"""PNG grid of samples for the 8 fixed test prompts (data.test_prompts()) from a trained generator + VQ.

Rows are prompts, columns are seeds; the prompt is written above each row. Sampling is the shared
MaskGIT sampler (sampling.maskgit_sample: aMUSEd's scheduler, counter RNG), guidance against the empty
prompt. Models load from a train_*.py run dir / ckpt-*.pt (EMA weights) or from an exported manifest
dir (then the sha256 of every shard is verified). The canvas geometry is mmamba/grid_layout.py's, which also
cuts a kept grid back into its cells. --score EVALUATORS (everyday prompts) adds the machine count of each prompt's
subject by the fixed ruler's classifier (score_everyday.py) to <out>.json and prints it.

  python training/sample_grid.py --gen public/models/mmamba-s --vq public/models/vq-s --data data/packed \
      --out training/runs/mmamba/grid.png
  python training/sample_grid.py --gen public/models/mmamba-v2 --vq public/models/vq-s --everyday --guidance 4 \
      --tau 1.5 --device cpu --score training/ruler/evaluators.pt --out /tmp/everyday.png
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np
import torch
from mmamba import config as C
from mmamba.bpe import BPETokenizer
from mmamba.checkpoint import latest_checkpoint
from mmamba.grid_layout import compose
from mmamba.sampling import maskgit_sample
from mmamba.vq import tensor_to_images

# The kept grid of everyday prompts (docs/img/everyday-<model>.png for every shipped version): what a new user
# types first. Never change it; a model ships only when each of these shows its subject in >= 3 of 4 seeds.
EVERYDAY_PROMPTS = (
    "red apple",
    "rocket",
    "a slice of pizza",
    "snowman",
    "a cup of hot coffee",
    "thumbs up",
    "cat face",
    "dog",
    "a yellow star",
    "house",
    "tree",
    "blue car",
    "fish",
    "birthday cake",
    "sun",
    "a red heart",
)


def load_generator(path: str, device):
    """(model, tokenizer) from a manifest dir or a train_gen.py run dir / checkpoint."""
    from mmamba.mmamba import build_model

    if os.path.isdir(path) and os.path.exists(os.path.join(path, "manifest.json")):
        from mmamba.export import load_state_dict_from_manifest

        man, sd = load_state_dict_from_manifest(path)
        cfg, tok = C.config_from_dict(man["config"]), man["tokenizer"]
    else:
        ck = latest_checkpoint(path) if os.path.isdir(path) else path
        if ck is None:
            raise FileNotFoundError(f"no checkpoint or manifest in {path}")
        st = torch.load(ck, map_location="cpu", weights_only=True)
        cfg, tok = C.config_from_dict(st["extra"]["config"]), st["extra"]["tokenizer"]
        sd = st["ema"]["shadow"] if st.get("ema") else st["model"]
    model = build_model(cfg)
    model.load_state_dict(sd, strict=False)
    return model.to(device).eval(), BPETokenizer.from_dict(tok)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="sample grid for the fixed test prompts")
    ap.add_argument("--gen", required=True, help="generator manifest dir, run dir or ckpt")
    ap.add_argument("--vq", required=True, help="VQ manifest dir, run dir or ckpt")
    ap.add_argument("--data", default="data/packed", help="dataset (for data.test_prompts)")
    ap.add_argument("--prompts", default=None, help="'|'-separated prompts instead of data.test_prompts()")
    ap.add_argument("--everyday", action="store_true", help="the kept 16 everyday prompts (EVERYDAY_PROMPTS)")
    ap.add_argument("--out", required=True, help="PNG path")
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--guidance", type=float, default=4.0)
    ap.add_argument("--tau", type=float, default=4.5)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--device", default=None)
    ap.add_argument(
        "--score",
        metavar="EVALUATORS",
        help="also count the subject per prompt with this ruler's classifier (score_everyday.py; everyday prompts "
        "only): into <out>.json and printed",
    )
    args = ap.parse_args(argv)
    dev = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))

    from encode_tokens import load_vq

    model, bpe = load_generator(args.gen, dev)
    vq = load_vq(args.vq, dev)
    cfg = model.cfg
    if args.everyday:
        prompts = list(EVERYDAY_PROMPTS)
    elif args.prompts:
        prompts = args.prompts.split("|")
    else:
        from mmamba import data as D

        prompts = D.test_prompts(8, root=args.data)
    if args.score:
        from mmamba.everyday_concepts import EVERYDAY_CONCEPTS

        if missing := [p for p in prompts if p not in EVERYDAY_CONCEPTS]:
            raise SystemExit(f"--score knows the concepts of the everyday prompts only, not {missing}")
    S = vq.cfg.image_size
    cells = np.empty((len(prompts), args.seeds, S, S, 3), np.uint8)  # (P, seeds, S, S, 3)
    ids = bpe.encode_batch(prompts, cfg.text.max_len).to(dev)  # (P, Lt)
    empty = torch.tensor([bpe.empty_ids(cfg.text.max_len)] * len(prompts), device=dev)
    for s in range(args.seeds):
        grids = maskgit_sample(
            lambda t, x: model(t, x),
            ids,
            hw=cfg.hw,
            codebook_size=cfg.codebook_size,
            uncond_ids=empty,
            steps=args.steps,
            guidance=args.guidance,
            tau=args.tau,
            temperature=args.temperature,
            seed=s,
        )
        tokens = grids[-1].view(len(prompts), cfg.grid, cfg.grid)  # (P, g, g)
        with torch.no_grad():
            cells[:, s] = tensor_to_images(vq.decode_tokens(tokens)).cpu().numpy()  # (P, S, S, 3) uint8
    canvas = compose(cells, prompts)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    canvas.save(args.out)
    meta = {
        "prompts": prompts,
        "seeds": args.seeds,
        "steps": args.steps,
        "guidance": args.guidance,
        "tau": args.tau,
        "gen": args.gen,
        "vq": args.vq,
    }
    if args.score:
        # scored from the canvas, cut as a kept PNG is (score_everyday.py), so both give the same numbers
        from score_everyday import score_canvas, table

        meta["score"] = score_canvas(np.asarray(canvas), prompts, args.score)
        print(table(meta["score"]), flush=True)
    with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
        json.dump(meta, f, indent=1)
    print(f"wrote {args.out} ({len(prompts)} prompts x {args.seeds} seeds)", flush=True)


if __name__ == "__main__":
    main()
