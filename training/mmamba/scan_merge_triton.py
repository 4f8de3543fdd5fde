"""Fused cross-scan selective scan for training (Triton): all K directions in one launch, the cross-merge fused
into the forward's output and the merge's adjoint (a gather) fused into the backward's dy loads, optionally
dt_proj fused into the dt loads; the chunk states stay in registers (no per-step scratch in global memory).

Semantics: exactly `scan.scan_merge_ref` (`seq_ops.from_scans` of `scan.selective_scan_ref` per direction):
    per direction k, channel d (global row r = k·di + d), state n, Δ = softplus(dt + bias[r]):
        h_t = exp(Δ_t·A[r]) ⊙ h_{t-1} + Δ_t·u_t·B_t          (state (N,), float32)
        y_t = Σ_n C_t ⊙ h_t + D[r]·u_t
    Y[b, perm[k, t]] += y[b, k, t]          (Y: (Bsz, L, di) float32, the sum over the K directions)
Shapes: u, dt (Bsz, K, L, di) with channel stride 1 (the mixer's channels-last buffers); B, C (Bsz, K, L, N),
any strides with n stride 1 allowed or not (views of x_proj's output); A (K·di, N); D, bias (K·di,) or None;
perm (K, L) integer, each row a permutation of 0..L-1.
dt_proj fused (dt_w given, as the model calls it): dt is x_proj's dt_low (Bsz, K, L, R) (any strides) and the
kernels form dt[t, d] = Σ_q dt_low[t, q]·dt_w[r, q] on each tile (dt_w (K·di, R)); the backward returns
d(dt_low)[t, q] = Σ_d d(dt)[t, d]·dt_w[r, q] (channel-block partials like dB) and d(dt_w) = Σ_t d(dt) dt_low.

Algorithm (both kernels): L is cut into chunks of BLOCK_T steps. Inside a chunk the recurrence is a linear
scan with the associative combine (a1, b1) ∘ (a2, b2) = (a1·a2, b1·a2 + b2), done by tl.associative_scan on a
(BLOCK_T, BLOCK_D, N) register tile; the state entering the chunk is carried in registers across chunks.
No exp-difference trick and no clamp: products of decays ≤ 1 cannot overflow.
- Forward: grid (Bsz, ceil(di / BLOCK_D)); a program walks the K directions one after the other over its channel
  block and accumulates y into Y (a read-add-store; a barrier between directions orders them, and no two steps
  of one direction share a position, so the result is deterministic). It saves the state entering every chunk,
  ck (Bsz, K, nc, di, N) f32 (1/BLOCK_T of the full state history).
- Backward: grid (Bsz·K, ≤ BWD_OUTER), each program walking its share of the channel blocks one after the other;
  per channel block, chunks in reverse. Per chunk it recomputes the states h_t from
  ck, then the state gradient dh_t = C_t·dy_t + a_{t+1} ⊙ dh_{t+1} (dy_t = dY[perm[k, t]]) as a forward
  associative scan over the chunk read in reverse time order (tiles loaded at reversed indexes, flipped once;
  Triton's own reverse scan mis-orders non-commutative combines, triton-lang/triton#4362). With
  a_t·h_{t-1} = h_t − Δ_t·u_t·B_t (no shift of h needed):
      da_t = dh_t ⊙ (h_t − Δ_t u_t B_t)             (∂/∂(Δ_t A))
      dΔ_t = Σ_n da_t A + u_t Σ_n dh_t B_t,   d(dt) = dΔ_t · sigmoid(dt + bias)
      du_t = Δ_t Σ_n dh_t B_t + D dy_t,  dA += Σ_t da_t Δ_t,  dD += Σ_t dy_t u_t
      dB_t = Σ_d dh_t Δ_t u_t,  dC_t = Σ_d dy_t h_t      (reduced over the program's channel block with
                                                         tl.sum, accumulated over the program's blocks
                                                         in its own partial; ≤ BWD_OUTER partials summed
                                                         in PyTorch)
  dA, dD, d(bias) are per-batch partials summed afterwards (deterministic; no atomics).
Steps past L (padding of the last chunk) have Δ = u = B = C = dy = 0, i.e. a no-op.

The kernels are wrapped as torch.library custom ops (mmamba::scan_merge_fwd / _bwd) with fake (meta)
implementations and a registered autograd formula, so torch.compile treats them as opaque nodes.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .scan_steps_triton import _softplus  # noqa: F401  (one softplus for every scan kernel)

Tensor = torch.Tensor


@triton.jit
def _combine(a1, b1, a2, b2):
    """(a1, b1) then (a2, b2) for h ↦ a·h + b: the composition is (a1·a2, b1·a2 + b2)."""
    return a1 * a2, b1 * a2 + b2


@triton.jit
def _scan_tile(a, b, FLAT: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr):
    """Inclusive scan of h ↦ a·h + b along axis 0 of (BLOCK_T, BLOCK_D, BLOCK_N) tiles: (Π a, state from 0).
    FLAT: on (BLOCK_T, BLOCK_D·BLOCK_N) reshapes (a 2-D scan, in case a compiler handles 3-D scans worse)."""
    if FLAT:
        a2 = tl.reshape(a, (BLOCK_T, BLOCK_D * BLOCK_N))
        b2 = tl.reshape(b, (BLOCK_T, BLOCK_D * BLOCK_N))
        aa2, hh2 = tl.associative_scan((a2, b2), 0, _combine)
        aa = tl.reshape(aa2, (BLOCK_T, BLOCK_D, BLOCK_N))
        hh = tl.reshape(hh2, (BLOCK_T, BLOCK_D, BLOCK_N))
    else:
        aa, hh = tl.associative_scan((a, b), 0, _combine)
    return aa, hh


@triton.jit
def _flip_tile(x, FLAT: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr):
    """x reversed along axis 0 (BLOCK_T a power of two); FLAT as in _scan_tile."""
    if FLAT:
        y = tl.reshape(tl.flip(tl.reshape(x, (BLOCK_T, BLOCK_D * BLOCK_N)), 0), (BLOCK_T, BLOCK_D, BLOCK_N))
    else:
        y = tl.flip(x, 0)
    return y


@triton.jit
def _low_tile(dt_base, t, tm, s_l, s_q, R, BLOCK_R: tl.constexpr):
    """dt_low rows at steps t: (BLOCK_T, BLOCK_R) f32 (DT_PROJ mode)."""
    q = tl.arange(0, BLOCK_R)
    return tl.load(dt_base + t[:, None] * s_l + q[None, :] * s_q, mask=tm[:, None] & (q < R)[None, :], other=0.0).to(
        tl.float32
    )


@triton.jit
def _delta_tile(
    dt_base,
    t,
    tm,
    d,
    dmask,
    s_l,
    bias,
    HAS_BIAS: tl.constexpr,
    SOFTPLUS: tl.constexpr,
    DT_PROJ: tl.constexpr,
    W,
    s_q,
    R,
    BLOCK_R: tl.constexpr,
):
    """(raw, Δ) on a (BLOCK_T, BLOCK_D) tile at steps t; masked entries give Δ = 0 (a no-op step).
    raw = dt[t, d] (+ bias), or with DT_PROJ raw = Σ_q dt_low[t, q]·W[d, q] (+ bias), W the (BLOCK_D, BLOCK_R) tile."""
    m = tm[:, None] & dmask[None, :]
    if DT_PROJ:
        lo = _low_tile(dt_base, t, tm, s_l, s_q, R, BLOCK_R)  # (T, R)
        raw = tl.sum(lo[:, None, :] * W[None, :, :], axis=2)  # (T, D)
    else:
        raw = tl.load(dt_base + t[:, None] * s_l + d[None, :], mask=m, other=0.0).to(tl.float32)
    if HAS_BIAS:
        raw += bias[None, :]
    dlt = raw
    if SOFTPLUS:
        dlt = _softplus(raw)
    return raw, tl.where(m, dlt, 0.0)


@triton.jit
def _last_row(x, BLOCK_T: tl.constexpr):
    """x[BLOCK_T - 1] of a (BLOCK_T, BLOCK_D, BLOCK_N) tile."""
    s = tl.arange(0, BLOCK_T)
    return tl.sum(tl.where((s == BLOCK_T - 1)[:, None, None], x, 0.0), axis=0)


@triton.jit
def _scan_merge_fwd_kernel(
    u_ptr,
    dt_ptr,
    bias_ptr,
    A_ptr,
    B_ptr,
    C_ptr,
    D_ptr,
    perm_ptr,
    Y_ptr,
    ck_ptr,
    W_ptr,
    L,
    di,
    K,
    N,
    nc,
    R,
    s_ub,
    s_uk,
    s_ul,  # u strides (batch, direction, step); channel stride 1
    s_db,
    s_dk,
    s_dl,
    s_dq,  # dt strides (channel stride 1), or dt_low's (batch, direction, step, rank)
    s_Bb,
    s_Bk,
    s_Bl,
    s_Bn,  # B strides
    s_Cb,
    s_Ck,
    s_Cl,
    s_Cn,  # C strides
    HAS_D: tl.constexpr,
    HAS_BIAS: tl.constexpr,
    SOFTPLUS: tl.constexpr,
    SAVE: tl.constexpr,
    FLAT: tl.constexpr,
    DT_PROJ: tl.constexpr,
    BLOCK_T: tl.constexpr,
    BLOCK_D: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_R: tl.constexpr,
):
    b = tl.program_id(0).to(tl.int64)
    d = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)  # (BLOCK_D,) channel
    dmask = d < di
    n = tl.arange(0, BLOCK_N)
    nmask = n < N
    m2 = dmask[:, None] & nmask[None, :]
    s = tl.arange(0, BLOCK_T)
    for k in range(K):
        r = k * di + d  # (BLOCK_D,) rows of A, D, bias
        A = tl.load(A_ptr + r[:, None] * N + n[None, :], mask=m2, other=0.0).to(tl.float32)  # (BLOCK_D, BLOCK_N)
        Dv = tl.load(D_ptr + r, mask=dmask & HAS_D, other=0.0).to(tl.float32)
        bias = tl.load(bias_ptr + r, mask=dmask & HAS_BIAS, other=0.0).to(tl.float32)
        qr = tl.arange(0, BLOCK_R)
        W = tl.load(
            W_ptr + r[:, None] * R + qr[None, :], mask=dmask[:, None] & (qr < R)[None, :] & DT_PROJ, other=0.0
        ).to(tl.float32)  # (BLOCK_D, BLOCK_R) dt_proj rows
        u_base = u_ptr + b * s_ub + k * s_uk
        dt_base = dt_ptr + b * s_db + k * s_dk
        B_base = B_ptr + b * s_Bb + k * s_Bk
        C_base = C_ptr + b * s_Cb + k * s_Ck
        ck_base = ck_ptr + (((b * K + k) * nc) * di + d[:, None]) * N + n[None, :]  # ck (Bsz, K, nc, di, N)
        h0 = tl.zeros((BLOCK_D, BLOCK_N), dtype=tl.float32)
        for c in range(nc):
            if SAVE:
                tl.store(ck_base + c * di * N, h0, mask=m2)
            t = c * BLOCK_T + s  # (BLOCK_T,)
            tm = t < L
            m = tm[:, None] & dmask[None, :]
            uv = tl.load(u_base + t[:, None] * s_ul + d[None, :], mask=m, other=0.0).to(tl.float32)  # (T, D)
            _, dlt = _delta_tile(
                dt_base, t, tm, d, dmask, s_dl, bias, HAS_BIAS, SOFTPLUS, DT_PROJ, W, s_dq, R, BLOCK_R
            )  # (T, D)
            mn = tm[:, None] & nmask[None, :]
            Bv = tl.load(B_base + t[:, None] * s_Bl + n[None, :] * s_Bn, mask=mn, other=0.0).to(tl.float32)  # (T, N)
            Cv = tl.load(C_base + t[:, None] * s_Cl + n[None, :] * s_Cn, mask=mn, other=0.0).to(tl.float32)
            a = tl.exp(dlt[:, :, None] * A[None, :, :])  # (T, D, N)
            bb = (dlt * uv)[:, :, None] * Bv[:, None, :]
            aa, hh = _scan_tile(a, bb, FLAT, BLOCK_T, BLOCK_D, BLOCK_N)
            h = hh + aa * h0[None, :, :]  # h_t
            y = tl.sum(h * Cv[:, None, :], axis=2) + Dv[None, :] * uv  # (T, D)
            p = tl.load(perm_ptr + k * L + t, mask=tm, other=0).to(tl.int64)  # positions
            y_ptrs = Y_ptr + (b * L + p[:, None]) * di + d[None, :]
            y += tl.load(y_ptrs, mask=m & (k > 0), other=0.0)  # earlier directions
            tl.store(y_ptrs, y, mask=m)
            h0 = _last_row(h, BLOCK_T)
        tl.debug_barrier()  # direction k's stores are visible to every thread before k + 1 reads


@triton.jit
def _scan_merge_bwd_kernel(
    u_ptr,
    dt_ptr,
    bias_ptr,
    A_ptr,
    B_ptr,
    C_ptr,
    D_ptr,
    perm_ptr,
    dY_ptr,
    ck_ptr,
    W_ptr,
    du_ptr,
    ddt_ptr,
    dA_ptr,
    dD_ptr,
    dbias_ptr,
    dB_ptr,
    dC_ptr,
    dW_ptr,
    L,
    di,
    K,
    N,
    nc,
    Bsz,
    SUB,
    R,
    s_ub,
    s_uk,
    s_ul,
    s_db,
    s_dk,
    s_dl,
    s_dq,
    s_Bb,
    s_Bk,
    s_Bl,
    s_Bn,
    s_Cb,
    s_Ck,
    s_Cl,
    s_Cn,
    HAS_D: tl.constexpr,
    HAS_BIAS: tl.constexpr,
    SOFTPLUS: tl.constexpr,
    FLAT: tl.constexpr,
    DT_PROJ: tl.constexpr,
    BLOCK_T: tl.constexpr,
    BLOCK_D: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_R: tl.constexpr,
):
    pid_bk = tl.program_id(0).to(tl.int64)
    pid_d = tl.program_id(1)
    b = pid_bk // K
    k = pid_bk % K
    n = tl.arange(0, BLOCK_N)
    nmask = n < N
    s = tl.arange(0, BLOCK_T)
    u_base = u_ptr + b * s_ub + k * s_uk
    dt_base = dt_ptr + b * s_db + k * s_dk
    B_base = B_ptr + b * s_Bb + k * s_Bk
    C_base = C_ptr + b * s_Cb + k * s_Ck
    g_base = (pid_bk * L) * di  # du, d(dt): (Bsz, K, L, di) contiguous
    p_base = ((pid_d * Bsz + b) * K + k) * L * N  # dB, dC partials (n_outer, Bsz, K, L, N) f32
    q_base = ((pid_d * Bsz + b) * K + k) * L * R  # DT_PROJ: d(dt_low) partials (n_outer, Bsz, K, L, R) f32
    qr = tl.arange(0, BLOCK_R)
    qmask = qr < R
    # the program's SUB channel blocks one after the other; their dB / dC sums accumulate in the program's own
    # partial (a read-add-store, ordered by the barrier at the end of each block: deterministic)
    for sb in range(SUB):
        d = (pid_d * SUB + sb) * BLOCK_D + tl.arange(0, BLOCK_D)
        dmask = d < di
        m2 = dmask[:, None] & nmask[None, :]
        r = k * di + d
        A = tl.load(A_ptr + r[:, None] * N + n[None, :], mask=m2, other=0.0).to(tl.float32)
        Dv = tl.load(D_ptr + r, mask=dmask & HAS_D, other=0.0).to(tl.float32)
        bias = tl.load(bias_ptr + r, mask=dmask & HAS_BIAS, other=0.0).to(tl.float32)
        W = tl.load(W_ptr + r[:, None] * R + qr[None, :], mask=dmask[:, None] & qmask[None, :] & DT_PROJ, other=0.0).to(
            tl.float32
        )  # (BLOCK_D, BLOCK_R)
        dW_acc = tl.zeros((BLOCK_D, BLOCK_R), dtype=tl.float32)
        ck_base = ck_ptr + ((pid_bk * nc) * di + d[:, None]) * N + n[None, :]
        carry = tl.zeros((BLOCK_D, BLOCK_N), dtype=tl.float32)  # dh at the first step of the next chunk
        dA_acc = tl.zeros((BLOCK_D, BLOCK_N), dtype=tl.float32)
        dD_acc = tl.zeros((BLOCK_D,), dtype=tl.float32)
        dbias_acc = tl.zeros((BLOCK_D,), dtype=tl.float32)
        for ci in range(nc):
            c = nc - 1 - ci
            # 1) the chunk's states h_t, natural time order
            t = c * BLOCK_T + s
            tm = t < L
            m = tm[:, None] & dmask[None, :]
            mn = tm[:, None] & nmask[None, :]
            uv = tl.load(u_base + t[:, None] * s_ul + d[None, :], mask=m, other=0.0).to(tl.float32)
            raw, dlt = _delta_tile(
                dt_base, t, tm, d, dmask, s_dl, bias, HAS_BIAS, SOFTPLUS, DT_PROJ, W, s_dq, R, BLOCK_R
            )
            Bv = tl.load(B_base + t[:, None] * s_Bl + n[None, :] * s_Bn, mask=mn, other=0.0).to(tl.float32)
            p = tl.load(perm_ptr + k * L + t, mask=tm, other=0).to(tl.int64)
            dy = tl.load(dY_ptr + (b * L + p[:, None]) * di + d[None, :], mask=m, other=0.0).to(tl.float32)
            h0 = tl.load(ck_base + c * di * N, mask=m2, other=0.0)
            a = tl.exp(dlt[:, :, None] * A[None, :, :])
            dtu = dlt * uv
            bb = dtu[:, :, None] * Bv[:, None, :]
            aa, hh = _scan_tile(a, bb, FLAT, BLOCK_T, BLOCK_D, BLOCK_N)
            h = hh + aa * h0[None, :, :]  # h_t
            # 2) dh_t = C_t dy_t + a_{t+1} dh_{t+1}: a forward scan over the chunk in reversed time order
            tr = c * BLOCK_T + (BLOCK_T - 1 - s)  # reversed steps
            trm = tr < L
            mr = trm[:, None] & dmask[None, :]
            _, dlt_n = _delta_tile(
                dt_base, tr + 1, (tr + 1) < L, d, dmask, s_dl, bias, HAS_BIAS, SOFTPLUS, DT_PROJ, W, s_dq, R, BLOCK_R
            )
            a_n = tl.exp(dlt_n[:, :, None] * A[None, :, :])  # a_{t+1}, reversed
            pr = tl.load(perm_ptr + k * L + tr, mask=trm, other=0).to(tl.int64)
            dy_r = tl.load(dY_ptr + (b * L + pr[:, None]) * di + d[None, :], mask=mr, other=0.0).to(tl.float32)
            C_r = tl.load(
                C_base + tr[:, None] * s_Cl + n[None, :] * s_Cn, mask=trm[:, None] & nmask[None, :], other=0.0
            ).to(tl.float32)
            w_r = dy_r[:, :, None] * C_r[:, None, :]
            al, vv = _scan_tile(a_n, w_r, FLAT, BLOCK_T, BLOCK_D, BLOCK_N)
            dh_r = vv + al * carry[None, :, :]  # dh, reversed
            carry = _last_row(dh_r, BLOCK_T)  # dh at step c·BLOCK_T
            dh = _flip_tile(dh_r, FLAT, BLOCK_T, BLOCK_D, BLOCK_N)  # natural order
            # 3) gradients
            da = dh * (h - bb)  # dh_t ⊙ a_t h_{t-1}
            dhB = tl.sum(dh * Bv[:, None, :], axis=2)  # (T, D)
            ddt = tl.sum(da * A[None, :, :], axis=2) + uv * dhB
            if SOFTPLUS:  # ∂Δ/∂raw = sigmoid(raw)
                ddt = ddt / (1.0 + tl.exp(-tl.maximum(raw, -30.0)))
            ddt = tl.where(m, ddt, 0.0)
            dbias_acc += tl.sum(ddt, axis=0)
            dA_acc += tl.sum(da * dlt[:, :, None], axis=0)
            dD_acc += tl.sum(dy * uv, axis=0)
            duv = dlt * dhB + Dv[None, :] * dy
            g_off = g_base + t[:, None] * di + d[None, :]
            tl.store(du_ptr + g_off, duv, mask=m)
            if DT_PROJ:  # d(dt_low)[t, q] = Σ_d ddt W[d, q] (the program's partial); dW[d, q] += Σ_t ddt lo[t, q]
                lo = _low_tile(dt_base, t, tm, s_dl, s_dq, R, BLOCK_R)  # (T, R)
                dW_acc += tl.sum(ddt[:, :, None] * lo[:, None, :], axis=0)
                qn = q_base + t[:, None] * R + qr[None, :]
                mq = tm[:, None] & qmask[None, :]
                dlo = tl.sum(ddt[:, :, None] * W[None, :, :], axis=1)
                dlo += tl.load(ddt_ptr + qn, mask=mq & (sb > 0), other=0.0)
                tl.store(ddt_ptr + qn, dlo, mask=mq)
            else:
                tl.store(ddt_ptr + g_off, ddt, mask=m)
            pn = p_base + t[:, None] * N + n[None, :]
            dBv = tl.sum(dh * dtu[:, :, None], axis=1)  # (T, N): Σ over this channel block
            dCv = tl.sum(dy[:, :, None] * h, axis=1)
            dBv += tl.load(dB_ptr + pn, mask=mn & (sb > 0), other=0.0)  # the program's earlier blocks
            dCv += tl.load(dC_ptr + pn, mask=mn & (sb > 0), other=0.0)
            tl.store(dB_ptr + pn, dBv, mask=mn)
            tl.store(dC_ptr + pn, dCv, mask=mn)
        tl.store(dA_ptr + (b * K * di + r[:, None]) * N + n[None, :], dA_acc, mask=m2)
        tl.store(dD_ptr + b * K * di + r, dD_acc, mask=dmask & HAS_D)
        tl.store(dbias_ptr + b * K * di + r, dbias_acc, mask=dmask & HAS_BIAS)
        tl.store(
            dW_ptr + (b * K * di + r[:, None]) * R + qr[None, :], dW_acc, mask=dmask[:, None] & qmask[None, :] & DT_PROJ
        )
        tl.debug_barrier()  # block sb's partial stores are visible before block sb + 1 reads them


# The backward's grid has at most BWD_OUTER programs per (batch, direction) along the channels, each walking
# ceil(blocks / BWD_OUTER) channel blocks in turn: dB / dC partials are (≤ BWD_OUTER, Bsz, K, L, N) f32, not one
# per channel block (32 × that at di = 512, BLOCK_D = 16). Bsz·K·BWD_OUTER programs are plenty at B ≥ 16.
BWD_OUTER = 4


def _pow2(x: int) -> int:
    return 1 << max(0, (x - 1).bit_length())


def _check(u: Tensor, dt: Tensor, A: Tensor, Bm: Tensor, Cm: Tensor, perm: Tensor, dt_w: Tensor | None) -> None:
    Bsz, K, L, di = u.shape
    if u.stride(-1) != 1:
        raise ValueError(f"u must be (Bsz, K, L, di) with channel stride 1; got {tuple(u.shape)} stride {u.stride()}")
    if dt_w is None and (dt.shape != u.shape or dt.stride(-1) != 1):
        raise ValueError(
            f"dt must be (Bsz, K, L, di) = {tuple(u.shape)} with channel stride 1; got {tuple(dt.shape)} "
            f"stride {dt.stride()}"
        )
    if dt_w is not None and (dt.dim() != 4 or dt.shape[:3] != u.shape[:3] or dt_w.shape != (K * di, dt.shape[3])):
        raise ValueError(
            f"with dt_w, dt must be dt_low (Bsz, K, L, R) and dt_w (K·di, R); got {tuple(dt.shape)}, "
            f"{tuple(dt_w.shape)} for u {tuple(u.shape)}"
        )
    N = A.shape[1]
    if A.shape != (K * di, N) or Bm.shape != (Bsz, K, L, N) or Cm.shape != (Bsz, K, L, N):
        raise ValueError(
            f"A must be (K·di, N), B and C (Bsz, K, L, N): A {tuple(A.shape)}, B {tuple(Bm.shape)}, "
            f"C {tuple(Cm.shape)} for u {tuple(u.shape)}"
        )
    if perm.shape != (K, L):
        raise ValueError(f"perm must be (K, L) = {(K, L)}, got {tuple(perm.shape)}")


def _dt_args(dt: Tensor, dt_w: Tensor | None, dummy: Tensor):
    """(W tensor, R, BLOCK_R, dt strides (batch, direction, step, rank)) for the kernels."""
    if dt_w is None:
        return dummy, 1, 2, (*dt.stride()[:3], 1)
    R = dt_w.shape[1]
    return dt_w.contiguous(), R, max(2, _pow2(R)), dt.stride()


@torch.library.custom_op("mmamba::scan_merge_fwd", mutates_args=())
def scan_merge_fwd(
    u: Tensor,
    dt: Tensor,
    A: Tensor,
    Bm: Tensor,
    Cm: Tensor,
    D: Tensor | None,
    bias: Tensor | None,
    perm: Tensor,
    dt_w: Tensor | None,
    softplus: bool,
    save: bool,
    block_t: int,
    block_d: int,
    num_warps: int,
    block_d_bwd: int,
    num_warps_bwd: int,
    flat: bool,
) -> tuple[Tensor, Tensor]:
    """Forward kernel: (Y (Bsz, L, di) f32, ck (Bsz, K, nc, di, N) f32 — an empty (0,) tensor when not save).
    dt_w (K·di, R) given: dt is dt_low (Bsz, K, L, R) and the kernel forms dt = dt_low · dt_wᵀ itself."""
    _check(u, dt, A, Bm, Cm, perm, dt_w)
    Bsz, K, L, di = u.shape
    N = A.shape[1]
    nc = triton.cdiv(L, block_t)
    BLOCK_D = min(block_d, _pow2(di))
    Y = torch.empty(Bsz, L, di, device=u.device, dtype=torch.float32)
    ck = (
        torch.empty(Bsz, K, nc, di, N, device=u.device, dtype=torch.float32)
        if save
        else torch.empty(0, device=u.device, dtype=torch.float32)
    )
    A_c, perm_c = A.contiguous(), perm.contiguous()
    D_c = D.contiguous() if D is not None else A_c
    bias_c = bias.contiguous() if bias is not None else A_c
    W, R, BLOCK_R, dt_s = _dt_args(dt, dt_w, A_c)
    _scan_merge_fwd_kernel[(Bsz, triton.cdiv(di, BLOCK_D))](
        u,
        dt,
        bias_c,
        A_c,
        Bm,
        Cm,
        D_c,
        perm_c,
        Y,
        ck if save else Y,
        W,
        L,
        di,
        K,
        N,
        nc,
        R,
        u.stride(0),
        u.stride(1),
        u.stride(2),
        *dt_s,
        *Bm.stride(),
        *Cm.stride(),
        HAS_D=D is not None,
        HAS_BIAS=bias is not None,
        SOFTPLUS=softplus,
        SAVE=save,
        FLAT=flat,
        DT_PROJ=dt_w is not None,
        BLOCK_T=block_t,
        BLOCK_D=BLOCK_D,
        BLOCK_N=_pow2(N),
        BLOCK_R=BLOCK_R,
        num_warps=num_warps,
    )
    return Y, ck


@scan_merge_fwd.register_fake
def _(
    u, dt, A, Bm, Cm, D, bias, perm, dt_w, softplus, save, block_t, block_d, num_warps, block_d_bwd, num_warps_bwd, flat
):
    Bsz, K, L, di = u.shape
    N = A.shape[1]
    nc = -(-L // block_t)
    ck_shape = (Bsz, K, nc, di, N) if save else (0,)
    return u.new_empty(Bsz, L, di, dtype=torch.float32), u.new_empty(ck_shape, dtype=torch.float32)


@torch.library.custom_op("mmamba::scan_merge_bwd", mutates_args=())
def scan_merge_bwd(
    dY: Tensor,
    u: Tensor,
    dt: Tensor,
    A: Tensor,
    Bm: Tensor,
    Cm: Tensor,
    D: Tensor | None,
    bias: Tensor | None,
    perm: Tensor,
    dt_w: Tensor | None,
    ck: Tensor,
    softplus: bool,
    block_t: int,
    block_d: int,
    num_warps: int,
    flat: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Backward kernel: (du, d(dt), dA, dB, dC, dD, d(bias), d(dt_w)); d(dt) is d(dt_low) when dt_w is given;
    dD / d(bias) / d(dt_w) are empty (0,) when D / bias / dt_w is None."""
    Bsz, K, L, di = u.shape
    N = A.shape[1]
    nc = ck.shape[2]
    BLOCK_D = min(block_d, _pow2(di))
    nblk = triton.cdiv(di, BLOCK_D)
    sub = triton.cdiv(nblk, BWD_OUTER)  # channel blocks per program
    n_outer = triton.cdiv(nblk, sub)  # programs per (batch, direction) = dB / dC partials
    dev, f32 = u.device, torch.float32
    dY = dY.contiguous()
    A_c, perm_c = A.contiguous(), perm.contiguous()
    W, R, BLOCK_R, dt_s = _dt_args(dt, dt_w, A_c)
    du = torch.empty(Bsz, K, L, di, device=dev, dtype=u.dtype)
    ddt = (
        torch.empty(Bsz, K, L, di, device=dev, dtype=dt.dtype)
        if dt_w is None  # d(dt), or d(dt_low) partials
        else torch.empty(n_outer, Bsz, K, L, R, device=dev, dtype=f32)
    )
    dA = torch.empty(Bsz, K * di, N, device=dev, dtype=f32)
    dD = torch.empty(Bsz, K * di, device=dev, dtype=f32) if D is not None else dA
    dbias = torch.empty(Bsz, K * di, device=dev, dtype=f32) if bias is not None else dA
    dW = torch.empty(Bsz, K * di, R, device=dev, dtype=f32) if dt_w is not None else dA
    dB = torch.empty(n_outer, Bsz, K, L, N, device=dev, dtype=f32)
    dC = torch.empty(n_outer, Bsz, K, L, N, device=dev, dtype=f32)
    D_c = D.contiguous() if D is not None else A_c
    bias_c = bias.contiguous() if bias is not None else A_c
    _scan_merge_bwd_kernel[(Bsz * K, n_outer)](
        u,
        dt,
        bias_c,
        A_c,
        Bm,
        Cm,
        D_c,
        perm_c,
        dY,
        ck,
        W,
        du,
        ddt,
        dA,
        dD,
        dbias,
        dB,
        dC,
        dW,
        L,
        di,
        K,
        N,
        nc,
        Bsz,
        sub,
        R,
        u.stride(0),
        u.stride(1),
        u.stride(2),
        *dt_s,
        *Bm.stride(),
        *Cm.stride(),
        HAS_D=D is not None,
        HAS_BIAS=bias is not None,
        SOFTPLUS=softplus,
        FLAT=flat,
        DT_PROJ=dt_w is not None,
        BLOCK_T=block_t,
        BLOCK_D=BLOCK_D,
        BLOCK_N=_pow2(N),
        BLOCK_R=BLOCK_R,
        num_warps=num_warps,
    )
    dB = dB.sum(0) if n_outer > 1 else dB[0]
    dC = dC.sum(0) if n_outer > 1 else dC[0]
    empty = torch.empty(0, device=dev, dtype=f32)
    if dt_w is not None:
        ddt = (ddt.sum(0) if n_outer > 1 else ddt[0]).to(dt.dtype)
    return (
        du,
        ddt,
        dA.sum(0).to(A.dtype),
        dB.to(Bm.dtype),
        dC.to(Cm.dtype),
        dD.sum(0).to(D.dtype) if D is not None else empty,
        dbias.sum(0).to(bias.dtype) if bias is not None else empty,
        dW.sum(0).to(dt_w.dtype) if dt_w is not None else empty,
    )


