"""MaskGIT sampling (Chang et al. 2022) as aMUSEd's scheduler, exactly as docs/architecture.md fixes it,
plus the training-side masking, the masked-token loss and text dropout (docs/architecture.md "Training objective").

Sampler (S steps, all randomness from rng.uniform so PyTorch and the engine agree for a seed):
    tokens = [MASK] * HW      (editing: init_tokens where keep, [MASK] elsewhere; M = count(not keep), else M = HW)
    for i in 0..S-1:
      logits = uncond + g·(cond − uncond)         (docs/architecture.md "MaskGIT sampler"; uncond: negative or empty
      prompt; g = 1 is no guidance and skips it)
      sampled = argmax_k(logits_k / temperature + gumbel(u(seed, 2i, (b·HW + pos)·K + k)))
      unknown = tokens == MASK
      conf = log softmax(logits)[sampled] + tau·(1 − (i+1)/S)·gumbel(u(seed, 2i+1, b·HW + pos)); +inf where known
      tokens = where(unknown, sampled, tokens)
      n_mask = clamp(floor(cos(π/2·(i+1)/S)·M), 0, count(unknown) − 1)      (f64, per sample)
      re-mask the n_mask lowest-confidence positions (ties: lower index first)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from .rng import gumbel, uniform

ModelFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (tokens (B, HW), text (B, Lt)) -> (B, HW, K)


def n_mask_after_step(i: int, steps: int, hw: int) -> int:
    """floor(cos(π/2 · (i+1)/S) · HW), computed in float64."""
    return int(math.floor(math.cos(math.pi / 2 * ((i + 1) / steps)) * hw))


@torch.no_grad()
def maskgit_sample(
    model: ModelFn,
    text_ids: torch.Tensor,
    *,
    hw: int,
    codebook_size: int,
    uncond_ids: torch.Tensor | None = None,
    steps: int = 12,
    guidance: float = 4.0,
    tau: float = 4.5,
    temperature: float = 1.0,
    seed: int = 0,
    init_tokens: torch.Tensor | None = None,
    keep: torch.Tensor | None = None,
) -> list[torch.Tensor]:
    """text_ids (B, Lt); uncond_ids (B, Lt) = negative prompt or empty prompt ids (needed if guidance != 1).
    Editing (inpainting): init_tokens (HW,) or (B, HW) codebook ids and keep (same shape, bool): kept tokens are
    fixed from step 0, the others start [MASK] and the schedule runs over their count M per sample.
    Returns the token grid (B, HW) long after every step (S grids; the last one has no [MASK])."""
    Bsz = text_ids.shape[0]
    K, mask_id = codebook_size, codebook_size
    dev = text_ids.device
    tokens = torch.full((Bsz, hw), mask_id, dtype=torch.long, device=dev)
    if (init_tokens is None) != (keep is None):
        raise ValueError("init_tokens and keep come together")
    if keep is not None:
        keep = keep.to(dev, torch.bool).expand(Bsz, hw)
        init = init_tokens.to(dev, torch.long).expand(Bsz, hw)
        if bool(((init < 0) | (init >= K))[keep].any()):
            raise ValueError("kept tokens must be codebook ids")
        tokens = torch.where(keep, init, tokens)
    n_sched = [hw if keep is None else int((~keep[b]).sum().item()) for b in range(Bsz)]  # M per sample
    pos = torch.arange(Bsz * hw, device=dev).view(Bsz, hw)  # b·HW + pos
    tok_index = pos[..., None] * K + torch.arange(K, device=dev)  # (B, HW, K)
    if guidance != 1:
        assert uncond_ids is not None, "guidance needs uncond_ids (negative or empty prompt ids)"
        both_text = torch.cat([text_ids, uncond_ids], dim=0)  # (2B, Lt)
    out = []
    for i in range(steps):
        if guidance != 1:
            lg = model(torch.cat([tokens, tokens], dim=0), both_text).float()  # (2B, HW, K)
            cond, unc = lg[:Bsz], lg[Bsz:]
            logits = unc + guidance * (cond - unc)  # (B, HW, K)
        else:
            logits = model(tokens, text_ids).float()
        g_tok = gumbel(uniform(seed, 2 * i, tok_index).to(dev))  # (B, HW, K)
        sampled = torch.argmax(logits / temperature + g_tok, dim=-1)  # (B, HW)
        unknown = tokens == mask_id  # (B, HW)
        logp = F.log_softmax(logits, dim=-1).gather(-1, sampled[..., None])[..., 0]  # (B, HW)
        ratio = (i + 1) / steps
        g_conf = gumbel(uniform(seed, 2 * i + 1, pos).to(dev))  # (B, HW)
        conf = logp + tau * (1.0 - ratio) * g_conf
        conf = torch.where(unknown, conf, torch.full_like(conf, float("inf")))
        tokens = torch.where(unknown, sampled, tokens)
        order = torch.sort(conf, dim=-1, stable=True).indices  # ascending; ties → lower index
        for b in range(Bsz):
            n = max(0, min(n_mask_after_step(i, steps, n_sched[b]), int(unknown[b].sum().item()) - 1))
            if n > 0:
                tokens[b, order[b, :n]] = mask_id
        out.append(tokens.clone())
    return out


# ---------------------------------------------------------------------------------------------------
# Training side
def mask_for_training(
    tokens: torch.Tensor, generator: torch.Generator | None = None, mask_id: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """tokens (B, HW) long -> (masked tokens (B, HW), mask (B, HW) bool).
    Per sample: t ~ U(0,1), r = cos(π/2·t), mask n = clamp(ceil(r·HW), 1, HW) uniformly random positions.
    mask_id: the [MASK] id (cfg.mask_id = codebook_size)."""
    assert mask_id is not None, "pass mask_id = cfg.mask_id (= codebook_size)"
    Bsz, hw = tokens.shape
    dev = tokens.device
    gdev = generator.device if generator is not None else dev
    t = torch.rand(Bsz, generator=generator, device=gdev).to(dev)
    r = torch.cos(math.pi / 2 * t)  # (B,)
    n = torch.ceil(r * hw).clamp(1, hw).long()  # (B,)
    scores = torch.rand(Bsz, hw, generator=generator, device=gdev).to(dev)  # (B, HW)
    ranks = scores.argsort(dim=1).argsort(dim=1)  # rank of each position
    mask = ranks < n[:, None]  # (B, HW)
    return torch.where(mask, torch.full_like(tokens, mask_id), tokens), mask


def masked_token_loss(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over masked positions. logits (B, HW, K), targets (B, HW), mask (B, HW) bool."""
    ce = F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), reduction="none")  # (B·HW,)
    m = mask.flatten().to(ce.dtype)
    return (ce * m).sum() / m.sum().clamp_min(1.0)


def drop_text(
    text_ids: torch.Tensor, empty_ids: torch.Tensor, p: float = 0.1, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Replace each row of text_ids (B, Lt) with empty_ids (Lt,) with probability p (for guidance)."""
    gdev = generator.device if generator is not None else text_ids.device
    drop = torch.rand(text_ids.shape[0], generator=generator, device=gdev).to(text_ids.device) < p
    return torch.where(drop[:, None], empty_ids.to(text_ids.device)[None], text_ids)
