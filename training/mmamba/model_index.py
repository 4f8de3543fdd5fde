"""models/index.json: the list of shipped models the app reads first, refreshed from the manifests.

The browser trusts a cached model only while its stored manifest lists exactly the shard sha256s that the index
entry lists (src/worker/weight_store.ts), so a re-export that keeps every byte size (a retrained int8 model does)
is still fetched again. This keeps each entry's `bytes` and `shardSha256` in step with `<id>/manifest.json`; names,
descriptions and a generator's recommended `sampling` settings (src/model/settings.ts; scripts/ship_model.sh
--sampling sets them) stay as written (new models get their id as name). Run after every export:

    python -m mmamba.model_index ../public/models            (from training/)
    python -m mmamba.model_index ../public/models --sampling-of mmamba-v2    # "steps guidance tau temperature":
                                                             # what the page draws that generator with
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from .export import FORMAT_VERSION

# The page-wide sampling defaults (src/model/settings.ts GENERATION_SETTINGS; a test checks): what the page draws a
# generator with when its index entry recommends nothing.
PAGE_SAMPLING = {"steps": 12, "guidance": 4.0, "tau": 1.5, "temperature": 1.0}


def entry_from_manifest(manifest: dict[str, Any], old: dict[str, Any] | None = None) -> dict[str, Any]:
    """An index entry for a manifest, keeping the human fields of `old`."""
    old = old or {}
    shards = manifest["shards"]
    e = {
        "id": manifest["modelId"],
        "kind": manifest["kind"],
        "name": old.get("name", manifest["modelId"]),
        "description": old.get("description", ""),
        "formatVersion": manifest["formatVersion"],
        "bytes": sum(int(s["bytes"]) for s in shards),
        "shardSha256": [s["sha256"] for s in shards],
    }
    if "sampling" in old:
        e["sampling"] = old["sampling"]
    return e


def refresh_index(models_dir: str) -> dict[str, Any]:
    """Rewrites models_dir/index.json from the manifests of the models it lists plus any new model folder."""
    path = os.path.join(models_dir, "index.json")
    index: dict[str, Any] = {"models": []}
    if os.path.exists(path):
        with open(path) as f:
            index = json.load(f)
    listed = {m["id"]: m for m in index.get("models", [])}
    ids = list(listed)
    for name in sorted(os.listdir(models_dir)):
        if name not in listed and os.path.isfile(os.path.join(models_dir, name, "manifest.json")):
            ids.append(name)
    models = []
    for model_id in ids:
        mpath = os.path.join(models_dir, model_id, "manifest.json")
        if not os.path.isfile(mpath):
            raise FileNotFoundError(f"index.json lists {model_id!r} but {mpath} does not exist")
        with open(mpath) as f:
            manifest = json.load(f)
        if manifest["formatVersion"] != FORMAT_VERSION:
            raise ValueError(f"{mpath}: format v{manifest['formatVersion']}, this exporter writes v{FORMAT_VERSION}")
        models.append(entry_from_manifest(manifest, listed.get(model_id)))
    index["models"] = models
    with open(path, "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")
    return index


def page_sampling(models_dir: str, model_id: str) -> dict[str, float]:
    """The settings the page draws `model_id` with: its index entry's `sampling` over PAGE_SAMPLING."""
    with open(os.path.join(models_dir, "index.json")) as f:
        index = json.load(f)
    entry = next((m for m in index.get("models", []) if m.get("id") == model_id), None)
    if entry is None:
        raise ValueError(f"{models_dir}/index.json lists no model {model_id!r}")
    out = dict(PAGE_SAMPLING)
    for k, v in (entry.get("sampling") or {}).items():
        if k not in out or isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"{model_id}: sampling {k!r} = {v!r} is not a setting of {sorted(out)}")
        out[k] = float(v)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models_dir", help="public/models")
    ap.add_argument("--sampling-of", default=None, help="print the page's settings of this generator, change nothing")
    a = ap.parse_args(argv)
    if a.sampling_of:
        st = page_sampling(a.models_dir, a.sampling_of)
        print(f"{int(st['steps'])} {st['guidance']:g} {st['tau']:g} {st['temperature']:g}")
        return
    idx = refresh_index(a.models_dir)
    for m in idx["models"]:
        print(f"{m['id']}: {m['bytes']} bytes, {len(m['shardSha256'])} shard(s)")


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    main()
