"""M-Mamba: masked image-token generator whose layers are multimodal Mamba blocks (docs/architecture.md "The model").

Sequence h = [h_txt ; h_img] (text first, L = Lt + HW; image tokens row-major). Each layer:
    (shift, scale, gate) = Linear(SiLU(c))            adaLN-Zero
    u = RMSNorm(h)·(1 + scale) + shift;  x, z = split(u · W_in)              (L, di) each
    per direction k (VMamba cross-scan, Liu et al. 2024): s_k = [x_txt ; P_k(x_img)],
        SiLU(causal depthwise conv1d_k), (dt, B, C) = s_k · W_x,k, Δ = softplus(dt · W_dt,k + b_dt,k),
        y_k = selective_scan(s_k, Δ, −exp(A_log,k), B, C, D_k)             (Mamba, Gu & Dao 2023)
    y_img = Σ_k P_k⁻¹(y_k[img]), y_txt = Σ_k y_k[txt];  y = LayerNorm(y) · SiLU(z)
    h = h + gate · (y · W_out);   optional GEGLU FFN with its own adaLN (cfg.ffn)
Head: RMSNorm → Linear to codebook logits at image positions.

Directions: P0 row-major, P1 column-major, P2 = reverse(P0), P3 = reverse(P1). cfg.directions = 4 uses
(P0, P1, P2, P3); 2 uses (P0, P2); 1 uses (P0). cfg.text_position = 'middle' puts the text between the
two halves of each permuted image sequence: [P_k(x_img)[:HW/2] ; x_txt ; P_k(x_img)[HW/2:]].
Both are expressed as one gather index per direction over the concatenated [txt ; img] sequence
(`seq_perm` (K, L)) and its inverse (`seq_inv`), non-persistent buffers (not in the state dict).

Parameter layout (per-direction tensors are STACKED on a leading axis K = cfg.directions):
    text.*                          TextEncoder (see text_encoder.py)
    img_emb.weight                  (codebook_size + 1, d)      last row = [MASK]
    pos_emb                         (HW, d)                     only if cfg.pos_emb
    layers.i.mod.proj.{weight,bias} (3d, cond_dim), (3d,)       chunks: shift, scale, gate
    layers.i.in_proj.weight         (2·di, d)                   rows [0, di) → x, [di, 2di) → z
    layers.i.conv_weight            (K, di, d_conv)             causal: out_t = Σ_j w[j]·s_{t-(d_conv-1)+j}
    layers.i.conv_bias              (K, di)
    layers.i.x_proj_weight          (K, dt_rank + 2N, di)       rows: dt | B | C
    layers.i.dt_proj_weight         (K, di, dt_rank)
    layers.i.dt_proj_bias           (K, di)
    layers.i.A_log                  (K, di, N)                  A = −exp(A_log)
    layers.i.D                      (K, di)
    layers.i.out_norm.{weight,bias} (di,)                       LayerNorm, eps 1e-5
    layers.i.out_proj.weight        (d, di)
    layers.i.ffn_mod.proj.*, layers.i.ffn.w_in.*, layers.i.ffn.w_out.*     only if cfg.ffn
    head_norm.weight                (d,)
    head.{weight,bias}              (codebook_size, d), (codebook_size,)
The adaptive RMSNorms have no weight (the modulation covers it).
"""

from __future__ import annotations

import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint

from .common import GEGLU, AdaLN, RMSNorm, modulate
from .config import MMambaConfig
from .scan import fused_ops, scan_merge_tuning, selective_scan, selective_scan_ref
from .seq_ops import causal_conv_silu, causal_conv_silu_ref, from_scans, sequence_index, to_scans
from .text_encoder import TextEncoder

