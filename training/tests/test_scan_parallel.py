"""The split scan's 'parallel' kind (mmamba/scan_parallel_triton.py, MMAMBA_SPLIT_BWD=parallel: forward and
backward as tl.associative_scan over time chunks, d_state 1 only) vs the sequential reference
scan.selective_scan_ref: the output and the gradient of every input (u, delta, A, B, C, D, delta_bias, and z when
gated).

Runs the kernels on CPU tensors through Triton's interpreter (TRITON_INTERPRET=1 set here before triton is
imported; the interpreter runs tl.associative_scan, reverse=True included, as flip / scan / flip, the semantics
Triton's own GPU tests hold the compiled scan to); on a machine with CUDA and the variable unset, the compiled
kernels run instead. Skipped when triton is not installed (CI).

Shapes: ragged L = 1, 17, 272 (the lite model's), 1040 (1024 image + 16 text tokens); chunks smaller than L (the
state carried across chunks, a partial last chunk) and one chunk covering all of L; grouped B/C (K = 4 groups,
as the model calls it) and ungrouped; a partial channel block; with and without D / delta_bias / softplus; bf16
inputs. Tolerances as test_scan_triton.py (normalised max error, float32): 2e-5 output, 1e-4 gradients. Every
case's seed is in its failure message.
"""

import os

import pytest
import torch

os.environ.setdefault("TRITON_INTERPRET", "1")
try:
    import triton  # noqa: F401
except ImportError as e:  # not installed (CI)
    pytest.skip(f"triton not importable: {e}", allow_module_level=True)

from mmamba import scan_parallel_triton  # noqa: E402
from mmamba.scan import selective_scan_ref  # noqa: E402
from mmamba.scan_triton import selective_scan_triton  # noqa: E402
from test_scan import make_inputs, nerr  # noqa: E402
from test_scan_triton import DEVICE, check_model_matches_ref  # noqa: E402


@pytest.fixture(autouse=True)
def _interpreter_numpy_fix(triton_interpreter_fix):
    yield


def _par(block_d, chunk, warps=1):
    """The parallel kind's launch set, forward and backward alike (small: the interpreter's scan is per element)."""
    return dict(
        bwd="parallel",
        par_block_d=block_d,
        par_chunk=chunk,
        par_warps=warps,
        par_bwd_block_d=block_d,
        par_bwd_warps=warps,
    )


def _run(Bsz, di, L, G, block_d, chunk, with_z=False, with_d=True, with_bias=True, softplus=True, seed=None):
    seed = L * 31 + di + G if seed is None else seed
    ins = make_inputs(Bsz, di, L, 1, G, torch.float32, seed=seed, with_z=with_z)
    ins = [t.to(DEVICE).requires_grad_() if t is not None else None for t in ins]
    u, delta, A, Bm, Cm, D, z, bias = ins
    D = D if with_d else None
    bias = bias if with_bias else None
    kw = dict(D=D, z=z, delta_bias=bias, delta_softplus=softplus)
    y_ref = selective_scan_ref(u, delta, A, Bm, Cm, **kw)
    y = selective_scan_triton(u, delta, A, Bm, Cm, **kw, **_par(block_d, chunk))
    case = f"seed {seed}, Bsz {Bsz}, di {di}, L {L}, G {G}, block_d {block_d}, chunk {chunk}"
    assert y.shape == y_ref.shape == (Bsz, di, L) and y.dtype == torch.float32, case
    assert nerr(y, y_ref) < 2e-5, (case, "y", nerr(y, y_ref))
    gy = torch.randn(y_ref.shape, generator=torch.Generator().manual_seed(seed + 1)).to(DEVICE)
    named = [(n, t) for n, t in zip(("u", "delta", "A", "B", "C", "D", "z", "bias"), (u, delta, A, Bm, Cm, D, z, bias))]
    names, live = zip(*[(n, t) for n, t in named if t is not None])
    g_ref = torch.autograd.grad(y_ref, live, gy)
    g = torch.autograd.grad(y, live, gy)
    for name, gr, gt in zip(names, g_ref, g):
        assert gt.shape == gr.shape and gt.dtype == gr.dtype, (case, name)
        assert torch.isfinite(gt).all(), (case, name)
        assert nerr(gt, gr) < 1e-4, (case, name, nerr(gt, gr))