@scan_merge_bwd.register_fake
def _(dY, u, dt, A, Bm, Cm, D, bias, perm, dt_w, ck, softplus, block_t, block_d, num_warps, flat):
    Bsz, K, L, di = u.shape
    empty = u.new_empty(0, dtype=torch.float32)
    return (
        u.new_empty(u.shape),
        dt.new_empty(dt.shape),
        A.new_empty(A.shape),
        Bm.new_empty(Bsz, K, L, A.shape[1]),
        Cm.new_empty(Bsz, K, L, A.shape[1]),
        D.new_empty(D.shape) if D is not None else empty,
        bias.new_empty(bias.shape) if bias is not None else empty,
        dt_w.new_empty(dt_w.shape) if dt_w is not None else empty,
    )


def _setup_context(ctx, inputs, output):
    (
        u,
        dt,
        A,
        Bm,
        Cm,
        D,
        bias,
        perm,
        dt_w,
        softplus,
        save,
        block_t,
        block_d,
        num_warps,
        block_d_bwd,
        num_warps_bwd,
        flat,
    ) = inputs
    ctx.save_for_backward(u, dt, A, Bm, Cm, D, bias, perm, dt_w, output[1])
    ctx.cfg = (softplus, block_t, block_d_bwd, num_warps_bwd, flat)


