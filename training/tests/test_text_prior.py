"""Text encoder with a frozen word prior (text_encoder.py docstring): gradients, the effective-table export and
its loading back (plain model and the --init path), checkpoint records of the table, int8, misuse."""

import json
import os

import numpy as np
import pytest
import torch
from mmamba.bpe import BPETokenizer
from mmamba.checkpoint import load_checkpoint, save_checkpoint
from mmamba.config import config_from_dict, tiny_mmamba, tiny_text, tiny_uvit
from mmamba.export import bake_prior, export_weights, load_manifest, load_state_dict_from_manifest
from mmamba.mmamba import build_model
from mmamba.text_encoder import (
    PriorMismatchError,
    TextEncoder,
    attach_prior,
    prior_config,
    read_prior,
    set_prior_noise,
)

WORDS = ["a", "red", "apple", "zorblat", "car", "blue", "cat", "dog", "up", "7"]
SEED = 20261202


def write_table(path, seed, dim=8, words=WORDS):
    rng = np.random.default_rng(seed)
    np.savez(path, words=np.array(words), vectors=(rng.standard_normal((len(words), dim)) * 3).astype(np.float16))
    return str(path)


def setup(tmp_path, arch="mmamba", seed=SEED):
    """(model with an attached prior, tokenizer, table path), randomised so every layer matters."""
    print("seed", seed)
    torch.manual_seed(seed)
    table = write_table(tmp_path / "toy.npz", seed)
    tok = BPETokenizer.train(
        ["a red apple", "blue car, red cat", "x-ray!"] * 2, vocab_size=270, max_len=6, words=WORDS, version=2
    )
    text = tiny_text()
    text.vocab_size = tok.vocab_size
    for k, v in prior_config(table).items():
        setattr(text, k, v)
    cfg = (tiny_mmamba if arch == "mmamba" else tiny_uvit)(text=text)
    model = build_model(cfg)
    attach_prior(model, table, tokenizer=tok)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "mod.proj" in n:
                p.copy_(torch.randn(p.shape) * 0.3)
    return model.eval(), tok, table


def batch(model, tok, seed=SEED):
    g = torch.Generator().manual_seed(seed)
    cfg = model.cfg
    img = torch.randint(0, cfg.codebook_size + 1, (2, cfg.hw), generator=g)
    txt = torch.stack([torch.tensor(tok.encode("Zorblat, red-apple!")), torch.tensor(tok.encode("blue x-ray cat"))])
    assert (txt >= cfg.text.word_offset).any() and ((txt < cfg.text.word_offset) & (txt > 2)).any()
    return img, txt


def test_scale_and_gradients(tmp_path):
    model, tok, _ = setup(tmp_path)
    enc: TextEncoder = model.text
    assert tuple(enc.tok_emb.weight.shape) == (enc.cfg.word_offset, enc.cfg.width)
    assert "text.word_vectors" not in model.state_dict() and "text.prior_sha256" in model.state_dict()
    assert not enc.word_vectors.requires_grad and all(p is not enc.word_vectors for p in model.parameters())
    # word_vectors is scaled to mean squared row norm 1, so word rows start at tok_emb's scale (within 2x)
    assert abs(float((enc.word_vectors.double() ** 2).sum(1).mean()) - 1.0) < 1e-5
    with torch.no_grad():
        ratio = float(enc.word_embeddings().std() / enc.tok_emb.weight.std())
    assert 0.5 < ratio < 2.0, ratio
    img, txt = batch(model, tok)
    model.train()
    model(img, txt).float().square().mean().backward()
    g = enc.tok_emb.weight.grad
    used = torch.unique(txt[txt < enc.cfg.word_offset])
    assert g[used].abs().sum(1).gt(0).all()
    unused = torch.ones(enc.cfg.word_offset, dtype=torch.bool)
    unused[used] = False
    assert g[unused].abs().sum() == 0  # word positions give tok_emb no gradient
    assert enc.word_proj.weight.grad.abs().sum() > 0 and enc.word_proj.bias.grad.abs().sum() > 0
    assert enc.word_vectors.grad is None


def test_words_use_the_table(tmp_path):
    model, tok, _ = setup(tmp_path)
    enc = model.text
    zid = tok.word_offset + WORDS.index("zorblat")
    with torch.no_grad():
        e1 = enc.embed(torch.tensor([[zid]]))
        enc.word_vectors[WORDS.index("zorblat")] += 1.0
        e2 = enc.embed(torch.tensor([[zid]]))
    assert not torch.equal(e1, e2)
    assert torch.allclose(e2[0, 0], enc.word_proj(enc.word_vectors[WORDS.index("zorblat")]))


