"""Tiny stand-ins for the evaluation tests (CPU, seconds): a tiny pack, a BPE, evaluators, a VQ and a generator
exported as manifests, all consistent with each other (128 px images, 4x4 tokens, codebook 16)."""

from __future__ import annotations

import json
import os

import torch
from mmamba import config as C
from mmamba import data as D
from mmamba.bpe import BPETokenizer
from mmamba.config import TextConfig
from mmamba.evaluator import (
    ClassifierConfig,
    ConceptClassifier,
    ContrastiveConfig,
    ContrastiveModel,
    TowerConfig,
    save_evaluators,
)
from mmamba.export import export_weights
from mmamba.mmamba import MMamba
from mmamba.vq import VQConfig, VQModel

TINY_VQ = VQConfig(image_size=128, ch=4, ch_mult=(1, 1, 1, 1, 1, 2), norm_groups=2, codebook_size=16, code_dim=4)


def tiny_tokenizer(pack_dir: str, max_len: int = 6) -> BPETokenizer:
    caps = D.all_captions("train", root=pack_dir) + D.all_captions("test", root=pack_dir)
    return BPETokenizer.train(caps, vocab_size=300, max_len=max_len)


def tiny_evaluators(concepts: list[str], bpe: BPETokenizer, image_size: int = 32):
    tower = TowerConfig(widths=(8, 16), blocks=1, image_size=image_size)
    con = ContrastiveModel(
        ContrastiveConfig(
            tower=tower,
            text=TextConfig(vocab_size=bpe.vocab_size, max_len=12, width=16, layers=1, heads=2, ffn_mult=2),
            embed_dim=16,
        )
    )
    cls = ConceptClassifier(ClassifierConfig(tower=tower, num_classes=len(concepts)))
    return con, cls


def build_world(root: str) -> dict:
    """Writes pack/, evaluators.pt, vq/ and gen/ (manifests) under root; returns their paths."""
    torch.manual_seed(0)
    pack = D.make_tiny_dataset(os.path.join(root, "pack"))
    bpe = tiny_tokenizer(pack)
    concepts = sorted({b["concept"] for b in D.load_pack(pack).bases})
    con, cls = tiny_evaluators(concepts, bpe)
    save_evaluators(os.path.join(root, "evaluators.pt"), con, cls, bpe.to_dict(), concepts)
    vq = VQModel(TINY_VQ).eval()
    export_weights(vq.state_dict(), os.path.join(root, "vq"), "vq-tiny", "vq", TINY_VQ.to_dict(), dtype="f32")
    cfg = C.tiny_mmamba(text=TextConfig(vocab_size=300, max_len=6, width=16, layers=1, heads=2, ffn_mult=2))
    gen = MMamba(cfg).eval()
    export_weights(
        gen.state_dict(),
        os.path.join(root, "gen"),
        "gen-tiny",
        "mmamba",
        cfg.to_dict(),
        tokenizer=bpe.to_dict(),
        dtype="f32",
    )
    with open(os.path.join(root, "bpe.json"), "w") as f:
        json.dump(bpe.to_dict(), f)
    return {
        "pack": pack,
        "evaluators": os.path.join(root, "evaluators.pt"),
        "vq": os.path.join(root, "vq"),
        "gen": os.path.join(root, "gen"),
        "bpe": os.path.join(root, "bpe.json"),
    }
