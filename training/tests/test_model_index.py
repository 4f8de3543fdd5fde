"""model_index.refresh_index: entries follow the manifests (bytes, shard sha256s), human fields are kept, new model
folders are added, the shipped index is current."""

import json
import os

import torch
from mmamba.export import export_weights
from mmamba.model_index import refresh_index

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