# (L, dg, block_d, chunk): K = 4 groups of dg channels; dg = 3 with blocks of 2 leaves a partial block
GROUPED = [
    (1, 3, 2, 4),
    (17, 3, 2, 4),  # 5 chunks, the last holds 1 step
    (17, 3, 2, 32),  # one chunk over all of L (padded to 32)
    (272, 2, 2, 64),  # the lite L: 5 chunks, the last partial
    (272, 1, 1, 512),  # the lite L as one padded scan
    (1040, 1, 1, 128),
]


@pytest.mark.parametrize("L,dg,block_d,chunk", GROUPED)
def test_grouped_model_shapes(L, dg, block_d, chunk):
    _run(1, 4 * dg, L, 4, block_d, chunk)


@pytest.mark.parametrize("L,chunk", [(1, 2), (17, 8), (272, 32)])
def test_ungrouped(L, chunk):
    # (Bsz, di, L) with ungrouped B/C, two batch items, a partial channel block (5 channels in blocks of 4)
    _run(2, 5, L, 0, 4, chunk)


@pytest.mark.parametrize("with_d,with_bias,softplus", [(False, False, False), (True, False, True), (False, True, True)])
def test_without_d_bias_softplus(with_d, with_bias, softplus):
    _run(2, 6, 17, 2, 2, 4, with_d=with_d, with_bias=with_bias, softplus=softplus)


def test_gate_z():
    # the optional y·SiLU(z) gate (plain PyTorch after the kernel), output in f32 as the reference
    _run(2, 4, 21, 2, 2, 8, with_z=True)


def test_bf16_inputs_give_input_dtype_grads():
    ins = [t.to(DEVICE) for t in make_inputs(2, 4, 19, 1, 2, torch.float32, seed=12)]
    u, delta, A, Bm, Cm, D, z, bias = ins
    u16, dt16, B16, C16 = [t.bfloat16().requires_grad_() for t in (u, delta, Bm, Cm)]
    A, D, bias = A.requires_grad_(), D.requires_grad_(), bias.requires_grad_()
    y = selective_scan_triton(u16, dt16, A, B16, C16, D=D, delta_bias=bias, **_par(2, 8))
    assert y.dtype == torch.bfloat16
    y_ref = selective_scan_ref(u16.float(), dt16.float(), A, B16.float(), C16.float(), D=D, delta_bias=bias)
    assert nerr(y.float(), y_ref) < 1e-2
    y.float().sum().backward()
    for t in (u16, dt16, B16, C16):
        assert t.grad is not None and t.grad.dtype == torch.bfloat16 and torch.isfinite(t.grad.float()).all()
    assert A.grad.dtype == D.grad.dtype == bias.grad.dtype == torch.float32


def test_forward_without_grad():
    u, delta, A, Bm, Cm, D, z, bias = [t.to(DEVICE) for t in make_inputs(2, 4, 9, 1, 0, torch.float32, 3)]
    with torch.no_grad():
        y = selective_scan_triton(u, delta, A, Bm, Cm, D=D, z=z, delta_bias=bias, **_par(2, 4))
    assert nerr(y, selective_scan_ref(u, delta, A, Bm, Cm, D=D, z=z, delta_bias=bias)) < 2e-5


def test_refuses_d_state_above_one():
    ins = make_inputs(1, 2, 3, 2, 0, torch.float32, seed=1)
    with pytest.raises(ValueError, match="d_state 1"):
        selective_scan_triton(*ins[:5], **_par(2, 4))


