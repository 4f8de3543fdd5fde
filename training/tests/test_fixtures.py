"""Golden fixtures: generation runs, files are consistent (weights load with sha256, shapes match the
config, a forward from the stored weights reproduces the stored stages, loss and sampling), and the
committed tests/fixtures/ is in sync with the current model code."""

import json
import os

import numpy as np
import pytest
import torch
from mmamba import config as C
from mmamba.export import load_state_dict_from_manifest, parse_safetensors
from mmamba.sampling import masked_token_loss, maskgit_sample

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
COMMITTED = os.path.join(ROOT, "tests", "fixtures")


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    import make_fixtures

    out = str(tmp_path_factory.mktemp("fx"))
    make_fixtures.main(["--out", out])
    return out


def _arrays(folder):
    with open(os.path.join(folder, "arrays.safetensors"), "rb") as f:
        return {k: torch.from_numpy(np.array(v)) for k, v in parse_safetensors(f.read()).items()}


def _check_generator(folder):
    from mmamba.mmamba import build_model

    with open(os.path.join(folder, "fixture.json")) as f:
        meta = json.load(f)
    man, sd = load_state_dict_from_manifest(folder)
    cfg = C.config_from_dict(man["config"])
    model = build_model(cfg)
    model.load_state_dict(sd)
    if hasattr(model, "use_ref_scan"):
        model.use_ref_scan = True
    a = _arrays(folder)
    for k, info in meta["arrays"].items():
        assert list(a[k].shape) == info["shape"], k
    B = meta["batch"]
    assert a["input.text_ids"].shape == (B, cfg.text.max_len) and a["stage.logits"].shape == (
        B,
        cfg.hw,
        cfg.codebook_size,
    )
    logits, stages = model(a["input.img_tokens"].long(), a["input.text_ids"].long(), return_stages=True)
    for k in meta["stages"]:
        torch.testing.assert_close(stages[k], a[f"stage.{k}"], rtol=1e-4, atol=1e-5)
    loss = masked_token_loss(logits, a["input.targets"].long(), a["input.mask"].bool())
    assert abs(float(loss.detach()) - float(a["loss"][0])) < 1e-5 and abs(meta["loss"] - float(a["loss"][0])) < 1e-6
    loss.backward()
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.grad, a[f"grad.{n}"], rtol=1e-3, atol=1e-6)
    model.eval()
    s = meta["sampling"]
    grids = maskgit_sample(
        lambda t, x: model(t, x),
        a["input.text_ids"].long(),
        hw=cfg.hw,
        codebook_size=cfg.codebook_size,
        uncond_ids=a["sample.uncond_ids"].long(),
        **s,
    )
    assert torch.equal(torch.stack(grids), a["sample.tokens"].long())
    assert (a["sample.tokens"][-1] < cfg.codebook_size).all()  # nothing masked at the end


def _check_vq(folder):
    from mmamba.vq import VQConfig, VQModel

    man, sd = load_state_dict_from_manifest(folder)
    m = VQModel(VQConfig.from_dict(man["config"]))
    m.load_state_dict(sd)
    m.eval()
    a = _arrays(folder)
    torch.testing.assert_close(m.decode_tokens(a["decode.tokens"].long()), a["decode.pixels"], rtol=1e-4, atol=1e-5)
    assert torch.equal(m.encode(a["encode.image"]), a["encode.tokens"].long())
    torch.testing.assert_close(sd["quant.codebook"].norm(dim=1), torch.ones(m.cfg.codebook_size))


def test_slim_fixture_config(fresh):
    """mmamba_ffn_tiny is the slim layer it is named for (expand 1, d_state 1, FFN): the sizes the TS tests cover."""
    with open(os.path.join(fresh, "mmamba_ffn_tiny", "manifest.json")) as f:
        cfg = json.load(f)["config"]
    assert (cfg["expand"], cfg["d_state"], cfg["ffn"], cfg["pos_emb"]) == (1, 1, True, True)


def test_fresh_fixtures_consistent(fresh):
    with open(os.path.join(fresh, "index.json")) as f:
        index = json.load(f)
    assert index["totalBytes"] < 2_000_000
    for name in ("mmamba_tiny", "uvit_tiny", "mmamba_ffn_tiny"):
        _check_generator(os.path.join(fresh, name))
    _check_vq(os.path.join(fresh, "vq_tiny"))


@pytest.mark.skipif(not os.path.exists(os.path.join(COMMITTED, "index.json")), reason="no committed fixtures yet")
def test_committed_fixtures_current():
    """Fails when model code changed without `python training/make_fixtures.py` being re-run."""
    for name in ("mmamba_tiny", "uvit_tiny", "mmamba_ffn_tiny"):
        _check_generator(os.path.join(COMMITTED, name))
    _check_vq(os.path.join(COMMITTED, "vq_tiny"))
