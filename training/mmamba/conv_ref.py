"""The causal depthwise conv + SiLU of the mixer, in plain PyTorch: the reference that the Triton conv
(conv_triton.py) and the WGSL one must equal, and their fallback off the GPU."""

from __future__ import annotations

import torch

Tensor = torch.Tensor


def causal_conv_silu_ref(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """x (Bsz, K, L, C), weight (K, C, W), bias (K, C) -> SiLU(bias + Σ_j w[j]·x_{t-(W-1)+j})."""
    W = weight.shape[-1]
    L = x.shape[2]
    xp = torch.nn.functional.pad(x, (0, 0, W - 1, 0))  # zeros before t = 0
    pre = bias[None, :, None, :]
    for j in range(W):
        pre = pre + xp[:, :, j : j + L, :] * weight[None, :, None, :, j]
    return torch.nn.functional.silu(pre)