def test_env_picks_the_kind_and_its_launch_set(monkeypatch):
    # MMAMBA_SPLIT_BWD=parallel (no bwd argument) runs the parallel forward with the MMAMBA_SCAN_PAR_* set, whatever
    # block_d / chunk the caller (the dispatcher) passes for the serial kernels
    calls = []
    real = scan_parallel_triton.parallel_fwd

    def spy(*a, **k):
        calls.append((k["block_d"], k["chunk"], k["num_warps"]))
        return real(*a, **k)

    monkeypatch.setattr(scan_parallel_triton, "parallel_fwd", spy)
    monkeypatch.setenv("MMAMBA_SPLIT_BWD", "parallel")
    for name, v in (("BLOCK_D", 2), ("CHUNK", 8), ("WARPS", 1), ("BWD_BLOCK_D", 2), ("BWD_WARPS", 1)):
        monkeypatch.setenv(f"MMAMBA_SCAN_PAR_{name}", str(v))
    u, delta, A, Bm, Cm, D, _, bias = make_inputs(1, 8, 13, 1, 4, torch.float32, seed=5, with_z=False)
    ins = [t.to(DEVICE).requires_grad_() for t in (u, delta, A, Bm, Cm, D, bias)]
    u, delta, A, Bm, Cm, D, bias = ins
    y = selective_scan_triton(u, delta, A, Bm, Cm, D=D, delta_bias=bias, block_d=128, chunk=16, num_warps=2)
    assert calls == [(2, 8, 1)]
    y_ref = selective_scan_ref(u, delta, A, Bm, Cm, D=D, delta_bias=bias)
    assert nerr(y, y_ref) < 2e-5
    live = [u, delta, A, Bm, Cm, D, bias]
    for gt, gr in zip(torch.autograd.grad(y.sum(), live), torch.autograd.grad(y_ref.sum(), live)):
        assert nerr(gt, gr) < 1e-4


def test_compiled_op_matches_ref():
    # under torch.compile the ops are opaque nodes traced through their fakes: the fake checkpoint shape must be
    # the parallel forward's (its chunk, not the serial kernels'), else the compiled backward fails
    u, delta, A, Bm, Cm, D, _, bias = make_inputs(1, 8, 19, 1, 4, torch.float32, seed=9, with_z=False)
    ins = [t.to(DEVICE).requires_grad_() for t in (u, delta, A, Bm, Cm, D, bias)]
    u, delta, A, Bm, Cm, D, bias = ins

    def f(u, delta, A, Bm, Cm, D, bias):
        return selective_scan_triton(u, delta, A, Bm, Cm, D=D, delta_bias=bias, **_par(2, 8))

    y = torch.compile(f, backend="aot_eager", fullgraph=True)(*ins)
    y_ref = selective_scan_ref(u, delta, A, Bm, Cm, D=D, delta_bias=bias)
    assert nerr(y, y_ref) < 2e-5
    for gt, gr in zip(torch.autograd.grad(y.sum(), ins), torch.autograd.grad(y_ref.sum(), ins)):
        assert nerr(gt, gr) < 1e-4


def test_bench_check_runs_the_parallel_kind():
    # the check bench_scan.py --sweep-lite-bwd runs on the GPU before timing (training/gpu/scan_parallel.sh), here
    # through the interpreter at tiny shapes: the scan alone at N = 1 in the model's channels-last layout
    import bench_scan

    ok = bench_scan.check_split_ragged(dev=DEVICE, Ls=(1, 17), di=4, N=1, kinds=("parallel",))
    assert ok == {"split-parallel": True}


def test_inside_lite_model_matches_ref(monkeypatch):
    # the model's real layout at d_state 1, expand 1 (the lite block): K·di channels, grouped B/C as strided views of
    # x_dbl, a non-contiguous dt; the tiny model on the parallel kind against itself on the sequential reference
    import dataclasses

    from mmamba.config import tiny_mmamba

    check_model_matches_ref(monkeypatch, dataclasses.replace(tiny_mmamba(), d_state=1, expand=1), **_par(4, 8))
