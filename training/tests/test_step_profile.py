"""The step breakdown's kernel classes (mmamba/step_profile.py): every scan kernel this tree launches is counted as
the mixer's scan forward or backward, by its real name, so a renamed or added kernel cannot fall into "rest"."""

import pytest

pytest.importorskip("triton")

from mmamba import scan_merge_triton, scan_triton  # noqa: E402
from mmamba.step_profile import classify  # noqa: E402


def _name(kernel) -> str:
    return getattr(kernel, "fn", kernel).__name__


@pytest.mark.parametrize(
    "kernel, cls",
    [
        (scan_triton._scan_fwd_kernel, "scan_fwd"),
        (scan_triton._scan_bwd_kernel, "scan_bwd"),
        (scan_triton._scan_bwd_reg_kernel, "scan_bwd"),
        (scan_merge_triton._scan_merge_fwd_kernel, "scan_fwd"),
        (scan_merge_triton._scan_merge_bwd_kernel, "scan_bwd"),
    ],
)
def test_scan_kernels_are_classified(kernel, cls):
    # the profiler sees the kernel's name, possibly decorated (e.g. "triton_" prefixes, launch suffixes)
    name = _name(kernel)
    assert classify(name) == cls, name
    assert classify(f"void {name}_0d1d2d3d") == cls, name


def test_other_kernels_are_rest():
    for name in ("triton_poi_fused_add_mul_0", "sm90_xmma_gemm_bf16bf16", "_conv_bwd_kernel"):
        assert classify(name) == "other", name
