"""The split scan's 'parallel' kind (MMAMBA_SPLIT_BWD=parallel): at d_state N = 1 the selective scan is a scalar
first-order linear recurrence per channel,
    h_t = a_t h_{t-1} + b_t,   a_t = exp(Δ_t A),  b_t = Δ_t u_t B_t,   y_t = C_t h_t + D u_t,
so these kernels compute it in parallel over time with `tl.associative_scan` instead of one serial step at a time.
The combine of two steps is the composition of the affine maps x -> a x + b, (a1, b1) then (a2, b2) ->
(a1 a2, a2 b1 + b2); the inclusive scan of a chunk gives (P_t, S_t) with h_t = P_t h_in + S_t for the state h_in
entering the chunk.

Same semantics, layouts, dtypes and custom ops as scan_triton.py (this file holds only the kernels and their
launches; scan_triton.split_scan_fwd / split_scan_bwd call them when bwd == 'parallel', and the kind picks the
forward too, so the saved tensors are this forward's). Each program owns (batch, group, BLOCK_D channels) and walks
L in chunks of CHUNK steps (a power of two, a (BLOCK_D, CHUNK) register tile per operand), serially over the
ceil(L / CHUNK) chunks and in parallel within one; CHUNK >= L makes it one scan over the padded sequence. Padding
steps (t >= L) load Δ = u = B = C = dy = 0, i.e. a = 1, b = 0: no-ops.

Forward: per chunk, load u, Δ, B, C, scan, y = C h + D u; it saves the state entering every chunk (ck, as the
serial kernels' checkpoints, with the chunk CHUNK) when the backward will run.
Backward: chunks in reverse; per chunk h_t is re-derived from the saved chunk-entry state by the same forward scan,
then dh (the total gradient at h_t) by a reverse scan of
    dh_t = dy_t C_t + a_{t+1} dh_{t+1}
(elements (a_{t+1}, dy_t C_t), a_{t+1} from Δ loaded one step ahead; the chunk's carry is dh at its first step).
Then, elementwise:
    a_t h_{t-1} = h_t - b_t           (no shift of the h tile needed)
    da_t = dh_t a_t h_{t-1}   (∂/∂(Δ_t A));  dΔ_t = da_t A + u_t dh_t B_t;  dA += da_t Δ_t
    du_t = Δ_t dh_t B_t + D dy_t;  dD += dy_t u_t
    dB_t = Σ_d dh_t Δ_t u_t,  dC_t = Σ_d dy_t h_t   (per-channel-block partials, summed in PyTorch)
dA, dD, d(delta_bias) are per-batch partials, as in the serial backward. Using h_t - b_t for a_t h_{t-1} rounds
differently from the serial kernels' product (an absolute error of one ulp of h_t in that term); the tests hold it
to the same tolerance against the sequential reference.

Only N = 1: selective_scan_triton refuses the kind for N != 1 with a ValueError (it does not fall back to the
serial kernels, so a benchmark labelled 'parallel' never times another kernel). Any L (chunks carry the state).
The kernels' names contain _scan_fwd_kernel / _scan_bwd_kernel, so step_profile.py counts them as the mixer's.
"""

from __future__ import annotations

import os

import triton
import triton.language as tl

from .scan_steps_triton import _delta_at


def parallel_tuning() -> tuple[int, int, int, int, int]:
    """(channels per program, chunk, warps, backward channels per program, backward warps) of the parallel kind:
    MMAMBA_SCAN_PAR_{BLOCK_D,CHUNK,WARPS,BWD_BLOCK_D,BWD_WARPS} or these defaults, not yet timed on the H200
    (bench_scan.py --compare --sweep-lite-bwd times several sets). CHUNK and the blocks are powers of two. The
    defaults hold 4 elements of a tile per thread: compiled for sm_90 (Triton 3.9, bf16 activations) the forward
    uses 80 registers and the backward 111, no spills; at 16 per thread (32 x 64 on 4 warps) the backward spills.
    Chunk 16 divides the lite model's L = 272, so no step is padding."""
    env = os.environ
    return (
        int(env.get("MMAMBA_SCAN_PAR_BLOCK_D", 32)),
        int(env.get("MMAMBA_SCAN_PAR_CHUNK", 16)),
        int(env.get("MMAMBA_SCAN_PAR_WARPS", 4)),
        int(env.get("MMAMBA_SCAN_PAR_BWD_BLOCK_D", 32)),
        int(env.get("MMAMBA_SCAN_PAR_BWD_WARPS", 8)),
    )


