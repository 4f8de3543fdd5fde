"""Text encoder shared by M-Mamba and UViT: token embedding + learned positions + a small pre-LN
transformer encoder (bidirectional self-attention with a padding mask, GELU-tanh MLP), final LayerNorm.

Outputs: token vectors projected to the generator width d (they enter the M-Mamba sequence / are the
UViT cross-attention context), a pooled vector c = Linear(masked mean of the final states) of width
cond_dim (conditions every layer's adaptive norm), and the key mask (True = non-pad token).
Parameter names: tok_emb.weight (V, w), pos_emb (Lt, w), layers.i.{norm1,attn.qkv,attn.out,norm2,
mlp.0,mlp.2}, norm.{weight,bias}, proj.{weight,bias} (d, w), pool_proj.{weight,bias} (cond_dim, w).

Frozen word prior (TextConfig.prior_words > 0; pairs with the v2 tokenizer of bpe.py, whose `words` are the
table's words in the table's order):
- ids < word_offset (= vocab_size − prior_words; specials, bytes, merges) have learned rows tok_emb.weight
  (word_offset, w);
- an id >= word_offset is a known word: its embedding is word_proj(word_vectors[id − word_offset]), with
  word_vectors a frozen (prior_words, prior_dim) buffer and word_proj a learned Linear(prior_dim, w) (bias).
- The table file training/prior/<name>.npz holds `words` (n,) unicode and `vectors` (n, dim) float16.
  word_vectors = vectors / sqrt(mean_i |vectors_i|^2) (one scalar per table, so the mean squared row norm is
  1); word_proj.weight ~ N(0, 0.02^2), bias 0. A word embedding's coordinates then start with variance
  0.02^2 * |v_i|^2, i.e. 0.02^2 on average: the scale of tok_emb's N(0, 0.02^2) rows.
- word_vectors is not saved (persistent=False): `attach_prior(model, path)` reads it from the table file
  after the model is built. The persistent buffer prior_sha256 (32 uint8) records the file's sha256 in every
  checkpoint (the config records prior_name and prior_sha256 too); loading a checkpoint whose sha256 differs
  from the attached file's, or attaching a file whose sha256 differs from the loaded checkpoint's or the
  config's, raises PriorMismatchError.
- Prior noise (a training-only regulariser; `set_prior_noise(model, sigma)`, train_gen --prior-noise): while the
  encoder is in training mode, each known word's vector gets fresh Gaussian noise of per-coordinate std
  sigma / sqrt(prior_dim), an expected norm of about sigma, before word_proj. The rows have RMS norm 1 and a
  word's nearest neighbour in minilm128 lies 0.68 away (median), so sigma 0.3 blurs a word within its own
  neighbourhood: the generator learns to draw what nearby vectors mean, which is all it has for a word it never
  saw a picture of (the ruler's unseen split). Eval mode, the effective table, export and the browser never see it.
- Export (export.py) writes the effective table tok_emb.weight = cat(tok_emb, word_proj(word_vectors))
  (vocab_size, w) and a text config with prior_words = prior_dim = 0, so the browser and every Python loader
  treat it as a plain table. Loading such a state (tok_emb.weight with vocab_size rows, no word_proj) into an
  encoder built with a prior switches that encoder to the plain-table mode (all vocab_size rows learned from
  then on, prior_words = prior_dim = 0 in its config) — the `--init` path of continued training; the logits
  equal the original model's.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from .common import Attention
from .config import TextConfig

WORD_INIT_STD = 0.02  # std of tok_emb rows and of word_proj.weight (see the module docstring)
MAX_PRIOR_BYTES = 2 << 30  # a word-vector table file larger than this is refused


class PriorMismatchError(ValueError):
    """A word-vector table that is not the one a model or checkpoint was built with."""


@dataclass
class PriorTable:
    name: str  # file name without .npz
    sha256: str  # hex digest of the file
    words: list[str]
    vectors: np.ndarray  # (n, dim) float32, scaled so the mean squared row norm is 1


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def rms_row_norm(vectors: np.ndarray) -> float:
    """sqrt(mean_i |vectors_i|^2), in float64 (0 for no rows): the one scale a table's rows are divided by."""
    return float(np.sqrt((vectors.astype(np.float64) ** 2).sum(1).mean())) if len(vectors) else 0.0


