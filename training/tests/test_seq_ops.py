"""The channels-last mixer plumbing (mmamba/seq_ops.py, conv_triton.py) against plain PyTorch formulations.

- to_scans / from_scans equal the (B, di, K, L) advanced-index gather and gather+sum they replaced, and their
  hand-written backwards equal autograd's (they are each other's adjoint).
- causal_conv_silu_ref equals F.conv1d with left padding on the transposed layout.
- The Triton conv (interpreter on CPU, compiled on CUDA) equals the reference, forward and all gradients,
  on shapes with partial tiles (L, C not multiples of the tile) and K > 1 directions.
"""

import os

import pytest
import torch
import torch.nn.functional as F
from mmamba.config import tiny_mmamba
from mmamba.mmamba import sequence_permutations
from mmamba.seq_ops import causal_conv_silu_ref, from_scans, sequence_index, to_scans


def nerr(a, b):
    return ((a - b).abs().max() / b.abs().max().clamp_min(1.0)).item()


def _perms(text_position):
    cfg = tiny_mmamba()
    cfg.text_position = text_position
    perm, inv = sequence_permutations(cfg)
    return perm, inv


@pytest.mark.parametrize("text_position", ["first", "middle"])
def test_scans_match_index_gathers(text_position):
    perm, inv = _perms(text_position)
    K, L = perm.shape
    g = torch.Generator().manual_seed(7)
    x = torch.randn(3, L, 5, generator=g, dtype=torch.float64, requires_grad=True)
    pf, inf = sequence_index(perm, inv)
    xs = to_scans(x, pf, inf, K)  # (B, K, L, C)
    old = x.transpose(1, 2)[:, :, perm].permute(0, 2, 3, 1)  # (B, K, L, C) by advanced indexing
    assert torch.equal(xs, old)
    y = torch.randn(3, K, L, 5, generator=g, dtype=torch.float64, requires_grad=True)
    merged = from_scans(y, pf, inf)
    old_m = y.permute(0, 1, 3, 2).gather(3, inv[None, :, None, :].expand(3, K, 5, L)).sum(1).transpose(1, 2)
    assert nerr(merged, old_m) < 1e-12
    torch.autograd.gradcheck(lambda t: to_scans(t, pf, inf, K), (x,))
    torch.autograd.gradcheck(lambda t: from_scans(t, pf, inf), (y,))


def test_conv_ref_matches_conv1d():
    g = torch.Generator().manual_seed(3)
    B, K, L, C, W = 2, 3, 11, 6, 4
    x = torch.randn(B, K, L, C, generator=g)
    w = torch.randn(K, C, W, generator=g)
    b = torch.randn(K, C, generator=g)
    y = causal_conv_silu_ref(x, w, b)
    xt = x.permute(0, 1, 3, 2).reshape(B, K * C, L)
    old = F.silu(F.conv1d(F.pad(xt, (W - 1, 0)), w.reshape(K * C, 1, W), b.reshape(K * C), groups=K * C))
    assert nerr(y, old.view(B, K, C, L).permute(0, 1, 3, 2)) < 1e-6


os.environ.setdefault("TRITON_INTERPRET", "1")
try:
    import triton  # noqa: F401

    HAVE_TRITON = True
except ImportError:
    HAVE_TRITON = False


@pytest.mark.skipif(not HAVE_TRITON, reason="triton not installed")
@pytest.mark.parametrize("shape", [(2, 2, 7, 5, 4), (1, 4, 40, 70, 4), (2, 1, 3, 8, 2)])
def test_triton_conv_matches_ref(shape, triton_interpreter_fix):
    from mmamba.conv_triton import causal_conv_silu_triton

    dev = "cuda" if torch.cuda.is_available() and os.environ.get("TRITON_INTERPRET") != "1" else "cpu"
    B, K, L, C, W = shape
    g = torch.Generator().manual_seed(L * 13 + C)
    x = torch.randn(B, K, L, C, generator=g).to(dev).requires_grad_()
    w = torch.randn(K, C, W, generator=g).to(dev).requires_grad_()
    b = torch.randn(K, C, generator=g).to(dev).requires_grad_()
    y_ref = causal_conv_silu_ref(x, w, b)
    y = causal_conv_silu_triton(x, w, b)
    assert nerr(y, y_ref) < 1e-5
    gy = torch.randn_like(y_ref)
    for a, r in zip(torch.autograd.grad(y, (x, w, b), gy), torch.autograd.grad(y_ref, (x, w, b), gy)):
        assert a.shape == r.shape and nerr(a, r) < 1e-4
