"""A consistent tiny model set for the fine-tuning e2e test (e2e/finetune.spec.ts), written to e2e/fixtures/.

Why not tests/fixtures: there the tiny M-Mamba has 16 codes while the tiny VQ has 32 (the encoder could emit
tokens the generator cannot predict), and the generator manifest carries no tokenizer. Here both agree:
  vq-e2e      VQConfig.tiny() (32x32 RGB <-> 4x4 tokens, 32 codes), trained briefly on grids of 8-px colour
              cells, so that one token is one cell's colour and decode(encode(x)) resembles x
  mmamba-e2e  tiny M-Mamba (1 layer + position embedding, codebook 32, grid 4, text max_len 12, byte-level tokenizer
  without merges)
              trained briefly on solid colours captioned with their colour name, so its gates are not zero
              and the base model draws something plausible, but knows no made-up word.
Layout (what the test serves under /models/ through page.route):
  e2e/fixtures/models/index.json, <id>/manifest.json, <id>/model-00000.safetensors  (f32 weights)

Deterministic (fixed seeds, one CPU thread); about a minute on CPU.
  training/.venv/bin/python training/make_e2e_tiny.py [--out e2e/fixtures/models]
"""

from __future__ import annotations

import argparse
import json
import os

import torch
import torch.nn.functional as F
from mmamba import config as C
from mmamba.bpe import BPETokenizer
from mmamba.export import export_weights
from mmamba.mmamba import build_model
from mmamba.sampling import drop_text, mask_for_training, masked_token_loss
from mmamba.vq import VQConfig, VQModel

SEED = 5005
COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 70, 220),
    "yellow": (240, 210, 40),
    "orange": (245, 140, 30),
    "purple": (130, 50, 180),
    "black": (20, 20, 20),
    "white": (250, 250, 250),
    "grey": (128, 128, 128),
    "pink": (245, 150, 190),
    "brown": (120, 75, 40),
    "cyan": (40, 200, 220),
}


def cell_images(n: int, g: torch.Generator, size: int = 32, cell: int = 8) -> torch.Tensor:
    """(n, 3, size, size) in [-1, 1]: grids of solid cell x cell squares, colours uniform in RGB; a third
    of them two-colour checkerboards, a third solid."""
    k = size // cell
    cols = torch.rand(n, 3, k, k, generator=g)
    a, b = torch.rand(n, 3, 1, 1, generator=g), torch.rand(n, 3, 1, 1, generator=g)
    checker = ((torch.arange(k)[:, None] + torch.arange(k)[None, :]) % 2).bool()
    kind = torch.arange(n) % 3
    cols = torch.where((kind == 0)[:, None, None, None], torch.where(checker, a, b), cols)
    cols = torch.where((kind == 1)[:, None, None, None], a.expand(-1, -1, k, k), cols)
    img = cols.repeat_interleave(cell, 2).repeat_interleave(cell, 3)
    return img * 2 - 1


def train_vq(steps: int) -> VQModel:
    torch.manual_seed(SEED)
    g = torch.Generator().manual_seed(SEED)
    cfg = VQConfig.tiny()
    m = VQModel(cfg)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.1)
    m.train()
    used = torch.zeros(cfg.codebook_size)
    for step in range(steps):
        x = cell_images(48, g)
        recon, tokens, vq_loss, zn = m(x)
        loss = F.mse_loss(recon, x) + 0.2 * F.l1_loss(recon, x) + vq_loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        m.quant.normalize_codebook_()
        used += torch.bincount(tokens.flatten(), minlength=cfg.codebook_size).float()
        if step % 20 == 19 and step < steps * 0.8:
            # Codes no cell picked in 20 batches restart at random encoder outputs (a tiny codebook collapses
            # to a handful of codes otherwise).
            with torch.no_grad():
                dead = (used == 0).nonzero().flatten()
                pool = zn.detach().permute(0, 2, 3, 1).reshape(-1, cfg.code_dim)
                pick = torch.randint(0, pool.shape[0], (dead.numel(),), generator=g)
                m.quant.codebook.data[dead] = F.normalize(
                    pool[pick] + 0.01 * torch.randn(dead.numel(), cfg.code_dim, generator=g), dim=1
                )
            used.zero_()
        if step % 100 == 0 or step == steps - 1:
            print(f"vq step {step}: loss {loss.item():.4f}", flush=True)
    m.eval()
    return m


