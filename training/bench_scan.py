"""Benchmark the selective scan on CUDA: chunked PyTorch path (scan.selective_scan_fast) vs the Triton kernel
(scan_triton.selective_scan_triton), forward and forward+backward, at M-Mamba's training shape
B=64, K=4 directions, L=272, di=512, N=16 (u, delta: (B, K·di, L); A: (K·di, N); B, C: grouped (B, K, N, L)).

Usage (from training/):  .venv/bin/python bench_scan.py [--dtype bf16|fp32] [--sweep]
Prints ms per call, effective GB/s (minimal HBM traffic: every input read once, every output / gradient
written once; the scan's own intermediates are not counted) and peak extra memory. Also checks that the
Triton output and gradients agree with the chunked path. --sweep tries block_d / num_warps / chunk.
"""
from __future__ import annotations

import argparse

import torch

from mmamba.scan import selective_scan_fast
from mmamba.scan_triton import selective_scan_triton


def make(Bsz, K, L, di, N, dtype, dev, layout="cl"):
    """Inputs in the model's channels-last layout ('cl': u, delta, z are (B, K, di, L) views of (B, K, L, di)
    buffers; B, C views of (B, K, L, N)) or the flat (B, K·di, L) one ('flat')."""
    g = torch.Generator(device=dev).manual_seed(0)
    Dt = K * di
    r = lambda *s: torch.randn(*s, generator=g, device=dev)  # noqa: E731
    if layout == "cl":
        act = lambda: r(Bsz, K, L, di).to(dtype).transpose(2, 3).detach()  # noqa: E731
        st = lambda: r(Bsz, K, L, N).to(dtype).transpose(2, 3).detach()    # noqa: E731
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
    args = ap.parse_args()
    assert torch.cuda.is_available(), "bench_scan.py needs CUDA"
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
    print(f"shape B={Bsz} K={K} L={L} di={di} N={N} dtype={args.dtype} layout={args.layout}; effective bytes fwd "
          f"{fwd_bytes / 1e9:.3f} GB, fwd+bwd {fb_bytes / 1e9:.3f} GB")

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
        print(f"{name:34s} fwd {t_f:8.2f} ms ({fwd_bytes / t_f / 1e6:7.1f} GB/s)   "
              f"fwd+bwd {t_fb:8.2f} ms ({fb_bytes / t_fb / 1e6:7.1f} GB/s)   peak +{peak:.2f} GiB")

    timings = {}

    def check_and_compare():
        # correctness: Triton vs chunked path, then both timed
        y_f = selective_scan_fast(u, dt, A, Bm, Cm, D=D, z=z, delta_bias=bias)
        y_t = selective_scan_triton(u, dt, A, Bm, Cm, D=D, z=z, delta_bias=bias)
        g_f = torch.autograd.grad(y_f, leaves, gy)
        g_t = torch.autograd.grad(y_t, leaves, gy)
        errs = [((a.float() - b.float()).abs().max() / b.float().abs().max().clamp_min(1)).item()
                for a, b in zip([y_t, *g_t], [y_f, *g_f])]
        print("normalised max err triton vs chunked (y, du, ddt, dA, dB, dC, dD, dz, dbias):",
              " ".join(f"{e:.1e}" for e in errs))
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
                    report(f"triton bd={block_d} w={nw} ch={chunk}", selective_scan_triton,
                           block_d=block_d, num_warps=nw, chunk=chunk)
        name, (t, kw) = min(((n, v) for n, v in timings.items() if v[1]), key=lambda x: x[1][0])
        print(f"BEST {name}: fwd+bwd {t:.2f} ms")
        # shell-friendly line: eval "$(grep ^export ...)" picks these up in mmamba.scan
        print(f"export MMAMBA_SCAN_BLOCK_D={kw['block_d']} MMAMBA_SCAN_WARPS={kw['num_warps']} "
              f"MMAMBA_SCAN_CHUNK={kw['chunk']}")

if __name__ == "__main__":
    main()
