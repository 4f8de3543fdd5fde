"""selective_scan_triton (mmamba/scan_triton.py) vs selective_scan_ref: forward and gradients of every input.

Runs the Triton kernels on CPU tensors through Triton's interpreter (TRITON_INTERPRET=1 is set here before
triton is imported); on a machine with CUDA the same tests also run the compiled kernels on the GPU.
Skipped cleanly when triton is not installed (CI does not install it).

Small block_d / chunk values are used so the shapes exercise several channel blocks per group, a partial
last channel block (dg % block_d != 0), N not a power of two, and L not a multiple of the chunk.
Tolerance (float32, normalised max error max|a-b| / max(max|b|, 1)): 2e-5 forward, 1e-4 gradients — both
paths run the same sequential f32 recurrence, differing only in summation order.
"""

import os

import pytest
import torch

os.environ.setdefault("TRITON_INTERPRET", "1")
try:
    import triton  # noqa: F401
except ImportError as e:  # not installed (CI) or unusable on this platform
    pytest.skip(f"triton not importable: {e}", allow_module_level=True)

from mmamba.scan import selective_scan, selective_scan_ref  # noqa: E402
from mmamba.scan_triton import selective_scan_triton  # noqa: E402
from test_scan import make_inputs, nerr  # noqa: E402

INTERPRET = os.environ.get("TRITON_INTERPRET") == "1"


@pytest.fixture(autouse=True)
def _interpreter_numpy_fix(triton_interpreter_fix):
    """Every test here runs with the interpreter patch of conftest.py."""
    yield


DEVICE = "cpu" if INTERPRET or not torch.cuda.is_available() else "cuda"

# (Bsz, di, L, N, G), block_d, chunk
CASES = [
    ((1, 3, 1, 2, 0), 2, 4),
    ((2, 4, 7, 3, 0), 4, 4),
    ((2, 6, 16, 4, 2), 2, 4),  # dg = 3: blocks of 2 with a partial last block
    ((1, 8, 37, 16, 4), 2, 8),  # L = 37 not a multiple of the chunk
    ((3, 5, 23, 5, 0), 4, 16),  # N = 5 padded to 8; L < chunk·2
    ((2, 12, 19, 8, 2), 4, 3),  # dg = 6, chunk not a power of two
]


def _run(
    shape,
    block_d,
    chunk,
    with_z=True,
    with_d=True,
    with_bias=True,
    softplus=True,
    bwd="scratch",
    bwd_block_d=None,
    bwd_t=None,
    fwd_unroll=False,
    bwd_preload=False,
):
    Bsz, di, L, N, G = shape
    ins = make_inputs(Bsz, di, L, N, G, torch.float32, seed=L * 31 + di, with_z=with_z)
    ins = [t.to(DEVICE).requires_grad_() if t is not None else None for t in ins]
    u, delta, A, Bm, Cm, D, z, bias = ins
    if not with_d:
        D = None
    if not with_bias:
        bias = None
    kw = dict(D=D, z=z, delta_bias=bias, delta_softplus=softplus)
    y_ref = selective_scan_ref(u, delta, A, Bm, Cm, **kw)
    y_tri = selective_scan_triton(
        u,
        delta,
        A,
        Bm,
        Cm,
        **kw,
        block_d=block_d,
        chunk=chunk,
        bwd=bwd,
        bwd_block_d=bwd_block_d or block_d,
        bwd_t=bwd_t or chunk,
        fwd_unroll=fwd_unroll,
        bwd_preload=bwd_preload,
    )
    assert y_tri.shape == y_ref.shape == (Bsz, di, L)
    assert y_tri.dtype == torch.float32
    assert nerr(y_tri, y_ref) < 2e-5
    gy = torch.randn_like(y_ref)
    live = [t for t in (u, delta, A, Bm, Cm, D, z, bias) if t is not None]
    g_ref = torch.autograd.grad(y_ref, live, gy)
    g_tri = torch.autograd.grad(y_tri, live, gy)
    for name, gr, gt in zip(("u", "delta", "A", "B", "C", "D", "z", "bias"), g_ref, g_tri):
        assert gt.shape == gr.shape and gt.dtype == gr.dtype, name
        assert torch.isfinite(gt).all(), name
        assert nerr(gt, gr) < 1e-4, (name, nerr(gt, gr))


@pytest.mark.parametrize("bwd", ["scratch", "registers"])
@pytest.mark.parametrize("case", CASES)
def test_triton_matches_ref(case, bwd):
    shape, block_d, chunk = case
    _run(shape, block_d, chunk, bwd=bwd)


# the 'registers' backward at the model's state size N = 16, grouped B/C (K = 4 directions), the default
# checkpoint chunk 16 walked as sub-chunks of T = 8 (and T = 4, 16), at the sequence lengths the model meets
# (1, 17 ragged, 272 = the small model's L, 1040 = 1024 image + 16 text tokens), few channels so the interpreter
# is quick; a partial channel block (dg = 3 with bwd_block_d 2) in the short cases
# (PRELOAD: a sub-chunk's loads all in its recompute loop)
@pytest.mark.parametrize(
    "L,dg,bwd_block_d,T,preload",
    [
        (1, 3, 2, 8, 0),
        (17, 3, 2, 8, 0),
        (17, 2, 2, 4, 0),
        (17, 3, 2, 4, 1),
        pytest.param(272, 2, 2, 8, 0, marks=pytest.mark.slow),
        pytest.param(272, 2, 2, 16, 0, marks=pytest.mark.slow),
        pytest.param(272, 1, 1, 4, 1, marks=pytest.mark.slow),
        pytest.param(1040, 1, 1, 8, 0, marks=pytest.mark.slow),
    ],
)
def test_registers_backward_model_shapes(L, dg, bwd_block_d, T, preload):
    _run(
        (1, 4 * dg, L, 16, 4),
        2,
        16,
        with_z=False,
        bwd="registers",
        bwd_block_d=bwd_block_d,
        bwd_t=T,
        bwd_preload=bool(preload),
    )


