"""Building blocks shared by the text encoder, M-Mamba and UViT: RMSNorm, adaptive norm modulation
(DiT's adaLN-Zero), GEGLU feed-forward (aMUSEd / Shazeer 2020 "GLU variants"), and multi-head attention.

Conventions the TypeScript engine relies on:
- GELU is the tanh approximation everywhere (WGSL has no erf).
- RMSNorm: x / sqrt(mean(x²) + eps) · weight, eps = 1e-6; adaptive norms use it without a weight.
- LayerNorm eps = 1e-5 (PyTorch default).
- Linear layers carry a bias except M-Mamba's in_proj / x_proj / out_proj (Mamba's convention).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

RMS_EPS = 1e-6


class RMSNorm(nn.Module):
    def __init__(self, dim: int, affine: bool = True, eps: float = RMS_EPS):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim)) if affine else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        y = y.to(x.dtype)
        return y * self.weight if self.weight is not None else y


class AdaLN(nn.Module):
    """(shift, scale, gate) = Linear(SiLU(c)) → 3·d, zero-initialised (adaLN-Zero: gate starts at 0).
    `modulate(xn, shift, scale) = xn · (1 + scale) + shift`."""

    def __init__(self, cond_dim: int, d: int):
        super().__init__()
        self.proj = nn.Linear(cond_dim, 3 * d)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, c: torch.Tensor):
        shift, scale, gate = self.proj(F.silu(c)).chunk(3, dim=-1)  # each (B, d)
        return shift[:, None], scale[:, None], gate[:, None]  # each (B, 1, d)


def modulate(xn: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return xn * (1 + scale) + shift


class GEGLU(nn.Module):
    """w_out(GELU_tanh(a) · g) with [a ; g] = w_in(x); hidden = mult · d."""

    def __init__(self, d: int, hidden: int):
        super().__init__()
        self.w_in = nn.Linear(d, 2 * hidden)
        self.w_out = nn.Linear(hidden, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, g = self.w_in(x).chunk(2, dim=-1)  # (B, L, hidden) each
        return self.w_out(F.gelu(a, approximate="tanh") * g)  # (B, L, d)


class Attention(nn.Module):
    """Multi-head attention. Self-attention: `qkv` Linear(d, 3d). Cross-attention (kv_dim given):
    `q` Linear(d, d) and `kv` Linear(kv_dim, 2d). Softmax scale 1/sqrt(head_dim).
    key_mask: (B, Lk) bool, True = attend."""

    def __init__(self, d: int, heads: int, kv_dim: int | None = None):
        super().__init__()
        self.heads = heads
        self.cross = kv_dim is not None
        if self.cross:
            self.q = nn.Linear(d, d)
            self.kv = nn.Linear(kv_dim, 2 * d)
        else:
            self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)

    def forward(
        self, x: torch.Tensor, ctx: torch.Tensor | None = None, key_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        Bsz, Lq, d = x.shape
        if self.cross:
            q = self.q(x)  # (B, Lq, d)
            k, v = self.kv(ctx).chunk(2, dim=-1)  # (B, Lk, d) each
        else:
            q, k, v = self.qkv(x).chunk(3, dim=-1)  # (B, L, d) each
        hd = d // self.heads
        split = lambda t: t.view(Bsz, t.shape[1], self.heads, hd).transpose(1, 2)  # noqa: E731
        q, k, v = split(q), split(k), split(v)  # (B, h, L, hd)
        mask = key_mask[:, None, None, :] if key_mask is not None else None  # (B, 1, 1, Lk)
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, h, Lq, hd)
        return self.out(o.transpose(1, 2).reshape(Bsz, Lq, d))  # (B, Lq, d)
