"""VQ image tokenizer ("conv tokenizer"): 128x128 RGB <-> 16x16 grid of codebook ids.

Follows VQGAN's (Esser et al. 2021, taming-transformers) conv encoder/decoder layout -- ResNet blocks
with GroupNorm + SiLU, downsample by strided 3x3 conv, upsample by nearest x2 + 3x3 conv -- shrunk to
~1.5M parameters, with the factorised, l2-normalised low-dimensional codebook lookup of ViT-VQGAN
(Yu et al. 2022, "Vector-quantized image modeling with improved VQGAN"): the encoder projects to
`code_dim` channels, both the projection and the codebook rows are l2-normalised, and the nearest
code is the one with the largest dot product. Codes that stay unused are restarted from random encoder
outputs (`restart_dead_codes`, as in Jukebox / SoundStream). Straight-through estimator and the
VQ-VAE codebook + commitment losses (van den Oord et al. 2017).

Op inventory (the browser re-implements exactly these in WGSL): conv2d 3x3 (stride 1, pad 1, or
stride 2, pad 1), conv2d 1x1, GroupNorm (affine, eps 1e-6), SiLU, nearest upsample x2, residual add,
l2 normalisation over channels (encoder side only), codebook gather (decoder side), argmax of dot
products (encoder side). Images are NCHW in [-1, 1]; the decoder output is not squashed (clamp when
converting to pixels).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class VQConfig:
    image_size: int = 128
    in_channels: int = 3
    ch: int = 32  # base width at full resolution
    ch_mult: tuple[int, ...] = (1, 2, 2, 4)  # one entry per resolution; len-1 downsamplings
    enc_res_blocks: int = 1  # ResNet blocks per encoder level
    dec_res_blocks: int = 1  # ResNet blocks per decoder level
    mid_blocks: int = 1  # ResNet blocks at the token resolution (each side)
    norm_groups: int = 8
    codebook_size: int = 1024
    code_dim: int = 8  # low-dim factorised lookup (ViT-VQGAN)
    beta: float = 0.25  # commitment weight
    gn_eps: float = 1e-6

    @property
    def downsample(self) -> int:
        return 2 ** (len(self.ch_mult) - 1)

    @property
    def grid(self) -> int:
        return self.image_size // self.downsample

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ch_mult"] = list(self.ch_mult)
        d["downsample"] = self.downsample
        d["grid"] = self.grid
        return d

    @classmethod
    def from_dict(cls, d: dict) -> VQConfig:
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        if "ch_mult" in kw:
            kw["ch_mult"] = tuple(kw["ch_mult"])
        return cls(**kw)

    @classmethod
    def small(cls) -> VQConfig:
        return cls()

    @classmethod
    def tiny(cls) -> VQConfig:
        """Test preset: 32x32 images -> 4x4 tokens, a few thousand parameters."""
        return cls(image_size=32, ch=8, ch_mult=(1, 2, 2, 2), norm_groups=4, codebook_size=32, code_dim=4)


def _gn(c: int, cfg: VQConfig) -> nn.GroupNorm:
    return nn.GroupNorm(min(cfg.norm_groups, c), c, eps=cfg.gn_eps, affine=True)


class ResBlock(nn.Module):
    """GN -> SiLU -> conv3x3 -> GN -> SiLU -> conv3x3, plus a (1x1 conv if widths differ) skip."""

    def __init__(self, cin: int, cout: int, cfg: VQConfig):
        super().__init__()
        self.norm1 = _gn(cin, cfg)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = _gn(cout, cfg)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, cin, H, W) -> (B, cout, H, W)
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class Encoder(nn.Module):
    def __init__(self, cfg: VQConfig):
        super().__init__()
        chs = [cfg.ch * m for m in cfg.ch_mult]
        self.conv_in = nn.Conv2d(cfg.in_channels, chs[0], 3, padding=1)
        self.levels = nn.ModuleList()
        cin = chs[0]
        for i, c in enumerate(chs):
            lvl = nn.Module()
            lvl.blocks = nn.ModuleList([ResBlock(cin if j == 0 else c, c, cfg) for j in range(cfg.enc_res_blocks)])
            cin = c
            # strided 3x3 conv, symmetric padding 1: (H, W) -> (H/2, W/2)
            lvl.down = nn.Conv2d(c, c, 3, stride=2, padding=1) if i < len(chs) - 1 else None
            self.levels.append(lvl)
        self.mid = nn.ModuleList([ResBlock(cin, cin, cfg) for _ in range(cfg.mid_blocks)])
        self.norm_out = _gn(cin, cfg)
        self.conv_out = nn.Conv2d(cin, cfg.code_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, S, S) -> (B, code_dim, S/8, S/8)
        h = self.conv_in(x)
        for lvl in self.levels:
            for blk in lvl.blocks:
                h = blk(h)
            if lvl.down is not None:
                h = lvl.down(h)
        for blk in self.mid:
            h = blk(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    def __init__(self, cfg: VQConfig):
        super().__init__()
        chs = [cfg.ch * m for m in cfg.ch_mult]
        c = chs[-1]
        self.conv_in = nn.Conv2d(cfg.code_dim, c, 3, padding=1)
        self.mid = nn.ModuleList([ResBlock(c, c, cfg) for _ in range(cfg.mid_blocks)])
        self.levels = nn.ModuleList()
        for i in reversed(range(len(chs))):
            lvl = nn.Module()
            lvl.blocks = nn.ModuleList(
                [ResBlock(c if j == 0 else chs[i], chs[i], cfg) for j in range(cfg.dec_res_blocks)]
            )
            c = chs[i]
            # nearest x2 then 3x3 conv: (H, W) -> (2H, 2W)
            lvl.up = nn.Conv2d(c, c, 3, padding=1) if i > 0 else None
            self.levels.append(lvl)
        self.norm_out = _gn(c, cfg)
        self.conv_out = nn.Conv2d(c, cfg.in_channels, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, code_dim, g, g) -> (B, 3, 8g, 8g)
        h = self.conv_in(z)
        for blk in self.mid:
            h = blk(h)
        for lvl in self.levels:
            for blk in lvl.blocks:
                h = blk(h)
            if lvl.up is not None:
                h = lvl.up(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))


class Quantizer(nn.Module):
    """l2-normalised nearest-code lookup with a straight-through estimator.

    Invariant kept by `normalize_codebook_()` (called after every optimiser step and before export):
    codebook rows have unit norm, so the decoder's input is exactly `codebook[token]`.
    """

    def __init__(self, cfg: VQConfig):
        super().__init__()
        self.cfg = cfg
        self.codebook = nn.Parameter(F.normalize(torch.randn(cfg.codebook_size, cfg.code_dim), dim=1))  # (K, D)
        self.register_buffer("usage", torch.ones(cfg.codebook_size), persistent=False)  # EMA of code counts

    def codes(self) -> torch.Tensor:
        return F.normalize(self.codebook, dim=1)  # (K, D)

    @torch.no_grad()
    def normalize_codebook_(self) -> None:
        self.codebook.copy_(F.normalize(self.codebook, dim=1))

    def similarities(self, z: torch.Tensor) -> torch.Tensor:  # (B, D, g, g) -> (B, K, g, g)
        """Cosine similarity of every position's latent to every code; the token is its argmax over K."""
        return torch.einsum("bdhw,kd->bkhw", F.normalize(z.float(), dim=1), self.codes().float())

    def lookup(self, z: torch.Tensor) -> torch.Tensor:  # (B, D, g, g) -> (B, g, g) int64
        return self.similarities(z).argmax(dim=1)

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:  # (B, g, g) -> (B, D, g, g)
        return self.codes()[tokens].permute(0, 3, 1, 2).contiguous()

    def forward(self, z: torch.Tensor):  # z (B, D, g, g)
        zn = F.normalize(z.float(), dim=1)  # (B, D, g, g)
        codes = self.codes().float()  # (K, D)
        tokens = torch.einsum("bdhw,kd->bkhw", zn, codes).argmax(dim=1)  # (B, g, g)
        q = codes[tokens].permute(0, 3, 1, 2)  # (B, D, g, g)
        codebook_loss = F.mse_loss(q, zn.detach())
        commit_loss = F.mse_loss(zn, q.detach())
        q_st = zn + (q - zn).detach()  # straight-through
        if self.training:
            with torch.no_grad():
                counts = torch.bincount(tokens.flatten(), minlength=self.cfg.codebook_size).float()
                self.usage.mul_(0.99).add_(counts, alpha=0.01)
        return q_st.to(z.dtype), tokens, codebook_loss + self.cfg.beta * commit_loss, zn

    @torch.no_grad()
    def restart_dead_codes(self, zn: torch.Tensor, threshold: float = 1e-3) -> int:
        """Replace codes whose usage EMA fell below `threshold` with random encoder outputs.

        `zn` (B, D, g, g) are normalised encoder outputs of the current batch. Under DDP call this on
        every rank and broadcast the codebook from rank 0 afterwards (train_vq.py does).
        """
        dead = (self.usage < threshold).nonzero().flatten()
        n = int(dead.numel())
        if n == 0:
            return 0
        pool = zn.permute(0, 2, 3, 1).reshape(-1, zn.shape[1])  # (B*g*g, D)
        pick = torch.randint(0, pool.shape[0], (n,), device=pool.device)
        noise = 0.01 * torch.randn(n, pool.shape[1], device=pool.device)
        self.codebook.data[dead] = F.normalize(pool[pick].float() + noise, dim=1).to(self.codebook.dtype)
        self.usage[dead] = 1.0
        return n


