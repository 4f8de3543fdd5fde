"""The split path's causal conv + SiLU alone on CUDA: its scan-order backward kernels (conv_triton, MMAMBA_CONV_BWD =
recompute / tiled / twopass) checked against the reference and timed interleaved at the model's shapes.

1. check: every kind's (dx, dweight, dbias) vs the autograd of conv_ref.causal_conv_silu_ref at the model's L = 272
   and di = 256, K = 4, batch 4, float32 (normalised max error < 1e-4) and bfloat16 x / dy (< 1e-2 against the f32
   reference from the same bf16 inputs); a failing kind is reported (`check FAIL`) and left out of the timing.
2. timing: the forward alone and the backward alone (the conv_bwd op on a fixed dy), at --Bs (default 512: the
   stage's batch, R = 2048 rows), bf16 x, f32 weight as under autocast, `--reps` interleaved rounds, median / min
   ms per call (CUDA events), each kind's speed-up over recompute; --sweep adds the tiled / twopass kernels at
   other launch sets (MMAMBA_CONV_TILED), each checked first, and prints the fastest tiled set as an export line.

Usage (CUDA): python training/bench_conv.py [--Bs 512] [--reps 20] [--kinds recompute,tiled,twopass]
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
from mmamba.conv_triton import CONV_BWD_KINDS, conv_bwd, conv_fwd, tiled_tuning  # noqa: E402

K, L, DI, W = 4, 272, 256, 4  # the lite block's directions, sequence (16 text + 256 image), d_inner, d_conv


def nerr(a, b) -> float:
    return ((a.float() - b.float()).abs().max() / b.float().abs().max().clamp_min(1.0)).item()


DEV = "cuda"


def inputs(Bsz: int, dtype, seed: int = 0):
    g = torch.Generator(device=DEV).manual_seed(seed)
    x = torch.randn(Bsz * K, L, DI, device=DEV, generator=g).to(dtype)
    w = torch.randn(K, DI, W, device=DEV, generator=g) * 0.5
    b = torch.randn(K, DI, device=DEV, generator=g) * 0.5
    gy = torch.randn(Bsz * K, L, DI, device=DEV, generator=g).to(dtype)
    return x, w, b, gy


def with_kind(kind: str, fn, *args, tiles: str | None = None):
    """fn(*args) with MMAMBA_CONV_BWD = kind (and MMAMBA_CONV_TILED = tiles when given), restored after."""
    env = {"MMAMBA_CONV_BWD": kind, **({"MMAMBA_CONV_TILED": tiles} if tiles else {})}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return fn(*args)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k)
            else:
                os.environ[k] = v


def check(kinds, Bsz: int = 4) -> list[str]:
    """The kinds that pass at the model's shapes, f32 and bf16; prints one `check` line per kind and dtype."""
    ok = []
    for kind in kinds:
        good = True
        for dtype, tol in ((torch.float32, 1e-4), (torch.bfloat16, 1e-2)):
            x, w, b, gy = inputs(Bsz, dtype, seed=1)
            xr, wr, br = (t.float().requires_grad_() for t in (x, w, b))
            y_ref = causal_conv_silu_ref(xr.view(-1, K, L, DI), wr, br)
            refs = torch.autograd.grad(y_ref, (xr, wr, br), gy.float().view(y_ref.shape))
            got = with_kind(kind, conv_bwd, gy, x, w, b, K, True)
            errs = [nerr(a, r.view(a.shape)) for a, r in zip(got, refs)]
            passed = all(e < tol for e in errs) and got[0].dtype == dtype
            good &= passed
            print(
                f"check {kind} {str(dtype)[6:]}: dx {errs[0]:.1e}, dweight {errs[1]:.1e}, dbias {errs[2]:.1e} "
                f"-> {'ok' if passed else 'FAIL'}",
                flush=True,
            )
        if good:
            ok.append(kind)
    return ok


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


