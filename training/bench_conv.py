"""The split path's causal conv + SiLU alone on CUDA: its scan-order forward and backward kernels (conv_triton)
checked against the reference and timed interleaved at the model's shapes.

1. check: (dx, dweight, dbias) of the conv_bwd op vs the autograd of conv_ref.causal_conv_silu_ref at the model's
   L = 272 and di = 256, K = 4, batch 4, float32 (normalised max error < 1e-4) and bfloat16 x / dy (< 1e-2 against
   the f32 reference from the same bf16 inputs); a failure is reported (`check FAIL`) and exits non-zero after
   the timing.
2. timing: the forward alone and the backward alone (the conv_bwd op on a fixed dy), at --Bs (default 512: the
   stage's batch, R = 2048 rows), bf16 x, f32 weight as under autocast, `--reps` interleaved rounds, median / min
   ms per call (CUDA events), and each call's distance from the memory floor: the bytes it must move (forward:
   x read, y written; backward: x and dy read, dx written; bf16; dweight / dbias are a few KB) over --bw GB/s
   (default 4800, the H200's HBM3e). MMAMBA_CONV_BWD_WARPS sets the backward's warps (default 4).

Usage (CUDA): python training/bench_conv.py [--Bs 512] [--reps 20]
Smoke test on CPU (Triton's interpreter, check at batch 1 only):
  TRITON_INTERPRET=1 python training/bench_conv.py --device cpu --check-batch 1 --Bs ""
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mmamba.conv_ref import causal_conv_silu_ref  # noqa: E402
from mmamba.conv_triton import conv_bwd, conv_fwd  # noqa: E402

K, L, DI, W = 4, 272, 256, 4  # the lite block's directions, sequence (16 text + 256 image), d_inner, d_conv

DEV = "cuda"


def nerr(a, b) -> float:
    return ((a.float() - b.float()).abs().max() / b.float().abs().max().clamp_min(1.0)).item()


def inputs(Bsz: int, dtype, seed: int = 0):
    g = torch.Generator(device=DEV).manual_seed(seed)
    x = torch.randn(Bsz * K, L, DI, device=DEV, generator=g).to(dtype)
    w = torch.randn(K, DI, W, device=DEV, generator=g) * 0.5
    b = torch.randn(K, DI, device=DEV, generator=g) * 0.5
    gy = torch.randn(Bsz * K, L, DI, device=DEV, generator=g).to(dtype)
    return x, w, b, gy


def check(Bsz: int = 4) -> bool:
    """Whether the backward matches the reference at the model's shapes, f32 and bf16; one `check` line per dtype."""
    good = True
    for dtype, tol in ((torch.float32, 1e-4), (torch.bfloat16, 1e-2)):
        x, w, b, gy = inputs(Bsz, dtype, seed=1)
        xr, wr, br = (t.float().requires_grad_() for t in (x, w, b))
        y_ref = causal_conv_silu_ref(xr.view(-1, K, L, DI), wr, br)
        refs = torch.autograd.grad(y_ref, (xr, wr, br), gy.float().view(y_ref.shape))
        got = conv_bwd(gy, x, w, b, K, True)
        errs = [nerr(a, r.view(a.shape)) for a, r in zip(got, refs)]
        passed = all(e < tol for e in errs) and got[0].dtype == dtype
        good &= passed
        print(
            f"check {str(dtype)[6:]}: dx {errs[0]:.1e}, dweight {errs[1]:.1e}, dbias {errs[2]:.1e} "
            f"-> {'ok' if passed else 'FAIL'}",
            flush=True,
        )
    return good


def time_ms(fn) -> float:
    if DEV == "cpu":
        t0 = time.perf_counter()
        fn()
        return (time.perf_counter() - t0) * 1e3
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end)


def bench(Bsz: int, reps: int, bw_gbs: float) -> dict:
    """Interleaved timing at batch Bsz; returns {call name: median ms}."""
    x, w, b, gy = inputs(Bsz, torch.bfloat16)
    act = x.numel() * x.element_size()  # one (R, L, di) bf16 tensor
    calls = {
        "forward": (lambda: conv_fwd(x, w, b, K, True), 2 * act),  # x in, y out
        "backward": (lambda: conv_bwd(gy, x, w, b, K, True), 3 * act),  # x, dy in, dx out
    }
    for fn, _ in calls.values():  # compile + warm up
        fn()
        fn()
    if DEV == "cuda":
        torch.cuda.synchronize()
    times = {name: [] for name in calls}
    for _ in range(reps):
        for name, (fn, _) in calls.items():
            times[name].append(time_ms(fn))
    print(f"\nB={Bsz} (R = {Bsz * K} rows, L = {L}, di = {DI}, W = {W}), bf16 x, {reps} interleaved rounds")
    print(f"| call | ms (median) | ms (min) | bytes it must move (MB) | floor at {bw_gbs:.0f} GB/s (ms) | × floor |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, ts in times.items():
        med, nbytes = statistics.median(ts), calls[name][1]
        floor = nbytes / (bw_gbs * 1e6)
        print(f"| {name} | {med:.3f} | {min(ts):.3f} | {nbytes / 1e6:.1f} | {floor:.3f} | {med / floor:.1f} |")
    return {name: statistics.median(ts) for name, ts in times.items()}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--Bs", default="512", help="batch sizes (comma-separated)")
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--bw", type=float, default=4800.0, help="memory bandwidth for the floor, GB/s")
    ap.add_argument("--no-check", action="store_true")
    ap.add_argument("--check-batch", type=int, default=4)
    ap.add_argument("--device", default="cuda", help="cuda, or cpu (a smoke test under TRITON_INTERPRET=1)")
    args = ap.parse_args(argv)
    global DEV
    DEV = args.device
    if DEV == "cuda" and not torch.cuda.is_available():
        raise SystemExit("CUDA is not available")
    gpu = torch.cuda.get_device_name() if DEV == "cuda" else "cpu (interpreter)"
    env = " ".join(f"{k}={v}" for k, v in os.environ.items() if k.startswith("MMAMBA_")) or "(none)"
    print(f"torch {torch.__version__}, {gpu}; env {env}", flush=True)
    ok = args.no_check or check(args.check_batch)
    for Bsz in (int(s) for s in args.Bs.split(",") if s):
        bench(Bsz, args.reps, args.bw)
    if not ok:
        raise SystemExit("check FAILED")


if __name__ == "__main__":
    main()