@pytest.mark.parametrize("arch", ["mmamba", "uvit"])
def test_effective_table_export_same_logits(tmp_path, arch):
    model, tok, table = setup(tmp_path, arch)
    img, txt = batch(model, tok)
    with torch.no_grad():
        ref = model(img, txt)
    state, cfg = bake_prior(model.state_dict(), model.cfg.to_dict(), table, tok.to_dict())
    assert cfg["text"]["prior_words"] == 0 and cfg["text"]["prior_sha256"] == read_prior(table).sha256
    assert model.cfg.text.prior_words == len(WORDS)  # the input config is not modified
    out = tmp_path / "exp"
    export_weights(state, str(out), "t", arch, cfg, tokenizer=tok.to_dict(), dtype="f32")
    man, sd = load_state_dict_from_manifest(str(out))
    assert man["tensors"]["text.tok_emb.weight"]["shape"] == [tok.vocab_size, model.cfg.text.width]
    assert not any("word_proj" in k or "prior" in k for k in man["tensors"])
    assert BPETokenizer.from_dict(man["tokenizer"]).encode("Zorblat!") == tok.encode("Zorblat!")
    plain = build_model(config_from_dict(man["config"]))  # the evaluation loaders' path
    plain.load_state_dict(sd, strict=True)
    with torch.no_grad():
        got = plain.eval()(img, txt)
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)
    # --init: a model built with the prior, attached, then loaded from the manifest becomes a plain table
    again, _, _ = setup(tmp_path, arch, seed=SEED + 1)
    again.load_state_dict(sd, strict=True)
    assert again.cfg.text.prior_words == 0 and not hasattr(again.text, "word_proj")
    assert tuple(again.text.tok_emb.weight.shape) == (tok.vocab_size, model.cfg.text.width)
    with torch.no_grad():
        torch.testing.assert_close(again.eval()(img, txt), ref, atol=1e-5, rtol=1e-5)


def test_int8_effective_table(tmp_path):
    model, tok, table = setup(tmp_path)
    state, cfg = bake_prior(model.state_dict(), model.cfg.to_dict(), table)
    man = export_weights(state, str(tmp_path / "q"), "t", "mmamba", cfg, int8=True, int8_min_numel=64)
    t = man["tensors"]["text.tok_emb.weight"]
    assert t["dtype"] == "int8" and man["tensors"][t["scale"]]["shape"] == [tok.vocab_size]
    _, arrs = load_manifest(str(tmp_path / "q"))
    ref = state["text.tok_emb.weight"].numpy()
    step = np.abs(ref).max(1, keepdims=True) / 127
    assert np.all(np.abs(arrs["text.tok_emb.weight"] - ref) <= step * 0.5 + 1e-3 * step + 1e-7)


def test_checkpoint_records_and_refuses_other_table(tmp_path):
    model, tok, table = setup(tmp_path)
    path = save_checkpoint(str(tmp_path / "run"), 1, model, extra={"config": model.cfg.to_dict()})
    st = torch.load(path, map_location="cpu", weights_only=True)
    assert "text.word_vectors" not in st["model"]
    assert bytes(st["model"]["text.prior_sha256"].tolist()).hex() == read_prior(table).sha256
    assert st["extra"]["config"]["text"]["prior_name"] == "toy"
    # the same table: fine, in either order (attach then load, or load then attach)
    cfg = config_from_dict(st["extra"]["config"])
    m2 = build_model(cfg)
    attach_prior(m2, table)
    load_checkpoint(path, m2, restore_rng=False)
    m3 = build_model(config_from_dict(st["extra"]["config"]))
    load_checkpoint(path, m3, restore_rng=False)
    attach_prior(m3, table)
    img, txt = batch(model, tok)
    with torch.no_grad():
        torch.testing.assert_close(m3.eval()(img, txt), model(img, txt))
    # another table of the same shape: refused by the config record, by the checkpoint's buffer, both orders
    other = write_table(tmp_path / "other.npz", SEED + 7)
    with pytest.raises(PriorMismatchError, match="config"):
        attach_prior(build_model(config_from_dict(st["extra"]["config"])), other)
    fresh = dict(st["extra"]["config"])
    fresh["text"] = {**fresh["text"], "prior_sha256": "", "prior_name": ""}
    m4 = build_model(config_from_dict(fresh))
    attach_prior(m4, other)
    with pytest.raises(PriorMismatchError, match="checkpoint was trained"):
        load_checkpoint(path, m4, restore_rng=False)
    m5 = build_model(config_from_dict(fresh))
    load_checkpoint(path, m5, restore_rng=False)
    with pytest.raises(PriorMismatchError, match="loaded checkpoint"):
        attach_prior(m5, other)
    # the exporter refuses it too
    with pytest.raises(PriorMismatchError):
        bake_prior(st["model"], st["extra"]["config"], other)


