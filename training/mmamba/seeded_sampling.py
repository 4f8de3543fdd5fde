"""MaskGIT sampling of many independent single-image requests in one batch, for evaluation.

`sampling.maskgit_sample` draws its noise at counter index (b·HW + pos)·K + k with one seed for the batch, so
an image depends on its row b. The browser generates one image per request (batch 1, row 0). To compare
PyTorch and the WebGPU engine image by image, every row here uses its own seed and the counters of row 0:
row b of `maskgit_sample_rows(..., seeds)` equals `maskgit_sample(..., seed=seeds[b])[-1]` run with batch 1
(tests/test_eval_sampling.py checks this). Everything else (guidance, confidence, re-mask count, ties) is
docs/architecture.md's sampler; the re-mask is vectorised (rank < n per row) instead of a Python loop.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .rng import M32, gumbel, hash32
from .sampling import ModelFn, n_mask_after_step


def uniform_rows(seeds: torch.Tensor, stream: int, index: torch.Tensor) -> torch.Tensor:
    """rng.uniform with one seed per row: seeds (B,) int64, index (B, ...) int64 counters -> float32 (B, ...)."""
    key = hash32((seeds.to(torch.int64) & M32) ^ hash32(stream & M32))  # (B,)
    key = key.view(-1, *([1] * (index.dim() - 1)))
    h = hash32((index.to(torch.int64) & M32) ^ key)
    return (((h >> 8).to(torch.float64) + 0.5) / 16777216.0).to(torch.float32)


@torch.no_grad()
def maskgit_sample_rows(
    model: ModelFn,
    text_ids: torch.Tensor,
    uncond_ids: torch.Tensor,
    seeds: torch.Tensor,
    *,
    hw: int,
    codebook_size: int,
    steps: int = 12,
    guidance: float = 4.0,
    tau: float = 4.5,
    temperature: float = 1.0,
) -> torch.Tensor:
    """text_ids, uncond_ids (B, Lt); seeds (B,) -> final tokens (B, HW) long (no [MASK] left)."""
    B = text_ids.shape[0]
    K = mask_id = codebook_size
    dev = text_ids.device
    seeds = seeds.to(dev)
    tokens = torch.full((B, hw), mask_id, dtype=torch.long, device=dev)
    pos = torch.arange(hw, device=dev).expand(B, hw)  # row 0: 0·HW + pos
    tok_index = pos[..., None] * K + torch.arange(K, device=dev)  # (B, HW, K)
    guided = guidance != 1
    both_text = torch.cat([text_ids, uncond_ids], 0) if guided else text_ids
    for i in range(steps):
        if guided:
            lg = model(torch.cat([tokens, tokens], 0), both_text).float()  # (2B, HW, K)
            logits = lg[B:] + guidance * (lg[:B] - lg[B:])  # (B, HW, K)
        else:
            logits = model(tokens, text_ids).float()
        g_tok = gumbel(uniform_rows(seeds, 2 * i, tok_index))  # (B, HW, K)
        sampled = torch.argmax(logits / temperature + g_tok, dim=-1)  # (B, HW)
        del g_tok
        unknown = tokens == mask_id
        logp = F.log_softmax(logits, -1).gather(-1, sampled[..., None])[..., 0]  # (B, HW)
        conf = logp + tau * (1.0 - (i + 1) / steps) * gumbel(uniform_rows(seeds, 2 * i + 1, pos))
        conf = torch.where(unknown, conf, torch.full_like(conf, float("inf")))
        tokens = torch.where(unknown, sampled, tokens)
        n = (unknown.sum(1) - 1).clamp(min=0).clamp(max=n_mask_after_step(i, steps, hw))  # (B,)
        order = torch.sort(conf, dim=-1, stable=True).indices  # ties -> lower index
        rank = torch.empty_like(order).scatter_(1, order, pos.clone())  # rank of each position
        tokens = torch.where(rank < n[:, None], torch.full_like(tokens, mask_id), tokens)
    return tokens
