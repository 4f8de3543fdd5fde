"""Selective scan (Mamba S6): a readable sequential reference and a chunked, autograd-friendly fast path.

Follows Mamba's `selective_scan_ref` (Gu & Dao 2023, mamba_ssm/ops/selective_scan_interface.py):
per batch b, channel d, state n, with Δ = softplus(delta + delta_bias) (if delta_softplus):
    x_t = exp(Δ_t · A) · x_{t-1} + Δ_t · B_t · u_t
    y_t = Σ_n C_t · x_t + D · u_t              (then y · SiLU(z) if z is given)
Shapes: u, delta, z: (B, di, L) (or grouped (B, G, dg, L) views, see _accepts_grouped); A: (di, N); B, C: (B, N, L) or grouped (B, G, N, L) with di % G == 0
(channel block g uses B[:, g], as in Mamba); D, delta_bias: (di,). The state is carried in float32
(float64 if the inputs are float64); the output is cast back to u's dtype.

Fast path (`selective_scan_fast`), for training on a GPU with plain autograd (no custom kernel):
split L into chunks of T steps. With a_t = Δ_t·A (≤ 0), b_t = Δ_t·B_t·u_t and S_t = Σ_{s≤t in chunk} a_s,
    x_t = exp(S_t)·x_start + Σ_{s≤t} exp(S_t − S_s)·b_s
        = exp(S_t)·x_start + exp(S_t − r) · cumsum_s(exp(r − S_s)·b_s)
with the per-chunk reference r = S_T / 2 (half the chunk's total decay), so both exponents lie in
[S_T/2, −S_T/2]. All chunks are done at once with zero start state; a short loop over the L/T chunks
then carries the state across chunk boundaries on (B, di, N) tensors. Memory is a handful of
(B, di, L, N) tensors — no (T × T) intermediate.
Numerical safety: we clamp a_t ≥ −clamp per step, so |exponent| ≤ T·clamp/2. float32: clamp = 16, T = 8
→ |exponent| ≤ 64 (exp(64) ≈ 6e27, far from overflow); clamping only changes steps whose decay
exp(a_t) < exp(−16) ≈ 1.1e-7, i.e. below float32 resolution of the carried state. float64: clamp = 80.
Requires Δ·A ≤ 0 (A < 0 and Δ ≥ 0), which the model guarantees (A = −exp(A_log), Δ = softplus(·)).
"""
from __future__ import annotations

import os

from typing import Optional

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


