"""Benchmark and check the selective scan on CUDA at M-Mamba's training shape (K=4 directions, L=272, di=512, N=16).

Two modes:
- default (the split path's kernel alone): chunked PyTorch path (scan.selective_scan_fast) vs the Triton kernel
  (scan_triton.selective_scan_triton), forward and forward+backward, B=64 by default
  (u, delta: (B, K·di, L); A: (K·di, N); B, C: grouped (B, K, N, L)); --sweep tries block_d / num_warps / chunk.
  Prints ms per call, effective GB/s (every input read once, every output / gradient written once) and peak extra
  memory, and checks the Triton output and gradients against the chunked path.
- --compare: the scan WITH the cross-merge, as the model uses it: 'split' = selective_scan_triton on the
  channels-last views + seq_ops.from_scans, with its 'registers' backward (split-registers, the kernel's register
  tuple of a sub-chunk's states) and its 'scratch' one (split-scratch, states in a global per-program scratch);
  'fused' = scan_merge_triton.scan_merge_triton (merge in the kernel).
  --check first compares all three against the sequential reference (scan.scan_merge_ref, float32 on the same inputs)
  in the output and every gradient, in float32 and bf16; exits non-zero on a failure. --sweep-merge times a few
  launch configurations of the fused kernel and prints the fastest as an export line (MMAMBA_MERGE_*). Timing is
  interleaved (rounds of old, new), forward and forward+backward, median and min over rounds, plus the peak memory
  a forward+backward allocates beyond its inputs, and the activations (inputs + output) for scale.
  --sweep-split-bwd times launch sets of the registers backward (MMAMBA_SCAN_BWD_{BLOCK_D,WARPS,T}) at B=256
  and prints the fastest as an export line. --sweep-lite-bwd times the scratch backward against the registers one
  (launch sets for a (BLOCK_D, 1) state) at the lite block's shapes (N = 1, di = 256, B = 512), interleaved, after
  checking scratch against the reference at N = 1 (the scan alone at ragged L, and with the merge at the lite
  shapes, f32 and bf16) and every registers set against scratch.

Usage (from training/):  .venv/bin/python bench_scan.py [--dtype bf16|fp32] [--sweep] [--B 64]
                         .venv/bin/python bench_scan.py --compare [--check] [--sweep-merge] [--sweep-split-bwd]
                                                        [--sweep-lite-bwd]
                                                        [--Bs 64,256] [--reps 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys

import torch
from mmamba.scan import _triton_tuning, scan_merge_ref, scan_merge_tuning, selective_scan_fast
from mmamba.scan_triton import selective_scan_triton


def make(Bsz, K, L, di, N, dtype, dev, layout="cl"):
    """Inputs in the model's channels-last layout ('cl': u, delta, z are (B, K, di, L) views of (B, K, L, di)
    buffers; B, C views of (B, K, L, N)) or the flat (B, K·di, L) one ('flat')."""
    g = torch.Generator(device=dev).manual_seed(0)
    Dt = K * di
    r = lambda *s: torch.randn(*s, generator=g, device=dev)  # noqa: E731
    if layout == "cl":
        act = lambda: r(Bsz, K, L, di).to(dtype).transpose(2, 3).detach()  # noqa: E731
        st = lambda: r(Bsz, K, L, N).to(dtype).transpose(2, 3).detach()  # noqa: E731
    else:
        act = lambda: r(Bsz, Dt, L).to(dtype)  # noqa: E731
        st = lambda: r(Bsz, K, N, L).to(dtype)  # noqa: E731
    u = act()
    dt = (act().float() * 0.5 - 1.0).to(dtype).detach()
    A = -torch.exp(r(Dt, N) * 0.5)
    Bm = st()
    Cm = st()
    D = r(Dt)
    z = act()
    bias = r(Dt) * 0.5
    return u, dt, A, Bm, Cm, D, z, bias


def timeit(fn, iters=10, warmup=3):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iters):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / iters


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dtype", default="bf16", choices=["bf16", "fp32"])
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--B", type=int, default=64)
    ap.add_argument("--layout", default="cl", choices=["cl", "flat"], help="channels-last (the model's) or flat")
    ap.add_argument("--triton-only", action="store_true", help="skip the chunked path and the cross-check")
    ap.add_argument("--compare", action="store_true", help="old (split) vs new (fused) scan + merge")
    ap.add_argument("--check", action="store_true", help="with --compare: correctness vs the reference first")
    ap.add_argument("--sweep-merge", action="store_true", help="with --compare: launch configs of the fused kernel")
    ap.add_argument(
        "--sweep-split-bwd",
        action="store_true",
        help="with --compare: launch sets of the split path's registers backward",
    )
    ap.add_argument(
        "--sweep-lite-bwd",
        action="store_true",
        help="with --compare: the split scan's backward kinds at N = 1, di = 256, B = 512 (the lite block)",
    )
    ap.add_argument("--Bs", default="64,256", help="with --compare: batch sizes")
    ap.add_argument("--reps", type=int, default=20, help="with --compare: interleaved rounds")
    args = ap.parse_args()
    assert torch.cuda.is_available(), "bench_scan.py needs CUDA"
    if args.compare:
        return compare_main(args)
    dev = "cuda"
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    Bsz, K, L, di, N = args.B, 4, 272, 512, 16
    Dt = K * di
    ins = make(Bsz, K, L, di, N, dtype, dev, args.layout)
    leaves = [t.requires_grad_() for t in ins]
    u, dt, A, Bm, Cm, D, z, bias = leaves
    es = dtype.itemsize
    # effective bytes: fwd reads u, dt, z, B, C, writes y; bwd reads those + dy, writes du, ddt, dz, dB, dC
    act, bc = Bsz * Dt * L * es, Bsz * K * N * L * es
    fwd_bytes = 4 * act + 2 * bc
    fb_bytes = fwd_bytes + (4 * act + 2 * bc) + (3 * act + 2 * bc)
    print(
        f"shape B={Bsz} K={K} L={L} di={di} N={N} dtype={args.dtype} layout={args.layout}; effective bytes fwd "
        f"{fwd_bytes / 1e9:.3f} GB, fwd+bwd {fb_bytes / 1e9:.3f} GB"
    )

    def runner(fn, **kw):
        def fwd():
            with torch.no_grad():
                return fn(u, dt, A, Bm, Cm, D=D, z=z, delta_bias=bias, **kw)

        def fwdbwd():
            y = fn(u, dt, A, Bm, Cm, D=D, z=z, delta_bias=bias, **kw)
            torch.autograd.grad(y, leaves, gy)

        return fwd, fwdbwd

    gy = torch.randn_like(u)

    def report(name, fn, **kw):
        fwd, fwdbwd = runner(fn, **kw)
        t_f = timeit(fwd)
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        t_fb = timeit(fwdbwd)
        peak = (torch.cuda.max_memory_allocated() - base) / 2**30
        timings[name] = (t_fb, kw)
        print(
            f"{name:34s} fwd {t_f:8.2f} ms ({fwd_bytes / t_f / 1e6:7.1f} GB/s)   "
            f"fwd+bwd {t_fb:8.2f} ms ({fb_bytes / t_fb / 1e6:7.1f} GB/s)   peak +{peak:.2f} GiB"
        )

    timings = {}

    def check_and_compare():
        # correctness: Triton vs chunked path, then both timed
        y_f = selective_scan_fast(u, dt, A, Bm, Cm, D=D, z=z, delta_bias=bias)
        y_t = selective_scan_triton(u, dt, A, Bm, Cm, D=D, z=z, delta_bias=bias)
        g_f = torch.autograd.grad(y_f, leaves, gy)
        g_t = torch.autograd.grad(y_t, leaves, gy)
        errs = [
            ((a.float() - b.float()).abs().max() / b.float().abs().max().clamp_min(1)).item()
            for a, b in zip([y_t, *g_t], [y_f, *g_f])
        ]
        print(
            "normalised max err triton vs chunked (y, du, ddt, dA, dB, dC, dD, dz, dbias):",
            " ".join(f"{e:.1e}" for e in errs),
        )
        del y_f, y_t, g_f, g_t
        report("chunked PyTorch (selective_scan_fast)", selective_scan_fast)

    if not args.triton_only:
        check_and_compare()
    report("triton (block_d=32, chunk=16, 4 warps)", selective_scan_triton, block_d=32, num_warps=4, chunk=16)
    if args.sweep:
        for block_d in (16, 32, 64, 128):
            for nw in (2, 4, 8):
                for chunk in (16, 32):
                    if block_d * 16 < 32 * nw:
                        continue
                    report(
                        f"triton bd={block_d} w={nw} ch={chunk}",
                        selective_scan_triton,
                        block_d=block_d,
                        num_warps=nw,
                        chunk=chunk,
                    )
        name, (t, kw) = min(((n, v) for n, v in timings.items() if v[1]), key=lambda x: x[1][0])
        print(f"BEST {name}: fwd+bwd {t:.2f} ms")
        # shell-friendly line: eval "$(grep ^export ...)" picks these up in mmamba.scan
        print(
            f"export MMAMBA_SCAN_BLOCK_D={kw['block_d']} MMAMBA_SCAN_WARPS={kw['num_warps']} "
            f"MMAMBA_SCAN_CHUNK={kw['chunk']}"
        )


# ---- --compare: the scan with the cross-merge, split (old) vs fused (new) -----------------------------------------


def model_inputs(
    Bsz: int,
    dtype: torch.dtype,
    dev: str = "cuda",
    seed: int = 0,
    K: int = 4,
    L: int = 272,
    di: int = 512,
    N: int = 16,
    R: int = 16,
):
    """The mixer's scan inputs as the model has them: [u (B, K, L, di), x_dbl (B, K, L, R + 2N) = x_proj's output
    (dt_low | B | C), dt_proj weight W (K, di, R) f32, A (K·di, N) f32 < 0, D, bias (K·di,) f32], and perm, inv
    (K, L), the small model's cross-scan orders. u and x_dbl in `dtype` (bf16 as autocast makes them)."""
    from mmamba.config import small_mmamba
    from mmamba.mmamba import sequence_permutations

    g = torch.Generator(device=dev).manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, device=dev)  # noqa: E731
    u = r(Bsz, K, L, di).to(dtype)
    x_dbl = r(Bsz, K, L, R + 2 * N).to(dtype)
    W = r(K, di, R) * (0.5 * R**-0.5)  # dt_low · Wᵀ ~ N(0, 0.25)
    A = -torch.exp(r(K * di, N) * 0.5)
    D, bias = r(K * di), r(K * di) * 0.5 - 1.0
    perm, inv = sequence_permutations(small_mmamba())
    assert perm.shape == (K, L)
    return [u, x_dbl, W, A, D, bias], perm.to(dev), inv.to(dev)


