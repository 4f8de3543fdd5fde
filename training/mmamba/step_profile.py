"""Where a training step's GPU time goes: the sequence mixer's kernels (forward, backward) against the rest.

`mixer_breakdown(step, steps)` (or start_profile / finish_profile around a training loop's last steps) runs the
steps under torch.profiler and sums the device time of the kernels whose names match MIXER_KERNELS: the
selective-scan kernels for M-Mamba (scan_triton.py's split path, scan_merge_triton.py's fused path) and the
attention kernels for UViT (SDPA's flash / memory-efficient / cuDNN kernels). Used by train_gen.py
--bench-steps and bench_train_step.py; CUDA only.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

# kernel-name substrings (lower case) per (mixer, pass); a kernel counts for the first pattern set it matches
MIXER_KERNELS = {
    "scan_fwd": ("_scan_fwd_kernel", "_scan_merge_fwd_kernel"),
    "scan_bwd": ("_scan_bwd_kernel", "_scan_bwd_reg_kernel", "_scan_merge_bwd_kernel"),
    "attn_bwd": (
        "flash_bwd",
        "fmha_bwd",
        "attention_backward",
        "efficient_attention_backward",
        "attn_bwd",
        "cudnn_sdpa_bwd",
        "sdpa_bwd",
    ),
    "attn_fwd": (
        "flash_fwd",
        "fmha_fwd",
        "fmha_cutlass",
        "attention_forward",
        "efficient_attention_forward",
        "attn_fwd",
        "cudnn_sdpa",
        "sdpa",
        "flash",
    ),
}


def _device_us(evt) -> float:
    # a kernel event's own time (it has no children); the attribute names differ across torch versions
    for attr in ("device_time_total", "cuda_time_total", "self_device_time_total", "self_cuda_time_total"):
        v = getattr(evt, attr, None)
        if v is not None:
            return float(v)
    return 0.0


def classify(name: str) -> str:
    low = name.lower()
    for cls, pats in MIXER_KERNELS.items():
        if any(p in low for p in pats):
            return cls
    return "other"


def start_profile():
    """A started torch.profiler recording CUDA kernels; pass it to finish_profile after the steps."""
    from torch.profiler import ProfilerActivity, profile

    torch.cuda.synchronize()
    prof = profile(activities=[ProfilerActivity.CUDA])
    prof.__enter__()
    return prof


def finish_profile(prof, steps: int, top: int = 12) -> dict:
    """Stop `prof` (started before `steps` steps) -> per-step device ms by kernel class (MIXER_KERNELS and
    'other'), 'kernels_total', and 'top': the `top` kernels by time, [(name, ms per step)]."""
    torch.cuda.synchronize()
    prof.__exit__(None, None, None)
    out = {k: 0.0 for k in (*MIXER_KERNELS, "other")}
    per_name: dict[str, float] = {}
    for evt in prof.key_averages():
        if getattr(evt, "device_type", None) != torch.autograd.DeviceType.CUDA:
            continue
        us = _device_us(evt)
        out[classify(evt.key)] += us
        per_name[evt.key] = per_name.get(evt.key, 0.0) + us
    res = {k: v / 1e3 / steps for k, v in out.items()}
    res["kernels_total"] = sum(res.values())
    res["top"] = [(n[:90], us / 1e3 / steps) for n, us in sorted(per_name.items(), key=lambda x: -x[1])[:top]]
    return res


def mixer_breakdown(step: Callable[[], None], steps: int = 5, top: int = 12) -> dict:
    """finish_profile's dict for `steps` calls of `step()`."""
    prof = start_profile()
    for _ in range(steps):
        step()
    return finish_profile(prof, steps, top)


def format_breakdown(step_ms: float, br: dict) -> str:
    """One line: step, mixer forward / backward and the rest (step − mixer), in ms per step."""
    fwd = br["scan_fwd"] + br["attn_fwd"]
    bwd = br["scan_bwd"] + br["attn_bwd"]
    kind = "scan" if br["scan_fwd"] + br["scan_bwd"] > 0 else "attention"
    return (
        f"step {step_ms:.2f} ms = {kind} fwd {fwd:.2f} + {kind} bwd {bwd:.2f} + rest {step_ms - fwd - bwd:.2f} "
        f"(all kernels {br['kernels_total']:.2f} ms)"
    )
