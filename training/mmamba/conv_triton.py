"""Triton causal depthwise conv1d + bias + SiLU over channels-last sequences, forward and backward.

x: (R, L, C) contiguous (R = Bsz·K rows of one scan direction each), weight (K, C, W), bias (K, C); row r uses
direction k = r % K. Causal: pre_t = bias + Σ_j w[j]·x_{t-(W-1)+j} (x_t = 0 for t < 0), y_t = SiLU(pre_t).
Same semantics as F.conv1d(F.pad(x, (W-1, 0)), groups=C) on the (C, L) layout, without any transpose: a
program owns a (BLOCK_L, BLOCK_C) tile whose loads are contiguous over channels.

Backward: g_t = ∂y_t · SiLU'(pre_t) with pre recomputed from x; dx_t = Σ_j w[j]·g_{t+(W-1)-j}; dw[j] = Σ_t g_t·
x_{t-(W-1)+j}, dbias = Σ_t g_t, as per-program partials summed in PyTorch (deterministic, no atomics). In scan
order, _conv_bwd_kernel owns a (BLOCK_L, BLOCK_C) tile of dx and recomputes g at each of the W shifts it needs,
every time from W shifted x loads: W² + W x loads, W gy loads and W sigmoids per element (the forward: W loads, one
sigmoid). Kernels that form g once per element (in a per-program scratch tile, or in a full g buffer read by a
second pass) were slower in the compiled training step on the H200 (docs/training.md "Training speed").
Forward and backward are torch.library custom ops (`conv_fwd` / `conv_bwd`, entry point
`causal_conv_silu_triton`) with fake implementations and registered autograd, so torch.compile traces the split
path; with use_triton=False they run the PyTorch reference instead (CPU and float64 tensors).

Gathered mode (`conv_silu_gather`, the cross-scan fused in): x is the un-permuted (Bsz, L, C) sequence (any
batch / row strides, channel stride 1, e.g. the x half of in_proj's output) and scan step t of direction k reads
row perm[k, t]; the output is (Bsz, K, L, C) as if x had first been copied by seq_ops.to_scans. The (Bsz, K, L, C)
input copy is never made (nor saved for backward). Its backward kernel owns tiles of x's positions p and sums
the directions' conv backwards at scan steps inv[k, p] (inv = perm⁻¹), so dx is written once, in x's layout.
"""

from __future__ import annotations

import os

import torch
import triton
import triton.language as tl

from .conv_ref import causal_conv_silu_ref

Tensor = torch.Tensor


@triton.jit
def _x_at(x_base, ts, tmask, m2, s_xl, c, perm_base, GATHER: tl.constexpr):
    """x at scan steps ts (BLOCK_L,) for channels c (mask m2): row ts, or row perm[k, ts] when GATHER."""
    rows = ts
    if GATHER:
        rows = tl.load(perm_base + ts, mask=tmask, other=0).to(tl.int64)
    return tl.load(x_base + rows[:, None] * s_xl + c[None, :], mask=m2, other=0.0).to(tl.float32)


@triton.jit
def _pre_at(
    x_base,
    t,
    c,
    cmask,
    bias,
    w_ptr,
    wrow,
    L,
    s_xl,
    perm_base,
    GATHER: tl.constexpr,
    W: tl.constexpr,
    BLOCK_L: tl.constexpr,
    BLOCK_C: tl.constexpr,
):
    """pre-activation at steps t (BLOCK_L,) for channels c: bias + Σ_j w[j]·x_{t-(W-1)+j}."""
    acc = tl.zeros((BLOCK_L, BLOCK_C), dtype=tl.float32) + bias[None, :]
    for j in tl.static_range(W):
        ts = t - (W - 1) + j
        tmask = (ts >= 0) & (ts < L)
        xv = _x_at(x_base, ts, tmask, tmask[:, None] & cmask[None, :], s_xl, c, perm_base, GATHER)
        wv = tl.load(w_ptr + (wrow + c) * W + j, mask=cmask, other=0.0).to(tl.float32)
        acc += xv * wv[None, :]
    return acc


