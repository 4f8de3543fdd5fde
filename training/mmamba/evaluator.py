"""Evaluator models for text-to-image metrics (docs/evaluation.md); never used to train the generators.

Two small networks trained only on dataset images and captions (training/train_evaluator.py):
  ContrastiveModel   CLIP-style (Radford et al. 2021): a CNN image tower and a transformer text tower (the
                     generators' TextEncoder architecture over byte-level BPE ids, own weights), both
                     projected to a shared unit-norm embedding; symmetric InfoNCE with a learnable temperature.
                     Gives the "CLIP score" = 100 · cos(image, prompt).
  ConceptClassifier  a CNN over every dataset concept (train + val + test concepts); its pooled penultimate
                     feature is the space FID is measured in (as Inception's pool3 in Heusel et al. 2017).
Both read uint8 NHWC images (what the VQ decoder and the browser produce), resized by area averaging to
`image_size` (64 px by default: icons stay recognisable and training fits in minutes).

Invariants: `preprocess` is the only place pixels become tensors, so training, evaluation and parity
inputs go through the same resize and normalisation; `augment` only translates (and, for the
classifier, flips): colours are never changed because colour words are part of the captions, and the
contrastive model is never flipped because scene captions name left/right positions.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import TextConfig
from .text_encoder import TextEncoder


# ----------------------------------------------------------------------------------------- pixels
def preprocess(images_u8: torch.Tensor, size: int) -> torch.Tensor:
    """(B, H, W, 3) uint8 -> (B, 3, size, size) float in [-1, 1], area-resized (exact when H = W = size)."""
    x = images_u8.permute(0, 3, 1, 2).float()
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="area")
    return x.div(127.5).sub(1.0).contiguous(memory_format=torch.channels_last)


def augment(x: torch.Tensor, pad: int, flip: bool, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random translation by up to ±pad pixels (edge-replicated border, as the art sits on a plain background)
    and, if `flip`, random horizontal flips. x (B, C, S, S) -> same shape. Per-sample, all on x's device."""
    B, C, S, _ = x.shape
    dev = x.device
    if pad > 0:
        xp = F.pad(x, (pad, pad, pad, pad), mode="replicate")  # (B, C, S+2p, S+2p)
        off = torch.randint(0, 2 * pad + 1, (2, B), device=dev, generator=generator)
        ar = torch.arange(S, device=dev)
        rows = (off[0][:, None] + ar)[:, :, None]  # (B, S, 1)
        cols = (off[1][:, None] + ar)[:, None, :]  # (B, 1, S)
        b = torch.arange(B, device=dev)[:, None, None]
        x = xp.permute(0, 2, 3, 1)[b, rows, cols].permute(0, 3, 1, 2)  # (B, C, S, S)
    if flip:
        f = torch.rand(B, device=dev, generator=generator) < 0.5
        x = torch.where(f[:, None, None, None], x.flip(-1), x)
    return x.contiguous(memory_format=torch.channels_last)


# ----------------------------------------------------------------------------------------- towers
@dataclass
class TowerConfig:
    widths: tuple = (32, 64, 128, 256)  # one stage per width, each halves the resolution (the first via the stem)
    blocks: int = 2  # residual blocks per stage
    image_size: int = 64

    @property
    def feature_dim(self) -> int:
        return int(self.widths[-1])


