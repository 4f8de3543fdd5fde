"""The batched per-seed sampler equals the reference sampler run one image at a time (the browser's batch-1 path)."""

import pytest
import torch
from mmamba import config as C
from mmamba.mmamba import MMamba
from mmamba.sampling import maskgit_sample
from mmamba.seeded_sampling import maskgit_sample_rows
from mmamba.uvit import UViT


@pytest.mark.parametrize("arch,guidance", [("mmamba", 3.0), ("uvit", 1.0), ("uvit", 4.0)])
def test_rows_equal_batch_one_reference(arch, guidance):
    torch.manual_seed(0)
    cfg = C.tiny_mmamba() if arch == "mmamba" else C.tiny_uvit()
    model = (MMamba if arch == "mmamba" else UViT)(cfg).eval()
    Lt = cfg.text.max_len
    ids = torch.randint(3, cfg.text.vocab_size, (3, Lt))
    unc = torch.zeros_like(ids)
    unc[:, 0], unc[:, 1] = 1, 2
    seeds = torch.tensor([7, 2**31 + 5, 7])  # a repeated seed with another prompt too
    rows = maskgit_sample_rows(
        model, ids, unc, seeds, hw=cfg.hw, codebook_size=cfg.codebook_size, steps=4, guidance=guidance, tau=4.5
    )
    assert rows.shape == (3, cfg.hw) and int(rows.max()) < cfg.codebook_size
    for b in range(3):
        ref = maskgit_sample(
            model,
            ids[b : b + 1],
            hw=cfg.hw,
            codebook_size=cfg.codebook_size,
            uncond_ids=unc[b : b + 1],
            steps=4,
            guidance=guidance,
            tau=4.5,
            seed=int(seeds[b]),
        )[-1]
        assert torch.equal(ref[0], rows[b]), b