def _views(x_dbl, W):
    R, N = W.shape[-1], (x_dbl.shape[-1] - W.shape[-1]) // 2
    return x_dbl[..., :R], x_dbl[..., R : R + N], x_dbl[..., R + N :]  # dt_low, B, C (strided views)


def split_fn(perm_flat, inv_flat, **kw):
    """The old path: dt_proj as a matmul (in the activations' dtype, as autocast runs it), the grouped Triton scan
    on channels-last views, then the cross-merge (seq_ops.from_scans)."""
    from mmamba.seq_ops import from_scans

    def f(u, x_dbl, W, A, D, bias):
        dt_low, Bm, Cm = _views(x_dbl, W)
        dt = torch.matmul(dt_low, W.to(dt_low.dtype).transpose(1, 2))  # (B, K, L, di)
        y = selective_scan_triton(
            u.transpose(2, 3),
            dt.transpose(2, 3),
            A,
            Bm.transpose(2, 3),
            Cm.transpose(2, 3),
            D=D,
            delta_bias=bias,
            **{**_triton_tuning(), **kw},
        )
        return from_scans(y.transpose(2, 3), perm_flat, inv_flat)

    return f


def fused_fn(perm, **kw):
    """The new path: dt_proj, scan and merge in scan_merge_triton's kernels."""
    from mmamba.scan_merge_triton import scan_merge_triton

    def f(u, x_dbl, W, A, D, bias):
        dt_low, Bm, Cm = _views(x_dbl, W)
        return scan_merge_triton(
            u,
            dt_low,
            A,
            Bm,
            Cm,
            D,
            perm,
            delta_bias=bias,
            dt_w=W.reshape(-1, W.shape[-1]),
            **{**scan_merge_tuning(), **kw},
        )

    return f


