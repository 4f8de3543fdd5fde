"""Fine-tune only the VQ decoder. The encoder and the codebook stay frozen, so every token id a generator was trained
on, and every token the page encodes from a user's picture, is unchanged: only the pixels drawn from tokens move.

Why: the shipped VQ, trained on dataset v1, loses art colours on dataset v2 (black art decodes brown or blue;
vq_colour_probe.py). A decoder-only fix keeps every generator; whether one works at what scale is measured in
docs/training.md ("Does a decoder fine-tune on dataset v2 bring the colours back?": not at CPU scale).
Loss = MSE + l1 * L1 + pool * MSE of pool_size x pool_size average-pooled images (pixels in [-1, 1]); the pooled
term weighs the regional mean colour, which the colour rule (mmamba/metrics.py) reads and plain MSE barely does.
AdamW on the decoder's parameters, linear warmup then cosine to 10 % over --steps, EMA of the weights (exported).
Held-out PSNR and colour accuracy (val split) are logged before the first step and every --val-every steps.
Time-boxed (--max-minutes) and resumable (--resume); <out>/ckpt-*.pt exports like any VQ run:
  python training/finetune_vq_decoder.py --vq public/models/vq-s --data data/packed --out training/runs/vq-dec \
      --steps 1800 --lr 5e-5 --max-minutes 55
  cd training && python -m mmamba.export --ckpt runs/vq-dec --out runs/vq-dec-export --id vq-s
  python training/evaluate.py ... --decoder tuned=training/runs/vq-dec-export   # paired with the shipped decoder
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from encode_tokens import load_vq  # noqa: E402
from evaluate import vq_reconstruct  # noqa: E402
from mmamba import data as D  # noqa: E402
from mmamba import metrics as M  # noqa: E402
from mmamba.checkpoint import EMA, Deadline, latest_checkpoint, load_checkpoint, save_checkpoint  # noqa: E402
from mmamba.runutil import CosineSchedule, RunLogger  # noqa: E402
from mmamba.vq import VQModel, images_to_tensor  # noqa: E402


def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vq", required=True, help="the VQ to start from: exported dir, run dir or ckpt")
    ap.add_argument("--data", default="data/packed", help="packed dataset dir (mmamba/data.py)")
    ap.add_argument("--out", required=True, help="run dir: log.jsonl and ckpt-*.pt")
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--l1", type=float, default=0.2)
    ap.add_argument("--pool", type=float, default=1.0, help="weight of the pooled-colour MSE")
    ap.add_argument("--pool-size", type=int, default=8, help="pixels per side of the pooled cells")
    ap.add_argument("--ema", type=float, default=0.995)
    ap.add_argument("--train-items", type=int, default=16384, help="train-split entries used (a fixed sample)")
    ap.add_argument("--val-items", type=int, default=512)
    ap.add_argument("--val-every", type=int, default=500)
    ap.add_argument("--ckpt-every", type=int, default=500)
    ap.add_argument("--max-minutes", type=float, default=None)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default=None)
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    args = ap.parse_args(argv)
    for name in ("steps", "batch_size", "train_items", "val_items", "val_every", "ckpt_every", "pool_size"):
        if getattr(args, name) <= 0:
            ap.error(f"--{name.replace('_', '-')} must be positive")
    return args


def sample_entries(pack, split: str, n: int, seed: int) -> list[int]:
    """A fixed sample of n entries of a split (hash order, independent of the pack's storage order)."""
    return sorted(pack.splits[split], key=lambda ei: D._u32(seed, "vq-decoder", split, ei))[:n]


def decoder_loss(recon: torch.Tensor, x: torch.Tensor, l1: float, pool: float, pool_size: int) -> torch.Tensor:
    """MSE + l1 * L1 + pool * MSE of the pooled images; recon and x (B, 3, S, S) in [-1, 1]."""
    loss = F.mse_loss(recon, x) + l1 * F.l1_loss(recon, x)
    if pool:
        loss = loss + pool * F.mse_loss(F.avg_pool2d(recon, pool_size), F.avg_pool2d(x, pool_size))
    return loss


def lr_at(step: int, total: int, peak: float, warmup: int) -> float:
    """The LR of a step: the training schedule's warm-up, then cosine down to 10 % (mmamba.runutil)."""
    return CosineSchedule(None, peak, total, warmup, min_ratio=0.1).lr_at(step)


def batch_indices(step: int, n: int, batch: int, seed: int) -> torch.Tensor:
    """The images of a step: a seeded permutation per epoch, cut in batches (a resumed run draws what a straight
    one would)."""
    per_epoch = max(1, n // batch)
    epoch, k = divmod(step, per_epoch)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
    return perm[k * batch : (k + 1) * batch]


class TokenCache:
    """Frozen-encoder tokens of the training images, computed the first time an image is drawn."""

    def __init__(self, vq: VQModel, images_u8: torch.Tensor):
        self.vq, self.images = vq, images_u8
        g = vq.cfg.grid
        self.tokens = torch.full((images_u8.shape[0], g, g), -1, dtype=torch.int64)

    @torch.no_grad()
    def get(self, idx: torch.Tensor, device) -> torch.Tensor:
        todo = idx[self.tokens[idx, 0, 0] < 0]
        if todo.numel():
            self.tokens[todo] = self.vq.encode(images_to_tensor(self.images[todo].to(device))).cpu()
        return self.tokens[idx].to(device)


def colour_hits(images_u8: np.ndarray, colours: list[str]) -> np.ndarray:
    """Per image, whether the colour rule (mmamba/metrics.py) reads the prompt's art colour; backgrounds not judged."""
    return np.asarray(M.colour_matches(images_u8, colours, [None] * len(colours))[0], dtype=bool)


def evaluate(vq: VQModel, images_u8: torch.Tensor, colours: list[str], device, batch: int = 64) -> dict:
    """Held-out PSNR (the uint8 picture the page shows against the original) and colour-rule accuracy."""
    vq.eval()
    rec, ps = vq_reconstruct(vq, images_u8.numpy(), device, batch)
    ok = colour_hits(rec, colours)
    return {
        "val_psnr": float(ps.mean()),
        "val_psnr_p10": float(torch.from_numpy(ps).quantile(0.1)),
        "val_colour": float(np.mean(ok)),
    }


def main(argv=None) -> None:
    args = parse(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(args.seed)
    log = RunLogger(args.out)
    vq = load_vq(args.vq, dev).float()
    for p in vq.parameters():
        p.requires_grad_(False)
    dec_params = list(vq.decoder.parameters())
    for p in dec_params:
        p.requires_grad_(True)

    pack = D.load_pack(args.data, args.seed)
    train_entries = sample_entries(pack, "train", args.train_items, args.seed)
    val_entries = sample_entries(pack, "val", args.val_items, args.seed)
    train_u8 = torch.from_numpy(D.decode_images(pack, train_entries))  # (N, S, S, 3)
    val_u8 = torch.from_numpy(D.decode_images(pack, val_entries))
    val_colours = [pack.prompt_facts(e)["colour"] for e in val_entries]
    cache = TokenCache(vq, train_u8)
    log.print(f"decoder fine-tune: {len(train_entries)} train / {len(val_entries)} val images, device {dev}")

    opt = torch.optim.AdamW(dec_params, lr=args.lr, betas=(0.9, 0.99), weight_decay=0.0)
    ema = EMA(vq, args.ema)
    extra = {"kind": "vq", "config": vq.cfg.to_dict(), "finetune": {"from": args.vq, "args": vars(args)}}
    step = 0
    if args.resume and (ck := latest_checkpoint(args.out)):
        step = load_checkpoint(ck, vq, opt, None, ema, map_location=dev)["step"]
        log.print(f"resumed from {ck} at step {step}")
    else:
        log.log({"step": 0, **evaluate(vq, val_u8, val_colours, dev)})
    deadline = Deadline(args.max_minutes, device=dev)
    t_last, n_last = time.time(), step
    while step < args.steps:
        idx = batch_indices(step, train_u8.shape[0], args.batch_size, args.seed)
        lr = lr_at(step, args.steps, args.lr, args.warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        tokens = cache.get(idx, dev)
        vq.decoder.train()
        x = images_to_tensor(train_u8[idx].to(dev))
        loss = decoder_loss(vq.decode_tokens(tokens), x, args.l1, args.pool, args.pool_size)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(dec_params, 1.0)
        opt.step()
        ema.update(vq, step)
        step += 1
        stop = deadline.should_stop()
        if step % 50 == 0:
            now = time.time()
            ips = (step - n_last) * args.batch_size / max(now - t_last, 1e-6)
            t_last, n_last = now, step
            log.log({"step": step, "loss": loss.item(), "lr": lr, "images_s": ips}, echo=step % 100 == 0)
        if step % args.val_every == 0 or step == args.steps or stop:
            live = {k: v.clone() for k, v in vq.state_dict().items()}
            vq.load_state_dict(ema.shadow)
            log.log({"step": step, "ema": True, **evaluate(vq, val_u8, val_colours, dev)})
            vq.load_state_dict(live)
        if step % args.ckpt_every == 0 or step == args.steps or stop:
            save_checkpoint(args.out, step, vq, opt, None, ema, extra=extra)
        if stop:
            log.print(f"stopping at step {step} (time budget); resume with --resume")
            break


if __name__ == "__main__":
    main()