class ResBlock(nn.Module):
    """Pre-activation-free basic block (He et al. 2016): conv-BN-SiLU-conv-BN + shortcut, then SiLU."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        nn.init.zeros_(self.bn2.weight)  # each block starts as the identity
        self.short = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.silu(self.bn1(self.conv1(x)))
        return F.silu(self.bn2(self.conv2(y)) + self.short(x))


class ConvTower(nn.Module):
    """Small ResNet: stride-2 stem, len(widths) stages (stride 2 from the second), global average pool.
    (B, 3, S, S) -> (B, widths[-1])."""

    def __init__(self, cfg: TowerConfig):
        super().__init__()
        w = list(cfg.widths)
        self.stem = nn.Sequential(nn.Conv2d(3, w[0], 3, 2, 1, bias=False), nn.BatchNorm2d(w[0]), nn.SiLU())
        blocks, cin = [], w[0]
        for i, cout in enumerate(w):
            for j in range(cfg.blocks):
                blocks.append(ResBlock(cin, cout, 2 if (j == 0 and i > 0) else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.stem(x)).mean(dim=(2, 3))  # (B, C)


# ----------------------------------------------------------------------------------------- models
@dataclass
class ContrastiveConfig:
    tower: TowerConfig = field(default_factory=TowerConfig)
    text: TextConfig = field(
        default_factory=lambda: TextConfig(vocab_size=1024, max_len=24, width=128, layers=2, heads=4, ffn_mult=4)
    )
    embed_dim: int = 128
    init_temperature: float = 0.07

    def to_dict(self) -> dict[str, Any]:
        return {
            "tower": asdict(self.tower),
            "text": self.text.to_dict(),
            "embed_dim": self.embed_dim,
            "init_temperature": self.init_temperature,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ContrastiveConfig:
        t = dict(d["tower"])
        t["widths"] = tuple(t["widths"])
        return cls(
            tower=TowerConfig(**t),
            text=TextConfig.from_dict(d["text"]),
            embed_dim=d["embed_dim"],
            init_temperature=d["init_temperature"],
        )


class ContrastiveModel(nn.Module):
    """Image and text embeddings on the unit sphere; logits = exp(logit_scale) · img · txtᵀ."""

    def __init__(self, cfg: ContrastiveConfig):
        super().__init__()
        self.cfg = cfg
        self.image_tower = ConvTower(cfg.tower)
        self.image_proj = nn.Linear(cfg.tower.feature_dim, cfg.embed_dim)
        # pooled output c of the TextEncoder is the text embedding (masked mean of the final states, projected)
        self.text_tower = TextEncoder(cfg.text, d=cfg.embed_dim, cond_dim=cfg.embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / cfg.init_temperature)))

    def encode_image(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, 3, S, S) preprocessed -> (B, E) unit norm (f32)."""
        return F.normalize(self.image_proj(self.image_tower(x)).float(), dim=-1)

    def encode_text(self, ids: torch.Tensor) -> torch.Tensor:
        """ids (B, Lt) long, padded with text.pad_id -> (B, E) unit norm (f32)."""
        _, pooled, _ = self.text_tower(ids)
        return F.normalize(pooled.float(), dim=-1)

    def loss(self, x: torch.Tensor, ids: torch.Tensor, group: torch.Tensor | None = None) -> torch.Tensor:
        """Symmetric InfoNCE. group (B,) long: items with equal group ids are all positives for each other
        (identical captions in one batch are not negatives); default: each item its own group."""
        img, txt = self.encode_image(x), self.encode_text(ids)  # (B, E) each
        scale = self.logit_scale.clamp(max=math.log(100.0)).exp()
        logits = scale * img @ txt.t()  # (B, B)
        if group is None:
            group = torch.arange(x.shape[0], device=x.device)
        pos = (group[:, None] == group[None, :]).float()  # (B, B), symmetric
        target = pos / pos.sum(1, keepdim=True)
        return 0.5 * (
            torch.sum(-target * F.log_softmax(logits, 1), 1).mean()
            + torch.sum(-target * F.log_softmax(logits.t(), 1), 1).mean()
        )


@dataclass
class ClassifierConfig:
    tower: TowerConfig = field(default_factory=TowerConfig)
    num_classes: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {"tower": asdict(self.tower), "num_classes": self.num_classes}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClassifierConfig:
        t = dict(d["tower"])
        t["widths"] = tuple(t["widths"])
        return cls(tower=TowerConfig(**t), num_classes=d["num_classes"])


