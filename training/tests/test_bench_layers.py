"""bench_layers.py: the tiny run prints a complete table with finite timings (no timing assertions), and the
benchmark's SSM core is the same computation as MMambaLayer.mix between in_proj and out_norm."""

import json
import math

import bench_layers
import torch
import torch.nn.functional as F
from mmamba.mmamba import MMambaLayer


def test_tiny_run_prints_finite_table(tmp_path, capsys):
    out = tmp_path / "layers.json"
    md = bench_layers.main(["--tiny", "--reps", "1", "--depth", "2", "--device", "cpu", "--json", str(out)])
    assert "| layer | d | B | L | dtype |" in md
    rows = json.loads(out.read_text())["rows"]
    tiny = bench_layers.TINY
    expected = {
        (m, d, B, t) for m in ("M-Mamba", "UViT") for d in tiny.widths for B in tiny.batches for t in ("bf16", "f32")
    }
    assert {(r["model"], r["d"], r["B"], r["dtype"]) for r in rows} == expected
    for r in rows:
        for key in ("layer_us", "core_us", "stack_ms"):
            assert math.isfinite(r[key]) and r[key] > 0, (r, key)
    table_lines = [line for line in md.splitlines() if line.startswith("| M-Mamba") or line.startswith("| UViT")]
    assert len(table_lines) == len(expected)
    assert all("nan" not in line and "inf" not in line for line in table_lines)
    assert "×" in "".join(line for line in table_lines if line.startswith("| M-Mamba"))


def test_ssm_core_matches_layer_mix():
    torch.manual_seed(0)
    cfg = bench_layers.mamba_config(bench_layers.TINY, 32)
    layer = MMambaLayer(cfg).eval()
    u = torch.randn(2, cfg.seq_len, cfg.d)  # (B, L, d)
    with torch.no_grad():
        x, z = layer.in_proj(u).chunk(2, dim=-1)
        y = bench_layers.mamba_core(layer, x)  # (B, L, di)
        composed = layer.out_proj(layer.out_norm(y) * F.silu(z))
        torch.testing.assert_close(composed, layer.mix(u), rtol=0, atol=1e-6)
