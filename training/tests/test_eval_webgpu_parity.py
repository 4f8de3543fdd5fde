"""Browser engine vs PyTorch on the tiny fixture models: bench/generate_eval.ts (the TypeScript pipeline on Dawn /
SwiftShader) and evaluate.generate (mmamba/seeded_sampling.py) draw the same tokens for the same prompts, seeds and
settings (pixels within one level).
Opt-in (about 20 s of SwiftShader): EVAL_WEBGPU=1 .venv/bin/pytest -q tests/test_eval_webgpu_parity.py"""

import json
import os
import shutil
import subprocess

import evaluate as E
import numpy as np
import pytest
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
pytestmark = pytest.mark.skipif(
    os.environ.get("EVAL_WEBGPU") != "1" or not os.path.exists("/usr/lib/chromium/vk_swiftshader_icd.json"),
    reason="opt-in: EVAL_WEBGPU=1 and Debian chromium's SwiftShader",
)


def test_generate_eval_matches_pytorch(tmp_path):
    from encode_tokens import load_vq

    fx = os.path.join(ROOT, "tests", "fixtures")
    models = tmp_path / "models"
    for name in ("mmamba_tiny", "vq_tiny"):
        shutil.copytree(os.path.join(fx, name), models / name)
    man = json.load(open(models / "mmamba_tiny" / "manifest.json"))
    man["tokenizer"] = json.load(open(os.path.join(fx, "pipeline_cases.json")))["tokenizer"]
    json.dump(man, open(models / "mmamba_tiny" / "manifest.json", "w"))
    items = [{"prompt": "a red heart", "seed": 7}, {"prompt": "blue star, noto style", "seed": 2**31 + 3}]
    json.dump(items, open(tmp_path / "items.json", "w"))
    bundle = tmp_path / "generate_eval.mjs"
    subprocess.run(["node", "bench/build.mjs", str(bundle), "bench/generate_eval.ts"], cwd=ROOT, check=True)
    # the bundle resolves `webgpu` from the repository's node_modules
    local = os.path.join(ROOT, "node_modules", ".cache", "m-mamba-eval-test.mjs")
    shutil.copy(bundle, local)
    subprocess.run(
        [
            "bash",
            "scripts/with-swiftshader.sh",
            "node",
            local,
            "--prompts",
            str(tmp_path / "items.json"),
            "--out",
            str(tmp_path / "out"),
            "--models",
            str(models),
            "--model",
            "mmamba_tiny",
            "--vq",
            "vq_tiny",
            "--steps",
            "4",
            "--guidance",
            "3",
            "--temperature",
            "0.7",
        ],
        cwd=ROOT,
        check=True,
        timeout=300,
    )
    vq = load_vq(str(models / "vq_tiny"), torch.device("cpu"))
    # token temperature 0.7 on both sides (model M's page setting is 0.8): the engine takes it as the sampler does
    ours, _ = E.generate(
        str(models / "mmamba_tiny"), vq, items, torch.device("cpu"), steps=4, guidance=3.0, temperature=0.7
    )
    theirs = E.read_external_images(str(tmp_path / "out" / "mmamba_tiny.u8"), len(items), size=ours.shape[1])
    # the same tokens: a different token would change a whole patch by many levels; the f32 decoders may still round
    # a value at a uint8 boundary the other way (one of 3,072 in this run)
    diff = np.abs(ours.astype(int) - theirs.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3, diff.mean(axis=(1, 2, 3))
    # and the temperature reached the engine: PyTorch's images at temperature 1 are other pictures
    at_1, _ = E.generate(str(models / "mmamba_tiny"), vq, items, torch.device("cpu"), steps=4, guidance=3.0)
    assert np.abs(at_1.astype(int) - theirs.astype(int)).max() > 1