def bench(Bsz: int, kinds, reps: int, sweep=()) -> dict:
    """Interleaved timing at batch Bsz; returns {call name: median ms}."""
    x, w, b, gy = inputs(Bsz, torch.bfloat16)
    calls = {"forward": lambda: conv_fwd(x, w, b, K, True)}
    for kind in kinds:
        calls[f"backward {kind}"] = lambda kind=kind: with_kind(kind, conv_bwd, gy, x, w, b, K, True)
        for tiles in sweep if kind != "recompute" else ():
            calls[f"backward {kind} @{tiles}"] = lambda kind=kind, tiles=tiles: with_kind(
                kind, conv_bwd, gy, x, w, b, K, True, tiles=tiles
            )
    for fn in calls.values():  # compile + warm up
        fn()
        fn()
    if DEV == "cuda":
        torch.cuda.synchronize()
    times = {name: [] for name in calls}
    for _ in range(reps):
        for name, fn in calls.items():
            times[name].append(time_ms(fn))
    base = statistics.median(times["backward recompute"]) if "backward recompute" in times else None
    print(f"\nB={Bsz} (R = {Bsz * K} rows, L = {L}, di = {DI}, W = {W}), bf16 x, {reps} interleaved rounds")
    print("| call | ms (median) | ms (min) | vs recompute backward |")
    print("| --- | --- | --- | --- |")
    for name, ts in times.items():
        med = statistics.median(ts)
        rel = f"{base / med:.2f}x" if base and name.startswith("backward") else "-"
        print(f"| {name} | {med:.3f} | {min(ts):.3f} | {rel} |", flush=True)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--Bs", default="512", help="batch sizes (comma-separated)")
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--kinds", default=",".join(CONV_BWD_KINDS))
    ap.add_argument("--no-check", action="store_true")
    ap.add_argument("--check-batch", type=int, default=4)
    ap.add_argument(
        "--sweep",
        default="",
        help="also time tiled / twopass at these MMAMBA_CONV_TILED launch sets, ';'-separated BL,BC,WARPS "
        "(e.g. '32,64,8;16,64,4;64,32,8'); each is checked first",
    )
    ap.add_argument("--device", default="cuda", help="cuda, or cpu (a smoke test under TRITON_INTERPRET=1)")
    args = ap.parse_args(argv)
    global DEV
    DEV = args.device
    if DEV == "cuda" and not torch.cuda.is_available():
        raise SystemExit("CUDA is not available")
    kinds = [k for k in args.kinds.split(",") if k]
    gpu = torch.cuda.get_device_name() if DEV == "cuda" else "cpu (interpreter)"
    env = " ".join(f"{k}={v}" for k, v in os.environ.items() if k.startswith("MMAMBA_")) or "(none)"
    print(f"torch {torch.__version__}, {gpu}; env {env}", flush=True)
    if not args.no_check:
        passed = check(kinds, args.check_batch)
        print(f"check summary: {', '.join(f'{k} ' + ('ok' if k in passed else 'FAIL') for k in kinds)}", flush=True)
        kinds = passed
    sweep = [t for t in args.sweep.split(";") if t]
    if sweep and not args.no_check:  # a launch set that computes wrong gradients is not timed
        good, old = [], os.environ.pop("MMAMBA_CONV_TILED", None)
        for tiles in sweep:
            os.environ["MMAMBA_CONV_TILED"] = tiles
            print(f"launch set {tiles}:", flush=True)
            if len(check([k for k in kinds if k != "recompute"], args.check_batch)) == len(kinds) - (
                "recompute" in kinds
            ):
                good.append(tiles)
            os.environ.pop("MMAMBA_CONV_TILED")
        if old is not None:
            os.environ["MMAMBA_CONV_TILED"] = old
        sweep = good
    med = {}
    for Bsz in (int(s) for s in args.Bs.split(",") if s):
        med = bench(Bsz, kinds, args.reps, sweep)
    if sweep and "tiled" in kinds:  # the fastest tiled launch set at the last batch, for speed.sh to export
        default = ",".join(str(v) for v in tiled_tuning())
        sets = {default: med["backward tiled"], **{t: med[f"backward tiled @{t}"] for t in sweep}}
        best = min(sets, key=sets.get)
        print(
            f"export MMAMBA_CONV_TILED={best}  # tiled backward {sets[best]:.3f} ms (default {default}: "
            f"{sets[default]:.3f} ms)"
        )


if __name__ == "__main__":
    main()