def colour_batch(n: int, g: torch.Generator) -> tuple[list[str], torch.Tensor]:
    names = list(COLOURS)
    pick = torch.randint(0, len(names), (n,), generator=g).tolist()
    rgb = torch.tensor([COLOURS[names[i]] for i in pick], dtype=torch.float32) / 127.5 - 1  # (n, 3)
    img = rgb[:, :, None, None].expand(-1, -1, 32, 32).contiguous()
    return [names[i] for i in pick], img


def train_generator(vq: VQModel, tok: BPETokenizer, steps: int) -> tuple[torch.nn.Module, C.MMambaConfig]:
    torch.manual_seed(SEED + 1)
    g = torch.Generator().manual_seed(SEED + 1)
    text = C.TextConfig(vocab_size=300, max_len=12, width=16, layers=1, heads=2, ffn_mult=2)
    # One layer keeps a fine-tuning step to a few seconds on SwiftShader; a learned position embedding gives
    # that single layer the (row, column) a checkerboard needs (the shipped models do without: 8 layers).
    cfg = C.tiny_mmamba(text=text, codebook_size=vq.cfg.codebook_size, layers=1, pos_emb=True)
    model = build_model(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.0)
    empty = torch.tensor(tok.empty_ids(), dtype=torch.long)
    model.train()
    for step in range(steps):
        captions, img = colour_batch(32, g)
        with torch.no_grad():
            targets = vq.encode(img).flatten(1)  # (B, HW)
        ids = drop_text(tok.encode_batch(captions), empty, 0.1, g)  # (B, Lt)
        inp, mask = mask_for_training(targets, g, mask_id=cfg.mask_id)
        loss = masked_token_loss(model(inp, ids), targets, mask)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == steps - 1:
            print(f"generator step {step}: loss {loss.item():.4f}", flush=True)
    model.eval()
    return model, cfg


def main() -> None:
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "e2e", "fixtures", "models"))
    ap.add_argument("--vq-steps", type=int, default=2000)
    ap.add_argument("--gen-steps", type=int, default=300)
    ap.add_argument(
        "--vq-from",
        default=None,
        help="folder of an earlier vq-e2e export to reuse instead of training it again (same seed, same result)",
    )
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    if args.vq_from:
        from safetensors.torch import load_file

        vq = VQModel(VQConfig.tiny())
        vq.load_state_dict(load_file(os.path.join(args.vq_from, "model-00000.safetensors")), strict=False)
        vq.eval()
    else:
        vq = train_vq(args.vq_steps)
    tok = BPETokenizer([], max_len=12)  # bytes only: vocab 259 <= text vocab 300
    gen, cfg = train_generator(vq, tok, args.gen_steps)

    out = os.path.abspath(args.out)
    vq_man = export_weights(vq.state_dict(), os.path.join(out, "vq-e2e"), "vq-e2e", "vq", vq.cfg.to_dict(), dtype="f32")
    gen_man = export_weights(
        gen.state_dict(),
        os.path.join(out, "mmamba-e2e"),
        "mmamba-e2e",
        "mmamba",
        cfg.to_dict(),
        tokenizer=tok.to_dict(),
        dtype="f32",
    )
    total = lambda m: sum(s["bytes"] for s in m["shards"])  # noqa: E731
    index = {
        "models": [
            {
                "id": "mmamba-e2e",
                "kind": "mmamba",
                "name": "M-Mamba e2e tiny",
                "description": "tiny test generator (e2e only)",
                "formatVersion": 1,
                "bytes": total(gen_man),
            },
            {
                "id": "vq-e2e",
                "kind": "vq",
                "name": "VQ e2e tiny",
                "description": "tiny test tokenizer, 32x32 <-> 4x4 (e2e only)",
                "formatVersion": 1,
                "bytes": total(vq_man),
            },
        ],
        "defaultGenerator": "mmamba-e2e",
        "tokenizer": "vq-e2e",
    }
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
