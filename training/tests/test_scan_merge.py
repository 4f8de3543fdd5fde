"""The fused cross-scan + merge (mmamba/scan_merge_triton.py) against the sequential reference.

- CI (no triton): `scan_merge_ref` is the per-direction `selective_scan_ref` followed by the cross-merge, and
  `scan_merge_manual` (the kernel's hand-written backward formulas in plain PyTorch) matches autograd of it in the
  output and every gradient (u, dt, A, B, C, D, bias), float64, ragged lengths.
- With triton importable: the Triton kernels (interpreter on CPU, TRITON_INTERPRET=1 set here before triton is
  imported) match the reference, forward and every gradient, float32, at L = 1, 17, 40 and the model's 272 / a
  long 1040 with tiny channel counts; partial channel blocks, N not a power of two, L not a multiple of the chunk.
Seeds are fixed per case (printed in the case id). Tolerances: normalised max error (max|a-b| / max(max|b|, 1))
1e-10 float64 for the manual path; float32 Triton 2e-5 forward, 1e-4 gradients (same recurrence, tree order).
"""

import os

import pytest
import torch
from mmamba.config import tiny_mmamba
from mmamba.mmamba import sequence_permutations
from mmamba.scan import merge_directions, scan_merge_manual, scan_merge_ref, selective_scan_ref
from mmamba.seq_ops import from_scans, sequence_index

os.environ.setdefault("TRITON_INTERPRET", "1")
try:
    import triton  # noqa: F401

    HAVE_TRITON, WHY = True, ""
except ImportError as e:  # CI installs CPU torch only
    HAVE_TRITON, WHY = False, f"triton not importable: {e}"


def nerr(a, b):
    return ((a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1.0)).item()


def make_inputs(Bsz, K, L, di, N, dtype, seed, perm=None):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=dtype)  # noqa: E731
    u = r(Bsz, K, L, di)
    dt = r(Bsz, K, L, di) * 0.5 - 1.0
    A = -torch.exp(r(K * di, N) * 0.5)
    Bm, Cm = r(Bsz, K, L, N), r(Bsz, K, L, N)
    D = r(K * di)
    bias = r(K * di) * 0.5
    if perm is None:
        perm = torch.stack([torch.randperm(L, generator=g) for _ in range(K)])
    return [u, dt, A, Bm, Cm, D, bias], perm


def _grads(fn, ins, perm, gY):
    leaves = [t.detach().clone().requires_grad_() for t in ins]
    u, dt, A, Bm, Cm, D, bias = leaves
    Y = fn(u, dt, A, Bm, Cm, D, perm, delta_bias=bias)
    return Y, torch.autograd.grad(Y, leaves, gY)


NAMES = ("u", "dt", "A", "B", "C", "D", "bias")


def test_merge_directions_is_from_scans():
    perm, inv = sequence_permutations(tiny_mmamba())
    y = torch.randn(2, perm.shape[0], perm.shape[1], 3, generator=torch.Generator().manual_seed(1))
    pf, inf = sequence_index(perm, inv)
    assert torch.allclose(merge_directions(y, perm), from_scans(y, pf, inf))


def test_ref_is_per_direction_scan_then_merge():
    ins, perm = make_inputs(2, 3, 9, 4, 3, torch.float64, seed=5)
    u, dt, A, Bm, Cm, D, bias = ins
    Y = scan_merge_ref(u, dt, A, Bm, Cm, D, perm, delta_bias=bias)
    for k in range(3):  # direction k scanned alone, added at its positions
        rows = slice(k * 4, (k + 1) * 4)
        yk = selective_scan_ref(
            u[:, k].transpose(1, 2),
            dt[:, k].transpose(1, 2),
            A[rows],
            Bm[:, k].transpose(1, 2),
            Cm[:, k].transpose(1, 2),
            D=D[rows],
            delta_bias=bias[rows],
        )  # (B, di, L)
        if k == 0:
            total = torch.zeros_like(Y)
        total[:, perm[k]] += yk.transpose(1, 2)
    assert nerr(Y, total) < 1e-12


