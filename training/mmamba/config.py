"""Model configs: the single source of shapes for the generators (M-Mamba, UViT) and their text encoder.

`to_dict()` is written verbatim into the weights manifest (`config`) and read by the TypeScript engine,
so every key is JSON-safe and no dimension is hard-coded anywhere else. `from_dict()` accepts what
`to_dict()` wrote (derived keys such as `mask_id` or `d_inner` are informational and ignored on load).

Conventions (docs/architecture.md "The model"): mask id = codebook_size (the image embedding has codebook_size + 1
rows); text ids: pad 0, bos 1, eos 2 (see bpe.py); dt_rank = ceil(d / 16) unless given.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class TextConfig:
    vocab_size: int = 1024
    max_len: int = 16  # Lt: text positions (bos + BPE tokens + eos, padded with pad_id)
    width: int = 128  # transformer width of the text encoder
    layers: int = 2
    heads: int = 4
    ffn_mult: int = 4  # GELU MLP hidden = ffn_mult * width
    pad_id: int = 0
    # Frozen word prior (text_encoder.py): the last prior_words ids are known words whose embedding is
    # word_proj(word_vectors[id - word_offset]), word_vectors a (prior_words, prior_dim) table read from the file
    # prior_name (training/prior/<name>.npz) whose sha256 is prior_sha256. prior_words = 0: no prior (every id
    # has a learned row). An exported model has prior_words = 0 (its table is baked in) and keeps the name and
    # sha256 as a record only.
    prior_words: int = 0
    prior_dim: int = 0
    prior_name: str = ""
    prior_sha256: str = ""

    def __post_init__(self) -> None:
        if self.prior_words < 0 or self.prior_dim < 0 or (self.prior_words > 0) != (self.prior_dim > 0):
            raise ValueError(
                f"prior_words and prior_dim must both be 0 or both positive, got {self.prior_words}, {self.prior_dim}"
            )
        if self.prior_words > 0 and self.prior_words > self.vocab_size - 259:
            raise ValueError(
                f"prior_words {self.prior_words} leaves fewer than 259 ids of vocab_size {self.vocab_size}"
            )

    @property
    def word_offset(self) -> int:
        """First prior word id (= vocab_size without a prior): ids below it have learned rows."""
        return self.vocab_size - self.prior_words

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TextConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def _text_from(d: dict[str, Any]) -> TextConfig:
    return TextConfig.from_dict(d["text"])


@dataclass
class MMambaConfig:
    text: TextConfig = field(default_factory=TextConfig)
    codebook_size: int = 1024  # K; [MASK] id = K
    grid: int = 16  # image is grid x grid tokens, HW = grid^2
    d: int = 256
    layers: int = 8
    expand: int = 2  # di = expand * d
    d_state: int = 16  # N
    d_conv: int = 4
    dt_rank: int | None = None  # None -> ceil(d / 16); resolved in __post_init__
    directions: int = 4  # 1: {P0}, 2: {P0, P2} (forward+reverse row-major), 4: {P0, P1, P2, P3}
    text_position: str = "first"  # 'first': [txt ; img_k]; 'middle': [img_k[:HW/2] ; txt ; img_k[HW/2:]]
    ffn: bool = False  # optional GEGLU feed-forward sublayer with its own adaLN
    ffn_mult: int = 4  # GEGLU hidden = ffn_mult * d
    pos_emb: bool = False  # optional learned image position embedding
    cond_dim: int = 128  # pooled text vector width c

    def __post_init__(self) -> None:
        if isinstance(self.text, dict):
            self.text = TextConfig.from_dict(self.text)
        if self.dt_rank is None:
            self.dt_rank = math.ceil(self.d / 16)
        if self.directions not in (1, 2, 4):
            raise ValueError(f"directions must be 1, 2 or 4, got {self.directions}")
        if self.text_position not in ("first", "middle"):
            raise ValueError(f"text_position must be 'first' or 'middle', got {self.text_position!r}")

    @property
    def mask_id(self) -> int:
        return self.codebook_size

    @property
    def hw(self) -> int:
        return self.grid * self.grid

    @property
    def d_inner(self) -> int:
        return self.expand * self.d

    @property
    def seq_len(self) -> int:
        return self.text.max_len + self.hw

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["text"] = self.text.to_dict()
        d.update(arch="mmamba", mask_id=self.mask_id, d_inner=self.d_inner, seq_len=self.seq_len)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MMambaConfig:
        names = {f.name for f in fields(cls)} - {"text"}
        return cls(text=_text_from(d), **{k: v for k, v in d.items() if k in names})


@dataclass
class UViTConfig:
    text: TextConfig = field(default_factory=TextConfig)
    codebook_size: int = 1024
    grid: int = 16
    d: int = 256
    layers: int = 4
    heads: int = 4
    ffn_mult: int = 3  # GEGLU hidden = ffn_mult * d
    cond_dim: int = 128

    def __post_init__(self) -> None:
        if isinstance(self.text, dict):
            self.text = TextConfig.from_dict(self.text)
        if self.d % self.heads:
            raise ValueError(f"d={self.d} must be divisible by heads={self.heads}")

    @property
    def mask_id(self) -> int:
        return self.codebook_size

    @property
    def hw(self) -> int:
        return self.grid * self.grid

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["text"] = self.text.to_dict()
        d.update(arch="uvit", mask_id=self.mask_id)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> UViTConfig:
        names = {f.name for f in fields(cls)} - {"text"}
        return cls(text=_text_from(d), **{k: v for k, v in d.items() if k in names})


# ---------------------------------------------------------------------------------------------------
# Presets
def tiny_text() -> TextConfig:
    """For tests and golden fixtures."""
    return TextConfig(vocab_size=300, max_len=6, width=16, layers=1, heads=2, ffn_mult=2)


def tiny_mmamba(**kw: Any) -> MMambaConfig:
    """For tests and golden fixtures: d=32, 2 layers, 4x4 grid, codebook 16 (L = 6 + 16)."""
    base = dict(text=tiny_text(), codebook_size=16, grid=4, d=32, layers=2, d_state=4, cond_dim=16)
    base.update(kw)
    return MMambaConfig(**base)


def tiny_uvit(**kw: Any) -> UViTConfig:
    base = dict(text=tiny_text(), codebook_size=16, grid=4, d=32, layers=1, heads=2, ffn_mult=2, cond_dim=16)
    base.update(kw)
    return UViTConfig(**base)


def small_text() -> TextConfig:
    return TextConfig(vocab_size=1024, max_len=16, width=128, layers=2, heads=4, ffn_mult=4)


def small_mmamba() -> MMambaConfig:
    """Shipped M-Mamba: d=256, 8 layers, no FFN, 4 directions (~6.5M params)."""
    return MMambaConfig(
        text=small_text(),
        codebook_size=1024,
        grid=16,
        d=256,
        layers=8,
        expand=2,
        d_state=16,
        d_conv=4,
        directions=4,
        ffn=False,
        pos_emb=False,
        cond_dim=128,
    )


def small_uvit() -> UViTConfig:
    """Shipped UViT baseline of equal size (within 10%): d=256, 4 layers, GEGLU x3 (~6.4M params)."""
    return UViTConfig(
        text=small_text(), codebook_size=1024, grid=16, d=256, layers=4, heads=4, ffn_mult=3, cond_dim=128
    )


def config_from_dict(d: dict[str, Any]):
    """Rebuild a generator config from a manifest `config` dict (dispatch on `arch`)."""
    arch = d.get("arch")
    if arch == "mmamba":
        return MMambaConfig.from_dict(d)
    if arch == "uvit":
        return UViTConfig.from_dict(d)
    raise ValueError(f"unknown config arch {arch!r}; expected 'mmamba' or 'uvit'")