@triton.jit
def _x_source(x_ptr, perm_ptr, r, L, di, K, s_xb, GATHER: tl.constexpr):
    """(x base, perm base) of row r = b·K + k: its own (L, C) block, or batch b of x with direction k's perm row."""
    if GATHER:
        return x_ptr + (r // K) * s_xb, perm_ptr + (r % K) * L
    return x_ptr + r * L * di, perm_ptr


@triton.jit
def _conv_fwd_kernel(
    x_ptr,
    perm_ptr,
    w_ptr,
    b_ptr,
    y_ptr,
    L,
    di,
    K,
    s_xb,
    s_xl,
    GATHER: tl.constexpr,
    W: tl.constexpr,
    BLOCK_L: tl.constexpr,
    BLOCK_C: tl.constexpr,
):
    r = tl.program_id(0).to(tl.int64)
    t = tl.program_id(1) * BLOCK_L + tl.arange(0, BLOCK_L)
    c = tl.program_id(2) * BLOCK_C + tl.arange(0, BLOCK_C)
    cmask = c < di
    wrow = (r % K) * di
    bias = tl.load(b_ptr + wrow + c, mask=cmask, other=0.0).to(tl.float32)
    x_base, perm_base = _x_source(x_ptr, perm_ptr, r, L, di, K, s_xb, GATHER)
    pre = _pre_at(x_base, t, c, cmask, bias, w_ptr, wrow, L, s_xl, perm_base, GATHER, W, BLOCK_L, BLOCK_C)
    y = pre / (1.0 + tl.exp(-pre))
    m = (t < L)[:, None] & cmask[None, :]
    tl.store(y_ptr + r * L * di + t[:, None] * di + c[None, :], y, mask=m)


@triton.jit
def _conv_bwd_kernel(
    x_ptr,
    w_ptr,
    b_ptr,
    gy_ptr,
    dx_ptr,
    dw_ptr,
    db_ptr,
    L,
    di,
    K,
    nL,
    W: tl.constexpr,
    BLOCK_L: tl.constexpr,
    BLOCK_C: tl.constexpr,
):
    r = tl.program_id(0).to(tl.int64)
    pl = tl.program_id(1)
    t = pl * BLOCK_L + tl.arange(0, BLOCK_L)
    c = tl.program_id(2) * BLOCK_C + tl.arange(0, BLOCK_C)
    cmask = c < di
    k = r % K
    base = r * L * di  # x, gy, dx: (R, L, C) contiguous
    dx = _conv_bwd_rows(
        x_ptr + base,
        x_ptr,
        w_ptr,
        b_ptr,
        gy_ptr + base,
        dw_ptr,
        db_ptr,
        t,
        c,
        cmask,
        k,
        r * nL + pl,
        L,
        di,
        di,
        False,
        W,
        BLOCK_L,
        BLOCK_C,
    )
    m = (t < L)[:, None] & cmask[None, :]
    tl.store(dx_ptr + base + t[:, None] * di + c[None, :], dx, mask=m)


@triton.jit
def _conv_bwd_rows(
    x_base,
    perm_base,
    w_ptr,
    b_ptr,
    gy_base,
    dw_ptr,
    db_ptr,
    t,
    c,
    cmask,
    k,
    part,
    L,
    di,
    s_xl,
    GATHER: tl.constexpr,
    W: tl.constexpr,
    BLOCK_L: tl.constexpr,
    BLOCK_C: tl.constexpr,
):
    """Direction k's contribution to dx at its scan steps t (BLOCK_L,) (steps ≥ L contribute nothing), and its
    dw / dbias partial sums over those steps, stored at partial index `part` of (·, C, W) / (·, C)."""
    wrow = k * di
    bias = tl.load(b_ptr + wrow + c, mask=cmask, other=0.0).to(tl.float32)
    dx = tl.zeros((BLOCK_L, BLOCK_C), dtype=tl.float32)
    for j in tl.static_range(W):
        ts = t + (W - 1) - j  # output steps that read x_t through w[j]
        pre = _pre_at(x_base, ts, c, cmask, bias, w_ptr, wrow, L, s_xl, perm_base, GATHER, W, BLOCK_L, BLOCK_C)
        m = (ts < L)[:, None] & cmask[None, :]
        gy = tl.load(gy_base + ts[:, None] * di + c[None, :], mask=m, other=0.0).to(tl.float32)
        sg = 1.0 / (1.0 + tl.exp(-pre))
        gpre = gy * sg * (1.0 + pre * (1.0 - sg))  # SiLU'(p) = s·(1 + p·(1 − s))
        wv = tl.load(w_ptr + (wrow + c) * W + j, mask=cmask, other=0.0).to(tl.float32)
        dx += gpre * wv[None, :]
        if j == W - 1:  # ts == t: the tile's own outputs
            tl.store(db_ptr + part * di + c, tl.sum(gpre, axis=0), mask=cmask)
            for i in tl.static_range(W):
                tx = t - (W - 1) + i
                txm = (tx >= 0) & (tx < L)
                xv = _x_at(x_base, tx, txm, txm[:, None] & cmask[None, :], s_xl, c, perm_base, GATHER)
                tl.store(dw_ptr + (part * di + c) * W + i, tl.sum(gpre * xv, axis=0), mask=cmask)
    return dx


@triton.jit
def _conv_bwd_fold_kernel(
    x_ptr,
    perm_ptr,
    inv_ptr,
    w_ptr,
    b_ptr,
    gy_ptr,
    dx_ptr,
    dw_ptr,
    db_ptr,
    L,
    di,
    K,
    nL,
    s_xb,
    s_xl,
    W: tl.constexpr,
    BLOCK_L: tl.constexpr,
    BLOCK_C: tl.constexpr,
):
    """Gathered mode's backward with the fold: a program owns positions p of x (a tile of rows of batch item b) and
    sums, over the directions k, the conv backward at scan step inv[k, p]; dx is written once, at (b, p)."""
    b = tl.program_id(0).to(tl.int64)
    pl = tl.program_id(1)
    p = pl * BLOCK_L + tl.arange(0, BLOCK_L)
    pm = p < L
    c = tl.program_id(2) * BLOCK_C + tl.arange(0, BLOCK_C)
    cmask = c < di
    dx = tl.zeros((BLOCK_L, BLOCK_C), dtype=tl.float32)
    for k in range(K):
        r = b * K + k
        t = tl.load(inv_ptr + k * L + p, mask=pm, other=L).to(tl.int64)  # scan step of p; L (a no-op) if p ≥ L
        dx += _conv_bwd_rows(
            x_ptr + b * s_xb,
            perm_ptr + k * L,
            w_ptr,
            b_ptr,
            gy_ptr + r * L * di,
            dw_ptr,
            db_ptr,
            t,
            c,
            cmask,
            k,
            r * nL + pl,
            L,
            di,
            s_xl,
            True,
            W,
            BLOCK_L,
            BLOCK_C,
        )
    m = pm[:, None] & cmask[None, :]
    tl.store(dx_ptr + (b * L + p[:, None]) * di + c[None, :], dx, mask=m)


def _tiles(L: int, di: int) -> tuple[int, int]:
    return min(32, triton.next_power_of_2(L)), min(64, triton.next_power_of_2(di))


def _fwd(x: Tensor, perm: Tensor | None, w: Tensor, b: Tensor, R: int, K: int, L: int, di: int) -> Tensor:
    """Launch the forward; x (R, L, C) contiguous, or (Bsz, L, C) with channel stride 1 when perm is given."""
    W = w.shape[-1]
    BL, BC = _tiles(L, di)
    y = torch.empty(R, L, di, device=x.device, dtype=x.dtype)
    gather = perm is not None
    _conv_fwd_kernel[(R, triton.cdiv(L, BL), triton.cdiv(di, BC))](
        x,
        perm if gather else w,
        w,
        b,
        y,
        L,
        di,
        K,
        x.stride(0) if gather else 0,
        x.stride(1) if gather else di,
        GATHER=gather,
        W=W,
        BLOCK_L=BL,
        BLOCK_C=BC,
    )
    return y


def _bwd(gy: Tensor, x: Tensor, perm: Tensor | None, w: Tensor, b: Tensor, R: int, K: int, L: int, di: int):
    """Launch the backward: (dx, dw, db). dx is (R, L, C) in scan order, or with perm (gathered mode) (Bsz, L, C)
    at x's positions (the directions folded back: Σ_k at inv[k]), in x's dtype."""
    W = w.shape[-1]
    BL, BC = _tiles(L, di)
    nL = triton.cdiv(L, BL)
    gy = gy.contiguous()
    dw = torch.empty(R, nL, di, W, device=x.device, dtype=torch.float32)
    db = torch.empty(R, nL, di, device=x.device, dtype=torch.float32)
    if perm is None:
        dx = torch.empty(R, L, di, device=x.device, dtype=x.dtype)
        # MMAMBA_CONV_BWD_WARPS: 4 (default) is the launch measured on the H200; at 8 warps the kernel needs 217
        # registers a thread for sm_90 and no spills, at 4 it needs 255 and spills 340 B (tests/test_triton_aot.py);
        # speed.sh times 8 before it becomes the default
        _conv_bwd_kernel[(R, nL, triton.cdiv(di, BC))](
            x,
            w,
            b,
            gy,
            dx,
            dw,
            db,
            L,
            di,
            K,
            nL,
            W=W,
            BLOCK_L=BL,
            BLOCK_C=BC,
            num_warps=int(os.environ.get("MMAMBA_CONV_BWD_WARPS", 4)),
        )
    else:
        Bsz = R // K
        inv = torch.argsort(perm, dim=1).contiguous()
        dx = torch.empty(Bsz, L, di, device=x.device, dtype=x.dtype)
        # 8 warps: 219 registers a thread for sm_90 and no spills; at 4 warps it needs 255 and spills 1.6 KB
        _conv_bwd_fold_kernel[(Bsz, nL, triton.cdiv(di, BC))](
            x,
            perm,
            inv,
            w,
            b,
            gy,
            dx,
            dw,
            db,
            L,
            di,
            K,
            nL,
            x.stride(0),
            x.stride(1),
            W=W,
            BLOCK_L=BL,
            BLOCK_C=BC,
            num_warps=8,
        )
    dw = dw.view(R // K, K, nL, di, W).sum((0, 2)).to(w.dtype)
    db = db.view(R // K, K, nL, di).sum((0, 2)).to(b.dtype)
    return dx, dw, db


# ---- scan-order mode as torch.library custom ops (opaque to torch.compile) ---------------------------------------
# use_triton=False runs the same ops through their PyTorch fallback (conv_ref.causal_conv_silu_ref forward; the vjp
# of it, recomputed, backward): what the dispatcher seq_ops.causal_conv_silu picks for CPU and float64 tensors. Layouts
# on both routes and in the fakes: y and dx (R, L, C) contiguous in x's dtype, dweight / dbias contiguous in their
# parameters' dtypes.


def _conv_ref(x: Tensor, weight: Tensor, bias: Tensor, K: int) -> Tensor:
    R, L, di = x.shape
    return causal_conv_silu_ref(x.view(R // K, K, L, di), weight, bias).view(R, L, di)


@torch.library.custom_op("mmamba::conv_fwd", mutates_args=())
def conv_fwd(x: Tensor, weight: Tensor, bias: Tensor, K: int, use_triton: bool) -> Tensor:
    """y (R, L, C) = SiLU(causal depthwise conv(x) + bias) of x (R, L, C) contiguous; see the module docstring."""
    R, L, di = x.shape
    if not (
        x.is_contiguous() and weight.dim() == 3 and weight.shape[:2] == (K, di) and bias.shape == (K, di) and R % K == 0
    ):
        raise ValueError(
            f"x (R, L, C) contiguous with R % K == 0, weight (K, C, W), bias (K, C); got x "
            f"{tuple(x.shape)} stride {x.stride()}, weight {tuple(weight.shape)}, bias {tuple(bias.shape)}"
        )
    if not use_triton:
        return _conv_ref(x, weight, bias, K).to(x.dtype)
    return _fwd(x, None, weight.contiguous(), bias.contiguous(), R, K, L, di)


@conv_fwd.register_fake
def _(x, weight, bias, K, use_triton):
    return torch.empty_like(x, memory_format=torch.contiguous_format)


@torch.library.custom_op("mmamba::conv_bwd", mutates_args=())
def conv_bwd(
    gy: Tensor, x: Tensor, weight: Tensor, bias: Tensor, K: int, use_triton: bool
) -> tuple[Tensor, Tensor, Tensor]:
    """(dx (R, L, C) in scan order, dweight, dbias) of conv_fwd for the cotangent gy."""
    R, L, di = x.shape
    if not use_triton:  # the vjp of the reference, recomputed here (torch.func: plain autograd
        _, vjp = torch.func.vjp(lambda *t: _conv_ref(*t, K).to(x.dtype), x, weight, bias)  # is off in a kernel)
        return tuple(g.contiguous() for g in vjp(gy.to(x.dtype)))
    return _bwd(gy, x, None, weight.contiguous(), bias.contiguous(), R, K, L, di)


@conv_bwd.register_fake
def _(gy, x, weight, bias, K, use_triton):
    return (
        torch.empty_like(x, memory_format=torch.contiguous_format),
        torch.empty_like(weight, memory_format=torch.contiguous_format),
        torch.empty_like(bias, memory_format=torch.contiguous_format),
    )


def _conv_fwd_setup(ctx, inputs, output):
    x, weight, bias, K, use_triton = inputs
    ctx.save_for_backward(x, weight, bias)
    ctx.cfg = (K, use_triton)


def _conv_fwd_backward(ctx, gy):
    x, weight, bias = ctx.saved_tensors
    return (*conv_bwd(gy, x, weight, bias, *ctx.cfg), None, None)


conv_fwd.register_autograd(_conv_fwd_backward, setup_context=_conv_fwd_setup)


def causal_conv_silu_triton(x: Tensor, weight: Tensor, bias: Tensor, use_triton: bool = True) -> Tensor:
    """x (Bsz, K, L, C), weight (K, C, W), bias (K, C) -> (Bsz, K, L, C) = conv_ref.causal_conv_silu_ref(x), by the
    Triton kernels (use_triton) or the ops' PyTorch fallback."""
    Bsz, K, L, C = x.shape
    return conv_fwd(x.contiguous().view(Bsz * K, L, C), weight, bias, K, use_triton).view(Bsz, K, L, C)


# ---- gathered mode as torch.library custom ops (opaque to torch.compile) ----------------------------------------


def _check_gather(x: Tensor, perm: Tensor, weight: Tensor, bias: Tensor) -> None:
    if x.dim() != 3 or x.stride(2) != 1:
        raise ValueError(f"x must be (Bsz, L, C) with channel stride 1, got {tuple(x.shape)} stride {x.stride()}")
    K, L = perm.shape
    if L != x.shape[1] or weight.dim() != 3 or weight.shape[:2] != (K, x.shape[2]) or bias.shape != (K, x.shape[2]):
        raise ValueError(
            f"perm (K, L) {tuple(perm.shape)}, weight (K, C, W) {tuple(weight.shape)} and bias (K, C) "
            f"{tuple(bias.shape)} do not fit x {tuple(x.shape)}"
        )


@torch.library.custom_op("mmamba::conv_gather_fwd", mutates_args=())
def conv_gather_fwd(x: Tensor, perm: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """(Bsz, K, L, C) = SiLU(causal conv of x read in scan order perm[k]) (module docstring, gathered mode)."""
    _check_gather(x, perm, weight, bias)
    Bsz, L, di = x.shape
    K = perm.shape[0]
    y = _fwd(x, perm.contiguous(), weight.contiguous(), bias.contiguous(), Bsz * K, K, L, di)
    return y.view(Bsz, K, L, di)


@conv_gather_fwd.register_fake
def _(x, perm, weight, bias):
    return x.new_empty(x.shape[0], perm.shape[0], x.shape[1], x.shape[2])


@torch.library.custom_op("mmamba::conv_gather_bwd", mutates_args=())
def conv_gather_bwd(gy: Tensor, x: Tensor, perm: Tensor, weight: Tensor, bias: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(dx (Bsz, L, C), dweight, dbias): the gather's adjoint (Σ_k at inv[k]) is done inside the kernel."""
    Bsz, L, di = x.shape
    K = perm.shape[0]
    return _bwd(gy, x, perm.contiguous(), weight.contiguous(), bias.contiguous(), Bsz * K, K, L, di)


@conv_gather_bwd.register_fake
def _(gy, x, perm, weight, bias):
    return x.new_empty(x.shape), weight.new_empty(weight.shape), bias.new_empty(bias.shape)


def _conv_setup(ctx, inputs, output):
    x, perm, weight, bias = inputs
    ctx.save_for_backward(x, perm, weight, bias)


def _conv_backward(ctx, gy):
    x, perm, weight, bias = ctx.saved_tensors
    dx, dw, db = conv_gather_bwd(gy, x, perm, weight, bias)
    return dx, None, dw, db


conv_gather_fwd.register_autograd(_conv_backward, setup_context=_conv_setup)


def conv_silu_gather(x: Tensor, perm: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """x (Bsz, L, C) (channel stride 1), perm (K, L), weight (K, C, W), bias (K, C) -> (Bsz, K, L, C)
    = conv_ref.causal_conv_silu_ref(to_scans(x)) without the (Bsz, K, L, C) input copy."""
    return conv_gather_fwd(x, perm, weight, bias)