# (Bsz, K, L, di, N), seed
MANUAL_CASES = [((1, 1, 1, 2, 2), 1), ((2, 4, 17, 3, 4), 2), ((1, 2, 40, 5, 3), 3)]


@pytest.mark.parametrize("case", MANUAL_CASES, ids=lambda c: f"shape{c[0]}-seed{c[1]}")
def test_manual_backward_math_matches_autograd_of_ref(case):
    shape, seed = case
    ins, perm = make_inputs(*shape, torch.float64, seed=seed)
    gY = torch.randn(
        shape[0], shape[2], shape[3], generator=torch.Generator().manual_seed(seed + 100), dtype=torch.float64
    )
    Y_ref, g_ref = _grads(scan_merge_ref, ins, perm, gY)
    Y_man, g_man = _grads(scan_merge_manual, ins, perm, gY)
    assert nerr(Y_man, Y_ref) < 1e-10
    for name, gm, gr in zip(NAMES, g_man, g_ref):
        assert gm.shape == gr.shape, name
        assert nerr(gm, gr) < 1e-10, name


# ---- Triton kernels ------------------------------------------------------------------------------------------

needs_triton = pytest.mark.skipif(not HAVE_TRITON, reason=WHY or "triton available")
DEVICE = "cuda" if torch.cuda.is_available() and os.environ.get("TRITON_INTERPRET") != "1" else "cpu"


@pytest.fixture
def interp(request):
    """The interpreter patch of conftest.py (a no-op on a GPU)."""
    if HAVE_TRITON:
        request.getfixturevalue("triton_interpreter_fix")
    yield


# (Bsz, K, L, di, N), block_t, block_d, seed
TRITON_CASES = [
    ((1, 1, 1, 2, 2), 4, 2, 11),  # L = 1
    ((2, 4, 17, 3, 4), 4, 2, 12),  # L = 17 (partial chunk), di = 3 (partial channel block), the model's K
    ((1, 2, 40, 4, 3), 8, 4, 13),  # N = 3 padded to 4
    ((1, 4, 272, 2, 2), 16, 2, 14),  # the model's L
    ((1, 1, 1040, 2, 2), 16, 2, 15),  # long sequence, many chunks
]


def _run_triton(shape, block_t, block_d, seed, perm=None, num_warps=1, flat=False):
    from mmamba.scan_merge_triton import scan_merge_triton

    ins, perm = make_inputs(*shape, torch.float32, seed=seed, perm=perm)
    ins = [t.to(DEVICE) for t in ins]
    perm = perm.to(DEVICE)
    gY = torch.randn(shape[0], shape[2], shape[3], generator=torch.Generator().manual_seed(seed + 100)).to(DEVICE)
    Y_ref, g_ref = _grads(scan_merge_ref, ins, perm, gY)

    def tri(u, dt, A, Bm, Cm, D, perm, delta_bias):
        return scan_merge_triton(
            u,
            dt,
            A,
            Bm,
            Cm,
            D,
            perm,
            delta_bias=delta_bias,
            block_t=block_t,
            block_d=block_d,
            num_warps=num_warps,
            flat=flat,
        )

    Y_tri, g_tri = _grads(tri, ins, perm, gY)
    assert Y_tri.shape == Y_ref.shape and Y_tri.dtype == torch.float32
    assert nerr(Y_tri, Y_ref) < 2e-5
    for name, gt, gr in zip(NAMES, g_tri, g_ref):
        assert gt.shape == gr.shape and gt.dtype == gr.dtype, name
        assert torch.isfinite(gt).all(), name
        assert nerr(gt, gr) < 1e-4, name


@needs_triton
@pytest.mark.parametrize("case", TRITON_CASES, ids=lambda c: f"shape{c[0]}-T{c[1]}-D{c[2]}-seed{c[3]}")
def test_triton_matches_ref(case, interp):
    _run_triton(*case)


