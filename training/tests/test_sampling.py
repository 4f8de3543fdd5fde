"""Shared RNG (checked against an independent, literal implementation) and the MaskGIT sampler."""

import math

import torch
from mmamba.rng import gumbel, hash32, uniform
from mmamba.sampling import drop_text, mask_for_training, masked_token_loss, maskgit_sample, n_mask_after_step


def lowbias32_literal(x):
    # straightforward second implementation: explicit modulo arithmetic, one operation per line
    x = x % 2**32
    x = x ^ (x // 65536)
    x = (x * 2146121005) % 2**32  # 0x7feb352d
    x = x ^ (x // 32768)
    x = (x * 2221713035) % 2**32  # 0x846ca68b
    x = x ^ (x // 65536)
    return x


def test_hash32_known_values():
    assert lowbias32_literal(0) == 0 and hash32(0) == 0
    xs = [1, 2, 3, 12345, 0xDEADBEEF, 2**32 - 1, 2**31, 987654321]
    for x in xs:
        assert hash32(x) == lowbias32_literal(x)
    t = hash32(torch.tensor(xs, dtype=torch.int64))
    assert t.tolist() == [lowbias32_literal(x) for x in xs]


def test_uniform_matches_literal():
    seed, stream = 42, 7
    idx = torch.arange(0, 5000, 37)
    u = uniform(seed, stream, idx)
    key = lowbias32_literal(seed ^ lowbias32_literal(stream))
    ref = [((lowbias32_literal(i ^ key) >> 8) + 0.5) / 2**24 for i in idx.tolist()]
    assert u.dtype == torch.float32
    assert torch.equal(u, torch.tensor(ref, dtype=torch.float64).float())
    assert (u > 0).all() and (u < 1).all()
    g = gumbel(u)
    assert torch.isfinite(g).all()
    assert abs(g.mean().item() - 0.5772) < 0.2


class DummyModel:
    """Logits depend on text, position and the current tokens, deterministically."""

    def __init__(self, K, hw):
        g = torch.Generator().manual_seed(0)
        self.W = torch.randn(hw, K, generator=g)
        self.K = K

    def __call__(self, tokens, text_ids):
        t = text_ids.float().sum(-1, keepdim=True)[..., None] * 0.01  # (B, 1, 1)
        known = (tokens < self.K).float().sum(-1)[:, None, None] * 0.05  # (B, 1, 1)
        return self.W[None] * (1 + t) + known


def run(seed, steps=6, guidance=2.0, B=2, hw=16, K=8):
    model = DummyModel(K, hw)
    text = torch.tensor([[1, 5, 6, 2], [1, 7, 2, 0]])[:B]
    unc = torch.tensor([[1, 2, 0, 0]] * B)
    return maskgit_sample(
        model, text, uncond_ids=unc, hw=hw, codebook_size=K, steps=steps, guidance=guidance, seed=seed
    )


def test_sampler_reveals_and_completes():
    K, hw = 8, 16
    for steps in (1, 3, 6, 12, 20):
        grids = run(3, steps=steps, hw=hw, K=K)
        assert len(grids) == steps
        prev = torch.full_like(grids[0], K)
        for i, g in enumerate(grids):
            masked_prev, masked = (prev == K).sum(-1), (g == K).sum(-1)
            assert ((masked < masked_prev) | (masked_prev == 0)).all(), f"step {i} revealed nothing"
            # revealed tokens stay fixed
            assert torch.equal(g[prev != K], prev[prev != K])
            n = n_mask_after_step(i, steps, hw)
            expected = torch.tensor([max(0, min(n, int(m) - 1)) for m in masked_prev])
            assert torch.equal(masked, expected)
            prev = g
        assert (grids[-1] != K).all() and (grids[-1] >= 0).all()


def test_sampler_seeded():
    a, b, c = run(11), run(11), run(12)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(a[-1], c[-1])
    assert not torch.equal(run(11, guidance=0.0)[-1], torch.full((2, 16), 8))


def test_n_mask_schedule():
    assert n_mask_after_step(11, 12, 256) == 0
    assert n_mask_after_step(0, 12, 256) == math.floor(math.cos(math.pi / 24) * 256)


def test_training_mask_and_loss():
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, 16, (64, 16), generator=g)
    masked, mask = mask_for_training(tokens, g, mask_id=16)
    n = mask.sum(-1)
    assert (n >= 1).all() and (n <= 16).all()
    assert torch.equal(masked[mask], torch.full_like(masked[mask], 16))
    assert torch.equal(masked[~mask], tokens[~mask])
    assert n.float().mean() > 16 * 0.5  # E[cos(pi/2 t)] = 2/pi ≈ 0.64
    logits = torch.randn(64, 16, 16)
    loss = masked_token_loss(logits, tokens, mask)
    ce = torch.nn.functional.cross_entropy(logits[mask], tokens[mask])
    assert torch.allclose(loss, ce)


def test_drop_text():
    g = torch.Generator().manual_seed(0)
    text = torch.full((1000, 4), 9)
    empty = torch.tensor([1, 2, 0, 0])
    out = drop_text(text, empty, 0.1, g)
    dropped = (out == empty).all(-1)
    assert 50 < dropped.sum() < 150
    assert (out[~dropped] == 9).all()


def test_inpainting_keeps_tokens_and_follows_the_schedule_over_the_masked_count():
    K, hw, steps = 8, 16, 5
    model = DummyModel(K, hw)
    text = torch.tensor([[1, 5, 6, 2], [1, 7, 2, 0]])
    unc = torch.tensor([[1, 2, 0, 0]] * 2)
    init = torch.arange(hw) % K
    keep = torch.tensor([[1, 0] * 8, [1, 1, 1, 0] * 4], dtype=torch.bool)  # M = 8 and 4 per sample
    kw = dict(uncond_ids=unc, hw=hw, codebook_size=K, steps=steps, guidance=2.0, seed=11)
    grids = maskgit_sample(model, text, init_tokens=init, keep=keep, **kw)
    for b in range(2):
        m = int((~keep[b]).sum())
        prev = m
        for i, g in enumerate(grids):
            assert torch.equal(g[b][keep[b]], init[keep[b]]), f"kept token changed at step {i}"
            masked = int((g[b] == K).sum())
            assert masked == max(0, min(n_mask_after_step(i, steps, m), prev - 1)), (b, i)
            prev = masked
        assert (grids[-1][b] < K).all()
    # deterministic for a seed; a keep-nothing mask is plain generation
    assert all(torch.equal(a, b) for a, b in zip(grids, maskgit_sample(model, text, init_tokens=init, keep=keep, **kw)))
    none = torch.zeros(hw, dtype=torch.bool)
    plain = maskgit_sample(model, text, **kw)
    assert all(torch.equal(a, b) for a, b in zip(plain, maskgit_sample(model, text, init_tokens=init, keep=none, **kw)))


def test_strength_keep_random_and_confidence():
    from mmamba.sampling import confidence_keep, masked_count_for_strength, random_keep, strength_keep, token_confidence

    assert [masked_count_for_strength(256, s) for s in (0, 0.3, 0.5, 1, 1.5, -1)] == [0, 77, 128, 256, 256, 0]
    assert masked_count_for_strength(4, 0.375) == 2  # 1.5 rounds half up, as JavaScript's Math.round
    a = random_keep(256, 0.4, 12345)
    assert int((~a).sum()) == 102 and torch.equal(a, random_keep(256, 0.4, 12345))
    assert not torch.equal(a, random_keep(256, 0.4, 12346))
    # a "model" whose logits favour token p % K at position p: every token but the planted ones is likely
    K, grid = 8, 4
    hw = grid * grid
    seen = []

    def model(tok, text):
        seen.append(tok.clone())
        lg = torch.full((tok.shape[0], hw, K), -5.0)
        lg[:, torch.arange(hw), torch.arange(hw) % K] = 5.0
        return lg

    tokens = torch.arange(hw) % K
    tokens[[3, 9]] = (tokens[[3, 9]] + 1) % K  # two unlikely tokens
    tokens[12] = K  # [MASK]: never kept
    text = torch.zeros(1, 4, dtype=torch.long)
    score = token_confidence(model, text, tokens, grid, K)
    assert len(seen) == 1 and seen[0].shape == (2, hw)  # one batch-2 forward
    assert (seen[0] == K).sum(0).min() >= 1  # every position masked in one of the rows
    assert score[12] == float("-inf")
    keep = confidence_keep(model, text, tokens, 3 / hw, grid, K)
    assert sorted((~keep).nonzero().flatten().tolist()) == [3, 9, 12]
    r = strength_keep("random", model, text, tokens, 0.25, 7, grid, K)
    assert not bool(r[12]) and int((~r).sum()) in (4, 5)
