"""The split path's Triton kernels at the lite configs' shapes (d_state N = 1 or 4, expand 1, VMamba-v3 style)
against the sequential references, under Triton's interpreter (TRITON_INTERPRET=1 set here before triton is
imported; on a machine with CUDA and the variable unset, the compiled kernels run instead).

- scan (scan_triton.selective_scan_triton, both backward kinds) vs scan.selective_scan_ref: output and the gradient
  of every input, N = 1 and 4, ragged L = 1, 17, 272, grouped B/C as the model calls it (K = 4 directions), a
  partial channel block; N = 1 is a (BLOCK_D, 1) state tile, the degenerate power of two.
- conv (conv_triton.causal_conv_silu_triton) vs seq_ops.causal_conv_silu_ref at L = 1, 17, 272, forward and the
  gradients of x, the weight and the bias.
- the fused scan + merge (scan_merge_triton) at N = 1 vs scan.scan_merge_ref.
Seeds are fixed per case. Tolerances as the other kernel tests (normalised max error): 2e-5 forward, 1e-4
gradients, float32. Skipped when triton is not installed (CI).
"""

import os

import pytest
import torch

os.environ.setdefault("TRITON_INTERPRET", "1")
try:
    import triton  # noqa: F401
except ImportError as e:  # not installed (CI)
    pytest.skip(f"triton not importable: {e}", allow_module_level=True)

from mmamba.seq_ops import causal_conv_silu_ref  # noqa: E402
from test_scan_triton import DEVICE, _run  # noqa: E402


@pytest.fixture(autouse=True)
def _interpreter_numpy_fix(triton_interpreter_fix):
    yield


# (L, N, dg, bwd): K = 4 groups of dg channels, blocks of 2 channels (dg = 3: a partial block), checkpoint chunk 16
SCAN_CASES = [
    pytest.param(L, N, dg, bwd, marks=[pytest.mark.slow] if L == 272 else [])
    for N in (1, 4)
    for L, dg in ((1, 3), (17, 3), (272, 2))
    for bwd in ("scratch", "registers")
]


@pytest.mark.parametrize("L,N,dg,bwd", SCAN_CASES)
def test_scan_lite_shapes(L, N, dg, bwd):
    _run((1, 4 * dg, L, N, 4), 2, 16, with_z=False, bwd=bwd, bwd_block_d=2, bwd_t=8)


def test_scan_n1_ungrouped_with_gate():
    # N = 1 with the optional gate z and ungrouped B/C (the dispatcher's other layout), two batch items
    _run((2, 5, 21, 1, 0), 4, 8)


@pytest.mark.parametrize("L", [1, 17, 272])
def test_conv_ragged_lengths(L):
    from mmamba.conv_triton import causal_conv_silu_triton

    B, K, C, W = 2, 4, 5, 4  # C = 5: a partial channel tile; W = the model's d_conv
    g = torch.Generator().manual_seed(L + 700)
    x = torch.randn(B, K, L, C, generator=g).to(DEVICE).requires_grad_()
    w = torch.randn(K, C, W, generator=g).to(DEVICE).requires_grad_()
    b = torch.randn(K, C, generator=g).to(DEVICE).requires_grad_()
    y_ref = causal_conv_silu_ref(x, w, b)
    y = causal_conv_silu_triton(x, w, b)
    assert y.shape == y_ref.shape
    assert ((y - y_ref).abs().max() / y_ref.abs().max().clamp_min(1.0)).item() < 2e-5
    gy = torch.randn(y_ref.shape, generator=g).to(DEVICE)
    for name, a, r in zip("xwb", torch.autograd.grad(y, (x, w, b), gy), torch.autograd.grad(y_ref, (x, w, b), gy)):
        assert a.shape == r.shape, name
        assert ((a - r).abs().max() / r.abs().max().clamp_min(1.0)).item() < 1e-4, name


@pytest.mark.parametrize("shape", [(1, 4, 17, 3, 1), (1, 4, 272, 2, 1)])
def test_fused_scan_merge_n1(shape):
    from test_scan_merge import _run_triton

    _run_triton(shape, 16, 2, seed=shape[2] + 900)
