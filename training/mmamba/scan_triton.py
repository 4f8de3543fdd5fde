"""Triton selective scan (Mamba S6) with a hand-written backward, as torch.library custom ops (split_scan_fwd /
split_scan_bwd, with fake implementations and registered autograd, so torch.compile traces them as opaque nodes;
entry point `selective_scan_triton`; use_triton=False runs the ops' PyTorch fallback, scan.selective_scan_fast).

Semantics are exactly those of `scan.selective_scan_ref` (sequential reference, after Mamba's
`selective_scan_ref`, Gu & Dao 2023). The optional `y · SiLU(z)` gate stays in plain
PyTorch (autograd differentiates it); the kernels do Δ = softplus(delta + delta_bias) and the recurrence
    h_t = exp(Δ_t·A) ⊙ h_{t-1} + Δ_t·u_t·B_t          (state h: (di, N), float32)
    y_t = Σ_n C_t ⊙ h_t + D·u_t

Layout: u, delta are (Bsz, G, dg, L) with ANY strides (mmamba.py passes transposed views of channels-last
(Bsz, K, L, di) buffers, so a step's channel vector is one contiguous load); (Bsz, Dt, L) inputs are viewed
as G groups. Δ = softplus(delta + delta_bias) is formed in the kernels, in f32, and never stored; the
backward returns d(delta) through it and d(delta_bias). y, du, d(delta) keep u's layout (when dense) and
dtype, so no transposes or casts follow.
    A: (Dt, N) with Dt = G·dg;  D, delta_bias: (Dt,) or None
    B, C: (Bsz, N, L) or grouped (Bsz, G, N, L), any strides — channel block g uses group g
Grid: (Bsz·G, ceil(dg / BLOCK_D)) with dg = Dt / G, so one program's channels share one group and B_t, C_t
are (N,) vector loads. Each program keeps its (BLOCK_D, N) state in registers and loops over L.

Backward memory: the forward saves the state entering every CHUNK-th step, ckpt (Bsz, G, dg, nc, N) f32
with nc = ceil(L / CHUNK) (1/CHUNK of the full (Bsz, Dt, L, N) history). The backward walks chunks in
reverse and recomputes a chunk's states from its checkpoint, in one of these kernels (bwd= / MMAMBA_SPLIT_BWD):
  - 'registers' (_scan_bwd_reg_kernel): each chunk as CHUNK / T sub-chunks; a sub-chunk's T states
    stay on chip, in a tuple of register tiles built by an unrolled loop (tl.static_range); no scratch;
  - 'scratch' (the default, _scan_bwd_kernel): the CHUNK states go to a small per-program global scratch
    (CHUNK, BLOCK_D, N) f32 (L2-resident) and are read back.
Both run the same reverse recurrence over the steps:
    dh_t += dy_t·C_t;  da_t = dh_t ⊙ h_{t-1}   (a_t = exp(Δ_t A))
    dΔ_t = Σ_n da_t a_t A + u_t Σ_n dh_t B_t;   dA += da_t a_t Δ_t
    du_t = Δ_t Σ_n dh_t B_t + D dy_t;           dD += dy_t u_t
    dB_t = Σ_d dh_t Δ_t u_t;  dC_t = Σ_d dy_t h_t   (per-channel-block partials, summed in PyTorch)
    dh_{t-1} = dh_t ⊙ a_t
dA, dD, d(delta_bias) are per-batch partials summed afterwards (deterministic; no atomics).
Steps past L (padding of the last chunk) are computed with Δ = u = B = C = dy = 0, i.e. a no-op.
"""

from __future__ import annotations

import math
import os

import torch
import torch.nn.functional as F
import triton
import triton.language as tl

from .scan_ref import selective_scan_fast
from .scan_steps_triton import _delta_at

Tensor = torch.Tensor

BWD_KINDS = ("registers", "scratch")  # the backward kernels (MMAMBA_SPLIT_BWD picks one)
DEFAULT_BWD = "scratch"  # the kernel checked and timed on the H200; "registers" waits for speed.sh


@triton.jit
def _fwd_step(
    h,
    t,
    L,
    dl,
    n,
    dmask,
    nmask,
    A,
    Dv,
    bias,
    u_base,
    s_ul,
    dt_base,
    s_dl,
    B_base,
    s_Bl,
    C_base,
    s_Cl,
    y_base,
    s_yl,
    HAS_BIAS: tl.constexpr,
    SOFTPLUS: tl.constexpr,
):
    """One forward step t: h_t = exp(Δ_t A) h_{t-1} + Δ_t u_t B_t, store y_t = Σ_n C_t h_t + D u_t; returns h_t.
    Steps t ≥ L are no-ops (Δ = u = B = 0) and store nothing."""
    tvd = (dl * 0 + t) < L  # step t is real (t < L), as channel / state masks:
    tvn = (n * 0 + t) < L  # full-shape compares (a scalar & vector mask is not bool in the interpreter)
    uv = tl.load(u_base + t * s_ul, mask=dmask & tvd, other=0.0).to(tl.float32)  # (BLOCK_D,)
    _, dtv = _delta_at(dt_base, t, s_dl, dmask & tvd, bias, HAS_BIAS, SOFTPLUS)  # (BLOCK_D,)
    Bv = tl.load(B_base + t * s_Bl, mask=nmask & tvn, other=0.0).to(tl.float32)  # (BLOCK_N,)
    Cv = tl.load(C_base + t * s_Cl, mask=nmask & tvn, other=0.0).to(tl.float32)  # (BLOCK_N,)
    a = tl.exp(dtv[:, None] * A)
    h = a * h + (dtv * uv)[:, None] * Bv[None, :]
    yv = tl.sum(h * Cv[None, :], axis=1) + Dv * uv  # (BLOCK_D,)
    tl.store(y_base + t * s_yl, yv, mask=dmask & tvd)
    return h


