"""Shared pieces of the training scripts: LR schedule, jsonl/stdout logging, common CLI flags, and the
automatic choice of the step count that fits a wall-clock budget.

The schedule is linear warmup then cosine decay to `min_ratio * lr` (as in most LM/diffusion
trainers); it is a pure function of the step with its parameters in `state_dict()`, so resuming restores
it exactly.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from typing import Any

import numpy as np
import torch

from .dist import broadcast_, get_world_size


class CosineSchedule:
    """Linear warm-up, then cosine from base_lr down to min_ratio * base_lr at total_steps (min_ratio 1: constant,
    the stable phase of a staged campaign). `restart`: a run continued from a stage checkpoint with fresh AdamW
    moments warms up again from that step; the cosine still reads the global step. `cool(step, n)`: from `step` the
    LR falls linearly to 0 over n steps (the decay phase of a warmup-stable-decay schedule), whatever came before."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        base_lr: float,
        total_steps: int,
        warmup: int = 200,
        min_ratio: float = 0.1,
        restart: int = 0,
    ):
        self.opt, self.base_lr, self.total_steps, self.warmup, self.min_ratio = (
            optimizer,
            base_lr,
            total_steps,
            warmup,
            min_ratio,
        )
        self.restart = restart
        self.cooldown_from, self.cooldown_steps = 0, 0

    def cool(self, step: int, n: int) -> None:
        if n < 1:
            raise ValueError(f"cool-down needs at least one step, got {n}")
        self.cooldown_from, self.cooldown_steps = step, n

    def cooled(self, step: int) -> bool:
        """True once a cool-down has run all its steps (the run should stop)."""
        return self.cooldown_steps > 0 and step >= self.cooldown_from + self.cooldown_steps

    def lr_at(self, step: int) -> float:
        if self.cooldown_steps and step >= self.cooldown_from:
            left = 1.0 - (step - self.cooldown_from) / self.cooldown_steps
            return self._scheduled(self.cooldown_from) * max(0.0, left)
        return self._scheduled(step)

    def _scheduled(self, step: int) -> float:
        warmup = max(1, min(self.warmup, (self.total_steps - self.restart) // 5))  # short runs: most steps at full LR
        if step - self.restart < warmup:
            return self.base_lr * (step - self.restart + 1) / warmup
        span = max(1, self.total_steps - warmup)
        p = min(1.0, max(0.0, step - warmup) / span)
        return self.base_lr * (self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * p)))

    def apply(self, step: int) -> float:
        lr = self.lr_at(step)
        for g in self.opt.param_groups:
            g["lr"] = lr * g.get("lr_scale", 1.0)
        return lr

    def state_dict(self) -> dict[str, Any]:
        return {
            "base_lr": self.base_lr,
            "total_steps": self.total_steps,
            "warmup": self.warmup,
            "min_ratio": self.min_ratio,
            "restart": self.restart,
            "cooldown_from": self.cooldown_from,
            "cooldown_steps": self.cooldown_steps,
        }

    def load_state_dict(self, st: dict[str, Any]) -> None:
        self.base_lr, self.total_steps, self.warmup, self.min_ratio = (
            st["base_lr"],
            st["total_steps"],
            st["warmup"],
            st["min_ratio"],
        )
        self.restart = int(st.get("restart", 0))
        self.cooldown_from, self.cooldown_steps = int(st.get("cooldown_from", 0)), int(st.get("cooldown_steps", 0))


class RunLogger:
    """Rank-0 logger: one JSON object per line in <run>/log.jsonl, and a short line on stdout (flushed)."""

    def __init__(self, run_dir: str, enabled: bool = True, name: str = "log.jsonl"):
        self.enabled = enabled
        self.f = None
        if enabled:
            os.makedirs(run_dir, exist_ok=True)
            self.f = open(os.path.join(run_dir, name), "a")

    def log(self, rec: dict[str, Any], echo: bool = True) -> None:
        if not self.enabled:
            return
        rec = {"time": round(time.time(), 3), **rec}
        self.f.write(json.dumps(rec) + "\n")
        self.f.flush()
        if echo:
            parts = []
            for k, v in rec.items():
                if k == "time":
                    continue
                parts.append(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}")
            print(" ".join(parts), flush=True)

    def print(self, *a) -> None:
        if self.enabled:
            print(*a, flush=True)