def ref_fn(perm):
    """scan_merge_ref in float32 on the same input values, dt = dt_low · Wᵀ in float32."""

    def f(u, x_dbl, W, A, D, bias):
        dt_low, Bm, Cm = _views(x_dbl.float(), W)
        dt = torch.einsum("bklr,kdr->bkld", dt_low, W)
        return scan_merge_ref(u.float(), dt, A, Bm, Cm, D, perm, delta_bias=bias)

    return f


def nerr(a, b):
    return ((a.float() - b.float()).abs().max() / b.float().abs().max().clamp_min(1.0)).item()


NAMES = ("Y", "du", "dx_dbl", "dW", "dA", "dD", "dbias")


def run_grads(fn, ins, gY):
    leaves = [t.detach().clone().requires_grad_() for t in ins]
    Y = fn(*leaves)
    return [Y.detach(), *torch.autograd.grad(Y, leaves, gY.to(Y.dtype))]


def check(perm, inv, Bsz: int = 8, dev: str = "cuda", **shape) -> dict:
    """Each path against scan_merge_ref (float32 on the same input values), output and every gradient:
    {'split-registers': ok, 'split-scratch': ok, 'fused': ok, 'fused-flat': ok} (the split path with either
    backward kernel; 'fused-flat': the fused kernels with 2-D in-chunk scans).
    shape: model_inputs' di / N overrides (a CPU smoke test through the Triton interpreter uses tiny ones)."""
    from mmamba.seq_ops import sequence_index

    pf, inf = sequence_index(perm, inv)
    ok = {"split-registers": True, "split-scratch": True, "fused": True, "fused-flat": True}
    # float32: the same recurrence up to summation order; bf16: gradients of bf16 inputs are rounded to bf16 (one
    # ulp = 2^-7 relative), and the split path also rounds dt to bf16 (its dt_proj matmul runs in bf16)
    for dtype, tol in ((torch.float32, 2e-4), (torch.bfloat16, 2e-2)):
        ins, _, _ = model_inputs(Bsz, dtype, dev=dev, seed=1, **shape)
        gY = torch.randn(
            Bsz, perm.shape[1], ins[0].shape[-1], device=dev, generator=torch.Generator(device=dev).manual_seed(2)
        )
        ref = run_grads(ref_fn(perm), ins, gY)
        for name, fn in (
            ("split-registers", split_fn(pf, inf, bwd="registers")),
            ("split-scratch", split_fn(pf, inf, bwd="scratch")),
            ("fused", fused_fn(perm, flat=False)),
            ("fused-flat", fused_fn(perm, flat=True)),
        ):
            try:
                got = run_grads(fn, ins, gY)
            except Exception as e:  # a compile failure of one variant: report it, check the others
                print(f"check {name}: FAILED to run: {type(e).__name__}: {str(e)[:300]}", flush=True)
                ok[name] = False
                continue
            errs = [nerr(g, r) for g, r in zip(got, ref)]
            label = f"{name:15s} {str(dtype)[6:]:8s} B={Bsz} vs reference (normalised max err, tol {tol:.0e}):"
            ok[name] &= _check_line(label, NAMES, errs, tol)
    return ok


