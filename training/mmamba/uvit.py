"""UViT baseline generator (aMUSEd-style transformer block; Patil et al. 2024, "aMUSEd"), with the same
text encoder, image embedding, head and adaptive norm as M-Mamba (mmamba.py), for the equal-size
comparison in docs/architecture.md ("The model").

Each layer, on image tokens only (B, HW, d):
    h = h + gate1 · SelfAttn(RMSNorm(h)·(1 + scale1) + shift1)       adaLN-Zero (attn_mod)
    h = h + CrossAttn(RMSNorm_w(h), text tokens, key padding mask)   plain pre-norm (cross_norm.weight)
    h = h + gate2 · GEGLU(RMSNorm(h)·(1 + scale2) + shift2)          adaLN-Zero (ffn_mod)
Image positions: learned `pos_emb` (HW, d).
Parameter names: text.*, img_emb.weight (K+1, d), pos_emb (HW, d),
layers.i.attn_mod.proj.*, layers.i.attn.{qkv,out}.*, layers.i.cross_norm.weight,
layers.i.cross.{q,kv,out}.*, layers.i.ffn_mod.proj.*, layers.i.ffn.{w_in,w_out}.*, head_norm.weight, head.*.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.utils.checkpoint

from .common import GEGLU, AdaLN, Attention, RMSNorm, modulate
from .config import UViTConfig
from .text_encoder import TextEncoder


class UViTLayer(nn.Module):
    def __init__(self, cfg: UViTConfig):
        super().__init__()
        d = cfg.d
        self.attn_mod = AdaLN(cfg.cond_dim, d)
        self.attn_norm = RMSNorm(d, affine=False)
        self.attn = Attention(d, cfg.heads)
        self.cross_norm = RMSNorm(d)
        self.cross = Attention(d, cfg.heads, kv_dim=d)
        self.ffn_mod = AdaLN(cfg.cond_dim, d)
        self.ffn_norm = RMSNorm(d, affine=False)
        self.ffn = GEGLU(d, cfg.ffn_mult * d)

    def forward(self, h, c, txt, key_mask):
        shift, scale, gate = self.attn_mod(c)  # (B, 1, d) each
        h = h + gate * self.attn(modulate(self.attn_norm(h), shift, scale))  # (B, HW, d)
        h = h + self.cross(self.cross_norm(h), txt, key_mask)  # (B, HW, d)
        shift, scale, gate = self.ffn_mod(c)
        return h + gate * self.ffn(modulate(self.ffn_norm(h), shift, scale))  # (B, HW, d)


class UViT(nn.Module):
    def __init__(self, cfg: UViTConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.d
        self.text = TextEncoder(cfg.text, d, cfg.cond_dim)
        self.img_emb = nn.Embedding(cfg.codebook_size + 1, d)
        nn.init.normal_(self.img_emb.weight, std=0.02)
        self.pos_emb = nn.Parameter(torch.randn(cfg.hw, d) * 0.02)
        self.layers = nn.ModuleList(UViTLayer(cfg) for _ in range(cfg.layers))
        self.head_norm = RMSNorm(d)
        self.head = nn.Linear(d, cfg.codebook_size)
        self.grad_checkpoint = False

    def forward(self, img_tokens: torch.Tensor, text_ids: torch.Tensor, return_stages: bool = False):
        """img_tokens (B, HW) long, text_ids (B, Lt) long -> logits (B, HW, K) [, stages]."""
        txt, c, key_mask = self.text(text_ids)  # (B, Lt, d), (B, cond), (B, Lt)
        h = self.img_emb(img_tokens) + self.pos_emb  # (B, HW, d)
        stages = {"text_tokens": txt, "c": c, "embed": h} if return_stages else None
        for i, layer in enumerate(self.layers):
            if self.grad_checkpoint and self.training:
                h = torch.utils.checkpoint.checkpoint(layer, h, c, txt, key_mask, use_reentrant=False)
            else:
                h = layer(h, c, txt, key_mask)
            if stages is not None:
                stages[f"layer{i}"] = h
        logits = self.head(self.head_norm(h))  # (B, HW, K)
        if stages is not None:
            stages["logits"] = logits
            return logits, stages
        return logits