DIRECTION_SETS = {1: (0,), 2: (0, 2), 4: (0, 1, 2, 3)}
# Training path of the mixer on CUDA (same math; see MMambaLayer.mix): 'fused' = gathered conv + fused scan/merge
# kernels, 'split' = the cross-scan copy, conv, Triton scan and merge as separate steps. MMAMBA_SCAN_PATH overrides.
SCAN_PATHS = ("fused", "split")
DEFAULT_SCAN_PATH = os.environ.get("MMAMBA_SCAN_PATH", "split")
# How the split path runs the conv + SiLU: 'op' = the custom op (the Triton kernels on CUDA, opaque to
# torch.compile), 'inline' = the plain PyTorch shifted multiply-adds (conv_ref.py), which torch.compile fuses with the
# gather before it and compiles the backward of, dx and dweight as its own kernels. Same function. Read when a layer
# is built (MMAMBA_CONV_PATH), so a process can hold models of both kinds.
CONV_PATHS = ("op", "inline")


def image_permutations(grid: int) -> torch.Tensor:
    """(4, HW) long: P_k[j] = row-major image index read at scan position j."""
    idx = torch.arange(grid * grid)
    p0 = idx  # row-major
    p1 = idx.view(grid, grid).t().reshape(-1)  # column-major
    return torch.stack([p0, p1, p0.flip(0), p1.flip(0)])