def read_prior(path: str) -> PriorTable:
    """Read and check a word-vector table (words: unique [a-z0-9]{1,64}; vectors finite, (n, dim))."""
    from .bpe import check_words

    size = os.path.getsize(path)
    if size > MAX_PRIOR_BYTES:
        raise ValueError(f"{path}: {size} bytes, more than the {MAX_PRIOR_BYTES} a word-vector table may have")
    with np.load(path, allow_pickle=False) as z:
        if "words" not in z or "vectors" not in z:
            raise ValueError(f"{path}: a word-vector table needs arrays 'words' and 'vectors', has {sorted(z.keys())}")
        words, vectors = z["words"], z["vectors"]
    if words.ndim != 1 or words.dtype.kind != "U":
        raise ValueError(f"{path}: 'words' must be a 1-D unicode array, got {words.dtype} {words.shape}")
    if vectors.ndim != 2 or vectors.shape[0] != words.shape[0] or vectors.shape[1] < 1 or vectors.dtype.kind != "f":
        raise ValueError(
            f"{path}: 'vectors' must be float (n={words.shape[0]}, dim), got {vectors.dtype} {vectors.shape}"
        )
    try:
        wl = check_words([str(w) for w in words])
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    v = vectors.astype(np.float32)
    if not np.isfinite(v).all():
        raise ValueError(f"{path}: 'vectors' has non-finite values")
    rms = rms_row_norm(v)
    if rms > 0:
        v = (v / rms).astype(np.float32)
    name = os.path.basename(path)
    return PriorTable(name[:-4] if name.endswith(".npz") else name, file_sha256(path), wl, v)


def prior_config(path: str) -> dict:
    """The TextConfig fields for a table file: prior_words, prior_dim, prior_name, prior_sha256 (set vocab_size
    to the v2 tokenizer's vocab_size, i.e. its word_offset + prior_words)."""
    t = read_prior(path)
    return {
        "prior_words": len(t.words),
        "prior_dim": int(t.vectors.shape[1]),
        "prior_name": t.name,
        "prior_sha256": t.sha256,
    }


def _sha_bytes(hexdigest: str) -> torch.Tensor:
    return torch.tensor(list(bytes.fromhex(hexdigest)), dtype=torch.uint8)


def _sha_hex(t: torch.Tensor) -> str:
    """Hex digest from the 32-byte buffer (an EMA shadow holds it as float; the values are exact)."""
    return bytes(t.detach().to("cpu").round().to(torch.uint8).tolist()).hex()


class TextBlock(nn.Module):
    def __init__(self, w: int, heads: int, ffn_mult: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(w)
        self.attn = Attention(w, heads)
        self.norm2 = nn.LayerNorm(w)
        self.mlp = nn.Sequential(nn.Linear(w, ffn_mult * w), nn.GELU(approximate="tanh"), nn.Linear(ffn_mult * w, w))

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), key_mask=key_mask)  # (B, Lt, w)
        return x + self.mlp(self.norm2(x))  # (B, Lt, w)


