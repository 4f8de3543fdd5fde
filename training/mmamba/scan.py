"""Selective-scan dispatchers: the split path's scan (`selective_scan`: Triton custom ops when triton imports, else
the chunked PyTorch scan) and the fused cross-scan + merge (`fused_ops`), with their launch settings. The
references they must equal (`selective_scan_ref`, `selective_scan_fast`, `scan_merge_ref`, ...) live in
scan_ref.py, below the Triton modules, and are re-exported here."""

from __future__ import annotations

import os

import torch

from .scan_ref import (  # noqa: F401  (re-exported: the model, tests and benchmarks import them from here)
    Tensor,
    merge_directions,
    scan_merge_manual,
    scan_merge_ref,
    selective_scan_fast,
    selective_scan_ref,
)

_TRITON_SCAN = None  # selective_scan_triton once imported; False if triton is unavailable


def _triton_scan():
    global _TRITON_SCAN
    if _TRITON_SCAN is None:
        try:
            from .scan_triton import selective_scan_triton

            _TRITON_SCAN = selective_scan_triton
        except Exception:  # triton not installed / not importable on this platform
            _TRITON_SCAN = False
    return _TRITON_SCAN


def _triton_tuning() -> dict:
    """Launch parameters of the Triton scan; MMAMBA_SCAN_{BLOCK_D,WARPS,CHUNK} override the defaults
    (bench_scan.py --sweep prints the fastest set for the GPU at hand)."""
    env = os.environ
    # defaults: the H200 sweep's best for the model's channels-last layout at B=256 (docs/runs/run4-scan-sweep.txt)
    return dict(
        block_d=int(env.get("MMAMBA_SCAN_BLOCK_D", 128)),
        num_warps=int(env.get("MMAMBA_SCAN_WARPS", 2)),
        chunk=int(env.get("MMAMBA_SCAN_CHUNK", 16)),
    )


def selective_scan(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    z: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = True,
) -> Tensor:
    """Dispatcher with `selective_scan_ref` semantics: when triton imports, the split scan's custom ops
    (scan_triton.py), which run the Triton kernels for CUDA tensors that are not float64 and `selective_scan_fast`
    otherwise (so torch.compile sees the same opaque ops on every device); without triton, `selective_scan_fast`."""
    fn = _triton_scan()
    if fn:
        return fn(
            u,
            delta,
            A,
            B,
            C,
            D=D,
            z=z,
            delta_bias=delta_bias,
            delta_softplus=delta_softplus,
            use_triton=u.is_cuda and u.dtype != torch.float64,
            **_triton_tuning(),
        )
    return selective_scan_fast(u, delta, A, B, C, D=D, z=z, delta_bias=delta_bias, delta_softplus=delta_softplus)


_FUSED_OPS = None  # (conv_silu_gather, scan_merge_triton) once imported; False if triton is unavailable


def fused_ops(x: Tensor):
    """(conv_silu_gather, scan_merge_triton) for CUDA tensors that are not float64 when triton imports, else None:
    the mixer's fused path (conv_triton.py gathered mode + scan_merge_triton.py)."""
    global _FUSED_OPS
    if not x.is_cuda or x.dtype == torch.float64:
        return None
    if _FUSED_OPS is None:
        try:
            from .conv_triton import conv_silu_gather
            from .scan_merge_triton import scan_merge_triton

            _FUSED_OPS = (conv_silu_gather, scan_merge_triton)
        except Exception:  # triton not installed / not importable on this platform
            _FUSED_OPS = False
    return _FUSED_OPS or None


def scan_merge_tuning() -> dict:
    """Launch parameters of scan_merge_triton; MMAMBA_MERGE_{BLOCK_T,BLOCK_D,WARPS,BLOCK_D_BWD,WARPS_BWD,FLAT} override
    the defaults (training/gpu/speed.sh sweeps them and prints the fastest set as an export line). The defaults
    compile for sm_90 without register spills (ptxas, Triton 3.9; tests/test_triton_aot.py): forward (16, 16,
    4 warps) 146 registers, backward (16, 16, 8 warps) 246, dt_proj fused. BLOCK_T ≥ 16 keeps the saved chunk
    states within the scan's activations (docs/training.md, "Training speed")."""
    env = os.environ
    fwd_d, fwd_w = int(env.get("MMAMBA_MERGE_BLOCK_D", 16)), int(env.get("MMAMBA_MERGE_WARPS", 4))
    return dict(
        block_t=int(env.get("MMAMBA_MERGE_BLOCK_T", 16)),
        block_d=fwd_d,
        num_warps=fwd_w,
        block_d_bwd=int(env.get("MMAMBA_MERGE_BLOCK_D_BWD", 16)),
        num_warps_bwd=int(env.get("MMAMBA_MERGE_WARPS_BWD", 8)),
        flat=env.get("MMAMBA_MERGE_FLAT", "0") == "1",
    )
