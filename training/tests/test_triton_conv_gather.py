"""The gathered Triton conv (conv_triton.conv_silu_gather: the cross-scan fused into the causal conv + SiLU) against
the unfused reference causal_conv_silu_ref(to_scans(x)), forward and the gradients of x, weight and bias.

Runs the kernels through Triton's interpreter on CPU (TRITON_INTERPRET=1 set here before triton is imported), the
compiled kernels on a CUDA machine; skipped with a reason when triton is not installed (CI: CPU torch only; the
gather it replaces is covered there by test_seq_ops.py). x is a strided view (the x half of a (B, L, 2C) buffer,
as in_proj's output is in the model); the permutations are the model's (text first / middle) and random ones.
"""

import os

import pytest
import torch
from mmamba.config import tiny_mmamba
from mmamba.mmamba import sequence_permutations
from mmamba.seq_ops import causal_conv_silu_ref, sequence_index, to_scans

os.environ.setdefault("TRITON_INTERPRET", "1")
try:
    import triton  # noqa: F401
except ImportError as e:  # not installed (CI)
    pytest.skip(f"triton not importable: {e}", allow_module_level=True)

DEVICE = "cuda" if torch.cuda.is_available() and os.environ.get("TRITON_INTERPRET") != "1" else "cpu"


def nerr(a, b):
    return ((a - b).abs().max() / b.abs().max().clamp_min(1.0)).item()


def _perm(kind, L, K, g):
    if kind == "random":
        return torch.stack([torch.randperm(L, generator=g) for _ in range(K)])
    return sequence_permutations(tiny_mmamba(text_position=kind))[0]


@pytest.mark.parametrize("kind,B,C,W,seed", [("first", 2, 5, 4, 1), ("middle", 1, 70, 4, 2), ("random", 2, 3, 2, 3)])
def test_gathered_conv_matches_to_scans_then_conv(kind, B, C, W, seed, triton_interpreter_fix):
    from mmamba.conv_triton import conv_silu_gather

    g = torch.Generator().manual_seed(seed)
    L = tiny_mmamba().text.max_len + tiny_mmamba().hw
    perm = _perm(kind, L, 4, g)
    K = perm.shape[0]
    inv = torch.argsort(perm, dim=1)
    buf = torch.randn(B, L, 2 * C, generator=g).to(DEVICE).requires_grad_()
    w = torch.randn(K, C, W, generator=g).to(DEVICE).requires_grad_()
    b = torch.randn(K, C, generator=g).to(DEVICE).requires_grad_()
    pf, inf = [t.to(DEVICE) for t in sequence_index(perm, inv)]
    x = buf[..., :C]  # strided view, row stride 2C
    y_ref = causal_conv_silu_ref(to_scans(x, pf, inf, K), w, b)
    y = conv_silu_gather(x, perm.to(DEVICE), w, b)
    assert y.shape == (B, K, L, C)
    assert nerr(y, y_ref) < 1e-5
    gy = torch.randn(y.shape, generator=g).to(DEVICE)
    for name, a, r in zip(
        ("x", "w", "b"), torch.autograd.grad(y, (buf, w, b), gy), torch.autograd.grad(y_ref, (buf, w, b), gy)
    ):
        assert a.shape == r.shape and nerr(a, r) < 1e-4, name


def test_gathered_conv_rejects_bad_shapes(triton_interpreter_fix):
    from mmamba.conv_triton import conv_silu_gather

    x = torch.randn(1, 6, 3)
    perm = torch.stack([torch.arange(6), torch.arange(6).flip(0)])
    with pytest.raises(ValueError, match="do not fit"):
        conv_silu_gather(x, perm[:, :5], torch.randn(2, 3, 4), torch.randn(2, 3))
    with pytest.raises(ValueError, match="channel stride 1"):
        conv_silu_gather(x.transpose(1, 2), perm, torch.randn(2, 3, 4), torch.randn(2, 3))