def _backward(ctx, dY, dck):
    u, dt, A, Bm, Cm, D, bias, perm, dt_w, ck = ctx.saved_tensors
    softplus, block_t, block_d, num_warps, flat = ctx.cfg
    if ck.numel() == 0:
        raise RuntimeError("scan_merge_fwd ran with save=False; call it with save=True to differentiate")
    du, ddt, dA, dB, dC, dD, dbias, dW = scan_merge_bwd(
        dY, u, dt, A, Bm, Cm, D, bias, perm, dt_w, ck, softplus, block_t, block_d, num_warps, flat
    )
    return (
        du,
        ddt,
        dA,
        dB,
        dC,
        dD if D is not None else None,
        dbias if bias is not None else None,
        None,
        dW if dt_w is not None else None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    )


scan_merge_fwd.register_autograd(_backward, setup_context=_setup_context)


def scan_merge_triton(
    u: Tensor,
    dt: Tensor,
    A: Tensor,
    Bm: Tensor,
    Cm: Tensor,
    D: Tensor | None,
    perm: Tensor,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = True,
    block_t: int = 16,
    block_d: int = 16,
    num_warps: int = 4,
    block_d_bwd: int | None = None,
    num_warps_bwd: int | None = None,
    flat: bool = False,
    dt_w: Tensor | None = None,
) -> Tensor:
    """Y (Bsz, L, di) float32 = Σ_k (selective scan of direction k) read back at inv[k] (see the module docstring).
    block_t (power of two): chunk length; block_d (power of two) channels per program and num_warps of the forward;
    block_d_bwd / num_warps_bwd those of the backward (default: the forward's); flat: 2-D in-chunk scans.
    dt_w (K·di, R): dt is then dt_low (Bsz, K, L, R) (any strides) and dt = dt_low · dt_wᵀ is formed in the kernels
    (dt_proj fused: no (Bsz, K, L, di) dt tensor in either direction)."""
    block_d_bwd = block_d if block_d_bwd is None else block_d_bwd
    num_warps_bwd = num_warps if num_warps_bwd is None else num_warps_bwd
    if any(v <= 0 or v & (v - 1) for v in (block_t, block_d, block_d_bwd)):
        raise ValueError(f"block_t ({block_t}), block_d ({block_d}, {block_d_bwd}) must be powers of two")
    save = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (u, dt, A, Bm, Cm, D, delta_bias, dt_w)
    )
    with torch.autocast(device_type=u.device.type, enabled=False):
        Y, _ = scan_merge_fwd(
            u,
            dt,
            A,
            Bm,
            Cm,
            D,
            delta_bias,
            perm,
            dt_w,
            delta_softplus,
            save,
            block_t,
            block_d,
            num_warps,
            block_d_bwd,
            num_warps_bwd,
            flat,
        )
    return Y
