"""Atomic checkpoints, resume, and a wall-clock budget for runs that get killed or time-limited.

A checkpoint holds model (unwrapped from DDP), EMA, optimiser, scheduler, step, and every RNG state
(python, numpy, torch CPU, torch CUDA), so `--resume` continues bit-identically on the same hardware.
Everything in it is tensors or plain Python types, and every load uses torch.load(weights_only=True): a
checkpoint from elsewhere can hold a pickle payload, which must never run. Writes go to a temp file in the
run dir, fsync, then os.replace (atomic on POSIX), so a kill mid-write never leaves a truncated `ckpt-*.pt`. Only rank 0
writes; all ranks read.
"""

from __future__ import annotations

import glob
import os
import random
import re
import signal
import time
from typing import Any

import numpy as np
import torch

from .dist import any_rank, unwrap

_CKPT_RE = re.compile(r"ckpt-(\d+)\.pt$")


def rng_state() -> dict[str, Any]:
    """Every RNG state as plain types and tensors, so the checkpoint loads with torch.load(weights_only=True)."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    numpy_state = {
        "name": name,
        "keys": torch.from_numpy(keys.astype(np.int64)),
        "pos": int(pos),
        "has_gauss": int(has_gauss),
        "gauss": float(gauss),
    }
    st = {"python": random.getstate(), "numpy": numpy_state, "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def set_rng_state(st: dict[str, Any]) -> None:
    random.setstate(st["python"])
    n = st["numpy"]
    # states come back on the map_location device of the load (cuda on a GPU resume): the setters want CPU tensors
    np.random.set_state((n["name"], n["keys"].cpu().numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(st["torch"].cpu())
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in st["cuda"]])


class EMA:
    """Exponential moving average of parameters (and a copy of buffers), kept in f32."""

    def __init__(self, model: torch.nn.Module, decay: float = 0.999):
        self.decay = decay
        self.shadow = {k: v.detach().clone().float() for k, v in unwrap(model).state_dict().items()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int | None = None) -> None:
        """shadow <- lerp(shadow, weights, 1 - d); d ramps as min(decay, (1 + step) / (10 + step))."""
        d = self.decay if step is None else min(self.decay, (1.0 + step) / (10.0 + step))
        dst, src = [], []
        for k, v in unwrap(model).state_dict().items():
            if v.dtype.is_floating_point:
                dst.append(self.shadow[k])
                src.append(v.detach().float())
            else:
                self.shadow[k].copy_(v)
        if dst:
            torch._foreach_lerp_(dst, src, 1.0 - d)

    def state_dict(self) -> dict[str, Any]:
        return {"decay": self.decay, "shadow": self.shadow}

    def load_state_dict(self, st: dict[str, Any]) -> None:
        self.decay = st["decay"]
        for k, v in st["shadow"].items():
            self.shadow[k].copy_(v)


def list_checkpoints(run_dir: str):
    out = []
    for p in glob.glob(os.path.join(run_dir, "ckpt-*.pt")):
        m = _CKPT_RE.search(p)
        if m:
            out.append((int(m.group(1)), p))
    return [p for _, p in sorted(out)]


def latest_checkpoint(run_dir: str) -> str | None:
    c = list_checkpoints(run_dir)
    return c[-1] if c else None


def save_checkpoint(
    run_dir: str,
    step: int,
    model,
    optimizer=None,
    scheduler=None,
    ema: EMA | None = None,
    extra: dict[str, Any] | None = None,
    keep: int = 2,
) -> str | None:
    """Rank 0 writes run_dir/ckpt-<step>.pt atomically and keeps the newest `keep` checkpoints."""
    if torch.distributed.is_available() and torch.distributed.is_initialized() and torch.distributed.get_rank() != 0:
        return None
    os.makedirs(run_dir, exist_ok=True)
    state = {
        "step": step,
        "model": unwrap(model).state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "ema": ema.state_dict() if ema is not None else None,
        "rng": rng_state(),
        "extra": extra or {},
        "time": time.time(),
    }
    path = os.path.join(run_dir, f"ckpt-{step:08d}.pt")
    tmp = path + f".tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    for old in list_checkpoints(run_dir)[:-keep] if keep > 0 else []:
        try:
            os.remove(old)
        except FileNotFoundError:
            pass
    return path


def load_checkpoint(
    path: str,
    model,
    optimizer=None,
    scheduler=None,
    ema: EMA | None = None,
    map_location="cpu",
    restore_rng: bool = True,
) -> dict[str, Any]:
    """Load into the given objects; returns the raw state (use state["step"], state["extra"])."""
    state = torch.load(path, map_location=map_location, weights_only=True)
    unwrap(model).load_state_dict(state["model"])
    if optimizer is not None and state.get("optimizer") is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.load_state_dict(state["scheduler"])
    if ema is not None and state.get("ema") is not None:
        ema.load_state_dict(state["ema"])
    if restore_rng:
        set_rng_state(state["rng"])
    return state


class Deadline:
    """Stop before `max_minutes` of wall clock (minus a safety margin), or on SIGTERM/SIGINT.

    `should_stop()` agrees across DDP ranks (all-reduce MAX), so every rank leaves the loop at the same
    step; call it every step (cheap) or every few steps.
    """

    def __init__(
        self,
        max_minutes: float | None,
        margin_s: float = 20.0,
        device=torch.device("cpu"),  # noqa: B008 (a torch.device is immutable: one shared default is safe)
        install_signals: bool = True,
    ):
        self.t0 = time.time()
        self.limit = None if not max_minutes or max_minutes <= 0 else max(1.0, max_minutes * 60.0 - margin_s)
        self.device = device
        self.signalled = False
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                try:
                    signal.signal(sig, self._on_signal)
                except ValueError:  # not the main thread
                    pass

    def _on_signal(self, signum, frame) -> None:
        self.signalled = True

    def elapsed(self) -> float:
        return time.time() - self.t0

    def should_stop(self) -> bool:
        local = self.signalled or (self.limit is not None and self.elapsed() >= self.limit)
        return any_rank(local, self.device)
