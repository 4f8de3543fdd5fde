"""The split path's 'registers' scan backward (scan_triton._scan_bwd_reg_kernel), its schedule and arithmetic
written in plain PyTorch, vs autograd through the sequential reference (scan.selective_scan_ref). Runs in CI
(no triton needed); test_scan_triton.py runs the kernel itself under the Triton interpreter.

The schedule: the forward saves the state entering every CHUNK-th step. The backward walks the checkpoint chunks
in reverse and each one as CHUNK / T sub-chunks of T steps, in reverse; for sub-chunk j it advances the saved
state j·T steps, records the T states entering its steps (the kernel's register tuple), then runs the reverse
recurrence over them:
    dh_t += dy_t·C_t;  da_t = dh_t ⊙ h_{t-1} ⊙ a_t          (a_t = exp(Δ_t A))
    dΔ_t = Σ_n da_t A + u_t Σ_n dh_t B_t;   dA += da_t Δ_t;   d(raw)_t = dΔ_t · sigmoid(raw_t)
    du_t = Δ_t Σ_n dh_t B_t + D dy_t;       dD += dy_t u_t
    dB_t = Σ_d dh_t Δ_t u_t;  dC_t = Σ_d dy_t h_t;  dh_{t-1} = dh_t ⊙ a_t
Steps past L (padding of the last chunk) are no-ops (Δ = u = B = C = dy = 0), as in the kernel.
"""

import pytest
import torch
import torch.nn.functional as F
from mmamba.scan import selective_scan_ref
from test_scan import make_inputs, nerr


def registers_backward(u, delta, A, Bm, Cm, D, bias, dy, chunk: int, T: int):
    """(du, d(delta), dA, dB, dC, dD, d(bias)) of y = selective_scan_ref(u, delta, A, Bm, Cm, D, delta_bias=bias)
    (softplus on, no z) for the upstream gradient dy, by the kernel's schedule. u, delta, dy: (Bsz, di, L);
    Bm, Cm: (Bsz, N, L) (one group); float64."""
    assert chunk % T == 0, "T must divide the chunk"
    Bsz, di, L = u.shape
    N = A.shape[1]
    nc = -(-L // chunk)
    pad = nc * chunk - L

    def padded(x):  # zero steps past L: no-ops
        return F.pad(x, (0, pad))

    raw = padded(delta + bias[:, None])
    live = padded(torch.ones_like(u))
    dlt = F.softplus(raw) * live  # Δ = 0 on padded steps
    uu, Bp, Cp, dyp = padded(u), padded(Bm), padded(Cm), padded(dy)

    def step(h, t):
        a = torch.exp(dlt[:, :, t, None] * A)  # (Bsz, di, N)
        return a, a * h + (dlt[:, :, t] * uu[:, :, t])[:, :, None] * Bp[:, None, :, t]

    ck, h = [], torch.zeros(Bsz, di, N, dtype=u.dtype)  # forward: the state entering each chunk
    for c in range(nc):
        ck.append(h)
        for s in range(chunk):
            h = step(h, c * chunk + s)[1]
    du, ddt = torch.zeros_like(uu), torch.zeros_like(uu)
    dB, dC = torch.zeros_like(Bp), torch.zeros_like(Cp)
    dh, dA = torch.zeros(Bsz, di, N, dtype=u.dtype), torch.zeros_like(A)
    dD, dbias = torch.zeros_like(D), torch.zeros_like(bias)
    for c in reversed(range(nc)):
        for j in reversed(range(chunk // T)):
            h = ck[c]
            for s in range(j * T):  # advance to the sub-chunk's start
                h = step(h, c * chunk + s)[1]
            hs = []  # the kernel's register tuple
            for s in range(T):
                hs.append(h)
                h = step(h, c * chunk + j * T + s)[1]
            for s in reversed(range(T)):
                t = c * chunk + j * T + s
                hp = hs[s]
                a, ht = step(hp, t)
                dyv, uv, dtv = dyp[:, :, t], uu[:, :, t], dlt[:, :, t]
                dC[:, :, t] = (dyv[:, :, None] * ht).sum(1)
                dh = dh + dyv[:, :, None] * Cp[:, None, :, t]
                da = dh * hp * a
                dhB = (dh * Bp[:, None, :, t]).sum(-1)
                d_dlt = (da * A).sum(-1) + uv * dhB
                ddt[:, :, t] = d_dlt * torch.sigmoid(raw[:, :, t]) * live[:, :, t]
                dbias += ddt[:, :, t].sum(0)
                dA += (da * dtv[:, :, None]).sum(0)
                dB[:, :, t] = (dh * (dtv * uv)[:, :, None]).sum(1)
                du[:, :, t] = dtv * dhB + D * dyv
                dD += (dyv * uv).sum(0)
                dh = dh * a
    cut = slice(0, L)
    return du[..., cut], ddt[..., cut], dA, dB[..., cut], dC[..., cut], dD, dbias


@pytest.mark.parametrize("L,chunk,T", [(1, 16, 8), (17, 16, 8), (17, 16, 4), (40, 16, 16), (37, 8, 2), (23, 6, 3)])
def test_registers_schedule_matches_autograd(L, chunk, T):
    seed = 1000 + L * 7 + T
    print(f"seed {seed}")
    u, delta, A, Bm, Cm, D, _, bias = [
        t.requires_grad_() for t in make_inputs(2, 3, L, 4, 0, torch.float64, seed) if t is not None
    ]
    y = selective_scan_ref(u, delta, A, Bm, Cm, D=D, delta_bias=bias)
    dy = torch.randn(y.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    ref = torch.autograd.grad(y, [u, delta, A, Bm, Cm, D, bias], dy)
    with torch.no_grad():
        got = registers_backward(u, delta, A, Bm, Cm, D, bias, dy, chunk, T)
    for name, g, r in zip(("du", "ddelta", "dA", "dB", "dC", "dD", "dbias"), got, ref):
        assert g.shape == r.shape, name
        assert nerr(g, r) < 1e-10, (name, nerr(g, r))


def test_T_must_divide_chunk():
    u, delta, A, Bm, Cm, D, _, bias = make_inputs(1, 2, 5, 2, 0, torch.float64, 3)
    with pytest.raises(AssertionError, match="divide"):
        registers_backward(u, delta, A, Bm, Cm, D, bias, torch.zeros_like(u), 16, 5)