@triton.jit
def _affine(a1, b1, a2, b2):
    """x -> a1 x + b1, then x -> a2 x + b2 (associative; the scan's combine)."""
    return a1 * a2, a2 * b1 + b2


@triton.jit
def _last(x, j, CHUNK: tl.constexpr):
    """Column CHUNK - 1 of a (BLOCK_D, CHUNK) tile, as (BLOCK_D,)."""
    return tl.sum(tl.where(j[None, :] == CHUNK - 1, x, 0.0), axis=1)


@triton.jit
def _par_scan_fwd_kernel(
    u_ptr,
    dt_ptr,
    bias_ptr,
    A_ptr,
    B_ptr,
    C_ptr,
    D_ptr,
    y_ptr,
    ck_ptr,
    L,
    dg,
    G,
    nc,
    s_ub,
    s_ug,
    s_ud,
    s_ul,  # u strides (batch, group, channel in group, time)
    s_db,
    s_dg,
    s_dd,
    s_dl,  # raw delta strides
    s_Bb,
    s_Bg,
    s_Bn,
    s_Bl,  # B strides (batch, group, state, time); N = 1, s_Bn unused
    s_Cb,
    s_Cg,
    s_Cn,
    s_Cl,
    s_yb,
    s_yg,
    s_yd,
    s_yl,
    HAS_D: tl.constexpr,
    HAS_BIAS: tl.constexpr,
    SOFTPLUS: tl.constexpr,
    SAVE: tl.constexpr,
    BLOCK_D: tl.constexpr,
    CHUNK: tl.constexpr,
):
    pid_bg = tl.program_id(0).to(tl.int64)
    pid_d = tl.program_id(1)
    b = pid_bg // G
    g = pid_bg % G
    dl = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)  # (BLOCK_D,) channel within group
    dmask = dl < dg
    d = g * dg + dl
    j = tl.arange(0, CHUNK)  # (CHUNK,) step within chunk
    A = tl.load(A_ptr + d, mask=dmask, other=0.0).to(tl.float32)  # A (Dt, 1)
    Dv = tl.load(D_ptr + d, mask=dmask & HAS_D, other=0.0).to(tl.float32)
    bias = tl.load(bias_ptr + d, mask=dmask & HAS_BIAS, other=0.0).to(tl.float32)
    u_base = u_ptr + b * s_ub + g * s_ug + dl[:, None] * s_ud  # (BLOCK_D, 1)
    dt_base = dt_ptr + b * s_db + g * s_dg + dl[:, None] * s_dd
    y_base = y_ptr + b * s_yb + g * s_yg + dl[:, None] * s_yd
    B_base = B_ptr + b * s_Bb + g * s_Bg
    C_base = C_ptr + b * s_Cb + g * s_Cg
    ck_base = ck_ptr + (pid_bg * dg + dl) * nc  # ckpt: (Bsz, G, dg, nc, 1)
    h = tl.zeros((BLOCK_D,), dtype=tl.float32)  # the state entering the chunk
    for c in range(nc):
        if SAVE:
            tl.store(ck_base + c, h, mask=dmask)
        t = c * CHUNK + j  # (CHUNK,)
        tv = t < L
        m = dmask[:, None] & tv[None, :]  # (BLOCK_D, CHUNK)
        uv = tl.load(u_base + t[None, :] * s_ul, mask=m, other=0.0).to(tl.float32)
        _, dtv = _delta_at(dt_base, t[None, :], s_dl, m, bias[:, None], HAS_BIAS, SOFTPLUS)
        Bv = tl.load(B_base + t * s_Bl, mask=tv, other=0.0).to(tl.float32)  # (CHUNK,)
        Cv = tl.load(C_base + t * s_Cl, mask=tv, other=0.0).to(tl.float32)
        a = tl.exp(dtv * A[:, None])
        P, S = tl.associative_scan((a, dtv * uv * Bv[None, :]), axis=1, combine_fn=_affine)
        hs = P * h[:, None] + S  # h_t
        tl.store(y_base + t[None, :] * s_yl, hs * Cv[None, :] + Dv[:, None] * uv, mask=m)
        h = _last(hs, j, CHUNK)