def test_unrolled_forward_matches_ref():
    # MMAMBA_SCAN_FWD_UNROLL: the forward's chunk loop unrolled, same arithmetic (ragged L, partial channel block)
    _run((2, 6, 21, 5, 2), 2, 8, fwd_unroll=True)


@pytest.mark.parametrize("bwd", ["scratch", "registers"])
def test_no_options(bwd):
    # no D, no z, no bias, no softplus (delta >= 0 needed only by the chunked path; harmless here)
    _run((2, 6, 11, 4, 2), 2, 4, with_z=False, with_d=False, with_bias=False, softplus=False, bwd=bwd, bwd_t=2)


@pytest.mark.parametrize("kind", ["bogus", "parallel"])  # parallel: a removed kind, refused like any unknown one
def test_backward_kind_is_checked(kind, monkeypatch):
    ins = make_inputs(1, 2, 3, 2, 0, torch.float32, seed=1)
    with pytest.raises(AssertionError, match=r"backward kind must be one of \('registers', 'scratch'\)"):
        selective_scan_triton(*ins[:5], bwd=kind)
    monkeypatch.setenv("MMAMBA_SPLIT_BWD", kind)  # the switch is refused the same way
    with pytest.raises(AssertionError, match="MMAMBA_SPLIT_BWD"):
        selective_scan_triton(*ins[:5])


def test_forward_without_grad():
    u, delta, A, Bm, Cm, D, z, bias = [t.to(DEVICE) for t in make_inputs(2, 4, 9, 3, 0, torch.float32, 3)]
    with torch.no_grad():
        y_tri = selective_scan_triton(u, delta, A, Bm, Cm, D=D, z=z, delta_bias=bias, block_d=2, chunk=4)
    y_ref = selective_scan_ref(u, delta, A, Bm, Cm, D=D, z=z, delta_bias=bias)
    assert nerr(y_tri, y_ref) < 2e-5


def test_bf16_inputs_give_input_dtype_grads():
    ins = [t.to(DEVICE) for t in make_inputs(2, 4, 10, 4, 2, torch.float32, seed=11)]
    u, delta, A, Bm, Cm, D, z, bias = ins
    u16, dt16, B16, C16 = [t.bfloat16().requires_grad_() for t in (u, delta, Bm, Cm)]
    A, D = A.requires_grad_(), D.requires_grad_()
    y = selective_scan_triton(u16, dt16, A, B16, C16, D=D, delta_bias=bias, block_d=2, chunk=4)
    assert y.dtype == torch.bfloat16
    y_ref = selective_scan_ref(u16.float(), dt16.float(), A, B16.float(), C16.float(), D=D, delta_bias=bias)
    assert nerr(y.float(), y_ref) < 1e-2
    y.float().sum().backward()
    for t in (u16, dt16, B16, C16):
        assert t.grad is not None and t.grad.dtype == torch.bfloat16 and torch.isfinite(t.grad.float()).all()
    assert A.grad.dtype == torch.float32 and D.grad.dtype == torch.float32


def test_dispatcher_uses_fast_path_on_cpu_and_matches():
    # on CPU the dispatcher takes selective_scan_fast; results agree with the reference
    ins = make_inputs(2, 4, 9, 3, 0, torch.float32, seed=4)
    u, delta, A, Bm, Cm, D, z, bias = ins
    y = selective_scan(u, delta, A, Bm, Cm, D=D, z=z, delta_bias=bias)
    assert nerr(y, selective_scan_ref(u, delta, A, Bm, Cm, D=D, z=z, delta_bias=bias)) < 2e-5


@pytest.mark.slow
def test_inside_model_matches_ref(monkeypatch):
    # the model's real layout (K·di channels, grouped B/C as strided views of x_dbl, non-contiguous dt)
    import mmamba.mmamba as mm
    from mmamba.config import tiny_mmamba
    from test_models import inputs, randomise_modulation

    calls = []

    def scan(*a, **k):
        calls.append(a[0].shape)
        return selective_scan_triton(*a, **k, block_d=8, chunk=8)

    monkeypatch.setattr(mm, "selective_scan", scan)
    torch.manual_seed(0)
    cfg = tiny_mmamba()
    m = mm.MMamba(cfg).to(DEVICE)
    randomise_modulation(m)
    img, txt = [t.to(DEVICE) for t in inputs(cfg)]
    a = m(img, txt, use_ref_scan=True)
    ga = torch.autograd.grad(a.square().mean(), list(m.parameters()), allow_unused=True)
    b = m(img, txt, use_ref_scan=False)
    gb = torch.autograd.grad(b.square().mean(), list(m.parameters()), allow_unused=True)
    assert calls and nerr(b, a) < 2e-5
    for (name, _), x, y in zip(m.named_parameters(), gb, ga):
        if y is None:
            assert x is None, name
            continue
        assert ((x - y).abs().max() / y.abs().max().clamp_min(1e-6)).item() < 1e-3, name
