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

Image-to-image strength s (strength_keep, as src/model/strength_mask.ts): n = floor(s·HW + 0.5) tokens of the
picture are re-masked (keep = 0), the rest kept, then the sampler runs as an edit. Which n:
    random      the first n places of a Fisher–Yates shuffle driven by mulberry32(seed) (the same stream as the
                browser's), so the same strength and seed give the same mask;
    confidence  the n tokens the model finds least likely given the prompt, from one batch-2 forward pass (no
                guidance): row 0 masks the checkerboard cells (r + c) even, row 1 the odd ones, and each token's
                score is log softmax(logits)[token] from the row where it is masked (its neighbours visible).
                Lowest scores first, ties: lower index first. Tokens that are not codebook ids ([MASK]) score
                -inf. Independent of the seed.
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


def masked_count_for_strength(hw: int, strength: float) -> int:
    """round(s·HW) with s clamped to [0, 1], rounding halves up (as JavaScript's Math.round)."""
    s = min(1.0, max(0.0, float(strength))) if math.isfinite(strength) else 0.0
    return int(math.floor(s * hw + 0.5))


def _mulberry32(seed: int):
    """The browser's mulberry32 u32 -> [0, 1) stream (src/model/strength_mask.ts), in 32-bit arithmetic."""
    a = seed & 0xFFFFFFFF
    m = 0xFFFFFFFF

    def imul(x: int, y: int) -> int:
        return (x * y) & m

    def nxt() -> float:
        nonlocal a
        a = (a + 0x6D2B79F5) & m
        t = a
        t = imul(t ^ (t >> 15), t | 1)
        t ^= (t + imul(t ^ (t >> 7), t | 61)) & m
        return ((t ^ (t >> 14)) & m) / 4294967296

    return nxt


def random_keep(hw: int, strength: float, seed: int) -> torch.Tensor:
    """(HW,) bool keep-mask with exactly masked_count_for_strength zeros, chosen by `seed` (keepForStrength)."""
    keep = torch.ones(hw, dtype=torch.bool)
    order = list(range(hw))
    rand = _mulberry32(seed)
    for i in range(masked_count_for_strength(hw, strength)):
        j = i + int(math.floor(rand() * (hw - i)))
        order[i], order[j] = order[j], order[i]
        keep[order[i]] = False
    return keep


def checkerboard_rows(grid: int) -> torch.Tensor:
    """(2, HW) bool: row 0 True on cells with (r + c) even, row 1 on the odd ones (the cells each row masks)."""
    r = torch.arange(grid)[:, None]
    c = torch.arange(grid)[None, :]
    even = ((r + c) % 2 == 0).flatten()
    return torch.stack([even, ~even])


@torch.no_grad()
def token_confidence(model: ModelFn, text_ids: torch.Tensor, tokens: torch.Tensor, grid: int, codebook_size: int):
    """(HW,) float: log p(token | prompt, the other checkerboard colour) from one batch-2 forward; -inf where the
    token is not a codebook id. text_ids (Lt,) or (1, Lt); tokens (HW,)."""
    dev = tokens.device
    hw = grid * grid
    tok = tokens.to(torch.long).view(hw)
    valid = (tok >= 0) & (tok < codebook_size)
    rows = checkerboard_rows(grid).to(dev)  # (2, HW): masked cells of each row
    hidden = rows | ~valid[None]  # masked cells of each row, and tokens that are not codebook ids
    inp = torch.where(hidden, torch.full_like(rows, codebook_size, dtype=torch.long), tok[None].expand(2, hw))
    text = text_ids.to(dev).view(1, -1).expand(2, -1)
    logp = F.log_softmax(model(inp, text).float(), dim=-1)  # (2, HW, K)
    safe = torch.where(valid, tok, torch.zeros_like(tok))
    per_row = logp.gather(-1, safe[None, :, None].expand(2, hw, 1))[..., 0]  # (2, HW)
    score = torch.where(rows[0], per_row[0], per_row[1])
    return torch.where(valid, score, torch.full_like(score, float("-inf")))


def confidence_keep(
    model: ModelFn, text_ids: torch.Tensor, tokens: torch.Tensor, strength: float, grid: int, codebook_size: int
) -> torch.Tensor:
    """(HW,) bool keep-mask: the masked_count_for_strength least confident tokens re-masked (token_confidence)."""
    hw = grid * grid
    score = token_confidence(model, text_ids, tokens, grid, codebook_size).cpu()
    order = torch.sort(score, stable=True).indices  # ascending; ties -> lower index
    keep = torch.ones(hw, dtype=torch.bool)
    keep[order[: masked_count_for_strength(hw, strength)]] = False
    return keep


def strength_keep(
    how: str,
    model: ModelFn,
    text_ids: torch.Tensor,
    tokens: torch.Tensor,
    strength: float,
    seed: int,
    grid: int,
    codebook_size: int,
) -> torch.Tensor:
    """Image-to-image keep-mask by `how` ('random' or 'confidence'); tokens that are not codebook ids are never kept."""
    hw = grid * grid
    if how == "random":
        keep = random_keep(hw, strength, seed)
    elif how == "confidence":
        keep = confidence_keep(model, text_ids, tokens, strength, grid, codebook_size)
    else:
        raise ValueError(f"unknown re-masking {how!r}")
    tok = tokens.to(torch.long).view(hw).cpu()
    return keep & (tok >= 0) & (tok < codebook_size)


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
    Returns the token grid (B, HW) long after every step (S grids; the last one has no [MASK]).
    The defaults are the fixed ruler's (tau 4.5); the page defaults to tau 1.5 (GENERATION_SETTINGS), so a fixture
    compared with the page names its tau."""
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