def test_misuse_messages(tmp_path):
    model, tok, table = setup(tmp_path)
    cfg = config_from_dict(model.cfg.to_dict())
    unattached = build_model(cfg)
    img, txt = batch(model, tok)
    with pytest.raises(RuntimeError, match="attach_prior"):
        unattached(img, txt)
    with pytest.raises(ValueError, match="no text encoder"):
        attach_prior(build_model(tiny_mmamba()), table)
    small = write_table(tmp_path / "small.npz", 1, words=WORDS[:5])
    with pytest.raises(PriorMismatchError):
        attach_prior(build_model(config_from_dict(model.cfg.to_dict())), small)
    bad = tmp_path / "bad.npz"
    np.savez(bad, words=np.array(["Bad"]), vectors=np.zeros((1, 4), np.float16))
    with pytest.raises(ValueError, match="a-z0-9"):
        read_prior(str(bad))
    plain_tok = BPETokenizer.train(["a red apple"] * 2, vocab_size=270, max_len=6, words=WORDS[::-1], version=2)
    with pytest.raises(PriorMismatchError, match="words"):
        attach_prior(build_model(config_from_dict(model.cfg.to_dict())), table, tokenizer=plain_tok)


@pytest.mark.parametrize("sigma", [0.3, 1.0])
def test_prior_noise_only_in_training_on_word_rows(tmp_path, sigma):
    model, tok, _ = setup(tmp_path)
    enc: TextEncoder = model.text
    assert set_prior_noise(model, sigma) == 1 and enc.prior_noise == sigma
    txt = torch.tensor([tok.encode("Zorblat, red-apple!")] * 512)  # (512, Lt): many draws of the same words
    is_word = txt >= enc.cfg.word_offset
    with torch.no_grad():
        clean = enc.embed(txt)  # eval mode: no noise
        enc.train()
        torch.manual_seed(SEED)
        noisy = enc.embed(txt)
        torch.manual_seed(SEED)
        again = enc.embed(txt)
        enc.eval()
        assert torch.equal(enc.embed(txt), clean)
    assert torch.equal(noisy, again)  # drawn from torch's seeded RNG
    assert torch.equal(noisy[~is_word], clean[~is_word])  # learned rows untouched
    assert (noisy[is_word] != clean[is_word]).any(-1).all()  # every word position moved
    # the difference is word_proj's linear map of the noise: recover it and check its scale
    W = enc.word_proj.weight.detach()  # (w, prior_dim), full column rank
    eps = torch.linalg.lstsq(W, (noisy[is_word] - clean[is_word]).T).solution.T  # (n, prior_dim)
    want = sigma / enc.cfg.prior_dim**0.5
    got = float(eps.std())
    assert abs(got - want) < 0.05 * want, (got, want)
    assert abs(float(eps.norm(dim=1).mean()) - sigma) < 0.1 * sigma
    assert abs(float(eps.mean())) < 0.05 * want
    set_prior_noise(model, 0)
    enc.train()
    with torch.no_grad():
        assert torch.equal(enc.embed(txt), clean)


def test_prior_noise_misuse(tmp_path):
    model, _, _ = setup(tmp_path)
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="finite number >= 0"):
            set_prior_noise(model, bad)
    with pytest.raises(ValueError, match="needs a word prior"):
        set_prior_noise(build_model(tiny_mmamba()), 0.3)
    assert set_prior_noise(build_model(tiny_mmamba()), 0) == 0


def test_config_round_trip():
    t = tiny_text()
    t.vocab_size, t.prior_words, t.prior_dim, t.prior_name, t.prior_sha256 = 400, 50, 8, "glove", "ab" * 32
    d = json.loads(json.dumps(tiny_mmamba(text=t).to_dict()))
    assert config_from_dict(d).text == t and config_from_dict(d).text.word_offset == 350
    with pytest.raises(ValueError):
        type(t)(vocab_size=300, prior_words=5, prior_dim=0)


def test_golden_fixture_is_current(tmp_path):
    """tests/fixtures/text_prior_tiny must be what make_text_prior_fixture.py writes now (same table file)."""
    import shutil

    from make_text_prior_fixture import build
    from mmamba.export import parse_safetensors

    committed = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "text_prior_tiny")
    if not os.path.exists(os.path.join(committed, "prior.npz")):
        pytest.skip("no committed text_prior_tiny fixture")
    os.makedirs(tmp_path / "text_prior_tiny")
    shutil.copy(os.path.join(committed, "prior.npz"), tmp_path / "text_prior_tiny" / "prior.npz")
    build(str(tmp_path))
    for name in ("arrays.safetensors", "model-00000.safetensors"):
        with open(os.path.join(committed, name), "rb") as f:
            want = parse_safetensors(f.read())
        with open(tmp_path / "text_prior_tiny" / name, "rb") as f:
            got = parse_safetensors(f.read())
        assert set(got) == set(want), name
        for k in want:
            np.testing.assert_allclose(got[k], want[k], rtol=1e-5, atol=1e-6, err_msg=f"{name}: {k}")
    with open(os.path.join(committed, "manifest.json")) as f:
        m_want = json.load(f)
    with open(tmp_path / "text_prior_tiny" / "manifest.json") as f:
        m_got = json.load(f)
    assert m_got["config"] == m_want["config"] and m_got["tokenizer"] == m_want["tokenizer"]
