"""Every loader of a .pt file from outside refuses a pickle payload (torch.load(weights_only=True)), and a real
checkpoint (RNG states included) still loads that way. The payload would create a marker file when unpickled."""

import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))


class _Payload:
    """Unpickling this calls open(marker, "w"): the marker's existence proves the payload ran."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _hostile(tmp_path):
    marker = str(tmp_path / "payload-ran")
    path = str(tmp_path / "ckpt-00000001.pt")
    torch.save(
        {
            "step": 1,
            "model": {"w": torch.zeros(1)},
            "extra": {"kind": "vq", "config": _Payload(marker)},
            "ema": None,
            "format": "mmamba-evaluators",
            "rng": _Payload(marker),
        },
        path,
    )
    return path, marker


def _loaders():
    import encode_tokens
    import sample_grid
    from mmamba.checkpoint import load_checkpoint
    from mmamba.evaluator import load_evaluators
    from mmamba.export import export_checkpoint

    return {
        "checkpoint.load_checkpoint": lambda p, out: load_checkpoint(p, torch.nn.Linear(1, 1)),
        "evaluator.load_evaluators": lambda p, out: load_evaluators(p),
        "export.export_checkpoint": lambda p, out: export_checkpoint(p, out, "x"),
        "encode_tokens.load_vq": lambda p, out: encode_tokens.load_vq(p, "cpu"),
        "sample_grid.load_generator": lambda p, out: sample_grid.load_generator(p, "cpu"),
    }


@pytest.mark.parametrize("name", sorted(_loaders()))
def test_pickle_payload_is_refused(tmp_path, name):
    path, marker = _hostile(tmp_path)
    with pytest.raises(Exception) as err:
        _loaders()[name](path, str(tmp_path / "out"))
    assert not os.path.exists(marker), f"{name} ran the pickle payload"
    assert "weights_only" in str(err.value) or "Unsupported" in str(err.value) or "global" in str(err.value).lower()


def test_real_checkpoint_loads_weights_only(tmp_path):
    import random

    import numpy as np
    from mmamba.checkpoint import EMA, load_checkpoint, save_checkpoint

    m = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    m(torch.ones(1, 3)).sum().backward()
    opt.step()
    random.seed(5)
    np.random.seed(6)
    torch.manual_seed(7)
    path = save_checkpoint(str(tmp_path), 3, m, opt, ema=EMA(m), extra={"kind": "vq", "config": {"d": 3}})
    want = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    st = load_checkpoint(path, torch.nn.Linear(3, 2), torch.optim.AdamW(torch.nn.Linear(3, 2).parameters()), ema=EMA(m))
    assert st["step"] == 3 and st["extra"]["config"] == {"d": 3}
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) == want