@triton.jit
def _scan_fwd_kernel(
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
    N,
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
    s_Bl,  # B strides (batch, group, state, time)
    s_Cb,
    s_Cg,
    s_Cn,
    s_Cl,  # C strides
    s_yb,
    s_yg,
    s_yd,
    s_yl,  # y strides
    HAS_D: tl.constexpr,
    HAS_BIAS: tl.constexpr,
    SOFTPLUS: tl.constexpr,
    SAVE: tl.constexpr,
    BLOCK_D: tl.constexpr,
    BLOCK_N: tl.constexpr,
    CHUNK: tl.constexpr,
    UNROLL: tl.constexpr = False,
):
    pid_bg = tl.program_id(0).to(tl.int64)
    pid_d = tl.program_id(1)
    b = pid_bg // G
    g = pid_bg % G
    dl = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)  # (BLOCK_D,) channel within group
    dmask = dl < dg
    d = g * dg + dl  # (BLOCK_D,) global channel (A, D, bias rows)
    n = tl.arange(0, BLOCK_N)
    nmask = n < N
    m2 = dmask[:, None] & nmask[None, :]
    A = tl.load(A_ptr + d[:, None] * N + n[None, :], mask=m2, other=0.0).to(tl.float32)  # (BLOCK_D, BLOCK_N)
    Dv = tl.load(D_ptr + d, mask=dmask & HAS_D, other=0.0).to(tl.float32)
    bias = tl.load(bias_ptr + d, mask=dmask & HAS_BIAS, other=0.0).to(tl.float32)
    u_base = u_ptr + b * s_ub + g * s_ug + dl * s_ud
    dt_base = dt_ptr + b * s_db + g * s_dg + dl * s_dd
    B_base = B_ptr + b * s_Bb + g * s_Bg + n * s_Bn
    C_base = C_ptr + b * s_Cb + g * s_Cg + n * s_Cn
    y_base = y_ptr + b * s_yb + g * s_yg + dl * s_yd
    ck_base = ck_ptr + ((pid_bg * dg + dl[:, None]) * nc) * N + n[None, :]  # ckpt: (Bsz, G, dg, nc, N)
    h = tl.zeros((BLOCK_D, BLOCK_N), dtype=tl.float32)
    for c in range(nc):
        if SAVE:
            tl.store(ck_base + c * N, h, mask=m2)
        if UNROLL:  # the chunk's steps unrolled: the compiler may issue later steps' loads early
            for s in tl.static_range(CHUNK):
                h = _fwd_step(
                    h,
                    c * CHUNK + s,
                    L,
                    dl,
                    n,
                    dmask,
                    nmask,
                    A,
                    Dv,
                    bias,
                    u_base,
                    s_ul,
                    dt_base,
                    s_dl,
                    B_base,
                    s_Bl,
                    C_base,
                    s_Cl,
                    y_base,
                    s_yl,
                    HAS_BIAS,
                    SOFTPLUS,
                )
        else:
            for s in range(CHUNK):
                h = _fwd_step(
                    h,
                    c * CHUNK + s,
                    L,
                    dl,
                    n,
                    dmask,
                    nmask,
                    A,
                    Dv,
                    bias,
                    u_base,
                    s_ul,
                    dt_base,
                    s_dl,
                    B_base,
                    s_Bl,
                    C_base,
                    s_Cl,
                    y_base,
                    s_yl,
                    HAS_BIAS,
                    SOFTPLUS,
                )


