"""M-Mamba / UViT: permutations, config round trip, ref-vs-fast scan inside the model, gradient flow,
receptive field of the cross-scan, parameter names/shapes, and the shipped presets' size match."""

import json

import pytest
import torch
from mmamba.config import config_from_dict, small_mmamba, small_uvit, tiny_mmamba, tiny_uvit
from mmamba.mmamba import MMamba, image_permutations, sequence_permutations
from mmamba.uvit import UViT


def randomise_modulation(model, std=0.3, seed=0):
    """adaLN-Zero makes every layer the identity at init; give the modulations random values so that
    the tests exercise the layers."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "mod.proj" in name:
                p.copy_(torch.randn(p.shape, generator=g) * std)


def inputs(cfg, B=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    img = torch.randint(0, cfg.codebook_size + 1, (B, cfg.hw), generator=g)
    txt = torch.randint(3, cfg.text.vocab_size, (B, cfg.text.max_len), generator=g)
    txt[:, 0] = 1
    txt[0, 3] = 2
    txt[0, 4:] = 0  # one padded prompt
    txt[1, -1] = 2
    return img, txt


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_permutations_invert():
    for grid in (1, 2, 3, 4, 16):
        P = image_permutations(grid)
        for k in range(4):
            inv = torch.argsort(P[k])
            assert torch.equal(P[k][inv], torch.arange(grid * grid))
            assert torch.equal(inv[P[k]], torch.arange(grid * grid))
        if grid == 3:
            assert P[1].tolist() == [0, 3, 6, 1, 4, 7, 2, 5, 8]
            assert P[3].tolist() == [8, 5, 2, 7, 4, 1, 6, 3, 0]
    for dirs in (1, 2, 4):
        for tp in ("first", "middle"):
            cfg = tiny_mmamba(directions=dirs, text_position=tp)
            perm, inv = sequence_permutations(cfg)
            L = cfg.seq_len
            assert perm.shape == (dirs, L)
            for k in range(dirs):
                assert torch.equal(perm[k][inv[k]], torch.arange(L))
                assert sorted(perm[k].tolist()) == list(range(L))
                txt_pos = (perm[k] < cfg.text.max_len).nonzero()[:, 0]
                assert torch.equal(perm[k][txt_pos], torch.arange(cfg.text.max_len))  # text in order
                if tp == "first":
                    assert txt_pos.tolist() == list(range(cfg.text.max_len))


def test_config_roundtrip():
    for cfg in (
        tiny_mmamba(),
        small_mmamba(),
        tiny_uvit(),
        small_uvit(),
        tiny_mmamba(ffn=True, pos_emb=True, directions=2, text_position="middle"),
    ):
        d = json.loads(json.dumps(cfg.to_dict()))
        back = config_from_dict(d)
        assert back == cfg
    assert small_mmamba().dt_rank == 16 and small_mmamba().mask_id == 1024
    assert small_mmamba().to_dict()["d_inner"] == 512


@pytest.mark.parametrize(
    "kw", [{}, dict(directions=1), dict(directions=2, text_position="middle"), dict(ffn=True, pos_emb=True)]
)
def test_mmamba_ref_vs_fast(kw):
    torch.manual_seed(0)
    cfg = tiny_mmamba(**kw)
    m = MMamba(cfg).double().eval()
    randomise_modulation(m)
    img, txt = inputs(cfg)
    a, st = m(img, txt, return_stages=True, use_ref_scan=True)
    b = m(img, txt, use_ref_scan=False)
    assert a.shape == (2, cfg.hw, cfg.codebook_size)
    assert (a - b).abs().max() / a.abs().max() < 1e-10
    assert set(st) == {"text_tokens", "c", "embed", "layer0", "layer1", "logits"}
    assert st["layer1"].shape == (2, cfg.seq_len, cfg.d)
    assert (st["layer1"] - st["layer0"]).abs().max() > 1e-3  # layers are active
    m.float()
    c = m(img, txt, use_ref_scan=False)
    assert (c.double() - a).abs().max() / a.abs().max() < 1e-4


def check_grads(m, cfg):
    img, txt = inputs(cfg)
    m(img, txt).square().mean().backward()
    for name, p in m.named_parameters():
        assert p.grad is not None, f"{name} unused"
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"{name} gets no gradient"


@pytest.mark.parametrize("kw", [{}, dict(ffn=True, pos_emb=True)])
def test_mmamba_grads_flow(kw):
    torch.manual_seed(1)
    cfg = tiny_mmamba(**kw)
    m = MMamba(cfg)
    randomise_modulation(m)
    check_grads(m, cfg)


def test_uvit_forward_and_grads():
    torch.manual_seed(2)
    cfg = tiny_uvit(layers=2)
    m = UViT(cfg)
    randomise_modulation(m)
    img, txt = inputs(cfg)
    logits, st = m(img, txt, return_stages=True)
    assert logits.shape == (2, cfg.hw, cfg.codebook_size)
    assert st["layer1"].shape == (2, cfg.hw, cfg.d)
    check_grads(m, cfg)


def test_adaln_zero_init_is_identity():
    torch.manual_seed(3)
    cfg = tiny_mmamba()
    m = MMamba(cfg)
    img, txt = inputs(cfg)
    _, st = m(img, txt, return_stages=True)
    assert torch.equal(st["layer1"], st["embed"])


def test_receptive_field():
    torch.manual_seed(4)
    img, txt = inputs(tiny_mmamba())
    img2 = img.clone()
    img2[:, -1] = (img2[:, -1] + 1) % 17  # change the last image token
    for dirs, expect_first_changes in ((1, False), (2, True), (4, True)):
        cfg = tiny_mmamba(directions=dirs)
        m = MMamba(cfg).double()
        randomise_modulation(m)
        a, b = m(img, txt), m(img2, txt)
        diff = (a - b).abs().amax(-1)  # (B, HW)
        # one causal row-major direction: only the last position can see the last token
        assert bool((diff[:, :-1] > 1e-12).any()) == expect_first_changes
        assert (diff[:, -1] > 1e-9).all()
        if dirs == 4:
            assert (diff > 1e-12).all()
    # text is first: changing a text token changes every image logit, in every direction setting
    txt2 = txt.clone()
    txt2[:, 1] = (txt2[:, 1] + 1) % 300
    cfg = tiny_mmamba(directions=1)
    m = MMamba(cfg).double()
    randomise_modulation(m)
    assert ((m(img, txt) - m(img, txt2)).abs().amax(-1) > 1e-12).all()


def test_parameter_layout():
    cfg = tiny_mmamba()
    sd = MMamba(cfg).state_dict()
    di, N, K, R = cfg.d_inner, cfg.d_state, cfg.directions, cfg.dt_rank
    expect = {
        "img_emb.weight": (cfg.codebook_size + 1, cfg.d),
        "layers.0.mod.proj.weight": (3 * cfg.d, cfg.cond_dim),
        "layers.0.in_proj.weight": (2 * di, cfg.d),
        "layers.0.conv_weight": (K, di, cfg.d_conv),
        "layers.0.conv_bias": (K, di),
        "layers.0.x_proj_weight": (K, R + 2 * N, di),
        "layers.0.dt_proj_weight": (K, di, R),
        "layers.0.dt_proj_bias": (K, di),
        "layers.0.A_log": (K, di, N),
        "layers.0.D": (K, di),
        "layers.0.out_norm.weight": (di,),
        "layers.0.out_proj.weight": (cfg.d, di),
        "head_norm.weight": (cfg.d,),
        "head.weight": (cfg.codebook_size, cfg.d),
        "text.tok_emb.weight": (cfg.text.vocab_size, cfg.text.width),
        "text.proj.weight": (cfg.d, cfg.text.width),
        "text.pool_proj.weight": (cfg.cond_dim, cfg.text.width),
    }
    for k, shape in expect.items():
        assert tuple(sd[k].shape) == shape, k
    assert not any("seq_perm" in k or "seq_inv" in k for k in sd)
    m = MMamba(cfg)
    assert torch.allclose(m.layers[0].A_log[2, 5], torch.log(torch.arange(1.0, N + 1)))
    dt = torch.nn.functional.softplus(m.layers[0].dt_proj_bias)
    assert (dt > 0.9e-3).all() and (dt < 0.11).all()


def test_grad_checkpoint_and_bf16_autocast():
    torch.manual_seed(5)
    cfg = tiny_mmamba()
    m = MMamba(cfg)
    randomise_modulation(m)
    img, txt = inputs(cfg)
    m(img, txt).sum().backward()
    g1 = m.layers[0].A_log.grad.clone()
    m.zero_grad()
    m.grad_checkpoint = True
    m(img, txt).sum().backward()
    assert torch.allclose(m.layers[0].A_log.grad, g1, atol=1e-6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = m(img, txt)
    assert torch.isfinite(out).all()


def test_shipped_presets_match_in_size():
    a, b = n_params(MMamba(small_mmamba())), n_params(UViT(small_uvit()))
    assert abs(a - b) / max(a, b) < 0.10, (a, b)
    assert a <= 7_200_000 and b <= 7_200_000, (a, b)


def test_build_model():
    from mmamba.mmamba import build_model

    assert isinstance(build_model(config_from_dict(tiny_mmamba().to_dict())), MMamba)
    assert isinstance(build_model(config_from_dict(tiny_uvit().to_dict())), UViT)
