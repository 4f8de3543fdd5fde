"""PyTorch eager reference for the layer comparison of bench/layers.ts (WebGPU): one M-Mamba layer against one
UViT layer at equal width and sequence, their sequence-mixing cores, and a 22-layer stack, inference only.

Shapes (full run, as bench/config.ts): d in {512, 1024}, di = 2d, N = 16, dt_rank = ceil(d/16), K = 4 directions,
L = 16 text + 16x16 image tokens, heads 8, GEGLU hidden 4d (UViT), adaLN conditioning width = d, batch 1 and 32.
Layers are mmamba.MMambaLayer (no FFN sublayer, as shipped) and uvit.UViTLayer (self-attention over the 256
image tokens, cross-attention to the 16 text tokens with a key mask, GEGLU FFN), weights random.
Cores (what bench/layers.ts calls the core): SSM core = cross-scan gather + causal conv1d + SiLU (Triton on CUDA, as
the model), x_proj, dt_proj, selective scan (Triton kernel on CUDA when `mmamba.scan.selective_scan` picks it, else the
chunked PyTorch path)
and cross-merge; attention core = the self- and cross-attention kernels (SDPA) without their projections. Cores
are timed on their own, so "core share" is core time / layer time of separate measurements.
dtypes: f32 (TF32 off unless --tf32) and bf16 (weights and activations in bf16; the scan state stays f32).
Timing: CUDA events around each call (CPU: perf_counter), `warmup` calls first, median of `reps`.

Usage (from training/):  python bench_layers.py [--tiny] [--json FILE] [--budget S] [--dtypes bf16,f32]
The markdown table goes to stdout, progress to stderr. --tiny runs small shapes on any device in seconds.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmamba import scan as scan_module
from mmamba.config import MMambaConfig, TextConfig, UViTConfig
from mmamba.mmamba import MMambaLayer
from mmamba.seq_ops import causal_conv_silu, from_scans, to_scans
from mmamba.uvit import UViTLayer

DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16}


@dataclass
class Shapes:
    text_len: int
    grid: int
    widths: tuple[int, ...]
    batches: tuple[int, ...]
    heads: int
    ffn_mult: int
    depth: int
    warmup: int
    reps: int


FULL = Shapes(
    text_len=16, grid=16, widths=(512, 1024), batches=(1, 32), heads=8, ffn_mult=4, depth=22, warmup=5, reps=20
)
TINY = Shapes(text_len=4, grid=4, widths=(32,), batches=(1, 2), heads=2, ffn_mult=4, depth=3, warmup=1, reps=3)


@dataclass
class Row:
    model: str  # 'M-Mamba' | 'UViT'
    d: int
    B: int
    L: int  # tokens the layer runs over (M-Mamba: text + image; UViT: image, text via cross-attention)
    dtype: str
    layer_us: float  # one layer forward, median
    core_us: float  # sequence-mixing core alone, median
    stack_ms: float  # `depth` layers forward, median
    depth: int


def mamba_config(s: Shapes, d: int) -> MMambaConfig:
    return MMambaConfig(
        text=TextConfig(max_len=s.text_len),
        grid=s.grid,
        d=d,
        layers=1,
        expand=2,
        d_state=16,
        d_conv=4,
        directions=4,
        ffn=False,
        cond_dim=d,
    )


def uvit_config(s: Shapes, d: int) -> UViTConfig:
    return UViTConfig(
        text=TextConfig(max_len=s.text_len), grid=s.grid, d=d, layers=1, heads=s.heads, ffn_mult=s.ffn_mult, cond_dim=d
    )


def randomise_adaln(layers: nn.ModuleList) -> None:
    """adaLN-Zero starts with gate = 0; give the modulations small random weights so every path carries signal."""
    for name, p in layers.named_parameters():
        if ".proj." in name and ("mod" in name):
            nn.init.normal_(p, std=0.02)


def mamba_core(layer: MMambaLayer, x: torch.Tensor) -> torch.Tensor:
    """The SSM core of MMambaLayer.mix, from in_proj's x half (B, L, di) to the cross-merged y (B, L, di):
    cross-scan gather, causal depthwise conv1d + SiLU, x_proj, dt_proj, selective scan, cross-merge.
    Mirrors mmamba.py's mix line for line (test_bench_layers.py checks it against layer.mix)."""
    cfg = layer.cfg
    K, N, R = cfg.directions, cfg.d_state, cfg.dt_rank
    xs = to_scans(x, layer.seq_perm_flat, layer.seq_inv_flat, K)  # (B, K, L, di)
    xs = causal_conv_silu(xs, layer.conv_weight, layer.conv_bias)  # (B, K, L, di)
    x_dbl = torch.matmul(xs, layer.x_proj_weight.transpose(1, 2))  # (B, K, L, R + 2N)
    dt, Bm, Cm = torch.split(x_dbl, [R, N, N], dim=-1)
    dt = torch.matmul(dt, layer.dt_proj_weight.transpose(1, 2))  # (B, K, L, di)
    y = scan_module.selective_scan(
        xs.transpose(2, 3),
        dt.transpose(2, 3),
        -torch.exp(layer.A_log.float()).reshape(-1, N),
        Bm.transpose(2, 3),
        Cm.transpose(2, 3),
        D=layer.D.reshape(-1),
        delta_bias=layer.dt_proj_bias.reshape(-1),
        delta_softplus=True,
    )  # (B, K, di, L)
    return from_scans(y.transpose(2, 3), layer.seq_perm_flat, layer.seq_inv_flat)  # (B, L, di)


