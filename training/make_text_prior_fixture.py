"""Golden fixture of a text encoder with a frozen word prior (tests/fixtures/text_prior_tiny/, format of
tests/fixtures/README.md): a tiny M-Mamba whose text encoder uses a 24-word, 8-dim word-vector table and a v2
tokenizer with those words. PyTorch runs the prior model itself (word_proj of the gathered word vectors); the
weights are exported through export.py's bake_prior (the effective tok_emb table, config prior_words = 0) in f32,
so the WebGPU engine, which only gathers rows, must reproduce every text stage and the logits
(tests/text_prior_golden.test.ts). The table file prior.npz is kept in the folder and reused, so a rerun writes
the same bytes (np.savez stamps the time; the sha256 recorded in the config must not change).

  cd training && .venv/bin/python make_text_prior_fixture.py [--out ../tests/fixtures]
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import torch
from make_fixtures import _perturb_, _write
from mmamba import config as C
from mmamba.bpe import BPETokenizer
from mmamba.export import bake_prior, export_weights
from mmamba.mmamba import build_model
from mmamba.text_encoder import attach_prior, prior_config

SEED = 20261202
WORDS = [
    "a",
    "red",
    "apple",
    "blue",
    "car",
    "cat",
    "dog",
    "zorblat",
    "thumbs",
    "up",
    "fire",
    "emoji",
    "face",
    "green",
    "tree",
    "on",
    "the",
    "with",
    "of",
    "2",
    "big",
    "small",
    "heart",
    "star",
]
CORPUS = [
    "a red apple on a white background",
    "a blue car, flat style!",
    "x-ray of a hand",
    "fire 🔥🔥",
    "grinning face",
    "café au lait",
    "3d render",
] * 2
PROMPTS = ["Zorblat, red apple!", "thumbs-up 🔥 emoji", "a BLUE x-ray car"]


def build(out: str) -> dict:
    folder = os.path.join(out, "text_prior_tiny")
    os.makedirs(folder, exist_ok=True)
    table = os.path.join(folder, "prior.npz")
    if not os.path.exists(table):
        rng = np.random.default_rng(SEED)
        np.savez(table, words=np.array(WORDS), vectors=(rng.standard_normal((len(WORDS), 8)) * 2).astype(np.float16))
    tok = BPETokenizer.train(CORPUS, vocab_size=280, max_len=8, words=WORDS, version=2)
    text = C.TextConfig(
        vocab_size=tok.vocab_size, max_len=8, width=16, layers=2, heads=2, ffn_mult=2, **prior_config(table)
    )
    cfg = C.tiny_mmamba(text=text)
    torch.manual_seed(SEED)
    model = build_model(cfg)
    attach_prior(model, table, tokenizer=tok)
    _perturb_(model, torch.Generator().manual_seed(SEED + 1))
    model.use_ref_scan = True
    model.eval()
    state, exp_cfg = bake_prior(model.state_dict(), cfg.to_dict(), table, tok.to_dict())
    export_weights(state, folder, "text-prior-tiny-fixture", "mmamba", exp_cfg, tokenizer=tok.to_dict(), dtype="f32")

    ids = torch.tensor([tok.encode(p) for p in PROMPTS])  # (B, Lt)
    g = torch.Generator().manual_seed(SEED + 2)
    img = torch.randint(0, cfg.codebook_size + 1, (len(PROMPTS), cfg.hw), generator=g)
    enc = model.text
    arrays = {"input.text_ids": ids, "input.img_tokens": img}
    with torch.no_grad():
        key_mask = ids != cfg.text.pad_id
        x = enc.embed(ids) + enc.pos_emb[: cfg.text.max_len]  # (B, Lt, w)
        arrays["stage.text_embed"] = x
        for i, blk in enumerate(enc.layers):
            x = blk(x, key_mask)
            arrays[f"stage.text_layer{i}"] = x
        final = enc.norm(x)
        m = key_mask.float()[..., None]
        arrays["stage.text_final"] = final
        arrays["stage.text_pooled"] = (final * m).sum(1) / m.sum(1).clamp_min(1.0)
        logits, stages = model(img, ids, return_stages=True)
    arrays["stage.text_tokens"], arrays["stage.c"] = stages["text_tokens"], stages["c"]
    arrays["stage.logits"] = logits
    meta = {
        "kind": "mmamba",
        "config": exp_cfg,
        "prior_config": cfg.to_dict()["text"],
        "prompts": PROMPTS,
        "weights": "manifest.json",
        "stages": ["text_embed"]
        + [f"text_layer{i}" for i in range(cfg.text.layers)]
        + ["text_final", "text_pooled", "text_tokens", "c", "logits"],
        "notes": "stages from the prior model in PyTorch (eval mode, reference scan); input.text_ids = the v2 "
        "tokenizer of the manifest on `prompts`; the manifest holds the effective table",
    }
    return _write(folder, meta, arrays)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="write tests/fixtures/text_prior_tiny")
    ap.add_argument(
        "--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")
    )
    args = ap.parse_args(argv)
    torch.use_deterministic_algorithms(True)
    build(args.out)
    d = os.path.join(args.out, "text_prior_tiny")
    print(f"text_prior_tiny: {sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))} bytes", flush=True)


if __name__ == "__main__":
    main()