def sequence_permutations(cfg: MMambaConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """(K, L) gather index over [txt ; img] for each used direction, and its inverse."""
    Lt, HW = cfg.text.max_len, cfg.hw
    P = image_permutations(cfg.grid)
    txt = torch.arange(Lt)
    rows = []
    for k in DIRECTION_SETS[cfg.directions]:
        img = Lt + P[k]
        if cfg.text_position == "first":
            rows.append(torch.cat([txt, img]))
        else:
            half = HW // 2
            rows.append(torch.cat([img[:half], txt, img[half:]]))
    perm = torch.stack(rows)  # (K, L)
    inv = torch.argsort(perm, dim=1)  # (K, L): inv[k][perm[k][j]] = j
    return perm, inv


class MMambaLayer(nn.Module):
    def __init__(self, cfg: MMambaConfig):
        super().__init__()
        d, di, N, R, K = cfg.d, cfg.d_inner, cfg.d_state, cfg.dt_rank, cfg.directions
        self.cfg = cfg
        self.mod = AdaLN(cfg.cond_dim, d)
        self.norm = RMSNorm(d, affine=False)
        self.in_proj = nn.Linear(d, 2 * di, bias=False)
        bound = 1.0 / math.sqrt(cfg.d_conv)  # nn.Conv1d default for a depthwise conv
        self.conv_weight = nn.Parameter(torch.empty(K, di, cfg.d_conv).uniform_(-bound, bound))
        self.conv_bias = nn.Parameter(torch.empty(K, di).uniform_(-bound, bound))
        bound = 1.0 / math.sqrt(di)
        self.x_proj_weight = nn.Parameter(torch.empty(K, R + 2 * N, di).uniform_(-bound, bound))
        bound = R**-0.5  # Mamba dt_init='random', dt_scale=1
        self.dt_proj_weight = nn.Parameter(torch.empty(K, di, R).uniform_(-bound, bound))
        dt = torch.exp(torch.rand(K, di) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
        dt = dt.clamp(min=1e-4)
        self.dt_proj_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))  # inverse softplus
        self.A_log = nn.Parameter(torch.log(torch.arange(1, N + 1, dtype=torch.float32)).repeat(K, di, 1))
        self.D = nn.Parameter(torch.ones(K, di))
        self.out_norm = nn.LayerNorm(di)
        self.out_proj = nn.Linear(di, d, bias=False)
        if cfg.ffn:
            self.ffn_mod = AdaLN(cfg.cond_dim, d)
            self.ffn_norm = RMSNorm(d, affine=False)
            self.ffn = GEGLU(d, cfg.ffn_mult * d)
        self.scan_path = DEFAULT_SCAN_PATH
        self.conv_path = os.environ.get("MMAMBA_CONV_PATH", "op")
        if self.conv_path not in CONV_PATHS:
            raise ValueError(f"MMAMBA_CONV_PATH must be one of {CONV_PATHS}, got {self.conv_path!r}")
        perm, inv = sequence_permutations(cfg)
        self.register_buffer("seq_perm", perm, persistent=False)
        self.register_buffer("seq_inv", inv, persistent=False)
        perm_flat, inv_flat = sequence_index(perm, inv)  # (K·L,) row gathers for seq_ops
        self.register_buffer("seq_perm_flat", perm_flat, persistent=False)
        self.register_buffer("seq_inv_flat", inv_flat, persistent=False)

    def mix(self, u: torch.Tensor, use_ref: bool = False) -> torch.Tensor:
        """The cross-scan SSM mixer: u (B, L, d) normalised+modulated input -> (B, L, d).
        Works channels-last, (B, K, L, di): the permutations are row gathers, every matmul is a plain batched
        GEMM over contiguous rows, and the scan reads its per-step channel vectors contiguously.
        scan_path 'fused' (CUDA + triton): the cross-scan gather happens inside the conv kernel, and dt_proj and the
        merge inside the scan kernel (scan_merge_triton.py), so neither the (B, K, L, di) input copy, nor dt, nor the
        per-direction scan output exists; 'split' (and every CPU run) does each step separately. Both compute the
        same function."""
        cfg = self.cfg
        K, N, R = cfg.directions, cfg.d_state, cfg.dt_rank
        x, z = self.in_proj(u).chunk(2, dim=-1)  # (B, L, di) each
        fused = None if use_ref or self.scan_path != "fused" else fused_ops(x)
        if fused:
            xs = fused[0](x, self.seq_perm, self.conv_weight, self.conv_bias)  # (B, K, L, di) gather+conv+SiLU
        else:
            xs = to_scans(x, self.seq_perm_flat, self.seq_inv_flat, K)  # (B, K, L, di) cross-scan
            if self.conv_path == "op":
                xs = causal_conv_silu(xs, self.conv_weight, self.conv_bias)  # (B, K, L, di)
            else:  # in x's dtype, as the op returns it (bf16 under autocast, the f32 weights would promote it)
                xs = causal_conv_silu_ref(xs, self.conv_weight, self.conv_bias).to(xs.dtype)
        x_dbl = torch.matmul(xs, self.x_proj_weight.transpose(1, 2))  # (B, K, L, R + 2N)
        dt, Bm, Cm = torch.split(x_dbl, [R, N, N], dim=-1)  # (B,K,L,R) (B,K,L,N) (B,K,L,N)
        A = -torch.exp(self.A_log.float()).reshape(-1, N)  # (K·di, N)
        if fused:  # dt_proj, scan and cross-merge in the kernels
            y = fused[1](
                xs,
                dt,
                A,
                Bm,
                Cm,
                self.D.reshape(-1),
                self.seq_perm,
                delta_bias=self.dt_proj_bias.reshape(-1),
                delta_softplus=True,
                dt_w=self.dt_proj_weight.reshape(-1, R),
                **scan_merge_tuning(),
            )  # (B, L, di) f32
        else:
            dt = torch.matmul(dt, self.dt_proj_weight.transpose(1, 2))  # (B, K, L, di)
            scan = selective_scan_ref if use_ref else selective_scan  # Triton on CUDA, else chunked
            y = scan(
                xs.transpose(2, 3),
                dt.transpose(2, 3),
                A,  # (B, K, di, L) views, groups = K
                Bm.transpose(2, 3),
                Cm.transpose(2, 3),  # (B, K, N, L) views
                D=self.D.reshape(-1),
                delta_bias=self.dt_proj_bias.reshape(-1),
                delta_softplus=True,
            )  # (B, K, di, L)
            y = from_scans(y.transpose(2, 3), self.seq_perm_flat, self.seq_inv_flat)  # (B, L, di) cross-merge
        y = self.out_norm(y) * F.silu(z)  # (B, L, di)
        return self.out_proj(y)  # (B, L, d)

    def forward(self, h: torch.Tensor, c: torch.Tensor, use_ref: bool = False) -> torch.Tensor:
        shift, scale, gate = self.mod(c)  # (B, 1, d) each
        h = h + gate * self.mix(modulate(self.norm(h), shift, scale), use_ref)  # (B, L, d)
        if self.cfg.ffn:
            shift, scale, gate = self.ffn_mod(c)
            h = h + gate * self.ffn(modulate(self.ffn_norm(h), shift, scale))
        return h