class VQModel(nn.Module):
    """Encoder -> Quantizer -> Decoder. `forward` returns (recon, tokens, vq_loss, zn)."""

    def __init__(self, cfg: VQConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.quant = Quantizer(cfg)
        self.decoder = Decoder(cfg)

    def forward(self, x: torch.Tensor):  # x (B, 3, S, S) in [-1, 1]
        z = self.encoder(x)  # (B, D, g, g)
        q, tokens, vq_loss, zn = self.quant(z)  # (B, D, g, g), (B, g, g)
        recon = self.decoder(q)  # (B, 3, S, S)
        return recon, tokens, vq_loss, zn

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:  # (B, 3, S, S) -> (B, g, g) int64
        return self.quant.lookup(self.encoder(images))

    def decode_tokens(self, tokens: torch.Tensor) -> torch.Tensor:  # (B, g, g) -> (B, 3, S, S)
        return self.decoder(self.quant.embed(tokens))

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def images_to_tensor(u8: torch.Tensor) -> torch.Tensor:
    """(B, H, W, 3) uint8 -> (B, 3, H, W) float in [-1, 1]."""
    return u8.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def tensor_to_images(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) float in [-1, 1] -> (B, H, W, 3) uint8 (clamped, rounded)."""
    return ((x.float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB of two (B, 3, H, W) batches in [-1, 1] (peak-to-peak 2)."""
    mse = (a.float().clamp(-1, 1) - b.float().clamp(-1, 1)).pow(2).flatten(1).mean(1)  # (B,)
    return 10.0 * torch.log10(4.0 / mse.clamp_min(1e-10))