@triton.jit
def _scan_bwd_kernel(
    u_ptr,
    dt_ptr,
    bias_ptr,
    A_ptr,
    B_ptr,
    C_ptr,
    D_ptr,
    dy_ptr,
    ck_ptr,
    scr_ptr,
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
    pid_bg = tl.program_id(0).to(tl.int64)
    pid_d = tl.program_id(1)
    nblk = tl.num_programs(1)
    b = pid_bg // G
    g = pid_bg % G
    dl = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
    dmask = dl < dg
    d = g * dg + dl
    n = tl.arange(0, BLOCK_N)
    nmask = n < N
    m2 = dmask[:, None] & nmask[None, :]
    dn = tl.arange(0, BLOCK_D)[:, None] * BLOCK_N + n[None, :]  # (BLOCK_D, BLOCK_N) scratch offsets
    A = tl.load(A_ptr + d[:, None] * N + n[None, :], mask=m2, other=0.0).to(tl.float32)
    Dv = tl.load(D_ptr + d, mask=dmask & HAS_D, other=0.0).to(tl.float32)
    bias = tl.load(bias_ptr + d, mask=dmask & HAS_BIAS, other=0.0).to(tl.float32)
    u_base = u_ptr + b * s_ub + g * s_ug + dl * s_ud
    dt_base = dt_ptr + b * s_db + g * s_dg + dl * s_dd
    dy_base = dy_ptr + b * s_yb + g * s_yg + dl * s_yd
    B_base = B_ptr + b * s_Bb + g * s_Bg + n * s_Bn
    C_base = C_ptr + b * s_Cb + g * s_Cg + n * s_Cn
    g_base = b * s_gb + g * s_gg + dl * s_gd
    ck_base = ck_ptr + ((pid_bg * dg + dl[:, None]) * nc) * N + n[None, :]
    scr_base = scr_ptr + (pid_bg * nblk + pid_d) * (CHUNK * BLOCK_D * BLOCK_N) + dn  # slot s: h_{t-1}
    # dB, dC partials: (nblk, Bsz, G, L, N) contiguous f32 (one contiguous N-vector per step)
    p_base = (((pid_d * Bsz + b) * G + g) * L) * N + n
    dh = tl.zeros((BLOCK_D, BLOCK_N), dtype=tl.float32)
    dA_acc = tl.zeros((BLOCK_D, BLOCK_N), dtype=tl.float32)
    dD_acc = tl.zeros((BLOCK_D,), dtype=tl.float32)
    dbias_acc = tl.zeros((BLOCK_D,), dtype=tl.float32)
    for ci in range(nc):
        c = nc - 1 - ci
        # 1) recompute the chunk's states; scratch slot s holds h_{t-1} for t = c·CHUNK + s
        h = tl.load(ck_base + c * N, mask=m2, other=0.0)
        for s in range(CHUNK):
            t = c * CHUNK + s
            tvd = (dl * 0 + t) < L  # step t is real (t < L), as channel / state masks:
            tvn = (n * 0 + t) < L  # full-shape compares (a scalar & vector mask is not bool in the interpreter)
            tl.store(scr_base + s * (BLOCK_D * BLOCK_N), h)
            uv = tl.load(u_base + t * s_ul, mask=dmask & tvd, other=0.0).to(tl.float32)
            _, dtv = _delta_at(dt_base, t, s_dl, dmask & tvd, bias, HAS_BIAS, SOFTPLUS)
            Bv = tl.load(B_base + t * s_Bl, mask=nmask & tvn, other=0.0).to(tl.float32)
            h = tl.exp(dtv[:, None] * A) * h + (dtv * uv)[:, None] * Bv[None, :]
        tl.debug_barrier()
        # 2) reverse over the chunk
        for si in range(CHUNK):
            s = CHUNK - 1 - si
            t = c * CHUNK + s
            tvd = (dl * 0 + t) < L  # step t is real (t < L), as channel / state masks:
            tvn = (n * 0 + t) < L  # full-shape compares (a scalar & vector mask is not bool in the interpreter)
            uv = tl.load(u_base + t * s_ul, mask=dmask & tvd, other=0.0).to(tl.float32)  # (BLOCK_D,)
            raw, dtv = _delta_at(dt_base, t, s_dl, dmask & tvd, bias, HAS_BIAS, SOFTPLUS)
            dyv = tl.load(dy_base + t * s_yl, mask=dmask & tvd, other=0.0).to(tl.float32)  # (BLOCK_D,)
            Bv = tl.load(B_base + t * s_Bl, mask=nmask & tvn, other=0.0).to(tl.float32)  # (BLOCK_N,)
            Cv = tl.load(C_base + t * s_Cl, mask=nmask & tvn, other=0.0).to(tl.float32)  # (BLOCK_N,)
            hp = tl.load(scr_base + s * (BLOCK_D * BLOCK_N))  # h_{t-1}
            a = tl.exp(dtv[:, None] * A)
            dtu = dtv * uv
            ht = a * hp + dtu[:, None] * Bv[None, :]  # h_t
            tl.store(dC_ptr + p_base + t * N, tl.sum(dyv[:, None] * ht, axis=0), mask=nmask & tvn)
            dh += dyv[:, None] * Cv[None, :]
            da = dh * hp * a  # ∂/∂(Δ_t A) through a_t
            dhB = tl.sum(dh * Bv[None, :], axis=1)  # (BLOCK_D,) Σ_n dh B
            ddt = tl.sum(da * A, axis=1) + uv * dhB  # ∂/∂Δ_t
            if SOFTPLUS:  # Δ = softplus(raw): ∂Δ/∂raw = sigmoid(raw)
                ddt = ddt / (1.0 + tl.exp(-tl.maximum(raw, -30.0)))
            dbias_acc += ddt
            dA_acc += da * dtv[:, None]
            tl.store(dB_ptr + p_base + t * N, tl.sum(dh * dtu[:, None], axis=0), mask=nmask & tvn)
            duv = dtv * dhB + Dv * dyv
            dD_acc += dyv * uv
            tl.store(du_ptr + g_base + t * s_gl, duv, mask=dmask & tvd)
            tl.store(ddt_ptr + g_base + t * s_gl, ddt, mask=dmask & tvd)
            dh = dh * a
        tl.debug_barrier()
    # per-batch partials: dA (Bsz, Dt, N), dD and d(delta_bias) (Bsz, Dt)
    tl.store(dA_ptr + (b * Dt + d[:, None]) * N + n[None, :], dA_acc, mask=m2)
    tl.store(dD_ptr + b * Dt + d, dD_acc, mask=dmask & HAS_D)
    tl.store(dbias_ptr + b * Dt + d, dbias_acc, mask=dmask & HAS_BIAS)


@triton.jit
def _scan_bwd_reg_kernel(
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
    T: tl.constexpr,
    PRELOAD: tl.constexpr = False,
):
    """The 'registers' backward: same math and outputs as _scan_bwd_kernel, but a chunk's CHUNK recomputed states
    stay on chip. A checkpoint chunk (CHUNK steps, the forward's) is walked in reverse as CHUNK / T sub-chunks of
    T steps; for sub-chunk j the state is advanced j·T steps from the saved chunk-start state (a cheap, storeless
    recompute), then both loops over its T steps are unrolled (tl.static_range): the states h_{t-1} entering each
    step are kept in a tuple of T (BLOCK_D, BLOCK_N) register tiles and read back in reverse. Nothing is written to
    a scratch buffer. Register cost: about T·BLOCK_D·BLOCK_N / (32·num_warps) floats per thread for the states plus
    a per-step overhead of the unrolled loops (tests/test_triton_aot.py checks the default launch set compiles for
    sm_90 without spills). T must divide CHUNK."""
    pid_bg = tl.program_id(0).to(tl.int64)
    pid_d = tl.program_id(1)
    b = pid_bg // G
    g = pid_bg % G
    dl = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
    dmask = dl < dg
    d = g * dg + dl
    n = tl.arange(0, BLOCK_N)
    nmask = n < N
    m2 = dmask[:, None] & nmask[None, :]
    A = tl.load(A_ptr + d[:, None] * N + n[None, :], mask=m2, other=0.0).to(tl.float32)
    Dv = tl.load(D_ptr + d, mask=dmask & HAS_D, other=0.0).to(tl.float32)
    bias = tl.load(bias_ptr + d, mask=dmask & HAS_BIAS, other=0.0).to(tl.float32)
    u_base = u_ptr + b * s_ub + g * s_ug + dl * s_ud
    dt_base = dt_ptr + b * s_db + g * s_dg + dl * s_dd
    dy_base = dy_ptr + b * s_yb + g * s_yg + dl * s_yd
    B_base = B_ptr + b * s_Bb + g * s_Bg + n * s_Bn
    C_base = C_ptr + b * s_Cb + g * s_Cg + n * s_Cn
    g_base = b * s_gb + g * s_gg + dl * s_gd
    ck_base = ck_ptr + ((pid_bg * dg + dl[:, None]) * nc) * N + n[None, :]
    # dB, dC partials: (nblk, Bsz, G, L, N) contiguous f32 (one contiguous N-vector per step)
    p_base = (((pid_d * Bsz + b) * G + g) * L) * N + n
    dh = tl.zeros((BLOCK_D, BLOCK_N), dtype=tl.float32)
    dA_acc = tl.zeros((BLOCK_D, BLOCK_N), dtype=tl.float32)
    dD_acc = tl.zeros((BLOCK_D,), dtype=tl.float32)
    dbias_acc = tl.zeros((BLOCK_D,), dtype=tl.float32)
    for q in range(nc * (CHUNK // T)):  # sub-chunks in reverse: c = chunk, j = sub-chunk in it
        c = (nc * (CHUNK // T) - 1 - q) // (CHUNK // T)
        j = (nc * (CHUNK // T) - 1 - q) % (CHUNK // T)
        # 1) the state entering the sub-chunk: the saved chunk-start state advanced j·T steps
        h = tl.load(ck_base + c * N, mask=m2, other=0.0)
        for s in range(j * T):
            t = c * CHUNK + s
            tvd = (dl * 0 + t) < L
            tvn = (n * 0 + t) < L
            uv = tl.load(u_base + t * s_ul, mask=dmask & tvd, other=0.0).to(tl.float32)
            _, dtv = _delta_at(dt_base, t, s_dl, dmask & tvd, bias, HAS_BIAS, SOFTPLUS)
            Bv = tl.load(B_base + t * s_Bl, mask=nmask & tvn, other=0.0).to(tl.float32)
            h = tl.exp(dtv[:, None] * A) * h + (dtv * uv)[:, None] * Bv[None, :]
        # 2) recompute the sub-chunk's states into registers: hs[s] = h_{t-1} for t = c·CHUNK + j·T + s
        #    (PRELOAD: also keep every step's inputs, and load dy_t, C_t here, so all of the sub-chunk's loads come
        #    before its first store and the reverse loop below loads nothing)
        hs = ()
        us, raws, dts, dys, Bs, Cs = (), (), (), (), (), ()
        for s in tl.static_range(T):
            t = c * CHUNK + j * T + s
            tvd = (dl * 0 + t) < L  # step t is real (t < L), as channel / state masks:
            tvn = (n * 0 + t) < L  # full-shape compares (a scalar & vector mask is not bool in the interpreter)
            hs = hs + (h,)
            uv = tl.load(u_base + t * s_ul, mask=dmask & tvd, other=0.0).to(tl.float32)
            raw, dtv = _delta_at(dt_base, t, s_dl, dmask & tvd, bias, HAS_BIAS, SOFTPLUS)
            Bv = tl.load(B_base + t * s_Bl, mask=nmask & tvn, other=0.0).to(tl.float32)
            if PRELOAD:
                us, raws, dts, Bs = us + (uv,), raws + (raw,), dts + (dtv,), Bs + (Bv,)
                dys = dys + (tl.load(dy_base + t * s_yl, mask=dmask & tvd, other=0.0).to(tl.float32),)
                Cs = Cs + (tl.load(C_base + t * s_Cl, mask=nmask & tvn, other=0.0).to(tl.float32),)
            h = tl.exp(dtv[:, None] * A) * h + (dtv * uv)[:, None] * Bv[None, :]
        # 3) reverse over the sub-chunk (the same per-step arithmetic as _scan_bwd_kernel)
        for s in tl.static_range(T - 1, -1, -1):
            t = c * CHUNK + j * T + s
            tvd = (dl * 0 + t) < L  # step t is real (t < L), as channel / state masks:
            tvn = (n * 0 + t) < L  # full-shape compares (a scalar & vector mask is not bool in the interpreter)
            if PRELOAD:
                uv, raw, dtv, dyv, Bv, Cv = us[s], raws[s], dts[s], dys[s], Bs[s], Cs[s]
            else:
                uv = tl.load(u_base + t * s_ul, mask=dmask & tvd, other=0.0).to(tl.float32)  # (BLOCK_D,)
                raw, dtv = _delta_at(dt_base, t, s_dl, dmask & tvd, bias, HAS_BIAS, SOFTPLUS)
                dyv = tl.load(dy_base + t * s_yl, mask=dmask & tvd, other=0.0).to(tl.float32)  # (BLOCK_D,)
                Bv = tl.load(B_base + t * s_Bl, mask=nmask & tvn, other=0.0).to(tl.float32)  # (BLOCK_N,)
                Cv = tl.load(C_base + t * s_Cl, mask=nmask & tvn, other=0.0).to(tl.float32)  # (BLOCK_N,)
            hp = hs[s]  # h_{t-1}
            a = tl.exp(dtv[:, None] * A)
            dtu = dtv * uv
            ht = a * hp + dtu[:, None] * Bv[None, :]  # h_t
            tl.store(dC_ptr + p_base + t * N, tl.sum(dyv[:, None] * ht, axis=0), mask=nmask & tvn)
            dh += dyv[:, None] * Cv[None, :]
            da = dh * hp * a  # ∂/∂(Δ_t A) through a_t
            dhB = tl.sum(dh * Bv[None, :], axis=1)  # (BLOCK_D,) Σ_n dh B
            ddt = tl.sum(da * A, axis=1) + uv * dhB  # ∂/∂Δ_t
            if SOFTPLUS:  # Δ = softplus(raw): ∂Δ/∂raw = sigmoid(raw)
                ddt = ddt / (1.0 + tl.exp(-tl.maximum(raw, -30.0)))
            dbias_acc += ddt
            dA_acc += da * dtv[:, None]
            tl.store(dB_ptr + p_base + t * N, tl.sum(dh * dtu[:, None], axis=0), mask=nmask & tvn)
            duv = dtv * dhB + Dv * dyv
            dD_acc += dyv * uv
            tl.store(du_ptr + g_base + t * s_gl, duv, mask=dmask & tvd)
            tl.store(ddt_ptr + g_base + t * s_gl, ddt, mask=dmask & tvd)
            dh = dh * a
    # per-batch partials: dA (Bsz, Dt, N), dD and d(delta_bias) (Bsz, Dt)
    tl.store(dA_ptr + (b * Dt + d[:, None]) * N + n[None, :], dA_acc, mask=m2)
    tl.store(dD_ptr + b * Dt + d, dD_acc, mask=dmask & HAS_D)
    tl.store(dbias_ptr + b * Dt + d, dbias_acc, mask=dmask & HAS_BIAS)


def bwd_tuning() -> tuple[int, int, int, int]:
    """(channels per program, warps, steps kept in registers, preload 0/1) of the 'registers' backward:
    MMAMBA_SCAN_BWD_{BLOCK_D,WARPS,T,PRELOAD} or the defaults, chosen so the states fit in registers without
    spills at N = 16 (tests/test_triton_aot.py compiles the default set for sm_90)."""
    env = os.environ
    return (
        int(env.get("MMAMBA_SCAN_BWD_BLOCK_D", 32)),
        int(env.get("MMAMBA_SCAN_BWD_WARPS", 4)),
        int(env.get("MMAMBA_SCAN_BWD_T", 8)),
        int(env.get("MMAMBA_SCAN_BWD_PRELOAD", 0)),
    )


def _grouped(M: Tensor) -> Tensor:
    """(Bsz, N, L) -> (Bsz, 1, N, L) view; (Bsz, G, N, L) unchanged."""
    return M.unsqueeze(1) if M.dim() == 3 else M


def _pow2(x: int) -> int:
    return 1 << max(0, (x - 1).bit_length())


def _like(x: Tensor, dtype: torch.dtype) -> Tensor:
    """Uninitialised tensor shaped like x, with x's strides when x is dense (so a channels-last input gets a
    channels-last output), contiguous otherwise."""
    return torch.empty_like(x, dtype=dtype)


# ---- the split scan as torch.library custom ops (opaque to torch.compile; fake implementations give the shapes) --
# use_triton=False runs the same op through its PyTorch fallback (scan.selective_scan_fast forward; the vjp of it,
# recomputed, backward): what the dispatcher scan.selective_scan picks for CPU and float64 tensors, so the ops and
# their fakes are traced and tested on CPU (the Triton interpreter runs the kernels on CPU with use_triton=True).
# Outputs have the same layouts on both routes and in the fakes (Inductor relies on the fakes' strides): y like u, ck
# (Bsz, G, dg, nc, N) f32 (an empty (0,) when not saved), dB / dC as (Bsz, G, L, N) buffers viewed as (Bsz, G, N, L), dD
# / d(bias) empty (0,) when D / bias is None.


def _ck_shape(u: Tensor, N: int, chunk: int, keep: bool) -> tuple:
    Bsz, G, dg, L = u.shape
    return (Bsz, G, dg, -(-L // chunk), N) if keep else (0,)


def _grad_buffers(
    u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | None, bias: Tensor | None
) -> tuple:
    """Uninitialised (du, d(delta), dA, dB, dC, dD, d(bias)) in the backward op's output layouts."""
    Bsz, G, dg, L = u.shape
    N = A.shape[1]
    du = _like(u, u.dtype)
    return (
        du,
        torch.empty_strided(du.shape, du.stride(), device=u.device, dtype=delta.dtype),
        A.new_empty(A.shape),
        B.new_empty(Bsz, G, L, N).transpose(2, 3),
        C.new_empty(Bsz, G, L, N).transpose(2, 3),
        *(t.new_empty(t.shape) if t is not None else u.new_empty(0, dtype=torch.float32) for t in (D, bias)),
    )


def _fast_scan(u, delta, A, B, C, D, bias, softplus):
    return selective_scan_fast(u, delta, A, B, C, D=D, delta_bias=bias, delta_softplus=softplus)


@torch.library.custom_op("mmamba::split_scan_fwd", mutates_args=())
def split_scan_fwd(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None,
    bias: Tensor | None,
    softplus: bool,
    out_dtype: torch.dtype,
    save: bool,
    use_triton: bool,
    block_d: int,
    chunk: int,
    num_warps: int,
    unroll: bool,
    bwd: str,
    bwd_block_d: int,
    bwd_warps: int,
    bwd_t: int,
    bwd_preload: bool,
) -> tuple[Tensor, Tensor]:
    """(y, ck): y (Bsz, G, dg, L) like u in out_dtype; ck the states saved for the backward kernel (use_triton and
    save), else empty. u, delta (Bsz, G, dg, L) any strides; A (Dt, N); B, C (Bsz, G, N, L); D, bias (Dt,).
    The bwd* arguments are the backward's launch set (split_scan_bwd), carried here for autograd."""
    Bsz, G, dg, L = u.shape
    Dt, N = A.shape
    assert delta.shape == u.shape and Dt == G * dg, "u/delta must be (Bsz, G, dg, L) with G·dg = A rows"
    assert B.shape == (Bsz, G, N, L) and C.shape == (Bsz, G, N, L)
    y = _like(u, out_dtype)
    if not use_triton:
        y.copy_(_fast_scan(u, delta, A, B, C, D, bias, softplus))
        return y, u.new_empty(0, dtype=torch.float32)
    BLOCK_D = min(block_d, _pow2(dg))
    nc = triton.cdiv(L, chunk)
    A_c = A.contiguous()
    D_c = D.contiguous() if D is not None else A_c
    bias_c = bias.contiguous() if bias is not None else A_c
    ck = torch.empty(_ck_shape(u, N, chunk, save), device=u.device, dtype=torch.float32)
    _scan_fwd_kernel[(Bsz * G, triton.cdiv(dg, BLOCK_D))](
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
        N,
        nc,
        *u.stride(),
        *delta.stride(),
        *B.stride(),
        *C.stride(),
        *y.stride(),
        HAS_D=D is not None,
        HAS_BIAS=bias is not None,
        SOFTPLUS=softplus,
        SAVE=save,
        BLOCK_D=BLOCK_D,
        BLOCK_N=_pow2(N),
        CHUNK=chunk,
        UNROLL=unroll,
        num_warps=num_warps,
    )
    return y, ck


@split_scan_fwd.register_fake
def _(u, delta, A, B, C, D, bias, softplus, out_dtype, save, use_triton, block_d, chunk, num_warps, unroll, *bwd_cfg):
    return (
        torch.empty_like(u, dtype=out_dtype),
        u.new_empty(_ck_shape(u, A.shape[1], chunk, save and use_triton), dtype=torch.float32),
    )


@torch.library.custom_op("mmamba::split_scan_bwd", mutates_args=())
def split_scan_bwd(
    dy: Tensor,
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None,
    bias: Tensor | None,
    ck: Tensor,
    softplus: bool,
    use_triton: bool,
    block_d: int,
    chunk: int,
    num_warps: int,
    bwd: str,
    bwd_block_d: int,
    bwd_warps: int,
    bwd_t: int,
    bwd_preload: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """(du, d(delta), dA, dB, dC, dD, d(bias)) of split_scan_fwd's y for the cotangent dy; gradients have their
    inputs' dtypes. bwd picks the kernel ('registers', with its own bwd_block_d / bwd_warps, or
    'scratch')."""
    outs = _grad_buffers(u, delta, A, B, C, D, bias)
    if not use_triton:  # the vjp of the chunked PyTorch scan, recomputed here
        ins = (u, delta, A, B, C, D, bias)  # (torch.func: plain autograd is switched off inside an op's kernel)
        live = [i for i, t in enumerate(ins) if t is not None]

        def scan(*xs):
            full = list(ins)
            for i, x in zip(live, xs):
                full[i] = x
            return _fast_scan(*full, softplus)

        _, vjp = torch.func.vjp(scan, *(ins[i] for i in live))
        for i, g in zip(live, vjp(dy.to(u.dtype))):
            outs[i].copy_(g)
        return outs
    Bsz, G, dg, L = u.shape
    BLOCK_D, BLOCK_N = min(block_d, _pow2(dg)), _pow2(A.shape[1])
    if bwd == "registers":  # its own channel block / warps (the checkpoint layout is per channel)
        BLOCK_D, num_warps = min(bwd_block_d, _pow2(dg)), bwd_warps
    Dt, N = A.shape
    nc = ck.shape[3]
    nblk = triton.cdiv(dg, BLOCK_D)
    dev, f32 = u.device, torch.float32
    du, ddt = outs[0], outs[1]
    dA = torch.empty(Bsz, Dt, N, device=dev, dtype=f32)
    dD = torch.empty(Bsz, Dt, device=dev, dtype=f32) if D is not None else dA
    dbias = torch.empty(Bsz, Dt, device=dev, dtype=f32) if bias is not None else dA
    dB = torch.empty(nblk, Bsz, G, L, N, device=dev, dtype=f32)
    dC = torch.empty(nblk, Bsz, G, L, N, device=dev, dtype=f32)
    A_c = A.contiguous()
    args = (
        u,
        delta,
        bias.contiguous() if bias is not None else A_c,
        A_c,
        B,
        C,
        D.contiguous() if D is not None else A_c,
        dy,
        ck,
    )
    grads = (
        du,
        ddt,
        dA,
        dD,
        dbias,
        dB,
        dC,
        L,
        Dt,
        dg,
        G,
        N,
        nc,
        Bsz,
        *u.stride(),
        *delta.stride(),
        *B.stride(),
        *C.stride(),
        *dy.stride(),
        *du.stride(),
    )
    consts = dict(
        HAS_D=D is not None,
        HAS_BIAS=bias is not None,
        SOFTPLUS=softplus,
        BLOCK_D=BLOCK_D,
        BLOCK_N=BLOCK_N,
        CHUNK=chunk,
        num_warps=num_warps,
    )
    if bwd == "registers":
        _scan_bwd_reg_kernel[(Bsz * G, nblk)](*args, *grads, **consts, T=math.gcd(bwd_t, chunk), PRELOAD=bwd_preload)
    else:
        scr = torch.empty(Bsz * G * nblk, chunk, BLOCK_D, BLOCK_N, device=dev, dtype=f32)
        _scan_bwd_kernel[(Bsz * G, nblk)](*args, scr, *grads, **consts)
    dB = (dB.sum(0) if nblk > 1 else dB[0]).transpose(2, 3)  # (Bsz, G, N, L) view
    dC = (dC.sum(0) if nblk > 1 else dC[0]).transpose(2, 3)
    return (
        du,
        ddt,
        dA.sum(0).to(A.dtype),
        dB.to(B.dtype),
        dC.to(C.dtype),
        dD.sum(0).to(D.dtype) if D is not None else outs[5],
        dbias.sum(0).to(bias.dtype) if bias is not None else outs[6],
    )


@split_scan_bwd.register_fake
def _(
    dy,
    u,
    delta,
    A,
    B,
    C,
    D,
    bias,
    ck,
    softplus,
    use_triton,
    block_d,
    chunk,
    num_warps,
    bwd,
    bwd_block_d,
    bwd_warps,
    bwd_t,
    bwd_preload,
):
    return _grad_buffers(u, delta, A, B, C, D, bias)


def _scan_setup(ctx, inputs, output):
    (u, delta, A, B, C, D, bias, softplus, out_dtype, save, use_triton, block_d, chunk, num_warps, unroll, *bwd_cfg) = (
        inputs
    )
    ctx.save_for_backward(u, delta, A, B, C, D, bias, output[1])
    ctx.cfg = (softplus, use_triton, block_d, chunk, num_warps, *bwd_cfg)


def _scan_backward(ctx, dy, dck):
    u, delta, A, B, C, D, bias, ck = ctx.saved_tensors
    softplus, use_triton = ctx.cfg[:2]
    if use_triton and ck.numel() == 0:
        raise RuntimeError("split_scan_fwd ran with save=False; call it with save=True to differentiate")
    du, ddt, dA, dB, dC, dD, dbias = split_scan_bwd(dy, u, delta, A, B, C, D, bias, ck, *ctx.cfg)
    return (du, ddt, dA, dB, dC, dD if D is not None else None, dbias if bias is not None else None, *[None] * 13)


split_scan_fwd.register_autograd(_scan_backward, setup_context=_scan_setup)


def selective_scan_triton(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    z: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = True,
    block_d: int = 32,
    chunk: int = 16,
    num_warps: int = 4,
    bwd: str | None = None,
    bwd_block_d: int | None = None,
    bwd_warps: int | None = None,
    bwd_t: int | None = None,
    bwd_preload: bool | None = None,
    fwd_unroll: bool | None = None,
    use_triton: bool = True,
) -> Tensor:
    """Same signature and semantics as `scan.selective_scan_ref` (float32 state; output in u's dtype).
    u, delta, z: (Bsz, Dt, L), or grouped (Bsz, G, dg, L) views of any strides (e.g. channels-last buffers,
    whose layout the output and gradients keep); A: (Dt, N); B, C: (Bsz, N, L) or (Bsz, G, N, L);
    D, delta_bias: (Dt,). block_d (power of two) channels per program; chunk: steps between saved states.
    bwd: which backward kernel, 'registers' (_scan_bwd_reg_kernel: a chunk's states on chip, unrolled over T-step
    sub-chunks; its own bwd_block_d channels per program, bwd_warps, bwd_t steps kept in registers (rounded to a
    divisor of chunk with gcd) and bwd_preload (all of a sub-chunk's loads before its stores; more registers)) or
    'scratch' (_scan_bwd_kernel: states in a per-program global scratch, block_d / num_warps as the forward).
    None reads MMAMBA_SPLIT_BWD (default DEFAULT_BWD); None bwd_block_d / bwd_warps / bwd_t / bwd_preload read
    MMAMBA_SCAN_BWD_{BLOCK_D,WARPS,T,PRELOAD} (bwd_tuning()). All kinds compute the same gradients.
    fwd_unroll: the forward's chunk loop unrolled (tl.static_range), the same arithmetic; None reads
    MMAMBA_SCAN_FWD_UNROLL=1 (default off until measured). use_triton=False: the same custom ops run their PyTorch
    fallback (scan.selective_scan_fast), for CPU tensors when the Triton interpreter is off."""
    if fwd_unroll is None:
        fwd_unroll = os.environ.get("MMAMBA_SCAN_FWD_UNROLL", "0") == "1"
    env_bd, env_w, env_t, env_pre = bwd_tuning()
    bwd_block_d, bwd_warps, bwd_t = bwd_block_d or env_bd, bwd_warps or env_w, bwd_t or env_t
    bwd_preload = bool(env_pre if bwd_preload is None else bwd_preload)
    assert block_d & (block_d - 1) == 0, "block_d must be a power of two"
    assert bwd_block_d & (bwd_block_d - 1) == 0, "bwd_block_d must be a power of two"
    bwd = bwd if bwd is not None else os.environ.get("MMAMBA_SPLIT_BWD", DEFAULT_BWD)
    assert bwd in BWD_KINDS, f"backward kind must be one of {BWD_KINDS}, got {bwd!r} (MMAMBA_SPLIT_BWD)"
    dtype_in = u.dtype
    Bg, Cg = _grouped(B), _grouped(C)  # (Bsz, G, N, L) views
    G = Bg.shape[1]
    flat = u.dim() == 3
    u4 = u.unflatten(1, (G, -1)) if flat else u  # (Bsz, G, dg, L) views
    d4 = delta.unflatten(1, (G, -1)) if flat else delta
    with torch.autocast(device_type=u.device.type, enabled=False):
        out_dtype = torch.float32 if z is not None else dtype_in  # gate in f32, as the reference does
        save = torch.is_grad_enabled() and any(
            t is not None and t.requires_grad for t in (u4, d4, A, Bg, Cg, D, delta_bias)
        )
        y, _ = split_scan_fwd(
            u4,
            d4,
            A,
            Bg,
            Cg,
            D,
            delta_bias,
            delta_softplus,
            out_dtype,
            save,
            use_triton,
            block_d,
            chunk,
            num_warps,
            bool(fwd_unroll),
            bwd,
            bwd_block_d,
            bwd_warps,
            bwd_t,
            bwd_preload,
        )
        if z is not None:
            y = y * F.silu((z.unflatten(1, (G, -1)) if flat else z).float())
    y = y.flatten(1, 2) if flat else y
    return y.to(dtype_in)