class ConceptClassifier(nn.Module):
    """CNN -> concept logits. `features` is the pooled penultimate vector used for FID / KID."""

    def __init__(self, cfg: ClassifierConfig):
        super().__init__()
        self.cfg = cfg
        self.tower = ConvTower(cfg.tower)
        self.head = nn.Linear(cfg.tower.feature_dim, cfg.num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.tower(x)  # (B, C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (B, num_classes)


# ----------------------------------------------------------------------------------------- files
INT8_MIN_ELEMENTS = 4096  # smaller tensors (norms, biases, the temperature) stay f16


def _stored(state: dict[str, torch.Tensor], half: bool) -> dict[str, torch.Tensor]:
    return {
        k: (v.detach().cpu().half() if half and v.is_floating_point() else v.detach().cpu()) for k, v in state.items()
    }


def _quantised(state: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    """Floating tensors of >= INT8_MIN_ELEMENTS and >= 2 dims as symmetric int8 per leading row (an output channel
    of a conv or linear) with an f16 scale, |error| <= scale / 2; the rest as f16, integers as they are."""
    plain, q, scale = {}, {}, {}
    for k, v in state.items():
        v = v.detach().cpu()
        if v.is_floating_point() and v.dim() >= 2 and v.numel() >= INT8_MIN_ELEMENTS:
            rows = v.float().reshape(v.shape[0], -1)
            sc = (rows.abs().amax(1) / 127.0).clamp_min(1e-12).half()  # (rows,)
            q[k] = torch.round(rows / sc.float()[:, None]).clamp(-127, 127).to(torch.int8).reshape(v.shape)
            scale[k] = sc
        else:
            plain[k] = v.half() if v.is_floating_point() else v
    return {"state": plain, "int8": q, "scale": scale}


def _restored(entry: dict) -> dict[str, torch.Tensor]:
    """The inverse of _stored / _quantised: a state dict of f32 (floating) tensors."""
    out = {k: (v.float() if v.is_floating_point() else v) for k, v in entry["state"].items()}
    for k, q in entry.get("int8", {}).items():
        sc = entry["scale"][k].float()
        out[k] = (q.float().reshape(q.shape[0], -1) * sc[:, None]).reshape(q.shape)
    return out


def save_evaluators(
    path: str,
    contrastive: ContrastiveModel,
    classifier: ConceptClassifier,
    tokenizer: dict[str, Any],
    concepts: list[str],
    extra: dict | None = None,
    half: bool = True,
    int8: bool = False,
) -> None:
    """One file with both models, the tokenizer the text tower reads and the concept names (class order).
    half: floating tensors stored as f16; int8: large weights as per-row int8 (about half the f16 file, so the
    fixed ruler fits in the repository). Loaded back into f32 modules; every metric is computed from the file,
    so the stored precision IS the metric's definition."""
    pack = (lambda m: _quantised(m.state_dict())) if int8 else (lambda m: {"state": _stored(m.state_dict(), half)})
    torch.save(
        {
            "format": "mmamba-evaluators",
            "version": 2 if int8 else 1,
            "contrastive": {"config": contrastive.cfg.to_dict(), **pack(contrastive)},
            "classifier": {"config": classifier.cfg.to_dict(), **pack(classifier)},
            "tokenizer": tokenizer,
            "concepts": list(concepts),
            "extra": extra or {},
        },
        path,
    )


@dataclass
class Evaluators:
    contrastive: ContrastiveModel
    classifier: ConceptClassifier
    tokenizer: Any  # mmamba.bpe.BPETokenizer
    concepts: list
    extra: dict

    @property
    def image_size(self) -> int:
        return self.classifier.cfg.tower.image_size

    def to(self, device) -> Evaluators:
        self.contrastive.to(device).eval()
        self.classifier.to(device).eval()
        return self


def load_evaluators(path: str, device="cpu") -> Evaluators:
    from .bpe import BPETokenizer

    st = torch.load(path, map_location="cpu", weights_only=True)
    if st.get("format") != "mmamba-evaluators":
        raise ValueError(f"{path} is not an evaluator file written by train_evaluator.py")
    con = ContrastiveModel(ContrastiveConfig.from_dict(st["contrastive"]["config"]))
    con.load_state_dict(_restored(st["contrastive"]))
    cls = ConceptClassifier(ClassifierConfig.from_dict(st["classifier"]["config"]))
    cls.load_state_dict(_restored(st["classifier"]))
    return Evaluators(con, cls, BPETokenizer.from_dict(st["tokenizer"]), st["concepts"], st["extra"]).to(device)
