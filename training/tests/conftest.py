"""Makes the `mmamba` package importable when pytest runs from training/."""

import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

import pytest  # noqa: E402

SLOW_ENV = "MMAMBA_SLOW_TESTS"  # =1 runs the tests marked slow too (CI leaves them out to stay within its time)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", f"slow: long Triton-interpreter cases (whole models, L >= 272 at the model's shapes); {SLOW_ENV}=1"
    )


def pytest_collection_modifyitems(config, items):
    if os.environ.get(SLOW_ENV) == "1":
        return
    skip = pytest.mark.skip(reason=f"slow (whole model or long L under the interpreter): set {SLOW_ENV}=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def triton_interpreter_fix(monkeypatch):
    """Triton 3.6's interpreter converts a runtime loop bound with int() on a 1-element array, which
    numpy >= 2.4 rejects (TypeError: only 0-dimensional arrays ...). Re-patch __index__ to use .item().
    A no-op unless TRITON_INTERPRET=1 (tests of the Triton kernels on CPU)."""
    if os.environ.get("TRITON_INTERPRET") != "1":
        yield
        return
    from triton.runtime import interpreter as itp

    orig = itp._patch_lang_tensor

    def patched(tensor, scope):
        orig(tensor, scope)
        scope.set_attr(tensor, "__index__", lambda self: int(self.handle.data.reshape(-1)[0]))

    monkeypatch.setattr(itp, "_patch_lang_tensor", patched)
    yield


@pytest.fixture(autouse=True)
def grad_mode_is_left_as_found():
    """A test that turns autograd off globally (torch.set_grad_enabled(False) in a main()) breaks every
    later test that trains; fail the leaking test by name instead."""
    import torch

    before = torch.is_grad_enabled()
    yield
    after = torch.is_grad_enabled()
    torch.set_grad_enabled(before)
    assert after == before, "this test left torch's global grad mode changed"