def attention_core(q, k, v, qc, kc, vc, mask) -> torch.Tensor:
    """The attention core of UViTLayer: self-attention SDPA over the image tokens, cross-attention SDPA to the text
    (key mask as the model passes it). Inputs are already split into heads: (B, h, L, hd)."""
    a = F.scaled_dot_product_attention(q, k, v)  # (B, h, HW, hd)
    b = F.scaled_dot_product_attention(qc, kc, vc, attn_mask=mask)  # (B, h, HW, hd)
    return a, b


class Timer:
    """Median wall time of a callable in ms: CUDA events on a GPU (device time of the enqueued work), perf_counter
    on the CPU."""

    def __init__(self, device: torch.device, warmup: int, reps: int):
        self.device, self.warmup, self.reps = device, warmup, reps
        self.cuda = device.type == "cuda"

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def median_ms(self, fn: Callable[[], object]) -> float:
        for _ in range(self.warmup):
            fn()
        self.sync()
        samples = []
        for _ in range(self.reps):
            if self.cuda:
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                end.synchronize()
                samples.append(start.elapsed_time(end))
            else:
                t0 = time.perf_counter()
                fn()
                samples.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(samples)


def bench_mamba(s: Shapes, d: int, B: int, dtype: str, dev: torch.device, timer: Timer) -> Row:
    cfg = mamba_config(s, d)
    with torch.device(dev):
        layers = nn.ModuleList(MMambaLayer(cfg) for _ in range(s.depth))
    randomise_adaln(layers)
    layers = layers.to(dtype=DTYPES[dtype]).eval()
    L = cfg.seq_len
    g = torch.Generator(device=dev).manual_seed(0)
    h = torch.randn(B, L, d, generator=g, device=dev).to(DTYPES[dtype])  # (B, L, d)
    c = torch.randn(B, d, generator=g, device=dev).to(DTYPES[dtype])  # (B, cond = d)
    first = layers[0]
    x = torch.randn(B, L, cfg.d_inner, generator=g, device=dev).to(DTYPES[dtype])  # (B, L, di) in_proj's x

    def stack():
        y = h
        for layer in layers:
            y = layer(y, c)
        return y

    row = Row(
        "M-Mamba",
        d,
        B,
        L,
        dtype,
        layer_us=1e3 * timer.median_ms(lambda: first(h, c)),
        core_us=1e3 * timer.median_ms(lambda: mamba_core(first, x)),
        stack_ms=timer.median_ms(stack),
        depth=s.depth,
    )
    check_finite(stack(), row)
    return row


