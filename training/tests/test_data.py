"""Tests of mmamba/data.py on a tiny synthetic pack (no node needed), plus the real builder in --small
mode when node and the npm art packages are available."""
import os
import shutil
import subprocess

import numpy as np
import pytest

from mmamba import data as D

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return D.make_tiny_dataset(str(tmp_path_factory.mktemp("tinypack")))


def test_palette_names_round_trip():
    for name, rgb in D.PALETTE.items():
        assert D.colour_name(rgb) == name


def test_hue_rotate_keeps_greys_and_names_follow():
    img = np.full((8, 8, 3), 255, np.uint8)
    img[2:6, 2:6] = D.PALETTE["red"]
    img[0, 0] = (20, 20, 20)
    rot = D.hue_rotate(img, 120)
    assert (rot[7, 7] == 255).all() and (rot[0, 0] == 20).all()
    assert D.colour_name(rot[3, 3]) == "green"
    assert D.colour_name(D.hue_rotate(img, 240)[3, 3]) == "blue"


def test_items_deterministic_and_captions_truthful(tiny):
    p = D.Pack(tiny, seed=0)
    assert sum(len(v) for v in p.splits.values()) == len(p.entries)
    for split in ("train", "val", "test"):
        n = D.split_size(split, root=tiny)
        for i in range(0, n, max(1, n // 10)):
            a_img, a_cap, a_meta = D.get_item(split, i, seed=0, epoch=3, root=tiny)
            b_img, b_cap, b_meta = D.get_item(split, i, seed=0, epoch=3, root=tiny)
            assert a_img.shape == (128, 128, 3) and a_img.dtype == np.uint8
            assert (a_img == b_img).all() and a_cap == b_cap and a_meta == b_meta
            assert a_cap.startswith(f"{a_meta['colour']} {a_meta['concept']}")
            ei = a_meta["entry"]
            if a_meta["kind"] == "emoji":  # the stored colour name is the one measured on these pixels
                mask = (a_img.min(-1) < 250)
                assert D.dominant_colours(a_img, mask)[0] == a_meta["colour"]
            else:
                assert D.colour_name(a_img[0, 0]) == a_meta["background"]  # icons start 6 px in: corner is background
                assert a_meta["position"] in a_cap and f"{a_meta['background']} background" in a_cap
            assert len({p.image(ei).tobytes()}) == 1


def test_derived_images_distinct(tiny):
    p = D.Pack(tiny, seed=0)
    hashes = {p.image(i).tobytes() for i in range(len(p.entries))}
    assert len(hashes) == len(p.entries)


def test_splits_hold_out_combinations(tiny):
    for seed in (0, 1):
        p = D.Pack(tiny, seed=seed)
        train = [p.meta(i) for i in p.splits["train"]]
        seen_c = {m["concept"] for m in train}
        seen_cs = {(m["concept"], m["style"]) for m in train}
        seen_cc = {(m["concept"], m["colour"]) for m in train}
        seen_fb = {(m["colour"], m["background"]) for m in train if m["kind"] == "icon"}
        for s in ("val", "test"):
            for i in p.splits[s]:
                m = p.meta(i)
                unseen = {"concept": m["concept"] not in seen_c,
                          "concept+style": (m["concept"], m["style"]) not in seen_cs,
                          "concept+colour": (m["concept"], m["colour"]) not in seen_cc,
                          "colour+background": (m["colour"], m["background"]) not in seen_fb}
                assert unseen[m["holdout"]], m
    # deterministic in the seed
    assert D.Pack(tiny, 0).split_of == D.Pack(tiny, 0).split_of


def test_captions_prompts_and_torch_dataset(tiny):
    caps = D.all_captions("train", root=tiny)
    assert len(caps) == D.split_size("train", root=tiny) and all(isinstance(c, str) and c for c in caps)
    prompts = D.test_prompts(8, root=tiny)
    assert prompts == D.test_prompts(8, root=tiny) and len(prompts) >= 1
    test_caps = {D.load_pack(tiny, 0).short_caption(i) for i in D.load_pack(tiny, 0).splits["test"]}
    assert set(prompts) <= test_caps
    ds = D.ImageCaptionDataset("train", root=tiny)
    x, cap, meta = ds[0]
    assert tuple(x.shape) == (3, 128, 128) and 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    import torch
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    assert tuple(batch[0].shape) == (4, 3, 128, 128) and len(batch[1]) == 4
    perm = D.epoch_permutation(10, 0, 1)
    assert sorted(perm.tolist()) == list(range(10)) and (perm == D.epoch_permutation(10, 0, 1)).all()


@pytest.mark.skipif(shutil.which("node") is None or not os.path.isdir(os.path.join(REPO, "node_modules", "@resvg")),
                    reason="node or npm art packages missing")
def test_builder_small(tmp_path):
    out = tmp_path / "pack"
    r = subprocess.run(["node", os.path.join(REPO, "training", "data", "build_dataset.mjs"), "--small", "--out", str(out)],
                       capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHON": os.sys.executable})
    assert r.returncode == 0, r.stdout + r.stderr
    p = D.Pack(str(out), seed=0)
    styles = {b["style"] for b in p.bases}
    assert {"noto style", "twemoji style", "flat style", "outline icon"} <= styles
    # the demo prompt: a red apple in training
    assert any(p.meta(i)["concept"] == "apple" and p.meta(i)["colour"] == "red" for i in p.splits["train"])
