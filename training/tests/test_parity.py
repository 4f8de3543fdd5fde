"""training/parity.py on the tiny fixture models (CPU): the WebGPU side is stood in for by PyTorch's own images
(written as the raw uint8 file bench/generate_eval.ts writes), so identical images must score parity 0, and a
changed patch must show in exactly the image it is in."""

import json
import os
import shutil

import evaluate as E
import parity
import pytest
import torch
from encode_tokens import load_vq

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FX = os.path.join(ROOT, "tests", "fixtures")


@pytest.fixture()
def models(tmp_path):
    out = tmp_path / "models"
    for name in ("mmamba_tiny", "vq_tiny"):
        shutil.copytree(os.path.join(FX, name), out / name)
    man = json.load(open(out / "mmamba_tiny" / "manifest.json"))
    man["tokenizer"] = json.load(open(os.path.join(FX, "pipeline_cases.json")))["tokenizer"]
    json.dump(man, open(out / "mmamba_tiny" / "manifest.json", "w"))
    return out


def test_identical_then_one_changed_image(models, tmp_path):
    items = parity.everyday_items(1)[:3]
    items_path = tmp_path / "items.json"
    assert parity.main(["--everyday-seeds", "1", "--write-prompts", str(items_path)]) == []
    assert json.load(open(items_path))[:3] == items
    json.dump(items, open(items_path, "w"))
    gen, vq_dir = str(models / "mmamba_tiny"), str(models / "vq_tiny")
    vq = load_vq(vq_dir, torch.device("cpu"))
    ref, _ = E.generate(gen, vq, items, torch.device("cpu"), steps=2, guidance=3.0)
    ext = tmp_path / "ext.u8"
    E.write_raw_images(str(ext), ref)
    args = ["--prompts", str(items_path), "--vq", vq_dir, "--gen", f"tiny={gen}", "--external", f"tiny={ext}"]
    args += ["--steps", "2", "--guidance", "3", "--device", "cpu", "--json", str(tmp_path / "p.json")]
    [same] = parity.main(args)
    assert same["identical_share"] == 1.0 and same["mean_abs_diff"] == 0.0 and same["max_pixel_diff"] == 0
    changed = ref.copy()
    changed[1, :4, :4] = 255 - changed[1, :4, :4]  # a patch, as a different token would make
    E.write_raw_images(str(ext), changed)
    [diff] = parity.main(args)
    assert diff["per_image"][0] == 0 and diff["per_image"][2] == 0 and diff["per_image"][1] > 0
    assert diff["identical_share"] == pytest.approx(2 / 3) and diff["max_pixel_diff"] > 1
    assert json.load(open(tmp_path / "p.json"))["parity"][0]["per_image"] == diff["per_image"]


def test_external_without_its_generator_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="needs a --gen"):
        parity.main(["--everyday-seeds", "1", "--external", f"x={tmp_path / 'x.u8'}"])


def test_temperature_reaches_the_reference(models, tmp_path):
    """--temperature samples the PyTorch reference at that token temperature: images drawn at 0.7 match it exactly,
    the same items at 1 do not (so a flag that went nowhere would fail here)."""
    items = parity.everyday_items(1)[:3]
    items_path = tmp_path / "items.json"
    json.dump(items, open(items_path, "w"))
    gen, vq_dir = str(models / "mmamba_tiny"), str(models / "vq_tiny")
    vq = load_vq(vq_dir, torch.device("cpu"))
    ext = tmp_path / "ext.u8"
    args = ["--prompts", str(items_path), "--vq", vq_dir, "--gen", f"tiny={gen}", "--external", f"tiny={ext}"]
    args += ["--steps", "2", "--guidance", "3", "--temperature", "0.7", "--device", "cpu"]
    args += ["--json", str(tmp_path / "p.json")]
    at_07, _ = E.generate(gen, vq, items, torch.device("cpu"), steps=2, guidance=3.0, temperature=0.7)
    E.write_raw_images(str(ext), at_07)
    [same] = parity.main(args)
    assert same["identical_share"] == 1.0
    assert json.load(open(tmp_path / "p.json"))["temperature"] == 0.7
    at_1, _ = E.generate(gen, vq, items, torch.device("cpu"), steps=2, guidance=3.0)
    E.write_raw_images(str(ext), at_1)
    [other] = parity.main(args)
    assert other["identical_share"] < 1.0
