"""selective_scan_fast vs selective_scan_ref: forward and gradients of every input, several shapes.

Tolerances (normalised max error, max|a-b| / max|b|): float64 1e-9 (both are exact up to rounding;
the fast path's clamp only acts below exp(-80)); float32 2e-5 forward / 1e-4 grads (the chunked
path computes exp(S_t - r)·exp(r - S_s) instead of a product of per-step exps, which loses up to
~T·|a|·eps relative to the sequential recurrence).
"""

import pytest
import torch
from mmamba.scan import selective_scan_fast, selective_scan_ref


def make_inputs(Bsz, di, L, N, G, dtype, seed, with_z=True):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=dtype)  # noqa: E731
    u = r(Bsz, di, L)
    delta = r(Bsz, di, L) * 0.5 - 1.0
    A = -torch.exp(r(di, N) * 0.5)  # A < 0
    Bm = r(Bsz, N, L) if G == 0 else r(Bsz, G, N, L)
    Cm = r(Bsz, N, L) if G == 0 else r(Bsz, G, N, L)
    D = r(di)
    z = r(Bsz, di, L) if with_z else None
    bias = r(di) * 0.5
    return [u, delta, A, Bm, Cm, D, z, bias]


def nerr(a, b):
    # normalised by the reference's scale, floored at 1 (inputs are O(1); a gradient that is exactly
    # zero in the reference, e.g. dA when L = 1, is compared absolutely)
    return ((a - b).abs().max() / b.abs().max().clamp_min(1.0)).item()


SHAPES = [(1, 3, 1, 2, 0), (2, 4, 7, 3, 0), (2, 6, 16, 4, 2), (1, 8, 37, 16, 4), (3, 5, 24, 5, 0)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype,tol_f,tol_g", [(torch.float64, 1e-9, 1e-9), (torch.float32, 2e-5, 1e-4)])
def test_fast_matches_ref(shape, dtype, tol_f, tol_g):
    Bsz, di, L, N, G = shape
    ins = make_inputs(Bsz, di, L, N, G, dtype, seed=L * 31 + di)
    ins = [t.requires_grad_() if t is not None else None for t in ins]
    u, delta, A, Bm, Cm, D, z, bias = ins
    kw = dict(D=D, z=z, delta_bias=bias, delta_softplus=True)
    y_ref = selective_scan_ref(u, delta, A, Bm, Cm, **kw)
    y_fast = selective_scan_fast(u, delta, A, Bm, Cm, **kw)
    assert y_fast.shape == y_ref.shape == (Bsz, di, L)
    assert y_fast.dtype == dtype
    assert nerr(y_fast, y_ref) < tol_f
    gy = torch.randn_like(y_ref)
    live = [t for t in ins if t is not None]
    g_ref = torch.autograd.grad(y_ref, live, gy)
    g_fast = torch.autograd.grad(y_fast, live, gy)
    for gr, gf in zip(g_ref, g_fast):
        assert torch.isfinite(gf).all()
        assert nerr(gf, gr) < tol_g


@pytest.mark.parametrize("chunk", [1, 4, 16])
def test_chunk_sizes_and_no_options(chunk):
    u, delta, A, Bm, Cm, _, _, _ = make_inputs(2, 4, 21, 3, 0, torch.float64, seed=5)
    y_ref = selective_scan_ref(u, delta, A, Bm, Cm, delta_softplus=False)
    # delta_softplus=False needs delta >= 0 for the fast path (Δ·A ≤ 0)
    delta = delta.abs()
    y_ref = selective_scan_ref(u, delta, A, Bm, Cm, delta_softplus=False)
    y_fast = selective_scan_fast(u, delta, A, Bm, Cm, delta_softplus=False, chunk=chunk)
    assert nerr(y_fast, y_ref) < 1e-10


def test_strong_decay_is_finite_float32():
    # Δ·A down to about -200 per step: the clamp keeps every exponent in range
    u, delta, A, Bm, Cm, D, z, bias = make_inputs(2, 4, 40, 8, 0, torch.float32, seed=7)
    delta = delta + 4.0
    A = A * 20
    y_ref = selective_scan_ref(u, delta, A, Bm, Cm, D=D)
    y_fast = selective_scan_fast(u, delta, A, Bm, Cm, D=D)
    assert torch.isfinite(y_fast).all()
    assert nerr(y_fast, y_ref) < 1e-4


def test_ref_matches_explicit_recurrence():
    # one channel, one state, by hand
    u = torch.tensor([[[1.0, 2.0, -1.0]]], dtype=torch.float64)
    delta = torch.tensor([[[0.5, 1.0, 2.0]]], dtype=torch.float64)
    A = torch.tensor([[-1.0]], dtype=torch.float64)
    Bm = torch.tensor([[[1.0, 0.5, 2.0]]], dtype=torch.float64)
    Cm = torch.tensor([[[2.0, 1.0, 1.0]]], dtype=torch.float64)
    D = torch.tensor([0.5], dtype=torch.float64)
    y = selective_scan_ref(u, delta, A, Bm, Cm, D=D, delta_softplus=False)
    x, out = 0.0, []
    import math

    for t in range(3):
        x = math.exp(delta[0, 0, t].item() * -1.0) * x + delta[0, 0, t].item() * Bm[0, 0, t].item() * u[0, 0, t].item()
        out.append(Cm[0, 0, t].item() * x + 0.5 * u[0, 0, t].item())
    assert torch.allclose(y[0, 0], torch.tensor(out, dtype=torch.float64))