class TextEncoder(nn.Module):
    def __init__(self, cfg: TextConfig, d: int, cond_dim: int):
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.tok_emb = nn.Embedding(cfg.word_offset, w)
        self.pos_emb = nn.Parameter(torch.randn(cfg.max_len, w) * 0.02)
        nn.init.normal_(self.tok_emb.weight, std=WORD_INIT_STD)
        if cfg.prior_words > 0:
            self.word_proj = nn.Linear(cfg.prior_dim, w)
            nn.init.normal_(self.word_proj.weight, std=WORD_INIT_STD)
            nn.init.zeros_(self.word_proj.bias)
            self.register_buffer("word_vectors", torch.zeros(cfg.prior_words, cfg.prior_dim), persistent=False)
            self.register_buffer("prior_sha256", torch.zeros(32, dtype=torch.uint8))  # zeros: none attached
            self.prior_attached = False
            self.prior_noise = 0.0  # training-only noise on word vectors (set_prior_noise)
        self.layers = nn.ModuleList(TextBlock(w, cfg.heads, cfg.ffn_mult) for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(w)
        self.proj = nn.Linear(w, d)
        self.pool_proj = nn.Linear(w, cond_dim)

    @property
    def has_prior(self) -> bool:
        return self.cfg.prior_words > 0

    # -- the prior ------------------------------------------------------------------------------
    def attach(self, table: PriorTable) -> None:
        """Fill word_vectors from a read table; refuses one that differs from the config's or the loaded
        checkpoint's record."""
        if not self.has_prior:
            raise ValueError("this text encoder has no word prior (prior_words = 0): nothing to attach")
        c = self.cfg
        if (len(table.words), table.vectors.shape[1]) != (c.prior_words, c.prior_dim):
            raise PriorMismatchError(
                f"word-vector table {table.name} is ({len(table.words)}, {table.vectors.shape[1]}) "
                f"but the model was built for ({c.prior_words}, {c.prior_dim})"
            )
        if c.prior_sha256 and c.prior_sha256 != table.sha256:
            raise PriorMismatchError(
                f"word-vector table {table.name} (sha256 {table.sha256[:16]}…) is not the one the "
                f"model config names: {c.prior_name or '?'} (sha256 {c.prior_sha256[:16]}…)"
            )
        loaded = _sha_hex(self.prior_sha256)
        if self.prior_sha256.any() and loaded != table.sha256:
            raise PriorMismatchError(
                f"word-vector table {table.name} (sha256 {table.sha256[:16]}…) is not the one the "
                f"loaded checkpoint was trained with (sha256 {loaded[:16]}…)"
            )
        with torch.no_grad():
            self.word_vectors.copy_(torch.from_numpy(table.vectors))
            self.prior_sha256.copy_(_sha_bytes(table.sha256))
        c.prior_name, c.prior_sha256 = table.name, table.sha256
        self.prior_attached = True

    def word_embeddings(self) -> torch.Tensor:
        """(prior_words, w): word_proj(word_vectors), the embeddings of every known word."""
        return self.word_proj(self.word_vectors)

    def effective_table(self) -> torch.Tensor:
        """(vocab_size, w): the embedding row of every id (what export.py writes as tok_emb.weight)."""
        if not self.has_prior:
            return self.tok_emb.weight
        self._require_attached()
        return torch.cat([self.tok_emb.weight, self.word_embeddings()], 0)

    def _require_attached(self) -> None:
        if not self.prior_attached:
            raise RuntimeError(
                f"text encoder word vectors are not attached: call attach_prior(model, path to "
                f"{self.cfg.prior_name or 'the table'}.npz) after building the model"
            )

    def embed(self, text_ids: torch.Tensor) -> torch.Tensor:
        """text_ids (B, Lt) long -> (B, Lt, w) token embeddings (learned rows, or projected word vectors)."""
        if not self.has_prior:
            return self.tok_emb(text_ids)
        self._require_attached()
        off = self.cfg.word_offset
        is_word = text_ids >= off  # (B, Lt)
        learned = self.tok_emb(text_ids.clamp(max=off - 1))  # (B, Lt, w)
        wv = self.word_vectors[(text_ids - off).clamp(min=0)]  # (B, Lt, prior_dim)
        if self.training and self.prior_noise > 0:
            wv = wv + torch.randn_like(wv) * (self.prior_noise / self.cfg.prior_dim**0.5)
        return torch.where(is_word[..., None], self.word_proj(wv).to(learned.dtype), learned)

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ):
        if self.has_prior:
            te = state_dict.get(prefix + "tok_emb.weight")
            if te is not None and te.shape[0] == self.cfg.vocab_size and prefix + "word_proj.weight" not in state_dict:
                self._to_plain_table()  # an exported (effective) table
            elif prefix + "prior_sha256" in state_dict:
                got = state_dict[prefix + "prior_sha256"]
                if self.prior_sha256.any() and got.any() and _sha_hex(got) != _sha_hex(self.prior_sha256):
                    raise PriorMismatchError(
                        f"the checkpoint was trained with the word-vector table of sha256 {_sha_hex(got)[:16]}…, "
                        f"but {self.cfg.prior_name or 'the attached table'} "
                        f"(sha256 {_sha_hex(self.prior_sha256)[:16]}…) "
                        f"is attached; pass the table the checkpoint was trained with"
                    )
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    def _to_plain_table(self) -> None:
        """Become a plain-table encoder: tok_emb (vocab_size, w), no word_proj / word_vectors / prior_sha256."""
        old = self.tok_emb.weight
        self.tok_emb = nn.Embedding(self.cfg.vocab_size, self.cfg.width, device=old.device, dtype=old.dtype)
        del self.word_proj
        del self._buffers["word_vectors"], self._buffers["prior_sha256"]
        self._non_persistent_buffers_set.discard("word_vectors")
        self.cfg.prior_words = self.cfg.prior_dim = 0
        self.prior_attached = False

    # -- forward --------------------------------------------------------------------------------
    def forward(self, text_ids: torch.Tensor):
        """text_ids (B, Lt) long -> tokens (B, Lt, d), c (B, cond_dim), key_mask (B, Lt) bool."""
        Lt = text_ids.shape[1]
        key_mask = text_ids != self.cfg.pad_id  # (B, Lt)
        x = self.embed(text_ids) + self.pos_emb[:Lt]  # (B, Lt, w)
        for blk in self.layers:
            x = blk(x, key_mask)
        x = self.norm(x)  # (B, Lt, w)
        m = key_mask.to(x.dtype)[..., None]  # (B, Lt, 1)
        pooled = (x * m).sum(1) / m.sum(1).clamp_min(1.0)  # (B, w)
        return self.proj(x), self.pool_proj(pooled), key_mask


