"""Tests of mmamba/data.py on a tiny synthetic pack (no node needed): colour maths, storage, determinism,
truthful caption forms, splits and the evaluation item lists. The real builder (node + npm art packages)
is tested in test_data_builder.py."""

import numpy as np
import pytest
from mmamba import data as D


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


def test_storage_colour_palette_and_mask_levels():
    seed = 1234
    print("seed", seed)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:128, 0:128]
    # a smooth gradient disc: many colours, so the palette reduction has to work
    rgba = np.zeros((128, 128, 4), np.uint8)
    disc = (xx - 64) ** 2 + (yy - 64) ** 2 < 50**2
    rgba[..., 0] = np.clip(xx * 2, 0, 255)
    rgba[..., 1] = np.clip(yy * 2, 0, 255)
    rgba[..., 2] = rng.integers(90, 110, (128, 128))
    rgba[..., 3] = np.where(disc, 255, 0)
    flat = D.composite_white(rgba)
    stored = D.reduce_colours(flat)
    n_colours = len({tuple(c) for c in stored.reshape(-1, 3)})
    assert n_colours <= D.COLOUR_LEVELS[-1] < len({tuple(c) for c in flat.reshape(-1, 3)})
    px, blob, variants, p = D.store_item({"kind": "emoji", "pixels": rgba})
    assert (px == stored).all() and p == D.psnr(stored, flat) and p >= 30.0
    assert variants and variants[0][0] == 0
    # few colours: stored exactly
    few = np.full((128, 128, 3), 255, np.uint8)
    few[10:50, 10:50] = D.PALETTE["blue"]
    assert (D.reduce_colours(few) == few).all()
    # masks: MASK_LEVELS grey levels, blank masks dropped
    alpha = rng.integers(0, 256, (56, 56)).astype(np.uint8)
    m = D.reduce_mask(alpha)
    levels = np.round(np.arange(D.MASK_LEVELS) * 255.0 / (D.MASK_LEVELS - 1))
    assert set(np.unique(m).tolist()) <= set(levels.tolist())
    assert np.abs(m.astype(int) - alpha).max() <= 255 / (D.MASK_LEVELS - 1) / 2 + 1
    assert D.store_item({"kind": "icon", "pixels": np.zeros((56, 56), np.uint8)}) is None


