"""Counter-based random numbers shared by PyTorch, TypeScript and WGSL (docs/architecture.md).

    hash32(x) ("lowbias32", Chris Wellons' hash-prospector): x ^= x >> 16; x *= 0x7feb352d;
                                                             x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16
    uniform(seed, stream, index) = ((hash32(hash32(seed ^ hash32(stream)) ^ index) >> 8) + 0.5) / 2^24
    gumbel(u) = -log(-log(u))
All integer arithmetic is uint32 with wrap-around. Here it runs on int64 tensors masked to 32 bits;
the 32x32-bit products are split into 16-bit halves so no int64 product can overflow.
The float result is exactly ((h >> 8) + 0.5) / 2^24 rounded to float32 (round-to-nearest-even), which is
what f32((h >> 8)) + 0.5 then / 2^24 gives in f32 arithmetic (WGSL / Math.fround).
"""

from __future__ import annotations

import torch

M32 = 0xFFFFFFFF
IntLike = int | torch.Tensor


def _mul32(x: torch.Tensor, c: int) -> torch.Tensor:
    """(x * c) mod 2^32 for x in [0, 2^32) (int64 tensor) and a 32-bit constant c, without overflow."""
    lo = x * (c & 0xFFFF)  # < 2^48
    hi = ((x * (c >> 16)) & 0xFFFF) << 16  # (x * c_hi mod 2^16) · 2^16
    return (lo + hi) & M32


def hash32(x: IntLike) -> IntLike:
    """lowbias32 on Python ints or int64 tensors (values taken mod 2^32)."""
    if isinstance(x, int):
        x &= M32
        x ^= x >> 16
        x = (x * 0x7FEB352D) & M32
        x ^= x >> 15
        x = (x * 0x846CA68B) & M32
        x ^= x >> 16
        return x
    x = x.to(torch.int64) & M32
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


def uniform(seed: int, stream: int, index: torch.Tensor) -> torch.Tensor:
    """Uniform in (0, 1), float32, same shape as `index` (int64 tensor of counters)."""
    key = hash32((seed & M32) ^ hash32(stream & M32))  # python int
    h = hash32((index.to(torch.int64) & M32) ^ key)
    return (((h >> 8).to(torch.float64) + 0.5) / 16777216.0).to(torch.float32)


def gumbel(u: torch.Tensor) -> torch.Tensor:
    return -torch.log(-torch.log(u))