def set_prior_noise(model: nn.Module, sigma: float) -> int:
    """Training-time noise of expected norm ~sigma on the word vectors of every TextEncoder in `model` that uses
    a prior (module docstring); 0 turns it off. Returns how many encoders it set; raises if sigma is negative or
    not finite, or if sigma > 0 and no encoder uses a prior."""
    if not (sigma >= 0 and np.isfinite(sigma)):
        raise ValueError(f"prior noise must be a finite number >= 0, got {sigma}")
    encs = [m for m in model.modules() if isinstance(m, TextEncoder) and m.has_prior]
    if sigma > 0 and not encs:
        raise ValueError("prior noise needs a word prior: the model has no text encoder with prior_words > 0")
    for e in encs:
        e.prior_noise = float(sigma)
    return len(encs)


def attach_prior(model: nn.Module, path: str, tokenizer=None) -> int:
    """Fill the word vectors of every TextEncoder in `model` that uses a prior from the table file `path`
    (call it right after building the model, before loading a checkpoint or a manifest); checks the file
    against the config's record and, when given, that the v2 `tokenizer`'s words are the table's words.
    Returns how many encoders were attached; raises if none uses a prior."""
    encs = [m for m in model.modules() if isinstance(m, TextEncoder) and m.has_prior]
    if not encs:
        raise ValueError("attach_prior: the model has no text encoder with prior_words > 0")
    table = read_prior(path)
    if tokenizer is not None:
        tw = list(getattr(tokenizer, "words", []))
        if tw != table.words:
            raise PriorMismatchError(
                f"the tokenizer's {len(tw)} words are not the {len(table.words)} words of "
                f"{table.name}, in order; train the tokenizer with words=<the table's words>"
            )
        if tokenizer.vocab_size != encs[0].cfg.vocab_size:
            raise PriorMismatchError(
                f"tokenizer vocab_size {tokenizer.vocab_size} != text vocab_size {encs[0].cfg.vocab_size}"
            )
    for e in encs:
        e.attach(table)
    return len(encs)