def test_pack_is_deterministic_bytes(tmp_path):
    a = D.make_tiny_dataset(str(tmp_path / "a"))
    b = D.make_tiny_dataset(str(tmp_path / "b"))
    for f in ("index.json", "images.bin"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
    pa, pb = D.Pack(a, 0), D.Pack(b, 0)
    assert [pa.caption(i, 2, i) for i in range(len(pa.entries))] == [
        pb.caption(i, 2, i) for i in range(len(pb.entries))
    ]


def test_items_deterministic_and_colour_names_measured(tiny):
    p = D.Pack(tiny, seed=0)
    assert sum(len(v) for v in p.splits.values()) == len(p.entries)
    for split in ("train", "val", "test"):
        n = D.split_size(split, root=tiny)
        for i in range(0, n, max(1, n // 10)):
            a_img, a_cap, a_meta = D.get_item(split, i, seed=0, epoch=3, root=tiny)
            b_img, b_cap, b_meta = D.get_item(split, i, seed=0, epoch=3, root=tiny)
            assert a_img.shape == (128, 128, 3) and a_img.dtype == np.uint8
            assert (a_img == b_img).all() and a_cap == b_cap and a_meta == b_meta
            if a_meta["kind"] == "emoji":  # the stored colour name is the one measured on these pixels
                mask = a_img.min(-1) < 250
                assert D.dominant_colours(a_img, mask)[0] == a_meta["colour"]
            else:
                assert D.colour_name(a_img[0, 0]) == a_meta["background"]  # icons start 6 px in: corner is background


def test_derived_images_distinct(tiny):
    p = D.Pack(tiny, seed=0)
    hashes = {p.image(i).tobytes() for i in range(len(p.entries))}
    assert len(hashes) == len(p.entries)


# ---------------------------------------------------------------- captions
TEMPLATE_WORDS = {"a", "an", "of", "on", "the", "at", "in", "background", "emoji", "icon", "drawing"}


def untrue_claims(p: "D.Pack", ei: int, cap: str) -> list[str]:
    """What `cap` says that is not a fact of entry ei (empty list: every claim is true)."""
    f = p.facts(ei)
    bad = []
    styles = set(p.index["styles"])
    said_styles = {s for s in styles if s in cap}
    if said_styles - {f["style"]}:
        bad.append(f"style {said_styles - {f['style']}}")
    rest = cap
    for s in sorted(said_styles, key=len, reverse=True):
        rest = rest.replace(s, " ")
    names = [f["concept"], f["label"], *f["synonyms"], *f["keywords"]]
    for nm in sorted(names, key=len, reverse=True):
        rest = rest.replace(nm, " ")
    positions = sorted(D.POSITIONS, key=len, reverse=True)
    for pos in positions:
        if pos in rest:
            if pos != f["position"] and not (pos == "center" and f["position"] == "center"):
                bad.append(f"position {pos}")
            rest = rest.replace(pos, " ")
    words = rest.replace(",", " ").split()
    allowed_colours = {f["colour"], f["background"]} if f["kind"] == "icon" else {f["colour"], "white"}
    for w in words:
        if w in D.COLOUR_NAMES:
            if w not in allowed_colours:
                bad.append(f"colour {w}")
            if w == "white" and f["kind"] == "emoji" and f["colour"] != "white" and "white background" not in cap:
                bad.append("white")
        elif w == "emoji" and not f["emoji"]:
            bad.append("emoji")
        elif w == "icon" and f["emoji"]:
            bad.append("icon")
        elif w not in TEMPLATE_WORDS:
            bad.append(f"word {w!r}")
    if f["kind"] == "icon" and "background" in cap and f"{f['background']} background" not in cap:
        bad.append("background")
    return bad


def test_caption_forms_all_appear_and_are_true(tiny):
    p = D.Pack(tiny, seed=0)
    seen = {form: 0 for form in D.CAPTION_FORMS}
    for ei in range(len(p.entries)):
        f = p.facts(ei)
        for form in D.CAPTION_FORMS[:-1]:
            for u in range(16):
                cap = D.caption_form(form, f, f["concept"], u)
                assert not untrue_claims(p, ei, cap), (form, cap, untrue_claims(p, ei, cap))
                seen[form] += 1
    bare = forms_found = 0
    found = set()
    for ei in range(len(p.entries)):
        concept = p.facts(ei)["concept"]
        for epoch in range(1, 12):
            cap = p.caption(ei, epoch, ei)
            assert not untrue_claims(p, ei, cap), (cap, untrue_claims(p, ei, cap))
            bare += cap == concept
            found |= {
                k
                for k, sig in {
                    "article": cap.startswith(("a ", "an ")),
                    "emoji": " emoji" in cap,
                    "icon_of": " of " in cap,
                    "drawing_of": cap.startswith("a drawing of"),
                    "colour_after": cap.split(", ")[-1] in D.COLOUR_NAMES,
                    "synonym": any(s in cap for s in p.facts(ei)["synonyms"]),
                    "scene": "background" in cap,
                }.items()
                if sig
            }
        assert not untrue_claims(p, ei, p.caption(ei)) and not untrue_claims(p, ei, p.short_caption(ei))
    assert bare > 0, "the bare concept name must be a training caption"
    assert found == {"article", "emoji", "icon_of", "drawing_of", "colour_after", "synonym", "scene"}, found
    forms_found = len(found)
    assert forms_found == 7


def test_untrue_claims_catches_lies(tiny):
    p = D.Pack(tiny, seed=0)
    ei = next(i for i in range(len(p.entries)) if p.facts(i)["kind"] == "icon")
    f = p.facts(ei)
    wrong_bg = next(c for c in D.COLOUR_NAMES if c not in (f["colour"], f["background"]))
    assert untrue_claims(p, ei, f"{f['colour']} {f['concept']}, {wrong_bg} background")
    assert untrue_claims(p, ei, f"{f['concept']} emoji")
    assert untrue_claims(p, ei, f"{f['colour']} giraffe")
    assert not untrue_claims(p, ei, f"{f['colour']} {f['concept']}")


def test_paraphrase_prompts_never_training_captions():
    # a pack with several concepts outside DEMO_CONCEPTS, so the split is not empty; several seeds
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        root = D.make_tiny_dataset(d)
        for seed in (0, 1, 2):
            p = D.Pack(root, seed)
            para = D.paraphrase_prompts(p)
            assert para == D.paraphrase_prompts(D.Pack(root, seed))
            assert len(para) >= 2 and {x["form"] for x in para} <= set(D.PARAPHRASE_FORMS)
            prompts = {x["prompt"] for x in para}
            train_caps = set()
            for i, ei in enumerate(p.splits["train"]):
                train_caps.add(p.caption(ei))
                train_caps.update(p.caption(ei, v, i) for v in range(1, D.CAPTION_VARIANTS))
                train_caps.update(p.caption(ei, v, i) for v in range(40, 60))
            assert not prompts & train_caps, prompts & train_caps
            train_concepts = {p.meta(ei)["concept"] for ei in p.splits["train"]}
            for x in para:
                assert x["concept"] in train_concepts and x["concept"] not in D.DEMO_CONCEPTS
                assert p.split_of[x["entry"]] == "train" and p.meta(x["entry"])["concept"] == x["concept"]
                assert not untrue_claims(p, x["entry"], x["prompt"]), x


def test_splits_hold_out_combinations_and_ruler(tiny):
    unseen_found = False
    for seed in range(12):
        p = D.Pack(tiny, seed=seed)
        train = [p.meta(i) for i in p.splits["train"]]
        seen_c = {m["concept"] for m in train}
        seen_cs = {(m["concept"], m["style"]) for m in train}
        seen_cc = {(m["concept"], m["colour"]) for m in train}
        seen_fb = {(m["colour"], m["background"]) for m in train if m["kind"] == "icon"}
        for s in ("val", "test"):
            for i in p.splits[s]:
                m = p.meta(i)
                unseen = {
                    "concept": m["concept"] not in seen_c,
                    "concept+style": (m["concept"], m["style"]) not in seen_cs,
                    "concept+colour": (m["concept"], m["colour"]) not in seen_cc,
                    "colour+background": (m["colour"], m["background"]) not in seen_fb,
                }
                assert unseen[m["holdout"]], m
        assert not (
            seen_c & D.DEMO_CONCEPTS ^ ({m["concept"] for m in map(p.meta, range(len(p.entries)))} & D.DEMO_CONCEPTS)
        )
        unseen = D.ruler_items(p, "unseen_concept")
        combo = D.ruler_items(p, "seen_concept_unseen_combination")
        for x in unseen:
            assert x["concept"] not in seen_c and p.split_of[x["entry"]] == "test"
            unseen_found = True
        for x in combo:
            assert x["concept"] in seen_c and p.split_of[x["entry"]] == "test" and x["holdout"] != "concept"
        assert len({x["prompt"] for x in unseen + combo}) == len(unseen + combo)
    assert unseen_found, "no seed in 0..11 held out a whole concept: the invariant was not exercised"
    assert D.Pack(tiny, 0).split_of == D.Pack(tiny, 0).split_of
    with pytest.raises(ValueError):
        D.ruler_items(D.Pack(tiny, 0), "bogus")


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


def test_bad_pack_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError):
        D.Pack(str(tmp_path))
    (tmp_path / "index.json").write_text('{"format": "other"}')
    (tmp_path / "images.bin").write_bytes(b"")
    with pytest.raises(ValueError):
        D.Pack(str(tmp_path))