def _check_line(label: str, names, errs, tol: float) -> bool:
    """Print one check's line, "check LABEL name err ... PASS|FAIL [names over tol]"; True when every err < tol."""
    bad = [n for n, e in zip(names, errs) if not e < tol]
    print(
        f"check {label} "
        + " ".join(f"{n} {e:.1e}" for n, e in zip(names, errs))
        + ("  PASS" if not bad else f"  FAIL {bad}"),
        flush=True,
    )
    return not bad


def check_split_ragged(
    dev: str = "cuda", Ls=(1, 17, 1040), di: int = 128, N: int = 16, kinds=("registers", "scratch")
) -> dict:
    """The split scan alone (selective_scan_triton, the given backward kinds at the model's launch sets) vs
    selective_scan_ref at ragged L, float32, K = 4 groups, d_state N, B = 2, channels-last views as the model passes
    them: output and every gradient. {'split-KIND': ok}."""
    from mmamba.scan import selective_scan_ref

    ok = {f"split-{k}": True for k in kinds}
    for L in Ls:
        g = torch.Generator(device=dev).manual_seed(3 + L)
        r = lambda *s: torch.randn(*s, device=dev, generator=g)  # noqa: E731
        K = 4
        u, dt, gy = r(2, K, L, di), r(2, K, L, di) * 0.5 - 1.0, r(2, K, L, di).transpose(2, 3)
        x_dbl = r(2, K, L, 2 * N)  # B | C as strided views, as in the model
        Bm, Cm = x_dbl[..., :N], x_dbl[..., N:]
        A, D, bias = -torch.exp(r(K * di, N) * 0.5), r(K * di), r(K * di) * 0.5
        leaves = [t.detach().clone().requires_grad_() for t in (u, dt, A, Bm, Cm, D, bias)]

        def grads(fn, **kw):
            u_, dt_, A_, B_, C_, D_, b_ = leaves
            y = fn(
                u_.transpose(2, 3),
                dt_.transpose(2, 3),
                A_,
                B_.transpose(2, 3),
                C_.transpose(2, 3),
                D=D_,
                delta_bias=b_,
                **kw,
            )
            return [y.detach(), *torch.autograd.grad(y, leaves, gy)]

        ref = grads(selective_scan_ref)
        for kind in ok:
            got = grads(selective_scan_triton, **{**_triton_tuning(), "bwd": kind[6:]})
            errs = [nerr(a, b) for a, b in zip(got, ref)]
            names = ("y", "du", "ddt", "dA", "dB", "dC", "dD", "dbias")
            label = f"{kind:15s} float32  L={L:<5d} N={N} scan alone vs selective_scan_ref (tol 2e-4):"
            ok[kind] &= _check_line(label, names, errs, 2e-4)
    return ok