def bench_uvit(s: Shapes, d: int, B: int, dtype: str, dev: torch.device, timer: Timer) -> Row:
    cfg = uvit_config(s, d)
    with torch.device(dev):
        layers = nn.ModuleList(UViTLayer(cfg) for _ in range(s.depth))
    randomise_adaln(layers)
    layers = layers.to(dtype=DTYPES[dtype]).eval()
    HW, Lt, hd = cfg.hw, cfg.text.max_len, d // cfg.heads
    dt = DTYPES[dtype]
    g = torch.Generator(device=dev).manual_seed(0)
    r = lambda *shape: torch.randn(*shape, generator=g, device=dev).to(dt)  # noqa: E731
    h, txt, c = r(B, HW, d), r(B, Lt, d), r(B, d)  # (B, HW, d), (B, Lt, d), (B, d)
    key_mask = torch.ones(B, Lt, dtype=torch.bool, device=dev)
    key_mask[:, Lt // 2 :] = False  # padded prompt tail, as in use
    first = layers[0]
    heads = cfg.heads
    q, k, v = r(B, heads, HW, hd), r(B, heads, HW, hd), r(B, heads, HW, hd)
    qc, kc, vc = r(B, heads, HW, hd), r(B, heads, Lt, hd), r(B, heads, Lt, hd)
    mask = key_mask[:, None, None, :]  # (B, 1, 1, Lt)

    def stack():
        y = h
        for layer in layers:
            y = layer(y, c, txt, key_mask)
        return y

    row = Row(
        "UViT",
        d,
        B,
        HW,
        dtype,
        layer_us=1e3 * timer.median_ms(lambda: first(h, c, txt, key_mask)),
        core_us=1e3 * timer.median_ms(lambda: attention_core(q, k, v, qc, kc, vc, mask)),
        stack_ms=timer.median_ms(stack),
        depth=s.depth,
    )
    check_finite(stack(), row)
    return row


def check_finite(y: torch.Tensor, row: Row) -> None:
    if not torch.isfinite(y.float()).all():
        raise FloatingPointError(f"{row.model} d={row.d} B={row.B} {row.dtype}: non-finite output")


def scan_impl(dev: torch.device) -> str:
    if dev.type == "cuda" and scan_module._triton_scan():
        return f"Triton kernel (mmamba/scan_triton.py, {scan_module._triton_tuning()})"
    return "chunked PyTorch (mmamba/scan.py selective_scan_fast)"


def fmt(x: float, digits: int = 1) -> str:
    return f"{x:.{digits}f}" if math.isfinite(x) else "–"


def table(rows: list[Row]) -> str:
    depth = rows[0].depth if rows else 0
    out = [
        f"| layer | d | B | L | dtype | layer (µs) | core (µs) | core share | vs UViT (layer) | {depth} layers (ms) "
        f"| vs UViT ({depth} layers) |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        u = next((x for x in rows if x.model == "UViT" and (x.d, x.B, x.dtype) == (r.d, r.B, r.dtype)), None)
        vs = r.model == "M-Mamba" and u is not None
        out.append(
            f"| {r.model} | {r.d} | {r.B} | {r.L} | {r.dtype} | {fmt(r.layer_us)} | {fmt(r.core_us)} "
            f"| {fmt(100 * r.core_us / r.layer_us, 0)}% | {fmt(r.layer_us / u.layer_us, 2) + '×' if vs else ''} "
            f"| {fmt(r.stack_ms, 2)} | {fmt(r.stack_ms / u.stack_ms, 2) + '×' if vs else ''} |"
        )
    return "\n".join(out)


def markdown(
    rows: list[Row], s: Shapes, mode: str, dev: torch.device, tf32: bool, skipped: list[str], wall_s: float
) -> str:
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU"
    return "\n".join(
        [
            f"# PyTorch eager layer benchmark ({mode})",
            "",
            f"- device: {name}; torch {torch.__version__}; inference only (torch.inference_mode)",
            f"- selective scan: {scan_impl(dev)}",
            f"- f32: TF32 matmul {'on' if tf32 else 'off'}; bf16: weights and activations bf16, scan state f32",
            f"- timing: {'CUDA events' if dev.type == 'cuda' else 'perf_counter'}, median of {s.reps} after "
            f"{s.warmup} warm-up; L = {s.text_len} text + {s.grid}×{s.grid} image tokens; heads {s.heads}, "
            f"UViT GEGLU hidden {s.ffn_mult}d; cores timed separately",
            f"- {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}, {wall_s:.0f} s wall"
            + (f"; time budget spent, SKIPPED: {', '.join(skipped)}" if skipped else ""),
            "",
            "M-Mamba core: cross-scan + conv1d + SiLU, x_proj, dt_proj, selective scan, cross-merge; "
            "UViT core: self- and",
            "cross-attention SDPA (projections outside). "
            "M-Mamba has no FFN sublayer (as shipped); UViT has its GEGLU FFN.",
            "",
            table(rows),
        ]
    )


def run(
    s: Shapes, dtypes: list[str], dev: torch.device, budget_s: float, tf32: bool
) -> tuple[list[Row], list[str], float]:
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    timer = Timer(dev, s.warmup, s.reps)
    t0 = time.time()
    rows: list[Row] = []
    skipped: list[str] = []
    with torch.inference_mode():
        for dtype in dtypes:
            for d in s.widths:
                for B in s.batches:
                    tag = f"d={d} B={B} {dtype}"
                    if time.time() - t0 > budget_s:
                        skipped.append(tag)
                        continue
                    print(f"[{time.time() - t0:.0f}s] {tag}", file=sys.stderr, flush=True)
                    rows.append(bench_mamba(s, d, B, dtype, dev, timer))
                    rows.append(bench_uvit(s, d, B, dtype, dev, timer))
                    if dev.type == "cuda":
                        torch.cuda.empty_cache()
    return rows, skipped, time.time() - t0


def main(argv: list[str] | None = None) -> str:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tiny", action="store_true", help="small shapes, 3 reps: a smoke run for any device")
    ap.add_argument("--dtypes", default="bf16,f32", help="comma list of bf16, f32")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--depth", type=int, help="layers in the stack (default 22; tiny 3)")
    ap.add_argument("--reps", type=int, help="timed calls per measurement (default 20; tiny 3)")
    ap.add_argument("--budget", type=float, default=150.0, help="seconds; later configurations are skipped")
    ap.add_argument("--tf32", action="store_true", help="allow TF32 for f32 matmuls")
    ap.add_argument("--json", help="also write the rows as JSON")
    args = ap.parse_args(argv)
    s = TINY if args.tiny else FULL
    if args.depth or args.reps:
        s = Shapes(
            **{
                **asdict(s),
                **({"depth": args.depth} if args.depth else {}),
                **({"reps": args.reps} if args.reps else {}),
            }
        )
    dtypes = [t.strip() for t in args.dtypes.split(",") if t.strip()]
    unknown = [t for t in dtypes if t not in DTYPES]
    if unknown:
        ap.error(f"unknown dtype(s) {unknown}; use bf16 and/or f32")
    dev = torch.device(args.device)
    rows, skipped, wall = run(s, dtypes, dev, args.budget, args.tf32)
    md = markdown(rows, s, "tiny" if args.tiny else "full", dev, args.tf32, skipped, wall)
    print(md)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"device": str(dev), "shapes": asdict(s), "skipped": skipped, "rows": [asdict(r) for r in rows]},
                f,
                indent=1,
            )
    return md


if __name__ == "__main__":
    main()
