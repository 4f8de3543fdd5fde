"""The split path's scan-order conv backward (conv_triton._conv_bwd_kernel) against the reference conv's autograd:
dx, dweight and dbias, through the conv_fwd custom op's registered autograd.

Runs the kernel through Triton's interpreter on CPU (TRITON_INTERPRET=1 set here before triton is imported), the
compiled kernel on a CUDA machine; skipped with a reason when triton is not installed (CI: CPU torch only).
Shapes: all K = 4 directions (each its own weight row), ragged L around the kernel's 32-step tile (L = 29, 30, 58,
59) and the model's L = 272, L = 1 and 2 (shorter than the taps), partial channel blocks (C = 5, 70), W = 4 (the
model's d_conv), 2 and 1; float32 and bfloat16 x. Tolerances (normalised max error) as the other kernel tests: 1e-4
float32 gradients; bfloat16 within bf16 rounding of the float32 result.
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

DEVICE = "cuda" if torch.cuda.is_available() and os.environ.get("TRITON_INTERPRET") != "1" else "cpu"


@pytest.fixture(autouse=True)
def _interpreter_numpy_fix(triton_interpreter_fix):
    yield


def nerr(a, b):
    return ((a.float() - b.float()).abs().max() / b.float().abs().max().clamp_min(1.0)).item()


def _inputs(B, K, L, C, W, seed, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, K, L, C, generator=g).to(DEVICE, dtype).requires_grad_()
    w = torch.randn(K, C, W, generator=g).to(DEVICE).requires_grad_()
    b = torch.randn(K, C, generator=g).to(DEVICE).requires_grad_()
    gy = torch.randn(B, K, L, C, generator=g).to(DEVICE, dtype)
    return x, w, b, gy


def _grads(x, w, b, gy):
    from mmamba.conv_triton import causal_conv_silu_triton

    y = causal_conv_silu_triton(x, w, b)
    return y, torch.autograd.grad(y, (x, w, b), gy)


# (B, K, L, C, W): K = 4 everywhere but one ungrouped case; L ragged around the 32-step tile
CASES = [
    (2, 4, 17, 5, 4),
    (1, 4, 29, 5, 4),
    (1, 4, 30, 3, 4),
    (1, 4, 58, 3, 4),
    (1, 4, 59, 70, 4),
    (1, 4, 272, 3, 4),
    (2, 4, 1, 5, 4),
    (1, 4, 2, 3, 4),
    (2, 4, 9, 4, 2),
    (1, 1, 33, 3, 1),
]


@pytest.mark.parametrize("shape", CASES)
def test_conv_backward_matches_reference(shape):
    seed = sum(shape) * 31 + 7
    x, w, b, gy = _inputs(*shape, seed)
    y_ref = causal_conv_silu_ref(x, w, b)
    refs = torch.autograd.grad(y_ref, (x, w, b), gy)
    y, grads = _grads(x, w, b, gy)
    assert nerr(y, y_ref) < 2e-5, f"forward, seed {seed}"
    for name, a, r in zip(("dx", "dweight", "dbias"), grads, refs):
        assert a.shape == r.shape and a.dtype == r.dtype, (name, seed)
        assert nerr(a, r) < 1e-4, f"{name} {shape} seed {seed}: {nerr(a, r):.2e}"


@pytest.mark.parametrize("L", [17, 272])
def test_conv_backward_bf16(L):
    # bf16 x and dy (as under autocast), f32 weight and bias: dx comes back in bf16 within its rounding of the f32
    # result, dweight / dbias in f32 (accumulated in f32 from the same bf16 inputs)
    seed = L + 4242
    x, w, b, gy = _inputs(2, 4, L, 5, 4, seed, torch.bfloat16)
    refs = torch.autograd.grad(causal_conv_silu_ref(x.float(), w, b), (x, w, b), gy.float())
    _, grads = _grads(x, w, b, gy)
    assert grads[0].dtype == torch.bfloat16 and grads[1].dtype == grads[2].dtype == torch.float32
    for name, a, r in zip(("dx", "dweight", "dbias"), grads, refs):
        assert nerr(a, r) < (1e-2 if name == "dx" else 1e-4), f"{name} vs f32 reference, seed {seed}: {nerr(a, r):.2e}"