def timed(fn, sync=True) -> float:
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end)


def bench_pair(fns: dict, ins, gY, reps: int) -> dict:
    """Interleaved timing of each fn's forward (no grad) and forward+backward: {name: {fwd: [..], fb: [..], peak}}."""
    leaves = [t.detach().clone().requires_grad_() for t in ins]
    res = {n: {"fwd": [], "fb": []} for n in fns}

    def fwd(f):
        with torch.no_grad():
            f(*leaves)

    def fb(f):
        Y = f(*leaves)
        torch.autograd.grad(Y, leaves, gY.to(Y.dtype))

    for f in fns.values():  # warm-up (compiles)
        fwd(f), fb(f)
    torch.cuda.synchronize()
    for _ in range(reps):
        for n, f in fns.items():
            res[n]["fwd"].append(timed(lambda: fwd(f)))
            res[n]["fb"].append(timed(lambda: fb(f)))
    for n, f in fns.items():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fb(f)
        torch.cuda.synchronize()
        res[n]["peak"] = (torch.cuda.max_memory_allocated() - base) / 2**30
    return res


def sweep_split_bwd(pf, inf, dtype, Bsz: int = 256) -> None:
    """Forward+backward of the split path at B=256 for launch sets (bwd_block_d, bwd_warps, T, checkpoint chunk)
    of its registers backward (and preload), and the forward's chunk loop unrolled or not (the forward's block / warps
    are
    fixed; chunk 8 saves twice the states so the backward needs no advance within a chunk); prints the fastest so far as
    an export line after every set, so a
    time-out keeps the best so far."""
    ins, _, _ = model_inputs(Bsz, dtype)
    gY = torch.randn(Bsz, 272, 512, device="cuda")
    best = None
    # (block_d, warps, T, chunk, fwd_unroll, preload), most promising first: a time-out cuts the tail
    for bd, w, T, ch, un, pre in (
        (32, 4, 8, 16, 0, 0),
        (32, 4, 4, 16, 0, 1),
        (64, 8, 8, 16, 0, 0),
        (32, 4, 8, 16, 1, 0),
        (32, 4, 8, 8, 0, 0),
        (32, 4, 4, 8, 0, 1),
        (64, 8, 8, 8, 0, 0),
        (32, 8, 16, 16, 0, 0),
    ):
        try:
            r = bench_pair(
                {
                    "s": split_fn(
                        pf,
                        inf,
                        bwd="registers",
                        bwd_block_d=bd,
                        bwd_warps=w,
                        bwd_t=T,
                        chunk=ch,
                        fwd_unroll=bool(un),
                        bwd_preload=bool(pre),
                    )
                },
                ins,
                gY,
                reps=3,
            )["s"]
        except Exception as e:  # e.g. out of registers / shared memory for a set
            print(
                f"sweep-split-bwd bd={bd} w={w} T={T} chunk={ch} fwd_unroll={un} preload={pre}: "
                f"FAILED {type(e).__name__}: {str(e)[:200]}",
                flush=True,
            )
            continue
        fb = min(r["fb"])
        print(
            f"sweep-split-bwd B={Bsz} bd={bd} w={w} T={T} chunk={ch} fwd_unroll={un} preload={pre}: "
            f"fwd+bwd {fb:.2f} ms "
            f"(fwd {min(r['fwd']):.2f})",
            flush=True,
        )
        if best is None or fb < best[0]:
            best = (fb, bd, w, T, ch, un, pre)
        print(
            f"export MMAMBA_SCAN_BWD_BLOCK_D={best[1]} MMAMBA_SCAN_BWD_WARPS={best[2]} MMAMBA_SCAN_BWD_T={best[3]} "
            f"MMAMBA_SCAN_CHUNK={best[4]} MMAMBA_SCAN_FWD_UNROLL={best[5]} MMAMBA_SCAN_BWD_PRELOAD={best[6]}"
            f"   # best so far: {best[0]:.2f} ms fwd+bwd",
            flush=True,
        )


