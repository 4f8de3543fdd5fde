"""Image-to-image: which tokens should strength s re-mask, the model's least confident ones or random ones by seed?

For fixed-ruler items (training/evaluate.py select_ruler_items: seen, unseen, paraphrase and training prompts), the
real drawing each item was taken from is VQ-encoded; at each strength, both choices of sampling.strength_keep
re-mask the same number of tokens, and the sampler re-draws them under the item's prompt (12 steps, guidance 4,
tau 4.5 as the page; all items in one batch with seed 0, the same noise for both choices; the random choice uses
each item's seed). The fixed ruler's evaluators score the results (concept top-5, CLIP score)
and PSNR is taken to the drawing's VQ reconstruction (what strength 0 returns): the better choice keeps more of
the picture for the same prompt fit, or fits the prompt better for the same closeness.

  training/.venv/bin/python training/measure_img2img.py --gen public/models/mmamba-v2 --per-split 8 \
      --md /tmp/img2img.md
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from evaluate import Scorer, select_ruler_items  # noqa: E402
from mmamba import data as D  # noqa: E402
from mmamba.evaluator import load_evaluators  # noqa: E402
from mmamba.sampling import maskgit_sample, strength_keep  # noqa: E402
from mmamba.vq import images_to_tensor, psnr, tensor_to_images  # noqa: E402

HOWS = ("random", "confidence")


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gen", default="public/models/mmamba-v2")
    ap.add_argument("--vq", default="public/models/vq-s")
    ap.add_argument("--data", default="data/packed")
    ap.add_argument("--evaluators", default="training/ruler/evaluators.pt")
    ap.add_argument("--per-split", type=int, default=8, help="ruler items per split (4 splits)")
    ap.add_argument("--strengths", default="0.25,0.5,0.75")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--guidance", type=float, default=4.0)
    ap.add_argument("--tau", type=float, default=4.5)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--md", default=None, help="append the markdown table here")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device("cpu")
    from encode_tokens import load_vq
    from sample_grid import load_generator

    t0 = time.time()
    model, bpe = load_generator(args.gen, dev)
    vq = load_vq(args.vq, dev)
    ev = load_evaluators(args.evaluators, dev)
    scorer = Scorer(ev, dev)
    cfg = model.cfg
    items = select_ruler_items(args.data, args.per_split)
    pack = D.load_pack(args.data)
    real = torch.from_numpy(np.ascontiguousarray(D.decode_images(pack, [it["entry"] for it in items])))
    with torch.no_grad():
        tokens = vq.encode(images_to_tensor(real)).view(len(items), -1)  # (N, HW)
        recon = tensor_to_images(vq.decode_tokens(tokens.view(-1, cfg.grid, cfg.grid)))
    ids = bpe.encode_batch([it["prompt"] for it in items], cfg.text.max_len)  # (N, Lt)
    empty = torch.tensor(bpe.empty_ids(cfg.text.max_len))
    prompt_emb = scorer.prompts([it["prompt"] for it in items])
    concept = torch.tensor([scorer.concept_id.get(it["concept"], -1) for it in items])
    fn = lambda t, x: model(t, x)  # noqa: E731

    def score(u8: np.ndarray) -> dict:
        s = scorer.images(u8)
        p = psnr(images_to_tensor(torch.from_numpy(u8)), images_to_tensor(recon))
        return {
            "top5": float((s["top5"] == concept[:, None]).any(1).float().mean()),
            "clip": 100 * float((s["embedding"] * prompt_emb).sum(1).mean()),
            "psnr": float(p.mean()),
        }

    rows = [{"how": "input (VQ reconstruction)", "strength": 0.0, **score(recon.numpy()), "psnr": None}]
    print(f"{len(items)} items ready ({time.time() - t0:.1f}s): {rows[0]}", flush=True)
    for s in [float(x) for x in args.strengths.split(",")]:
        for how in HOWS:
            t1 = time.time()
            keep = torch.stack(
                [
                    strength_keep(how, fn, ids[n], tokens[n], s, int(it["seed"]), cfg.grid, cfg.codebook_size)
                    for n, it in enumerate(items)
                ]
            )  # (N, HW)
            grid = maskgit_sample(  # one batch, seed 0 (counters b·HW + pos): the same noise for both choices
                fn,
                ids,
                hw=cfg.hw,
                codebook_size=cfg.codebook_size,
                uncond_ids=empty[None].expand_as(ids),
                steps=args.steps,
                guidance=args.guidance,
                tau=args.tau,
                seed=0,
                init_tokens=tokens,
                keep=keep,
            )[-1]
            with torch.no_grad():
                u8 = tensor_to_images(vq.decode_tokens(grid.view(-1, cfg.grid, cfg.grid))).numpy()
            rows.append({"how": how, "strength": s, **score(u8)})
            print(f"{rows[-1]} ({time.time() - t1:.1f}s)", flush=True)
    md = [
        f"{len(items)} ruler items ({args.per_split} per split), {os.path.basename(os.path.normpath(args.gen))}, "
        f"{args.steps} steps, guidance {args.guidance}, tau {args.tau}:",
        "",
        "| re-masked tokens | strength | concept top-5 ↑ | CLIP ↑ | PSNR to the input, dB ↑ |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        ps = "–" if r["psnr"] is None else f"{r['psnr']:.2f}"
        md.append(f"| {r['how']} | {r['strength']:.2f} | {r['top5']:.3f} | {r['clip']:.1f} | {ps} |")
    text = "\n".join(md)
    print(text)
    if args.md:
        with open(args.md, "a") as f:
            f.write(text + "\n")
    return {"rows": rows}


if __name__ == "__main__":
    main()
