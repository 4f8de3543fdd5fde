"""torch.compile(fullgraph=True) traces M-Mamba's split path through its custom ops (scan_triton.split_scan_*,
conv_triton.conv_*), and the compiled model equals the eager reference.

On CPU the ops run their PyTorch fallbacks (chunked scan, reference conv; use_triton=False), so what is checked here
is the part torch.compile depends on: the ops' schemas, fake implementations (shapes, dtypes and strides Inductor
relies on) and registered autograd. The compiled tiny model (split path, backends aot_eager and inductor) is
compared with the eager model on the sequential reference scan (`use_ref_scan=True`) and the plain PyTorch conv
(`causal_conv_silu_ref`, no custom op): logits and every parameter gradient, in float32. The graph dynamo captures must
contain the split scan and conv ops (a path that bypassed
them would not test them). Also, with and without compile: the tiny model at d_state 1 and expand 1 (the lite
configs) equals the reference. Skipped when triton is not installed (the ops live in the Triton modules).
"""

import pytest
import torch

try:
    import triton  # noqa: F401
except ImportError as e:  # not installed (CI)
    pytest.skip(f"triton not importable: {e}", allow_module_level=True)

import mmamba.mmamba as mm  # noqa: E402
from mmamba.config import tiny_mmamba  # noqa: E402
from mmamba.seq_ops import causal_conv_silu_ref  # noqa: E402
from test_models import inputs, randomise_modulation  # noqa: E402

SPLIT_OPS = ("mmamba.split_scan_fwd", "mmamba.conv_fwd")


def nerr(a, b):
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-6)).item()


def _model(**cfg_kw):
    torch.manual_seed(0)
    cfg = tiny_mmamba(**cfg_kw)
    m = mm.MMamba(cfg)
    m.set_scan_path("split")
    randomise_modulation(m)
    return m, inputs(cfg)


def _loss_and_grads(fwd, m, img, txt, **kw):
    logits = fwd(img, txt, **kw)
    grads = torch.autograd.grad(logits.square().mean(), list(m.parameters()), allow_unused=True)
    return logits.detach(), grads


def _check_against_ref(m, img, txt, logits, grads):
    """The reference: the sequential scan and the plain PyTorch conv, without the custom ops."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(mm, "causal_conv_silu", causal_conv_silu_ref)
        ref_logits, ref_grads = _loss_and_grads(m, m, img, txt, use_ref_scan=True)
    assert nerr(logits, ref_logits) < 2e-5, nerr(logits, ref_logits)
    for (name, _), g, r in zip(m.named_parameters(), grads, ref_grads):
        if r is None:
            assert g is None, name
            continue
        assert g is not None and torch.isfinite(g).all(), name
        assert nerr(g, r) < 1e-3, (name, nerr(g, r))


@pytest.mark.parametrize("backend", ["aot_eager", pytest.param("inductor", marks=pytest.mark.slow)])
def test_compiled_split_path_matches_reference(backend):
    from torch._dynamo.backends.registry import lookup_backend

    m, (img, txt) = _model()
    graphs = []

    def recording(gm, example_inputs):
        graphs.append(str(gm.graph))
        return lookup_backend(backend)(gm, example_inputs)

    torch._dynamo.reset()
    compiled = torch.compile(m, backend=recording, fullgraph=True)
    logits, grads = _loss_and_grads(compiled, m, img, txt)
    torch._dynamo.reset()
    assert len(graphs) == 1, f"{len(graphs)} graphs"
    for op in SPLIT_OPS:
        assert graphs[0].count(op) == m.cfg.layers, (op, graphs[0].count(op))
    _check_against_ref(m, img, txt, logits, grads)


@pytest.mark.parametrize(
    "cfg_kw", [dict(d_state=1), dict(d_state=1, expand=1, ffn=True, ffn_mult=2), dict(d_state=4, expand=1)]
)
def test_lite_configs_match_reference(cfg_kw):
    # eager split path (the ops' CPU fallbacks) and the aot_eager compile, at N = 1 and expand = 1
    m, (img, txt) = _model(**cfg_kw)
    _check_against_ref(m, img, txt, *_loss_and_grads(m, m, img, txt))
    torch._dynamo.reset()
    compiled = torch.compile(m, backend="aot_eager", fullgraph=True)
    _check_against_ref(m, img, txt, *_loss_and_grads(compiled, m, img, txt))
    torch._dynamo.reset()


@pytest.mark.slow
def test_inline_conv_path_is_traced_by_the_compiler(monkeypatch):
    # MMAMBA_CONV_PATH=inline: the conv is plain PyTorch in the graph (no conv op) and the compiled model still
    # equals the reference in the logits and every gradient
    from torch._dynamo.backends.registry import lookup_backend

    monkeypatch.setenv("MMAMBA_CONV_PATH", "inline")
    m, (img, txt) = _model(d_state=1, expand=1, ffn=True, ffn_mult=2)
    assert all(layer.conv_path == "inline" for layer in m.layers)
    graphs = []

    def recording(gm, example_inputs):
        graphs.append(str(gm.graph))
        return lookup_backend("inductor")(gm, example_inputs)

    torch._dynamo.reset()
    compiled = torch.compile(m, backend=recording, fullgraph=True)
    logits, grads = _loss_and_grads(compiled, m, img, txt)
    torch._dynamo.reset()
    assert len(graphs) == 1, f"{len(graphs)} graphs"
    assert graphs[0].count("mmamba.conv_fwd") == 0
    assert graphs[0].count("mmamba.split_scan_fwd") == m.cfg.layers
    _check_against_ref(m, img, txt, logits, grads)


def test_conv_path_is_checked(monkeypatch):
    monkeypatch.setenv("MMAMBA_CONV_PATH", "triton")
    with pytest.raises(ValueError, match="MMAMBA_CONV_PATH"):
        _model()
