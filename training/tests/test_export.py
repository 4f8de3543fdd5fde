"""Export -> load round trip: valid safetensors shards, sha256/size verification, shard limit, int8 error."""

import json
import os

import numpy as np
import pytest
import torch
from mmamba.export import (
    ShardTooLargeError,
    WeightIntegrityError,
    export_weights,
    load_manifest,
    parse_safetensors,
    quantize_int8,
)


def _state(seed=0):
    g = torch.Generator().manual_seed(seed)
    return {
        "emb.weight": torch.randn(64, 32, generator=g),
        "layer.w": torch.randn(48, 32, generator=g),
        "layer.b": torch.randn(48, generator=g),
        "conv.weight": torch.randn(4, 3, 3, 3, generator=g),
        "idx": torch.arange(5),
    }


def test_roundtrip_f32_and_f16(tmp_path):
    st = _state()
    for dtype, tol in (("f32", 0.0), ("f16", 1e-3)):
        out = tmp_path / dtype
        m = export_weights(st, str(out), "t", "mmamba", {"d": 32}, tokenizer={"vocab": ["a"]}, dtype=dtype)
        assert m["format"] == "mmamba-weights" and m["formatVersion"] == 1 and m["kind"] == "mmamba"
        assert "idx" not in m["tensors"]  # integer buffers are not exported
        man, arrs = load_manifest(str(out))
        assert man["config"] == {"d": 32} and man["tokenizer"] == {"vocab": ["a"]}
        for k in ("emb.weight", "layer.w", "layer.b", "conv.weight"):
            ref = st[k].numpy()
            assert arrs[k].shape == ref.shape and arrs[k].dtype == np.float32
            np.testing.assert_allclose(arrs[k], ref, rtol=tol, atol=tol)
        # every shard is also readable by the reference safetensors implementation
        from safetensors.numpy import load_file

        for sh in man["shards"]:
            ref_arrs = load_file(str(out / sh["file"]))
            assert set(ref_arrs) == {n for n, t in man["tensors"].items() if t["shard"] == man["shards"].index(sh)}


def test_alignment_and_header(tmp_path):
    st = {"a": torch.randn(3), "b": torch.randn(5, 7), "c": torch.randn(2, 2)}
    export_weights(st, str(tmp_path), "t", "vq", {}, dtype="f16", f32_names=["b"])
    data = (tmp_path / "model-00000.safetensors").read_bytes()
    n = int.from_bytes(data[:8], "little")
    assert n % 8 == 0
    hdr = json.loads(data[8 : 8 + n])
    for k, v in hdr.items():
        if k != "__metadata__":
            item = 4 if v["dtype"] == "F32" else 2
            assert (8 + n + v["data_offsets"][0]) % item == 0, k
    arrs = parse_safetensors(data)
    assert arrs["b"].dtype == np.float32 and arrs["a"].dtype == np.float16


def test_sha_and_size_checked(tmp_path):
    export_weights(_state(), str(tmp_path), "t", "mmamba", {}, dtype="f16")
    p = tmp_path / "model-00000.safetensors"
    data = bytearray(p.read_bytes())
    data[-1] ^= 0xFF
    p.write_bytes(bytes(data))
    with pytest.raises(WeightIntegrityError, match="sha256"):
        load_manifest(str(tmp_path))
    p.write_bytes(bytes(data[:-2]))
    with pytest.raises(WeightIntegrityError, match="bytes"):
        load_manifest(str(tmp_path))


def test_shard_limit(tmp_path):
    st = _state()
    limit = 9000
    m = export_weights(st, str(tmp_path), "t", "mmamba", {}, dtype="f32", max_shard_bytes=limit)
    assert len(m["shards"]) > 1
    for sh in m["shards"]:
        assert sh["bytes"] == os.path.getsize(tmp_path / sh["file"]) <= limit
    _, arrs = load_manifest(str(tmp_path))
    np.testing.assert_array_equal(arrs["layer.w"], st["layer.w"].numpy())
    with pytest.raises(ShardTooLargeError):
        export_weights(st, str(tmp_path / "x"), "t", "mmamba", {}, dtype="f32", max_shard_bytes=2000)


def test_int8_error_bound(tmp_path):
    st = _state(3)
    st["layer.w"][5] = 0.0  # an all-zero row must not divide by zero
    m = export_weights(st, str(tmp_path), "t", "mmamba", {}, int8=True, int8_min_numel=1000)
    assert m["tensors"]["emb.weight"]["dtype"] == "int8" and m["tensors"]["emb.weight"]["scale"] == "emb.weight.scale"
    assert m["tensors"]["emb.weight.scale"] == {"shape": [64], "dtype": "f16", "shard": 0}
    assert m["tensors"]["layer.b"]["dtype"] == "f16"  # 1-D stays f16
    man, raw = load_manifest(str(tmp_path), dequantize=False)
    assert raw["emb.weight"].dtype == np.int8 and raw["emb.weight.scale"].dtype == np.float16
    _, arrs = load_manifest(str(tmp_path))
    assert "emb.weight.scale" not in arrs
    for k in ("emb.weight", "layer.w"):
        w = st[k].numpy()
        scale = np.abs(w).max(1, keepdims=True) / 127.0
        err = np.abs(arrs[k] - w)
        assert np.all(err <= 0.5 * scale * 1.01 + 1e-7), float((err / np.maximum(scale, 1e-12)).max())
    np.testing.assert_array_equal(arrs["layer.w"][5], 0.0)
    q, s = quantize_int8(np.array([[1.0, -0.5, 0.25]], np.float32))
    assert q.tolist() == [[127, -64, 32]] or q.tolist() == [[127, -63, 32]]