def check_lite(perm, pf, inf, Bsz: int = 8, dev: str = "cuda", di: int = 256) -> bool:
    """The split path with the scratch kind against scan_merge_ref at N = 1 (the lite block's scan + merge), f32 and
    bf16, output and every gradient (tolerances as check()); True when all pass."""
    ok = True
    for dtype, tol in ((torch.float32, 2e-4), (torch.bfloat16, 2e-2)):
        ins, _, _ = model_inputs(Bsz, dtype, dev=dev, seed=1, di=di, N=1)
        gY = torch.randn(Bsz, perm.shape[1], di, device=dev, generator=torch.Generator(device=dev).manual_seed(2))
        ref = run_grads(ref_fn(perm), ins, gY)
        try:
            errs = [nerr(g, r) for g, r in zip(run_grads(split_fn(pf, inf, bwd="scratch"), ins, gY), ref)]
        except Exception as e:  # a compile failure: report it
            print(f"check split-scratch N=1: FAILED to run: {type(e).__name__}: {str(e)[:300]}", flush=True)
            ok = False
            continue
        ok &= _check_line(
            f"split-scratch   {str(dtype)[6:]:8s} B={Bsz} N=1 di={di} vs reference (tol {tol:.0e}):", NAMES, errs, tol
        )
    return ok