def add_common_args(ap: argparse.ArgumentParser, lr: float, batch_size: int) -> None:
    ap.add_argument("--data", default="data/packed", help="packed dataset dir (training/mmamba/data.py)")
    ap.add_argument("--out", required=True, help="run dir: checkpoints, log.jsonl, config")
    ap.add_argument("--preset", choices=["small", "tiny"], default="small")
    ap.add_argument(
        "--steps",
        type=int,
        default=0,
        help="total optimiser steps (sets the cosine schedule); 0 = auto from --max-minutes "
        "(measures throughput for the first steps, then fixes the count)",
    )
    ap.add_argument(
        "--max-steps",
        type=int,
        default=0,
        help="with --steps 0: the automatic count is at most this (a data budget; the time limit is the fallback)",
    )
    ap.add_argument("--batch-size", type=int, default=batch_size, help="global batch, split across ranks")
    ap.add_argument("--lr", type=float, default=lr)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--grad-clip", type=float, default=1.0)
    ap.add_argument(
        "--max-minutes",
        type=float,
        default=0.0,
        help="wall-clock budget of this invocation: checkpoint and exit cleanly before it",
    )
    ap.add_argument("--resume", action="store_true", help="continue from the latest ckpt-*.pt in --out")
    ap.add_argument("--ckpt-every", type=int, default=1000, help="steps between checkpoints")
    ap.add_argument("--ckpt-minutes", type=float, default=3.0, help="also checkpoint at least this often")
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default=None, help="cuda|cpu (default: cuda if available)")
    ap.add_argument(
        "--bench-steps",
        type=int,
        default=0,
        help="only measure throughput over K steps (after warm-up) and exit; no checkpoints",
    )
    ap.add_argument("--compile", action="store_true", help="torch.compile the model (GPU)")
    ap.add_argument(
        "--stop-after",
        type=int,
        default=0,
        help="checkpoint and exit after this many steps of this invocation (preemption drills, tests)",
    )
    ap.add_argument(
        "--save-rank-state",
        action="store_true",
        help="at the end every rank writes <out>/rank<r>_final.pt with its weights (DDP tests)",
    )
    ap.add_argument("--max-train-items", type=int, default=0, help="use only the first N training items (tests)")


def auto_total_steps(
    step_now: int, steps_timed: int, seconds: float, deadline, device: torch.device, reserve: float = 0.06, cap: int = 0
) -> int:
    """Pick the total step count that ends just inside the budget, identically on every rank.
    cap > 0 (--max-steps) bounds it: a fixed data budget, with the time limit as the fallback."""
    rate = steps_timed / max(seconds, 1e-6)
    remaining = (deadline.limit - deadline.elapsed()) if deadline.limit else 0.0
    total = step_now + int(rate * remaining * (1.0 - reserve))
    if cap > 0:
        total = min(total, cap)
    t = torch.tensor([float(total)], device=device)
    if get_world_size() > 1:
        broadcast_(t, 0)
    return max(step_now + 1, int(t.item()))


