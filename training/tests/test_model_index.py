"""model_index.refresh_index: entries follow the manifests (bytes, shard sha256s), human fields are kept, new model
folders are added, the shipped index is current."""

import json
import os

import pytest
import torch
from mmamba.export import export_weights
from mmamba.model_index import PAGE_SAMPLING, main, page_sampling, refresh_index

SHIPPED = os.path.join(os.path.dirname(__file__), "..", "..", "public", "models")


def test_refresh_follows_manifests_and_keeps_names(tmp_path):
    g = torch.Generator().manual_seed(0)
    export_weights({"w": torch.randn(8, 4, generator=g)}, str(tmp_path / "a"), "a", "vq", {"d": 4})
    (tmp_path / "index.json").write_text(
        json.dumps(
            {
                "models": [
                    {"id": "a", "kind": "vq", "name": "Model A", "description": "kept", "formatVersion": 1, "bytes": 1}
                ],
                "defaultGenerator": "a",
                "tokenizer": "a",
            }
        )
    )
    export_weights({"w": torch.randn(8, 4, generator=g)}, str(tmp_path / "b"), "b", "mmamba", {"d": 4})
    idx = refresh_index(str(tmp_path))
    a, b = idx["models"]
    man = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert a["name"] == "Model A" and a["description"] == "kept" and idx["defaultGenerator"] == "a"
    assert a["bytes"] == sum(s["bytes"] for s in man["shards"]) and a["shardSha256"] == [
        s["sha256"] for s in man["shards"]
    ]
    assert b["id"] == "b" and b["kind"] == "mmamba" and len(b["shardSha256"]) == 1 and "sampling" not in b
    # a generator's recommended sampling settings are a human field: kept across refreshes
    idx["models"][1]["sampling"] = {"steps": 12, "guidance": 3}
    (tmp_path / "index.json").write_text(json.dumps(idx))
    assert refresh_index(str(tmp_path))["models"][1]["sampling"] == {"steps": 12, "guidance": 3}
    # a re-export of the same shapes keeps the byte count but changes the sha256s the index lists
    export_weights({"w": torch.randn(8, 4, generator=g)}, str(tmp_path / "a"), "a", "vq", {"d": 4})
    a2 = refresh_index(str(tmp_path))["models"][0]
    assert a2["bytes"] == a["bytes"] and a2["shardSha256"] != a["shardSha256"]


def test_shipped_index_is_current():
    with open(os.path.join(SHIPPED, "index.json")) as f:
        idx = json.load(f)
    for e in idx["models"]:
        with open(os.path.join(SHIPPED, e["id"], "manifest.json")) as f:
            man = json.load(f)
        assert e["bytes"] == sum(s["bytes"] for s in man["shards"])
        assert e["shardSha256"] == [s["sha256"] for s in man["shards"]], (
            "run python -m mmamba.model_index ../public/models"
        )


def test_page_sampling_is_the_recommendation_over_the_page_defaults(tmp_path, capsys):
    (tmp_path / "index.json").write_text(
        json.dumps(
            {
                "models": [
                    {"id": "plain", "kind": "mmamba"},
                    {"id": "own", "kind": "mmamba", "sampling": {"guidance": 3, "temperature": 0.8}},
                    {"id": "bad", "kind": "mmamba", "sampling": {"cfg": 3}},
                ]
            }
        )
    )
    assert page_sampling(str(tmp_path), "plain") == PAGE_SAMPLING
    assert page_sampling(str(tmp_path), "own") == {**PAGE_SAMPLING, "guidance": 3.0, "temperature": 0.8}
    with pytest.raises(ValueError, match="lists no model 'x'"):
        page_sampling(str(tmp_path), "x")
    with pytest.raises(ValueError, match="'cfg'"):
        page_sampling(str(tmp_path), "bad")
    main([str(tmp_path), "--sampling-of", "own"])  # the recipe's `score` reads this line
    assert capsys.readouterr().out == "12 3 1.5 0.8\n"
    assert json.loads((tmp_path / "index.json").read_text())["models"][0] == {"id": "plain", "kind": "mmamba"}