def sweep_lite_bwd(perm, pf, inf, dtype, Bsz: int = 512, reps: int = 5) -> None:
    """The split scan at the lite block's shapes (d_state N = 1, d_inner 256) and the stage's batch: the 'scratch'
    backward (DEFAULT_BWD, what the compiled lite step ran) against the 'registers' backward at launch sets that fit
    a (BLOCK_D, 1) state tile (its default, 32 channels on 4 warps, has 128 threads for 32 values at N = 1),
    interleaved, forward+backward median / min. Scratch is checked first against the reference at N = 1
    (check_split_ragged, check_lite), and every registers set against scratch on a small batch; a set that fails to
    compile or to agree is reported and dropped. Informational: nothing is exported (2b's set serves N = 16)."""
    ragged = check_split_ragged(Ls=(1, 17, 272, 1040), di=256, N=1, kinds=("scratch",))
    ok = check_lite(perm, pf, inf) and all(ragged.values())
    print(f"check summary N=1: split-scratch {'PASS' if ok else 'FAIL'}", flush=True)
    ins, _, _ = model_inputs(Bsz, dtype, di=256, N=1)
    gY = torch.randn(Bsz, *ins[0].shape[2:], device=ins[0].device)
    fns = {"scratch (default)": split_fn(pf, inf, bwd="scratch")}
    for bd, w, T in ((32, 4, 8), (128, 4, 16), (128, 2, 16), (64, 2, 16), (256, 8, 16)):
        fns[f"registers bd={bd} w={w} T={T}"] = split_fn(
            pf, inf, bwd="registers", bwd_block_d=bd, bwd_warps=w, bwd_t=T, chunk=16
        )
    # compile every set first, on a small batch, and hold each to the scratch kind's output and gradients there (the
    # same bf16 inputs, f32 arithmetic in both): a set that fails to compile or to agree is reported and not timed
    small, _, _ = model_inputs(2, dtype, di=256, N=1, seed=4)
    gs = torch.randn(2, *small[0].shape[2:], device=small[0].device)
    base = run_grads(fns["scratch (default)"], small, gs)
    for name in list(fns)[1:]:
        try:
            errs = [nerr(g, r) for g, r in zip(run_grads(fns[name], small, gs), base)]
        except Exception as e:  # e.g. out of registers / shared memory for a set: drop it, time the others
            print(f"sweep-lite-bwd {name}: FAILED {type(e).__name__}: {str(e)[:300]}", flush=True)
            del fns[name]
            continue
        bad = [n for n, e in zip(NAMES, errs) if not e < 2e-2]
        print(
            f"check {name} B=2 vs scratch (tol 2e-2): max err {max(errs):.1e}" + (f"  FAIL {bad}" if bad else "  PASS"),
            flush=True,
        )
        if bad:
            del fns[name]
    del small, base
    res = bench_pair(fns, ins, gY, reps=reps)
    print(f"\nsplit scan + merge at N = 1, di = 256, B = {Bsz}, {reps} interleaved rounds")
    print("| backward | fwd+bwd median (ms) | fwd+bwd min | fwd median |")
    print("| --- | --- | --- | --- |")
    for name, r in res.items():
        print(
            f"| {name} | {statistics.median(r['fb']):.2f} | {min(r['fb']):.2f} | {statistics.median(r['fwd']):.2f} |",
            flush=True,
        )


