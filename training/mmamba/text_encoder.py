"""Text encoder shared by M-Mamba and UViT: token embedding + learned positions + a small pre-LN
transformer encoder (bidirectional self-attention with a padding mask, GELU-tanh MLP), final LayerNorm.

Outputs: token vectors projected to the generator width d (they enter the M-Mamba sequence / are the
UViT cross-attention context), a pooled vector c = Linear(masked mean of the final states) of width
cond_dim (conditions every layer's adaptive norm), and the key mask (True = non-pad token).
Parameter names: tok_emb.weight (V, w), pos_emb (Lt, w), layers.i.{norm1,attn.qkv,attn.out,norm2,
mlp.0,mlp.2}, norm.{weight,bias}, proj.{weight,bias} (d, w), pool_proj.{weight,bias} (cond_dim, w).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .common import Attention
from .config import TextConfig


class TextBlock(nn.Module):
    def __init__(self, w: int, heads: int, ffn_mult: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(w)
        self.attn = Attention(w, heads)
        self.norm2 = nn.LayerNorm(w)
        self.mlp = nn.Sequential(nn.Linear(w, ffn_mult * w), nn.GELU(approximate="tanh"),
                                 nn.Linear(ffn_mult * w, w))

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), key_mask=key_mask)          # (B, Lt, w)
        return x + self.mlp(self.norm2(x))                            # (B, Lt, w)


class TextEncoder(nn.Module):
    def __init__(self, cfg: TextConfig, d: int, cond_dim: int):
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.tok_emb = nn.Embedding(cfg.vocab_size, w)
        self.pos_emb = nn.Parameter(torch.randn(cfg.max_len, w) * 0.02)
        nn.init.normal_(self.tok_emb.weight, std=0.02)
        self.layers = nn.ModuleList(TextBlock(w, cfg.heads, cfg.ffn_mult) for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(w)
        self.proj = nn.Linear(w, d)
        self.pool_proj = nn.Linear(w, cond_dim)

    def forward(self, text_ids: torch.Tensor):
        """text_ids (B, Lt) long -> tokens (B, Lt, d), c (B, cond_dim), key_mask (B, Lt) bool."""
        Lt = text_ids.shape[1]
        key_mask = text_ids != self.cfg.pad_id                         # (B, Lt)
        x = self.tok_emb(text_ids) + self.pos_emb[:Lt]                 # (B, Lt, w)
        for blk in self.layers:
            x = blk(x, key_mask)
        x = self.norm(x)                                               # (B, Lt, w)
        m = key_mask.to(x.dtype)[..., None]                            # (B, Lt, 1)
        pooled = (x * m).sum(1) / m.sum(1).clamp_min(1.0)              # (B, w)
        return self.proj(x), self.pool_proj(pooled), key_mask