class MMamba(nn.Module):
    def __init__(self, cfg: MMambaConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.d
        self.text = TextEncoder(cfg.text, d, cfg.cond_dim)
        self.img_emb = nn.Embedding(cfg.codebook_size + 1, d)
        nn.init.normal_(self.img_emb.weight, std=0.02)
        self.pos_emb = nn.Parameter(torch.randn(cfg.hw, d) * 0.02) if cfg.pos_emb else None
        self.layers = nn.ModuleList(MMambaLayer(cfg) for _ in range(cfg.layers))
        self.head_norm = RMSNorm(d)
        self.head = nn.Linear(d, cfg.codebook_size)
        self.use_ref_scan = False  # set True to run the sequential reference scan
        self.set_scan_path(DEFAULT_SCAN_PATH)

    def set_scan_path(self, path: str) -> None:
        """'fused' or 'split' for every layer (see MMambaLayer.mix); the weights and the function are the same."""
        if path not in SCAN_PATHS:
            raise ValueError(f"scan path must be one of {SCAN_PATHS}, got {path!r}")
        self.scan_path = path
        for layer in self.layers:
            layer.scan_path = path
        self.grad_checkpoint = False  # set True to recompute each layer in backward (saves memory)

    def forward(
        self,
        img_tokens: torch.Tensor,
        text_ids: torch.Tensor,
        return_stages: bool = False,
        use_ref_scan: bool | None = None,
    ):
        """img_tokens (B, HW) long in [0, K] (K = [MASK]), text_ids (B, Lt) long -> logits (B, HW, K).
        With return_stages=True returns (logits, stages) with stages: text_tokens (B, Lt, d),
        c (B, cond_dim), embed (B, L, d), layer{i} (B, L, d) for each layer, logits."""
        use_ref = self.use_ref_scan if use_ref_scan is None else use_ref_scan
        assert text_ids.shape[1] == self.cfg.text.max_len, "text_ids must be padded to text.max_len"
        assert img_tokens.shape[1] == self.cfg.hw, "img_tokens must hold grid*grid tokens"
        txt, c, _ = self.text(text_ids)  # (B, Lt, d), (B, cond_dim)
        x = self.img_emb(img_tokens)  # (B, HW, d)
        if self.pos_emb is not None:
            x = x + self.pos_emb
        h = torch.cat([txt, x], dim=1)  # (B, L, d)
        stages = {"text_tokens": txt, "c": c, "embed": h} if return_stages else None
        for i, layer in enumerate(self.layers):
            if self.grad_checkpoint and self.training:
                h = torch.utils.checkpoint.checkpoint(layer, h, c, use_ref, use_reentrant=False)
            else:
                h = layer(h, c, use_ref)
            if stages is not None:
                stages[f"layer{i}"] = h
        Lt = text_ids.shape[1]
        logits = self.head(self.head_norm(h[:, Lt:]))  # (B, HW, K)
        if stages is not None:
            stages["logits"] = logits
            return logits, stages
        return logits


def build_model(cfg) -> nn.Module:
    """MMamba for an MMambaConfig, UViT for a UViTConfig (e.g. from config.config_from_dict)."""
    from .config import UViTConfig
    from .uvit import UViT

    if isinstance(cfg, MMambaConfig):
        return MMamba(cfg)
    if isinstance(cfg, UViTConfig):
        return UViT(cfg)
    raise TypeError(f"no model for config type {type(cfg).__name__}")
