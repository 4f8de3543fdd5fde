"""Sequence plumbing of the M-Mamba mixer in the channels-last layout (Bsz, K, L, C), with cheap backwards.

- `to_scans(x, perm, inv)`: (Bsz, L, C) -> (Bsz, K, L, C), scan k reads x at perm[k] (the cross-scan).
- `from_scans(y, perm, inv)`: (Bsz, K, L, C) -> (Bsz, L, C), Σ_k y_k read back at inv[k] (the cross-merge).
  The two are adjoint, so each one's backward is the other: gathers only, no scatter-add, no sort.
  perm_flat / inv_flat are the (K·L,) row indexes `sequence_index()` builds from the (K, L) permutations.
- `causal_conv_silu(x, weight, bias)`: SiLU(causal depthwise conv1d + bias) per direction; the Triton kernel on
  CUDA (conv_triton.py), shifted multiply-adds elsewhere (the readable reference; MMAMBA_CONV=ref forces it),
  both behind the same torch.library custom ops when triton imports.
"""

from __future__ import annotations

import os

import torch

from .conv_ref import causal_conv_silu_ref

Tensor = torch.Tensor


def sequence_index(perm: Tensor, inv: Tensor) -> tuple[Tensor, Tensor]:
    """(K, L) permutations -> (perm_flat, inv_flat), both (K·L,) long:
    perm_flat[k·L + j] = perm[k, j] (rows of x), inv_flat[k·L + p] = k·L + inv[k, p] (rows of the K·L scans)."""
    K, L = perm.shape
    offs = torch.arange(K, device=perm.device)[:, None] * L
    return perm.reshape(-1).clone(), (inv + offs).reshape(-1)


def _gather_to(x: Tensor, perm_flat: Tensor, K: int) -> Tensor:
    Bsz, L, C = x.shape
    return x.index_select(1, perm_flat).view(Bsz, K, L, C)


def _gather_from(y: Tensor, inv_flat: Tensor) -> Tensor:
    Bsz, K, L, C = y.shape
    return y.reshape(Bsz, K * L, C).index_select(1, inv_flat).view(Bsz, K, L, C).sum(1)


class _ToScans(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, perm_flat, inv_flat, K):
        ctx.save_for_backward(perm_flat, inv_flat)
        ctx.K = K
        return _gather_to(x, perm_flat, K)

    @staticmethod
    def backward(ctx, g):
        perm_flat, inv_flat = ctx.saved_tensors
        return _gather_from(g, inv_flat), None, None, None


class _FromScans(torch.autograd.Function):
    @staticmethod
    def forward(ctx, y, perm_flat, inv_flat):
        ctx.save_for_backward(perm_flat, inv_flat)
        ctx.K = y.shape[1]
        return _gather_from(y, inv_flat)

    @staticmethod
    def backward(ctx, g):
        perm_flat, inv_flat = ctx.saved_tensors
        return _gather_to(g, perm_flat, ctx.K), None, None


def to_scans(x: Tensor, perm_flat: Tensor, inv_flat: Tensor, K: int) -> Tensor:
    """(Bsz, L, C) -> (Bsz, K, L, C) contiguous; scan k at position j holds x[:, perm[k, j]]."""
    return _ToScans.apply(x, perm_flat, inv_flat, K)


def from_scans(y: Tensor, perm_flat: Tensor, inv_flat: Tensor) -> Tensor:
    """(Bsz, K, L, C) -> (Bsz, L, C): out[:, p] = Σ_k y[:, k, inv[k, p]]."""
    return _FromScans.apply(y, perm_flat, inv_flat)


def causal_conv_silu(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """Dispatcher: when triton imports, the conv custom ops (conv_triton.py), which run the Triton kernels for CUDA
    tensors that are not float64 (unless MMAMBA_CONV=ref) and `causal_conv_silu_ref` otherwise (so torch.compile
    sees the same opaque ops on every device); without triton, `causal_conv_silu_ref`."""
    try:
        from .conv_triton import causal_conv_silu_triton
    except Exception:  # triton unavailable
        return causal_conv_silu_ref(x, weight, bias)
    use_triton = x.is_cuda and x.dtype != torch.float64 and os.environ.get("MMAMBA_CONV", "triton") != "ref"
    return causal_conv_silu_triton(x, weight, bias, use_triton)