@needs_triton
@pytest.mark.parametrize("outer", [1, 2])
def test_triton_backward_walks_several_channel_blocks(outer, monkeypatch, interp):
    # BWD_OUTER programs per (batch, direction): each walks ceil(blocks / outer) channel blocks and sums their
    # dB / dC in its partial; di = 5 in blocks of 2 -> 3 blocks, the last program's second block fully masked
    import mmamba.scan_merge_triton as smt

    monkeypatch.setattr(smt, "BWD_OUTER", outer)
    _run_triton((2, 2, 13, 5, 3), 4, 2, seed=17 + outer)


@needs_triton
@pytest.mark.parametrize(
    "case",
    [((2, 4, 17, 6, 3), 5, 4, 2, 1, 41), ((1, 2, 40, 5, 4), 16, 8, 4, 4, 42)],
    ids=lambda c: f"shape{c[0]}-R{c[1]}-T{c[2]}-D{c[3]}-outer{c[4]}-seed{c[5]}",
)
def test_triton_fused_dt_proj(case, monkeypatch, interp):
    # dt_w given: the kernels form dt = dt_low · dt_wᵀ themselves (dt_proj fused); gradients of dt_low and dt_w
    # against autograd of the reference fed the same product. R = 5 is padded to 8; R = 16 is the model's.
    # outer = 1: one backward program walks all channel blocks, summing d(dt_low) over them in its partial.
    import mmamba.scan_merge_triton as smt
    from mmamba.scan_merge_triton import scan_merge_triton

    (Bsz, K, L, di, N), R, block_t, block_d, outer, seed = case
    monkeypatch.setattr(smt, "BWD_OUTER", outer)
    ins, perm = make_inputs(Bsz, K, L, di, N, torch.float32, seed=seed)
    g = torch.Generator().manual_seed(seed + 1)
    x_dbl = torch.randn(Bsz, K, L, R + 3, generator=g)  # dt_low as a strided view, as in the model
    W = torch.randn(K * di, R, generator=g) * R**-0.5
    u, _, A, Bm, Cm, D, bias = ins
    leaves = [t.to(DEVICE).requires_grad_() for t in (u, x_dbl, W, A, Bm, Cm, D, bias)]
    u, x_dbl, W, A, Bm, Cm, D, bias = leaves
    perm = perm.to(DEVICE)
    dt_low = x_dbl[..., 1 : R + 1]
    dt_ref = torch.einsum("bklr,kdr->bkld", dt_low, W.view(K, di, R))
    gY = torch.randn(Bsz, L, di, generator=g).to(DEVICE)
    Y_ref = scan_merge_ref(u, dt_ref, A, Bm, Cm, D, perm, delta_bias=bias)
    g_ref = torch.autograd.grad(Y_ref, leaves, gY)
    Y = scan_merge_triton(
        u, dt_low, A, Bm, Cm, D, perm, delta_bias=bias, block_t=block_t, block_d=block_d, num_warps=1, dt_w=W
    )
    assert nerr(Y, Y_ref) < 2e-5
    for name, gt, gr in zip(
        ("u", "x_dbl", "dt_w", "A", "B", "C", "D", "bias"), torch.autograd.grad(Y, leaves, gY), g_ref
    ):
        assert gt.shape == gr.shape, name
        assert nerr(gt, gr) < 1e-4, name


@needs_triton
def test_triton_flat_scan_variant(interp):
    # flat=True: the in-chunk scans and the flip on 2-D reshapes of the tiles; the same results
    _run_triton((2, 3, 21, 3, 4), 8, 2, seed=16, flat=True)