def compare_main(args) -> None:
    dev = "cuda"
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    from mmamba.seq_ops import sequence_index

    _, perm, inv = model_inputs(1, dtype)
    pf, inf = sequence_index(perm, inv)
    print(
        f"scan + cross-merge, K=4 L=272 di=512 N=16, {args.dtype}; split tuning {_triton_tuning()}, "
        f"fused tuning {scan_merge_tuning()}",
        flush=True,
    )
    if args.check:
        ragged = check_split_ragged()
        ok = check(perm, inv)
        ok = {k: v and ragged.get(k, True) for k, v in ok.items()}
        print("check summary: " + ", ".join(f"{k} {'PASS' if v else 'FAIL'}" for k, v in ok.items()), flush=True)
        if not ok["fused"] and ok["fused-flat"]:
            print("export MMAMBA_MERGE_FLAT=1", flush=True)  # speed.sh picks this up for the timings
        if not all(ok.values()):
            print("CHECK FAILED", flush=True)
            sys.exit(1)
    if args.sweep_merge:
        ins, _, _ = model_inputs(256, dtype)
        gY = torch.randn(256, 272, 512, device=dev)
        only_flat = scan_merge_tuning()["flat"]  # MMAMBA_MERGE_FLAT=1: the 3-D variant failed the check
        # (block_t, block_d, warps, flat), each timed as forward and backward config; the fastest forward and the
        # fastest backward with the same block_t / flat make the export line (printed after every config, so a
        # time-out keeps the best so far)
        configs = [
            dict(block_t=bt, block_d=bd, num_warps=w, flat=only_flat or fl)
            for bt, bd, w, fl in (
                (16, 16, 4, 0),
                (16, 16, 8, 0),
                (16, 8, 4, 0),
                (16, 8, 8, 0),
                (16, 32, 8, 0),
                (32, 16, 8, 0),
                (32, 8, 8, 0),
                (16, 16, 4, 1),
            )
        ]  # BLOCK_T >= 16: the chunk states' memory (see scan.py)
        results = []
        for cfg in configs:
            try:
                kw = dict(
                    block_t=cfg["block_t"],
                    block_d=cfg["block_d"],
                    num_warps=cfg["num_warps"],
                    block_d_bwd=cfg["block_d"],
                    num_warps_bwd=cfg["num_warps"],
                    flat=bool(cfg["flat"]),
                )
                r = bench_pair({"fused": fused_fn(perm, **kw)}, ins, gY, reps=3)["fused"]
            except Exception as e:  # e.g. out of registers / shared memory for a config
                print(f"sweep {cfg}: FAILED {type(e).__name__}: {str(e)[:200]}", flush=True)
                continue
            f, fb = min(r["fwd"]), min(r["fb"])
            print(f"sweep B=256 {cfg}: fwd {f:.2f} ms, fwd+bwd {fb:.2f} ms (bwd {fb - f:.2f})", flush=True)
            results.append((f, fb - f, cfg))
            best = None  # (fwd + bwd time, fwd cfg, bwd cfg) over pairs sharing block_t, flat
            for f1, _, c1 in results:
                for _, b2, c2 in results:
                    if (c1["block_t"], c1["flat"]) == (c2["block_t"], c2["flat"]) and (
                        best is None or f1 + b2 < best[0]
                    ):
                        best = (f1 + b2, c1, c2)
            _, fc, bc = best
            print(
                f"export MMAMBA_MERGE_BLOCK_T={bc['block_t']} MMAMBA_MERGE_FLAT={int(bool(bc['flat']))} "
                f"MMAMBA_MERGE_BLOCK_D={fc['block_d']} MMAMBA_MERGE_WARPS={fc['num_warps']} "
                f"MMAMBA_MERGE_BLOCK_D_BWD={bc['block_d']} MMAMBA_MERGE_WARPS_BWD={bc['num_warps']}"
                f"   # best so far: {best[0]:.2f} ms fwd+bwd",
                flush=True,
            )
    if args.sweep_split_bwd:
        sweep_split_bwd(pf, inf, dtype)
    if args.sweep_lite_bwd:
        sweep_lite_bwd(perm, pf, inf, dtype)
    if not args.Bs.strip():
        return
    print("\n| B | path | fwd median | fwd min | fwd+bwd median | fwd+bwd min | peak extra (fwd+bwd) | activations |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for Bsz in [int(b) for b in args.Bs.split(",") if b.strip()]:  # --Bs "": no timing (check / sweep only)
        ins, _, _ = model_inputs(Bsz, dtype)
        gY = torch.randn(Bsz, 272, 512, device=dev)
        act = (sum(t.numel() * t.element_size() for t in ins[:2]) + gY.numel() * 4) / 2**30  # u, x_dbl in, Y out
        res = bench_pair(
            {
                "split-registers": split_fn(pf, inf, bwd="registers"),
                "split-scratch": split_fn(pf, inf, bwd="scratch"),
                "fused": fused_fn(perm),
            },
            ins,
            gY,
            args.reps,
        )
        for name, r in res.items():
            print(
                f"| {Bsz} | {name} | {statistics.median(r['fwd']):.2f} ms | {min(r['fwd']):.2f} ms | "
                f"{statistics.median(r['fb']):.2f} ms | {min(r['fb']):.2f} ms | {r['peak']:.2f} GiB | {act:.2f} GiB |",
                flush=True,
            )
        del ins, gY, res
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
