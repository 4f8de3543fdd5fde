"""Triton causal depthwise conv1d + bias + SiLU over channels-last sequences, forward and backward.

x: (R, L, C) contiguous (R = Bsz·K rows of one scan direction each), weight (K, C, W), bias (K, C); row r uses
direction k = r % K. Causal: pre_t = bias + Σ_j w[j]·x_{t-(W-1)+j} (x_t = 0 for t < 0), y_t = SiLU(pre_t).
Same semantics as F.conv1d(F.pad(x, (W-1, 0)), groups=C) on the (C, L) layout, without any transpose: a
program owns a (BLOCK_L, BLOCK_C) tile whose loads are contiguous over channels.

Backward (one kernel): g_t = ∂y_t · SiLU'(pre_t) with pre recomputed from x; dx_t = Σ_j w[j]·g_{t+(W-1)-j};
dw[j] and dbias are per-tile partials (R, nL, C, W) / (R, nL, C) summed in PyTorch (deterministic, no atomics).
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

Tensor = torch.Tensor


@triton.jit
def _pre_at(x_base, t, di, c, cmask, bias, w_ptr, wrow, L,
            W: tl.constexpr, BLOCK_L: tl.constexpr, BLOCK_C: tl.constexpr):
    """pre-activation at steps t (BLOCK_L,) for channels c: bias + Σ_j w[j]·x_{t-(W-1)+j}."""
    acc = tl.zeros((BLOCK_L, BLOCK_C), dtype=tl.float32) + bias[None, :]
    for j in tl.static_range(W):
        ts = t - (W - 1) + j
        m = ((ts >= 0) & (ts < L))[:, None] & cmask[None, :]
        xv = tl.load(x_base + ts[:, None] * di + c[None, :], mask=m, other=0.0).to(tl.float32)
        wv = tl.load(w_ptr + (wrow + c) * W + j, mask=cmask, other=0.0).to(tl.float32)
        acc += xv * wv[None, :]
    return acc


@triton.jit
def _conv_fwd_kernel(x_ptr, w_ptr, b_ptr, y_ptr, L, di, K,
                     W: tl.constexpr, BLOCK_L: tl.constexpr, BLOCK_C: tl.constexpr):
    r = tl.program_id(0).to(tl.int64)
    t = tl.program_id(1) * BLOCK_L + tl.arange(0, BLOCK_L)
    c = tl.program_id(2) * BLOCK_C + tl.arange(0, BLOCK_C)
    cmask = c < di
    wrow = (r % K) * di
    bias = tl.load(b_ptr + wrow + c, mask=cmask, other=0.0).to(tl.float32)
    base = r * L * di
    pre = _pre_at(x_ptr + base, t, di, c, cmask, bias, w_ptr, wrow, L, W, BLOCK_L, BLOCK_C)
    y = pre / (1.0 + tl.exp(-pre))
    m = (t < L)[:, None] & cmask[None, :]
    tl.store(y_ptr + base + t[:, None] * di + c[None, :], y, mask=m)


@triton.jit
def _conv_bwd_kernel(x_ptr, w_ptr, b_ptr, gy_ptr, dx_ptr, dw_ptr, db_ptr, L, di, K, nL,
                     W: tl.constexpr, BLOCK_L: tl.constexpr, BLOCK_C: tl.constexpr):
    r = tl.program_id(0).to(tl.int64)
    pl = tl.program_id(1)
    t = pl * BLOCK_L + tl.arange(0, BLOCK_L)
    c = tl.program_id(2) * BLOCK_C + tl.arange(0, BLOCK_C)
    cmask = c < di
    wrow = (r % K) * di
    bias = tl.load(b_ptr + wrow + c, mask=cmask, other=0.0).to(tl.float32)
    base = r * L * di
    dx = tl.zeros((BLOCK_L, BLOCK_C), dtype=tl.float32)
    for j in tl.static_range(W):
        ts = t + (W - 1) - j                                   # output steps that read x_t through w[j]
        pre = _pre_at(x_ptr + base, ts, di, c, cmask, bias, w_ptr, wrow, L, W, BLOCK_L, BLOCK_C)
        m = (ts < L)[:, None] & cmask[None, :]
        gy = tl.load(gy_ptr + base + ts[:, None] * di + c[None, :], mask=m, other=0.0).to(tl.float32)
        sg = 1.0 / (1.0 + tl.exp(-pre))
        gpre = gy * sg * (1.0 + pre * (1.0 - sg))              # SiLU'(p) = s·(1 + p·(1 − s))
        wv = tl.load(w_ptr + (wrow + c) * W + j, mask=cmask, other=0.0).to(tl.float32)
        dx += gpre * wv[None, :]
        if j == W - 1:                                         # ts == t: this tile's own outputs
            p_base = ((r * nL + pl) * di + c) * W              # dw partial (R, nL, di, W)
            tl.store(db_ptr + (r * nL + pl) * di + c, tl.sum(gpre, axis=0), mask=cmask)
            for i in tl.static_range(W):
                tx = t - (W - 1) + i
                mx = ((tx >= 0) & (tx < L))[:, None] & cmask[None, :]
                xv = tl.load(x_ptr + base + tx[:, None] * di + c[None, :], mask=mx, other=0.0).to(tl.float32)
                tl.store(dw_ptr + p_base + i, tl.sum(gpre * xv, axis=0), mask=cmask)
    m = (t < L)[:, None] & cmask[None, :]
    tl.store(dx_ptr + base + t[:, None] * di + c[None, :], dx, mask=m)


def _tiles(L: int, di: int) -> tuple[int, int]:
    return min(32, triton.next_power_of_2(L)), min(64, triton.next_power_of_2(di))


class CausalConvSiLU(torch.autograd.Function):
    """y (R, L, C) = SiLU(causal depthwise conv(x) + bias); see the module docstring."""

    @staticmethod
    def forward(ctx, x, weight, bias, K):
        R, L, di = x.shape
        W = weight.shape[-1]
        assert x.is_contiguous() and weight.shape == (K, di, W) and bias.shape == (K, di) and R % K == 0
        w, b = weight.contiguous(), bias.contiguous()
        BL, BC = _tiles(L, di)
        y = torch.empty_like(x)
        _conv_fwd_kernel[(R, triton.cdiv(L, BL), triton.cdiv(di, BC))](
            x, w, b, y, L, di, K, W=W, BLOCK_L=BL, BLOCK_C=BC)
        ctx.save_for_backward(x, w, b)
        ctx.K = K
        return y

    @staticmethod
    def backward(ctx, gy):
        x, w, b = ctx.saved_tensors
        K = ctx.K
        R, L, di = x.shape
        W = w.shape[-1]
        BL, BC = _tiles(L, di)
        nL = triton.cdiv(L, BL)
        gy = gy.contiguous()
        dx = torch.empty_like(x)
        dw = torch.empty(R, nL, di, W, device=x.device, dtype=torch.float32)
        db = torch.empty(R, nL, di, device=x.device, dtype=torch.float32)
        _conv_bwd_kernel[(R, nL, triton.cdiv(di, BC))](
            x, w, b, gy, dx, dw, db, L, di, K, nL, W=W, BLOCK_L=BL, BLOCK_C=BC)
        dw = dw.view(R // K, K, nL, di, W).sum((0, 2)).to(w.dtype)
        db = db.view(R // K, K, nL, di).sum((0, 2)).to(b.dtype)
        return dx, dw, db, None