@needs_triton
@pytest.mark.parametrize("text_position", ["first", "middle"])
def test_triton_model_permutations(text_position, interp):
    # the model's cross-scan orders (text shared by every direction) at the tiny config's L = 22
    cfg = tiny_mmamba(text_position=text_position)
    perm, _ = sequence_permutations(cfg)
    _run_triton((2, 4, perm.shape[1], 3, 4), 8, 2, seed=21, perm=perm)


@needs_triton
def test_triton_forward_without_grad(interp):
    from mmamba.scan_merge_triton import scan_merge_triton

    ins, perm = make_inputs(2, 2, 9, 3, 3, torch.float32, seed=31)
    u, dt, A, Bm, Cm, D, bias = [t.to(DEVICE) for t in ins]
    with torch.no_grad():
        Y = scan_merge_triton(u, dt, A, Bm, Cm, D, perm.to(DEVICE), delta_bias=bias, block_t=4, block_d=2)
    assert nerr(Y, scan_merge_ref(u, dt, A, Bm, Cm, D, perm.to(DEVICE), delta_bias=bias)) < 2e-5


@needs_triton
def test_triton_rejects_bad_shapes(interp):
    from mmamba.scan_merge_triton import scan_merge_triton

    ins, perm = make_inputs(1, 2, 5, 2, 2, torch.float32, seed=41)
    u, dt, A, Bm, Cm, D, bias = ins
    with pytest.raises(ValueError, match="perm must be"):
        scan_merge_triton(u, dt, A, Bm, Cm, D, perm[:1], delta_bias=bias)
    with pytest.raises(ValueError, match="channel stride 1"):
        scan_merge_triton(u.transpose(2, 3), dt.transpose(2, 3), A, Bm, Cm, D, perm, delta_bias=bias)
    with pytest.raises(ValueError, match="powers of two"):
        scan_merge_triton(u, dt, A, Bm, Cm, D, perm, delta_bias=bias, block_t=6)


@needs_triton
@pytest.mark.slow
@pytest.mark.parametrize("text_position", ["first", "middle"])
def test_model_fused_path_matches_ref(text_position, monkeypatch, interp):
    # MMamba with scan_path 'fused' (gathered conv + fused scan/merge kernels, forced on for CPU tensors here)
    # equals the sequential reference model: logits and the gradient of every parameter
    import mmamba.mmamba as mm
    from mmamba.conv_triton import conv_silu_gather
    from mmamba.scan_merge_triton import scan_merge_triton
    from test_models import inputs, randomise_modulation

    calls = []

    def ops(x):
        calls.append(tuple(x.shape))
        return conv_silu_gather, scan_merge_triton

    monkeypatch.setattr(mm, "fused_ops", ops)
    monkeypatch.setattr(mm, "scan_merge_tuning", lambda: dict(block_t=8, block_d=16, num_warps=1))
    torch.manual_seed(0)
    cfg = tiny_mmamba(text_position=text_position)
    m = mm.MMamba(cfg).to(DEVICE)
    m.set_scan_path("fused")
    randomise_modulation(m)
    img, txt = [t.to(DEVICE) for t in inputs(cfg)]
    a = m(img, txt, use_ref_scan=True)
    ga = torch.autograd.grad(a.square().mean(), list(m.parameters()), allow_unused=True)
    assert not calls
    b = m(img, txt, use_ref_scan=False)
    gb = torch.autograd.grad(b.square().mean(), list(m.parameters()), allow_unused=True)
    assert len(calls) == cfg.layers and nerr(b, a) < 2e-5
    for (name, _), x, y in zip(m.named_parameters(), gb, ga):
        if y is None:
            assert x is None, name
            continue
        assert ((x - y).abs().max() / y.abs().max().clamp_min(1e-6)).item() < 1e-3, name


def test_scan_path_is_checked():
    import mmamba.mmamba as mm

    m = mm.MMamba(tiny_mmamba())
    with pytest.raises(ValueError, match="scan path"):
        m.set_scan_path("fast")
    m.set_scan_path("split")
    assert all(layer.scan_path == "split" for layer in m.layers)
