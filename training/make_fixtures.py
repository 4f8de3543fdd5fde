"""Golden fixtures for the TypeScript engine (llm.c's "debug state" idea): PyTorch (f32, CPU, the
sequential reference scan) writes tiny random models with their inputs, per-stage activations, logits,
masked-token loss, parameter gradients, a seeded MaskGIT sampling run, and a tiny VQ's encode/decode.

Every fixture is a folder under tests/fixtures/ (format: tests/fixtures/README.md):
  manifest.json + model-00000.safetensors   the weights, exported exactly like shipped models but in f32
  fixture.json                              metadata: config, inputs summary, scalars, array names
  arrays.safetensors                        named arrays (F32, or I32 for ids/tokens/masks)
Parameters are the presets' random init plus N(0, 0.05) noise on every parameter, so zero-initialised
gates/biases (adaLN-Zero) do not hide any stage.

  python training/make_fixtures.py --out tests/fixtures
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np
import torch
from mmamba import config as C
from mmamba.export import export_weights, safetensors_bytes
from mmamba.sampling import masked_token_loss, maskgit_sample
from mmamba.vq import VQConfig, VQModel

SEED = 20240611
FORMAT = {"format": "mmamba-fixture", "formatVersion": 1}


def _perturb_(model: torch.nn.Module, g: torch.Generator, std: float = 0.05) -> None:
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * std)


def _write(folder: str, meta: dict, arrays: dict) -> dict:
    os.makedirs(folder, exist_ok=True)
    items = []
    for k, v in arrays.items():
        t = torch.as_tensor(v).detach().cpu()
        a = t.numpy().astype(np.float32) if t.dtype.is_floating_point else t.numpy().astype(np.int32)
        items.append((k, np.ascontiguousarray(a)))
    # f32 first, then i32 (both 4-byte, so every tensor stays 4-byte aligned)
    items.sort(key=lambda kv: kv[1].dtype != np.float32)
    with open(os.path.join(folder, "arrays.safetensors"), "wb") as f:
        f.write(safetensors_bytes(items, {"format": "mmamba-fixture"}))
    meta = {
        **FORMAT,
        **meta,
        "arrays": {k: {"shape": list(a.shape), "dtype": "f32" if a.dtype == np.float32 else "i32"} for k, a in items},
    }
    with open(os.path.join(folder, "fixture.json"), "w") as f:
        json.dump(meta, f, indent=1)
    return meta


# Generator fixtures: folder -> (kind, config). mmamba_ffn_tiny is the slim layer a next model may use (VMamba-v3
# style: expand 1, d_state 1, the GEGLU FFN sublayer, learned positions), so inference and fine-tuning are checked
# at those sizes too.
GENERATORS = {
    "mmamba_tiny": ("mmamba", C.tiny_mmamba),
    "uvit_tiny": ("uvit", C.tiny_uvit),
    "mmamba_ffn_tiny": ("mmamba", lambda: C.tiny_mmamba(expand=1, d_state=1, ffn=True, pos_emb=True)),
}


def generator_fixture(name: str, out: str, batch: int = 2, steps: int = 6) -> dict:
    """Tiny random M-Mamba / UViT: forward stages, loss, gradients, and a seeded sampling run."""
    from mmamba.mmamba import build_model

    kind, make_config = GENERATORS[name]
    cfg = make_config()
    torch.manual_seed(SEED)
    model = build_model(cfg)
    g = torch.Generator().manual_seed(SEED + 1)
    _perturb_(model, g)
    if hasattr(model, "use_ref_scan"):
        model.use_ref_scan = True
    model.train()
    folder = os.path.join(out, name)
    export_weights(model.state_dict(), folder, f"{name.replace('_', '-')}-fixture", kind, cfg.to_dict(), dtype="f32")

    Lt, HW, K = cfg.text.max_len, cfg.hw, cfg.codebook_size
    # text: bos, a few ids, eos, padding (row 1 shorter) -- exercises the pad handling
    text = torch.zeros(batch, Lt, dtype=torch.long)
    for b in range(batch):
        n = max(1, Lt - 2 - b * 2)
        text[b, 0] = 1
        text[b, 1 : 1 + n] = torch.randint(3, cfg.text.vocab_size, (n,), generator=g)
        text[b, 1 + n] = 2
    targets = torch.randint(0, K, (batch, HW), generator=g)  # (B, HW)
    mask = torch.rand(batch, HW, generator=g) < 0.5  # (B, HW) bool
    mask[:, 0] = True
    img = torch.where(mask, torch.full_like(targets, cfg.mask_id), targets)  # (B, HW) with [MASK]s
    logits, stages = model(img, text, return_stages=True)  # (B, HW, K)
    loss = masked_token_loss(logits, targets, mask)
    model.zero_grad()
    loss.backward()
    arrays = {
        "input.text_ids": text,
        "input.img_tokens": img,
        "input.targets": targets,
        "input.mask": mask.to(torch.int32),
        "loss": loss.detach().view(1),
    }
    for k, v in stages.items():
        arrays[f"stage.{k}"] = v
    grads = {}
    for n, p in model.named_parameters():
        if p.grad is not None:
            arrays[f"grad.{n}"] = p.grad
            grads[n] = list(p.shape)

    # Seeded sampling (shared counter RNG, docs/architecture.md), eval mode, guidance with the empty prompt.
    model.eval()
    empty = torch.zeros(batch, Lt, dtype=torch.long)
    empty[:, 0], empty[:, 1] = 1, 2
    samp = dict(steps=steps, guidance=4.0, tau=4.5, temperature=1.0, seed=7)
    with torch.no_grad():
        grids = maskgit_sample(lambda t, x: model(t, x), text, hw=HW, codebook_size=K, uncond_ids=empty, **samp)
    arrays["sample.uncond_ids"] = empty
    arrays["sample.tokens"] = torch.stack(grids)  # (S, B, HW)
    meta = {
        "kind": kind,
        "config": cfg.to_dict(),
        "weights": "manifest.json",
        "batch": batch,
        "loss": float(loss.detach()),
        "stages": list(stages.keys()),
        "grads": grads,
        "sampling": samp,
        "notes": "stage.* from forward(img_tokens, text_ids, return_stages=True) in train mode with "
        "the sequential reference scan; loss = mean CE over input.mask positions; "
        "grad.<param> = d loss / d param; sample.tokens[i] = grid after step i.",
    }
    return _write(folder, meta, arrays)


def vq_fixture(out: str) -> dict:
    cfg = VQConfig.tiny()
    torch.manual_seed(SEED + 2)
    m = VQModel(cfg)
    g = torch.Generator().manual_seed(SEED + 3)
    _perturb_(m, g)
    m.quant.normalize_codebook_()  # the shipped invariant: unit-norm codebook rows
    m.eval()
    folder = os.path.join(out, "vq_tiny")
    export_weights(m.state_dict(), folder, "vq-tiny-fixture", "vq", cfg.to_dict(), dtype="f32")
    g2 = cfg.grid
    tokens = torch.randint(0, cfg.codebook_size, (1, g2, g2), generator=g)  # (1, g, g)
    image = torch.rand(1, 3, cfg.image_size, cfg.image_size, generator=g) * 2 - 1
    with torch.no_grad():
        dec_in = m.quant.embed(tokens)  # (1, D, g, g)
        decoded = m.decode_tokens(tokens)  # (1, 3, S, S)
        z = m.encoder(image)  # (1, D, g, g)
        enc_tokens = m.quant.lookup(z)  # (1, g, g)
    arrays = {
        "decode.tokens": tokens,
        "decode.input": dec_in,
        "decode.pixels": decoded,
        "encode.image": image,
        "encode.latent": z,
        "encode.tokens": enc_tokens,
    }
    meta = {
        "kind": "vq",
        "config": cfg.to_dict(),
        "weights": "manifest.json",
        "notes": "images NCHW in [-1, 1]; decode.input = codebook[tokens] as (1, D, g, g); "
        "encode.latent = encoder output before l2 normalisation; encode.tokens = "
        "argmax_k <normalize(latent), codebook_k>.",
    }
    return _write(folder, meta, arrays)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="write golden fixtures for the TypeScript engine")
    ap.add_argument(
        "--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")
    )
    args = ap.parse_args(argv)
    torch.use_deterministic_algorithms(True)
    index = {**FORMAT, "fixtures": {}}
    for name, (kind, _) in GENERATORS.items():  # each fixture seeds itself: the order changes no bytes
        generator_fixture(name, args.out)
        index["fixtures"][name] = {"kind": kind}
    vq_fixture(args.out)
    index["fixtures"]["vq_tiny"] = {"kind": "vq"}
    total = 0
    for name in index["fixtures"]:
        d = os.path.join(args.out, name)
        files = sorted(os.listdir(d))
        size = sum(os.path.getsize(os.path.join(d, f)) for f in files)
        index["fixtures"][name].update(files=files, bytes=size)
        total += size
    index["totalBytes"] = total
    with open(os.path.join(args.out, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
    print(f"fixtures: {total / 1e6:.3f} MB in {args.out}", flush=True)


if __name__ == "__main__":
    main()