def _expand_groups(M: Tensor, di: int) -> Tensor:
    """(B, N, L) -> (B, 1, N, L); (B, G, N, L) -> (B, di, N, L) (channel block g uses group g)."""
    if M.dim() == 3:
        return M.unsqueeze(1)
    G = M.shape[1]
    assert di % G == 0, f"d_inner {di} not divisible by groups {G}"
    return M.repeat_interleave(di // G, dim=1)


def _accepts_grouped(fn):
    """Lets a (B, di, L) scan also take u/delta/z as grouped (B, G, dg, L) views (the mixer's channels-last
    buffers); they are flattened (copied if need be) and the output comes back as (B, G, dg, L)."""
    import functools

    @functools.wraps(fn)
    def wrapped(u, delta, A, B, C, D=None, z=None, **kw):
        if u.dim() != 4:
            return fn(u, delta, A, B, C, D=D, z=z, **kw)
        shape = u.shape
        flat = lambda t: None if t is None else t.reshape(shape[0], shape[1] * shape[2], shape[3])  # noqa: E731
        return fn(flat(u), flat(delta), A, B, C, D=D, z=flat(z), **kw).view(shape)
    return wrapped


def _state_dtype(u: Tensor) -> torch.dtype:
    return torch.float64 if u.dtype == torch.float64 else torch.float32


@_accepts_grouped
def selective_scan_ref(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor,
                       D: Optional[Tensor] = None, z: Optional[Tensor] = None,
                       delta_bias: Optional[Tensor] = None, delta_softplus: bool = True) -> Tensor:
    """Plain sequential scan; the CPU reference every other implementation is checked against."""
    dtype_in = u.dtype
    sd = _state_dtype(u)
    u, delta, A = u.to(sd), delta.to(sd), A.to(sd)
    Bsz, di, L = u.shape
    Bx = _expand_groups(B.to(sd), di)                      # (B, di|1, N, L)
    Cx = _expand_groups(C.to(sd), di)                      # (B, di|1, N, L)
    if delta_bias is not None:
        delta = delta + delta_bias.to(sd)[:, None]         # (B, di, L)
    if delta_softplus:
        delta = F.softplus(delta)
    x = u.new_zeros(Bsz, di, A.shape[1])                   # (B, di, N)
    ys = []
    for t in range(L):
        dA = torch.exp(delta[:, :, t, None] * A)           # (B, di, N)
        dBu = (delta[:, :, t] * u[:, :, t])[:, :, None] * Bx[:, :, :, t]   # (B, di, N)
        x = dA * x + dBu
        ys.append((x * Cx[:, :, :, t]).sum(-1))            # (B, di)
    y = torch.stack(ys, dim=-1)                            # (B, di, L)
    if D is not None:
        y = y + u * D.to(sd)[:, None]
    if z is not None:
        y = y * F.silu(z.to(sd))
    return y.to(dtype_in)


@_accepts_grouped
def selective_scan_fast(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor,
                        D: Optional[Tensor] = None, z: Optional[Tensor] = None,
                        delta_bias: Optional[Tensor] = None, delta_softplus: bool = True,
                        chunk: int = 8, clamp: Optional[float] = None) -> Tensor:
    """Chunked scan with the same semantics as `selective_scan_ref` (see module docstring).
    Works in a grouped layout (B, G, di/G, ...) so grouped B/C broadcast instead of being copied."""
    dtype_in = u.dtype
    sd = _state_dtype(u)
    if clamp is None:
        clamp = 80.0 if sd == torch.float64 else 16.0
    with torch.autocast(device_type=u.device.type, enabled=False):
        u, delta, A = u.to(sd), delta.to(sd), A.to(sd)
        Bsz, di, L = u.shape
        N = A.shape[1]
        if delta_bias is not None:
            delta = delta + delta_bias.to(sd)[:, None]     # (B, di, L)
        if delta_softplus:
            delta = F.softplus(delta)
        Bg = B.to(sd) if B.dim() == 4 else B.to(sd)[:, None]   # (B, G, N, L)
        Cg = C.to(sd) if C.dim() == 4 else C.to(sd)[:, None]   # (B, G, N, L)
        G = Bg.shape[1]
        assert Cg.shape[1] == G and di % G == 0, "B and C need the same group count dividing di"
        dg = di // G
        T = chunk
        pad = (-L) % T
        Lp = L + pad
        nc = Lp // T
        # padded steps have Δ = 0 (no decay, no input) and C = 0; their outputs are cut off
        du = delta * u                                                      # (B, di, L)
        delta_p, du_p = F.pad(delta, (0, pad)), F.pad(du, (0, pad))         # (B, di, Lp)
        Bt = F.pad(Bg, (0, pad)).transpose(2, 3)[:, :, None]                # (B, G, 1, Lp, N)
        Ct = F.pad(Cg, (0, pad)).transpose(2, 3)[:, :, None]                # (B, G, 1, Lp, N)
        Ag = A.view(G, dg, 1, N)                                            # (G, dg, 1, N)
        a = (delta_p.view(Bsz, G, dg, Lp, 1) * Ag).clamp(min=-clamp)        # (B, G, dg, Lp, N)
        b = du_p.view(Bsz, G, dg, Lp, 1) * Bt                               # (B, G, dg, Lp, N)
        a = a.view(Bsz, G, dg, nc, T, N)
        b = b.view(Bsz, G, dg, nc, T, N)
        S = a.cumsum(dim=4)                                                 # (B, G, dg, nc, T, N)
        r = 0.5 * S[..., -1:, :]                                            # (B, G, dg, nc, 1, N)
        local = torch.exp(S - r) * torch.cumsum(torch.exp(r - S) * b, dim=4)  # zero-start states
        decay_chunk = torch.exp(S[..., -1, :])                              # (B, G, dg, nc, N)
        h = u.new_zeros(Bsz, G, dg, N)                                      # state entering chunk
        starts = []
        for c in range(nc):
            starts.append(h)
            h = decay_chunk[:, :, :, c] * h + local[:, :, :, c, -1]
        H0 = torch.stack(starts, dim=3)                                     # (B, G, dg, nc, N)
        x = local + torch.exp(S) * H0[..., None, :]                         # (B, G, dg, nc, T, N)
        y = (x * Ct.view(Bsz, G, 1, nc, T, N)).sum(-1)                      # (B, G, dg, nc, T)
        y = y.reshape(Bsz, di, Lp)[:, :, :L]                                # (B, di, L)
        if D is not None:
            y = y + u * D.to(sd)[:, None]
        if z is not None:
            y = y * F.silu(z.to(sd))
    return y.to(dtype_in)


_TRITON_SCAN = None      # selective_scan_triton once imported; False if triton is unavailable


def _triton_scan():
    global _TRITON_SCAN
    if _TRITON_SCAN is None:
        try:
            from .scan_triton import selective_scan_triton
            _TRITON_SCAN = selective_scan_triton
        except Exception:  # triton not installed / not importable on this platform
            _TRITON_SCAN = False
    return _TRITON_SCAN


def _triton_tuning() -> dict:
    """Launch parameters of the Triton scan; MMAMBA_SCAN_{BLOCK_D,WARPS,CHUNK} override the defaults
    (bench_scan.py --sweep prints the fastest set for the GPU at hand)."""
    env = os.environ
    # defaults: the H200 sweep's best for the model's channels-last layout at B=256 (docs/runs/run4-scan-sweep.txt)
    return dict(block_d=int(env.get("MMAMBA_SCAN_BLOCK_D", 128)), num_warps=int(env.get("MMAMBA_SCAN_WARPS", 2)),
                chunk=int(env.get("MMAMBA_SCAN_CHUNK", 16)))


def selective_scan(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor,
                   D: Optional[Tensor] = None, z: Optional[Tensor] = None,
                   delta_bias: Optional[Tensor] = None, delta_softplus: bool = True) -> Tensor:
    """Dispatcher with `selective_scan_ref` semantics: the Triton kernel (scan_triton.py) for CUDA tensors
    that are not float64 when triton imports, otherwise `selective_scan_fast`."""
    if u.is_cuda and u.dtype != torch.float64:
        fn = _triton_scan()
        if fn:
            return fn(u, delta, A, B, C, D=D, z=z, delta_bias=delta_bias, delta_softplus=delta_softplus,
                      **_triton_tuning())
    return selective_scan_fast(u, delta, A, B, C, D=D, z=z, delta_bias=delta_bias,
                               delta_softplus=delta_softplus)
