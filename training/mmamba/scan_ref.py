"""Selective scan (Mamba S6): a readable sequential reference and a chunked, autograd-friendly fast path.

Follows Mamba's `selective_scan_ref` (Gu & Dao 2023, mamba_ssm/ops/selective_scan_interface.py):
per batch b, channel d, state n, with Δ = softplus(delta + delta_bias) (if delta_softplus):
    x_t = exp(Δ_t · A) · x_{t-1} + Δ_t · B_t · u_t
    y_t = Σ_n C_t · x_t + D · u_t              (then y · SiLU(z) if z is given)
Shapes: u, delta, z: (B, di, L) (or grouped (B, G, dg, L) views, see _accepts_grouped); A: (di, N); B, C: (B, N, L) or
grouped (B, G, N, L) with di % G == 0
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
def selective_scan_ref(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    z: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = True,
) -> Tensor:
    """Plain sequential scan; the CPU reference every other implementation is checked against."""
    dtype_in = u.dtype
    sd = _state_dtype(u)
    u, delta, A = u.to(sd), delta.to(sd), A.to(sd)
    Bsz, di, L = u.shape
    Bx = _expand_groups(B.to(sd), di)  # (B, di|1, N, L)
    Cx = _expand_groups(C.to(sd), di)  # (B, di|1, N, L)
    if delta_bias is not None:
        delta = delta + delta_bias.to(sd)[:, None]  # (B, di, L)
    if delta_softplus:
        delta = F.softplus(delta)
    x = u.new_zeros(Bsz, di, A.shape[1])  # (B, di, N)
    ys = []
    for t in range(L):
        dA = torch.exp(delta[:, :, t, None] * A)  # (B, di, N)
        dBu = (delta[:, :, t] * u[:, :, t])[:, :, None] * Bx[:, :, :, t]  # (B, di, N)
        x = dA * x + dBu
        ys.append((x * Cx[:, :, :, t]).sum(-1))  # (B, di)
    y = torch.stack(ys, dim=-1)  # (B, di, L)
    if D is not None:
        y = y + u * D.to(sd)[:, None]
    if z is not None:
        y = y * F.silu(z.to(sd))
    return y.to(dtype_in)


@_accepts_grouped
def selective_scan_fast(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    z: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = True,
    chunk: int = 8,
    clamp: float | None = None,
) -> Tensor:
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
            delta = delta + delta_bias.to(sd)[:, None]  # (B, di, L)
        if delta_softplus:
            delta = F.softplus(delta)
        Bg = B.to(sd) if B.dim() == 4 else B.to(sd)[:, None]  # (B, G, N, L)
        Cg = C.to(sd) if C.dim() == 4 else C.to(sd)[:, None]  # (B, G, N, L)
        G = Bg.shape[1]
        assert Cg.shape[1] == G and di % G == 0, "B and C need the same group count dividing di"
        dg = di // G
        T = chunk
        pad = (-L) % T
        Lp = L + pad
        nc = Lp // T
        # padded steps have Δ = 0 (no decay, no input) and C = 0; their outputs are cut off
        du = delta * u  # (B, di, L)
        delta_p, du_p = F.pad(delta, (0, pad)), F.pad(du, (0, pad))  # (B, di, Lp)
        Bt = F.pad(Bg, (0, pad)).transpose(2, 3)[:, :, None]  # (B, G, 1, Lp, N)
        Ct = F.pad(Cg, (0, pad)).transpose(2, 3)[:, :, None]  # (B, G, 1, Lp, N)
        Ag = A.view(G, dg, 1, N)  # (G, dg, 1, N)
        a = (delta_p.view(Bsz, G, dg, Lp, 1) * Ag).clamp(min=-clamp)  # (B, G, dg, Lp, N)
        b = du_p.view(Bsz, G, dg, Lp, 1) * Bt  # (B, G, dg, Lp, N)
        a = a.view(Bsz, G, dg, nc, T, N)
        b = b.view(Bsz, G, dg, nc, T, N)
        S = a.cumsum(dim=4)  # (B, G, dg, nc, T, N)
        r = 0.5 * S[..., -1:, :]  # (B, G, dg, nc, 1, N)
        local = torch.exp(S - r) * torch.cumsum(torch.exp(r - S) * b, dim=4)  # zero-start states
        decay_chunk = torch.exp(S[..., -1, :])  # (B, G, dg, nc, N)
        h = u.new_zeros(Bsz, G, dg, N)  # state entering chunk
        starts = []
        for c in range(nc):
            starts.append(h)
            h = decay_chunk[:, :, :, c] * h + local[:, :, :, c, -1]
        H0 = torch.stack(starts, dim=3)  # (B, G, dg, nc, N)
        x = local + torch.exp(S) * H0[..., None, :]  # (B, G, dg, nc, T, N)
        y = (x * Ct.view(Bsz, G, 1, nc, T, N)).sum(-1)  # (B, G, dg, nc, T)
        y = y.reshape(Bsz, di, Lp)[:, :, :L]  # (B, di, L)
        if D is not None:
            y = y + u * D.to(sd)[:, None]
        if z is not None:
            y = y * F.silu(z.to(sd))
    return y.to(dtype_in)


# ---- the fused cross-scan + merge (scan_merge_triton.py) and its pure-PyTorch references -------------------------


def merge_directions(y: Tensor, perm: Tensor) -> Tensor:
    """y (Bsz, K, L, C) in scan order -> (Bsz, L, C): out[:, p] = Σ_k y[:, k, inv[k, p]] with inv = perm⁻¹
    (the cross-merge of seq_ops.from_scans, written with plain indexing)."""
    inv = torch.argsort(perm, dim=1)  # (K, L)
    return sum(y[:, k, inv[k]] for k in range(y.shape[1]))


def scan_merge_ref(
    u: Tensor,
    dt: Tensor,
    A: Tensor,
    Bm: Tensor,
    Cm: Tensor,
    D: Tensor | None,
    perm: Tensor,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = True,
) -> Tensor:
    """Reference of the fused cross-scan: u, dt (Bsz, K, L, di); A (K·di, N); Bm, Cm (Bsz, K, L, N);
    D, delta_bias (K·di,); perm (K, L). Returns the merge of the K directions' `selective_scan_ref` outputs,
    (Bsz, L, di) in the state dtype (float32, or float64 for float64 inputs)."""
    y = selective_scan_ref(
        u.transpose(2, 3),
        dt.transpose(2, 3),
        A,
        Bm.transpose(2, 3),
        Cm.transpose(2, 3),
        D=D,
        delta_bias=delta_bias,
        delta_softplus=delta_softplus,
    )  # (Bsz, K, di, L)
    return merge_directions(y.transpose(2, 3).to(_state_dtype(u)), perm)


class _ScanMergeManual(torch.autograd.Function):
    """The fused kernel's math in plain PyTorch, one step at a time, with the kernel's hand-written backward:
        dh_t = C_t·dy_t + a_{t+1} ⊙ dh_{t+1},   dy_t = dY[perm[k, t]]
        da_t = dh_t ⊙ (h_t − Δ_t u_t B_t)        (= dh_t ⊙ a_t h_{t-1}, no shifted state needed)
        dΔ_t = Σ_n da_t A + u_t Σ_n dh_t B_t;  du_t = Δ_t Σ_n dh_t B_t + D dy_t;  dA = Σ_t da_t Δ_t
        dB_t = Σ_d dh_t Δ_t u_t;  dC_t = Σ_d dy_t h_t;  dD = Σ_t dy_t u_t;  d(raw) = dΔ · sigmoid(raw)
    Small shapes only (keeps every state); CI checks these formulas against autograd of `scan_merge_ref`."""

    @staticmethod
    def forward(ctx, u, dt, A, Bm, Cm, D, bias, perm):
        sd = _state_dtype(u)
        Bsz, K, L, di = u.shape
        N = A.shape[1]
        uf, raw = u.to(sd), dt.to(sd) + bias.to(sd).view(K, 1, di)
        dlt = F.softplus(raw)  # (Bsz, K, L, di)
        Af = A.to(sd).view(K, di, N)
        Bf, Cf = Bm.to(sd), Cm.to(sd)  # (Bsz, K, L, N)
        a = torch.exp(dlt[..., None] * Af[None, :, None])  # (Bsz, K, L, di, N)
        bb = (dlt * uf)[..., None] * Bf[:, :, :, None, :]
        h = torch.zeros(Bsz, K, di, N, dtype=sd)
        hs = []
        for t in range(L):
            h = a[:, :, t] * h + bb[:, :, t]
            hs.append(h)
        H = torch.stack(hs, dim=2)  # (Bsz, K, L, di, N) h_t
        y = (H * Cf[:, :, :, None, :]).sum(-1) + uf * D.to(sd).view(K, 1, di)
        ctx.save_for_backward(u, A, Bm, Cm, D, bias, perm, raw, dlt, a, bb, H)
        return merge_directions(y, perm)

    @staticmethod
    def backward(ctx, dY):
        u, A, Bm, Cm, D, bias, perm, raw, dlt, a, bb, H = ctx.saved_tensors
        sd = H.dtype
        Bsz, K, L, di = u.shape
        N = A.shape[1]
        uf, Af, Bf, Cf = u.to(sd), A.to(sd).view(K, di, N), Bm.to(sd), Cm.to(sd)
        dy = torch.stack([dY.to(sd)[:, perm[k]] for k in range(K)], dim=1)  # (Bsz, K, L, di): the merge's adjoint
        dh = torch.zeros(Bsz, K, di, N, dtype=sd)
        dhs = [None] * L
        for t in reversed(range(L)):
            nxt = a[:, :, t + 1] * dh if t + 1 < L else 0.0
            dh = dy[:, :, t, :, None] * Cf[:, :, t, None, :] + nxt
            dhs[t] = dh
        dH = torch.stack(dhs, dim=2)  # (Bsz, K, L, di, N)
        da = dH * (H - bb)
        dhB = (dH * Bf[:, :, :, None, :]).sum(-1)  # (Bsz, K, L, di)
        ddlt = (da * Af[None, :, None]).sum(-1) + uf * dhB
        draw = ddlt * torch.sigmoid(raw)
        du = dlt * dhB + D.to(sd).view(K, 1, di) * dy
        dA = (da * dlt[..., None]).sum((0, 2)).reshape(K * di, N)
        dB = (dH * (dlt * uf)[..., None]).sum(3)
        dC = (dy[..., None] * H).sum(3)
        dD = (dy * uf).sum((0, 2)).reshape(-1)
        dbias = draw.sum((0, 2)).reshape(-1)
        return (
            du.to(u.dtype),
            draw.to(u.dtype),
            dA.to(A.dtype),
            dB.to(Bm.dtype),
            dC.to(Cm.dtype),
            dD.to(D.dtype),
            dbias.to(bias.dtype),
            None,
        )


def scan_merge_manual(
    u: Tensor, dt: Tensor, A: Tensor, Bm: Tensor, Cm: Tensor, D: Tensor, perm: Tensor, delta_bias: Tensor
) -> Tensor:
    """`scan_merge_ref` (with D, delta_bias, softplus) computed by `_ScanMergeManual` (the kernel's backward math)."""
    return _ScanMergeManual.apply(u, dt, A, Bm, Cm, D, delta_bias, perm)
