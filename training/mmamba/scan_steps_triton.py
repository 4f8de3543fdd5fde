"""Step-level Triton helpers shared by the selective-scan kernels (scan_triton.py, scan_merge_triton.py): one
softplus and one Δ load, so every kernel forms Δ = softplus(delta + delta_bias) the same way, in f32."""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _softplus(x):
    """log(1 + e^x) in f32 without overflow or cancellation (log1p via the Kahan/Goldberg trick)."""
    e = tl.exp(tl.minimum(x, 20.0))
    up = 1.0 + e
    lp = tl.where(up == 1.0, e, tl.log(up) * e / (up - 1.0))
    return tl.where(x > 20.0, x, lp)


@triton.jit
def _delta_at(dt_base, t, s_dl, mask, bias, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr):
    """(raw, Δ) at step t for a block of channels; Δ = softplus(raw + bias). Masked lanes give Δ = 0 (a no-op step)."""
    raw = tl.load(dt_base + t * s_dl, mask=mask, other=0.0).to(tl.float32)
    if HAS_BIAS:
        raw += bias
    dlt = raw
    if SOFTPLUS:
        dlt = _softplus(raw)
    return raw, tl.where(mask, dlt, 0.0)