def device_sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def autocast(device: torch.device):
    """bf16 autocast on GPU, a no-op on CPU (tests compare exact f32 results there)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def save_json(path: str, obj: Any) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)


# ----------------------------------------------------------------------------- data adapters
def synthetic_images(n: int, size: int, seed: int = 0) -> torch.Tensor:
    """(n, size, size, 3) uint8 of coloured discs/boxes on plain backgrounds, for tests and smoke runs."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    out = torch.empty(n, size, size, 3, dtype=torch.uint8)
    for i in range(n):
        bg = torch.randint(0, 256, (3,), generator=g).to(torch.uint8)
        img = bg.view(1, 1, 3).expand(size, size, 3).clone()
        for _ in range(2):
            col = torch.randint(0, 256, (3,), generator=g)
            cx, cy = torch.randint(0, size, (2,), generator=g).tolist()
            r = int(torch.randint(size // 8, size // 3, (1,), generator=g))
            if torch.rand(1, generator=g) < 0.5:
                m = (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
            else:
                m = ((xx - cx).abs() < r) & ((yy - cy).abs() < r)
            img[m] = col.to(torch.uint8)
        out[i] = img
    return out


SYNTH_WORDS = ["red", "green", "blue", "yellow", "circle", "square", "small", "big", "left", "right", "top", "bottom"]


def synthetic_captions(n: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed + 1)
    return [
        " ".join(SYNTH_WORDS[j] for j in torch.randint(0, len(SYNTH_WORDS), (3,), generator=g).tolist())
        for _ in range(n)
    ]


def decode_split_images(root: str, split: str, seed: int = 0, workers: int = 0) -> np.ndarray:
    """All images of a split as (N, 128, 128, 3) uint8, decoded by data.decode_images' process pool
    (`workers`, default mmamba/pool.py pool_size()) and cached in <root>-decoded/<split>-s<seed>.npy beside the
    pack, not inside it: the pack folder travels to the GPU machine and the cache is gigabytes (written atomically
    by rank 0; other ranks wait and read it). A single process keeps the array it decoded."""
    from . import data as D
    from .dist import barrier, is_main

    cache = os.path.join(os.path.normpath(root) + "-decoded", f"{split}-s{seed}.npy")
    if is_main() and not os.path.exists(cache):
        t0 = time.time()
        arr = D.decode_images(D.load_pack(root, seed), D.load_pack(root, seed).splits[split], workers or None)
        print(f"[data] decoded {split}: {arr.shape} in {time.time() - t0:.1f}s -> {cache}", flush=True)
        try:
            os.makedirs(os.path.dirname(cache), exist_ok=True)
            tmp = cache + f".tmp{os.getpid()}.npy"
            np.save(tmp, arr)
            os.replace(tmp, cache)
        except OSError as e:  # read-only data dir: just keep it in memory
            print(f"[data] could not cache ({e})", flush=True)
        if get_world_size() == 1:
            return arr
    barrier()
    return np.load(cache, mmap_mode="r")


def resize_u8(images: torch.Tensor, size: int) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, size, size, 3) uint8 by area averaging (tiny presets on real data)."""
    x = torch.nn.functional.interpolate(images.permute(0, 3, 1, 2).float(), size=(size, size), mode="area")
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def load_split(data: str, split: str, image_size: int = 128, seed: int = 0, with_captions: bool = False):
    """Return (images uint8 (N, S, S, 3) torch tensor, captions list[str] or None) of one dataset split.

    `data` is the packed dataset dir (mmamba/data.py: index.json + images.bin), or `synthetic:N` for N
    generated images (tests and smoke runs without the dataset). Entries include every recolour variant
    and icon scene of the split, in the pack's fixed order.
    """
    if data.startswith("synthetic:"):
        n = int(data.split(":", 1)[1])
        off = {"train": 0, "val": 1, "test": 2}.get(split, 3)
        n_split = n if split == "train" else max(8, n // 8)
        return synthetic_images(n_split, image_size, seed=1000 * off), synthetic_captions(n_split, seed=1000 * off)
    from . import data as D

    arr = decode_split_images(data, split, seed)
    # a fresh decode is ours to wrap; a read-only cache mapping is copied into memory
    images = torch.from_numpy(arr if arr.flags.writeable and not isinstance(arr, np.memmap) else np.array(arr))
    if images.shape[1] != image_size:
        images = resize_u8(images, image_size)
    caps = None
    if with_captions:
        p = D.load_pack(data, seed)
        caps = [p.caption(ei) for ei in p.splits[split]]
    return images, caps


def checkpoint_due(args, step: int, done: bool, stop: bool, t_ckpt: float) -> bool:
    """A checkpoint is written at the end, on a stop, every --ckpt-every steps and at least every
    --ckpt-minutes (so a run killed hard loses little); never in --bench-steps mode."""
    if args.bench_steps:
        return False
    return done or stop or step % args.ckpt_every == 0 or time.time() - t_ckpt > args.ckpt_minutes * 60


def finish_run(args, info, model: torch.nn.Module, log: RunLogger, step: int) -> None:
    """End-of-run bookkeeping shared by the trainers: per-rank weights for the DDP test, the closing line."""
    if args.save_rank_state:
        torch.save(
            {k: v.cpu() for k, v in model.state_dict().items()}, os.path.join(args.out, f"rank{info.rank}_final.pt")
        )
    if info.is_main and not args.bench_steps:
        log.print(f"done: step {step}, run dir {args.out}")


def fix_auto_steps(
    step: int,
    start_step: int,
    t_auto0,
    deadline,
    device: torch.device,
    sched: CosineSchedule,
    extra: dict[str, Any],
    log: RunLogger,
    cap: int = 0,
):
    """--steps 0: steps 10..40 of this invocation are timed, then the schedule's total is fixed so the run ends
    inside --max-minutes (recorded in `extra` so a resumed run keeps it). Returns (still_auto, t_auto0)."""
    if step - start_step == 10:
        device_sync(device)
        return True, time.time()
    if step - start_step == 40:
        device_sync(device)
        sched.total_steps = auto_total_steps(step, 30, time.time() - t_auto0, deadline, device, cap=cap)
        extra["steps_fixed"] = True
        log.print(f"auto: total steps = {sched.total_steps}")
        return False, t_auto0
    return True, t_auto0