@triton.jit
def _par_scan_bwd_kernel(
    u_ptr,
    dt_ptr,
    bias_ptr,
    A_ptr,
    B_ptr,
    C_ptr,
    D_ptr,
    dy_ptr,
    ck_ptr,
    du_ptr,
    ddt_ptr,
    dA_ptr,
    dD_ptr,
    dbias_ptr,
    dB_ptr,
    dC_ptr,
    L,
    Dt,
    dg,
    G,
    N,
    nc,
    Bsz,
    s_ub,
    s_ug,
    s_ud,
    s_ul,
    s_db,
    s_dg,
    s_dd,
    s_dl,
    s_Bb,
    s_Bg,
    s_Bn,
    s_Bl,
    s_Cb,
    s_Cg,
    s_Cn,
    s_Cl,
    s_yb,
    s_yg,
    s_yd,
    s_yl,  # dy strides
    s_gb,
    s_gg,
    s_gd,
    s_gl,  # du / d(raw delta) strides (allocated alike)
    HAS_D: tl.constexpr,
    HAS_BIAS: tl.constexpr,
    SOFTPLUS: tl.constexpr,
    BLOCK_D: tl.constexpr,
    BLOCK_N: tl.constexpr,
    CHUNK: tl.constexpr,
):
    """Arguments as scan_triton._scan_bwd_reg_kernel's (the same launch code fills them); BLOCK_N must be 1."""
    tl.static_assert(BLOCK_N == 1, "the parallel scan is for d_state 1")
    pid_bg = tl.program_id(0).to(tl.int64)
    pid_d = tl.program_id(1)
    b = pid_bg // G
    g = pid_bg % G
    dl = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
    dmask = dl < dg
    d = g * dg + dl
    j = tl.arange(0, CHUNK)
    A = tl.load(A_ptr + d, mask=dmask, other=0.0).to(tl.float32)
    Dv = tl.load(D_ptr + d, mask=dmask & HAS_D, other=0.0).to(tl.float32)
    bias = tl.load(bias_ptr + d, mask=dmask & HAS_BIAS, other=0.0).to(tl.float32)
    u_base = u_ptr + b * s_ub + g * s_ug + dl[:, None] * s_ud
    dt_base = dt_ptr + b * s_db + g * s_dg + dl[:, None] * s_dd
    dy_base = dy_ptr + b * s_yb + g * s_yg + dl[:, None] * s_yd
    B_base = B_ptr + b * s_Bb + g * s_Bg
    C_base = C_ptr + b * s_Cb + g * s_Cg
    g_base = b * s_gb + g * s_gg + dl[:, None] * s_gd
    ck_base = ck_ptr + (pid_bg * dg + dl) * nc
    p_base = ((pid_d * Bsz + b) * G + g) * L  # dB, dC partials: (nblk, Bsz, G, L, 1) contiguous f32
    dh_next = tl.zeros((BLOCK_D,), dtype=tl.float32)  # dh at the first step of the chunk after this one
    dA_acc = tl.zeros((BLOCK_D,), dtype=tl.float32)
    dD_acc = tl.zeros((BLOCK_D,), dtype=tl.float32)
    dbias_acc = tl.zeros((BLOCK_D,), dtype=tl.float32)
    for ci in range(nc):
        c = nc - 1 - ci
        t = c * CHUNK + j
        tv = t < L
        m = dmask[:, None] & tv[None, :]
        uv = tl.load(u_base + t[None, :] * s_ul, mask=m, other=0.0).to(tl.float32)
        raw, dtv = _delta_at(dt_base, t[None, :], s_dl, m, bias[:, None], HAS_BIAS, SOFTPLUS)
        dyv = tl.load(dy_base + t[None, :] * s_yl, mask=m, other=0.0).to(tl.float32)
        Bv = tl.load(B_base + t * s_Bl, mask=tv, other=0.0).to(tl.float32)
        Cv = tl.load(C_base + t * s_Cl, mask=tv, other=0.0).to(tl.float32)
        # the chunk's states, from the state saved entering it
        h0 = tl.load(ck_base + c, mask=dmask, other=0.0)
        a = tl.exp(dtv * A[:, None])
        dtu = dtv * uv
        bt = dtu * Bv[None, :]
        P, S = tl.associative_scan((a, bt), axis=1, combine_fn=_affine)
        hs = P * h0[:, None] + S  # h_t
        # dh_t = dy_t C_t + a_{t+1} dh_{t+1}: reverse scan, a_{t+1} from Δ one step ahead (1 past the end)
        t1 = t + 1
        m1 = dmask[:, None] & (t1 < L)[None, :]
        _, dt1 = _delta_at(dt_base, t1[None, :], s_dl, m1, bias[:, None], HAS_BIAS, SOFTPLUS)
        Q, R = tl.associative_scan(
            (tl.exp(dt1 * A[:, None]), dyv * Cv[None, :]), axis=1, combine_fn=_affine, reverse=True
        )
        dh = Q * dh_next[:, None] + R
        dh_next = tl.sum(tl.where(j[None, :] == 0, dh, 0.0), axis=1)
        da = dh * (hs - bt)  # dh_t · a_t h_{t-1}
        dhB = dh * Bv[None, :]
        ddt = da * A[:, None] + uv * dhB  # ∂/∂Δ_t
        if SOFTPLUS:  # Δ = softplus(raw): ∂Δ/∂raw = sigmoid(raw)
            ddt = ddt / (1.0 + tl.exp(-tl.maximum(raw, -30.0)))
        ddt = tl.where(m, ddt, 0.0)
        dbias_acc += tl.sum(ddt, axis=1)
        dA_acc += tl.sum(da * dtv, axis=1)
        dD_acc += tl.sum(dyv * uv, axis=1)
        tl.store(du_ptr + g_base + t[None, :] * s_gl, dtv * dhB + Dv[:, None] * dyv, mask=m)
        tl.store(ddt_ptr + g_base + t[None, :] * s_gl, ddt, mask=m)
        tl.store(dB_ptr + p_base + t, tl.sum(dh * dtu, axis=0), mask=tv)
        tl.store(dC_ptr + p_base + t, tl.sum(dyv * hs, axis=0), mask=tv)
    # per-batch partials: dA (Bsz, Dt, 1), dD and d(delta_bias) (Bsz, Dt)
    tl.store(dA_ptr + b * Dt + d, dA_acc, mask=dmask)
    tl.store(dD_ptr + b * Dt + d, dD_acc, mask=dmask & HAS_D)
    tl.store(dbias_ptr + b * Dt + d, dbias_acc, mask=dmask & HAS_BIAS)


def parallel_fwd(
    u, delta, bias_c, A_c, B, C, D_c, y, ck, *, has_d, has_bias, softplus, save, block_d, chunk, num_warps
):
    """Launch the parallel forward: y (and ck when save) from the (Bsz, G, dg, L) views, as split_scan_fwd's
    serial launch (same argument roles; A_c, D_c, bias_c contiguous, placeholders when absent)."""
    Bsz, G, dg, L = u.shape
    _par_scan_fwd_kernel[(Bsz * G, triton.cdiv(dg, block_d))](
        u,
        delta,
        bias_c,
        A_c,
        B,
        C,
        D_c,
        y,
        ck if save else y,
        L,
        dg,
        G,
        triton.cdiv(L, chunk),
        *u.stride(),
        *delta.stride(),
        *B.stride(),
        *C.stride(),
        *y.stride(),
        HAS_D=has_d,
        HAS_BIAS=has_bias,
        SOFTPLUS=softplus,
        SAVE=save,
        BLOCK_D=block_d,
        CHUNK=chunk,
        num_warps=num_warps,
    )
