"""Tests of the real dataset builder (training/data/build_dataset.mjs + pack.py) on a small sample of the
npm art packages: determinism (two builds give identical bytes), counts, concept normalisation (plural,
hyphen, style suffix, brand / UI exclusion). Skipped when node or the npm packages are missing."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from mmamba import data as D

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILDER = os.path.join(REPO, "training", "data", "build_dataset.mjs")
pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not os.path.isdir(os.path.join(REPO, "node_modules", "@iconify-json", "mdi")),
    reason="node or npm art packages missing",
)
SAMPLE = "apple,rocket,pizza"  # demo concepts with emoji and icon drawings


def build(out) -> subprocess.CompletedProcess:
    r = subprocess.run(
        ["node", BUILDER, "--small", "--concepts", SAMPLE, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PYTHON": sys.executable},
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return r


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory):
    a, b = tmp_path_factory.mktemp("pack_a"), tmp_path_factory.mktemp("pack_b")
    return (a, build(a)), (b, build(b))


def test_builder_deterministic(two_builds):
    (a, _), (b, _) = two_builds
    for f in ("index.json", "images.bin"):
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    assert not (a / ".stage").exists()


def test_builder_counts_and_content(two_builds):
    (a, r), _ = two_builds
    p = D.Pack(str(a), seed=0)
    concepts = {b["concept"] for b in p.bases}
    assert concepts == set(SAMPLE.split(","))
    per = {c: sum(b["concept"] == c for b in p.bases) for c in concepts}
    assert min(per.values()) >= 10, per  # each is drawn by many sets
    sets = {b["set"] for b in p.bases}
    assert {"noto", "twemoji", "openmoji", "fluent-emoji-flat", "tabler", "mdi"} <= sets, sets
    kinds = {b["kind"] for b in p.bases}
    assert kinds == {"emoji", "icon"}
    # the printed counts agree with the pack
    assert f"drawings {len(p.bases)}, concepts {len(concepts)}" in r.stdout, r.stdout
    assert "pack size" in r.stdout and "per set:" in r.stdout and "PSNR mean" in r.stdout
    # at most MAX_PER_SET_CONCEPT (3) drawings of one concept per set; no exact duplicates
    from collections import Counter

    assert max(Counter((b["set"], b["concept"]) for b in p.bases).values()) <= 3
    idx = json.loads((a / "index.json").read_text())
    assert idx["version"] == 2 and idx["storage"]["colour_psnr_mean"] >= 38.0
    # the demo prompt: a red apple in training; every caption of a train item is true of its colour
    assert any(p.meta(i)["concept"] == "apple" and p.meta(i)["colour"] == "red" for i in p.splits["train"])
    for s, src in idx["sources"].items():
        assert src["license"] and src["author"], s


def normalise(*pairs):
    args = [x for pr in pairs for x in pr]
    r = subprocess.run(["node", BUILDER, "--normalise", *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return {(x["set"], x["name"]): x for x in json.loads(r.stdout)}


def test_concept_normalisation():
    n = normalise(
        ("mdi", "heart-outline"),
        ("ph", "heart-fill"),
        ("ph", "heart-bold"),
        ("game-icons", "berries"),
        ("lucide", "boxes"),
        ("mdi", "cats"),
        ("tabler", "ice-cream"),
        ("tabler", "ice_cream"),
        ("material-symbols", "home-rounded"),
        ("fluent", "heart-24-regular"),
        ("solar", "home-2-linear"),
        ("mdi", "red-apple"),
        ("game-icons", "glasses"),
        ("lucide", "bus"),
    )
    key = {k: v["key"] for k, v in n.items()}
    # style suffixes -> the same concept, with the style they mean; near-duplicate weights left out
    assert key[("mdi", "heart-outline")] == key[("ph", "heart-fill")] == key[("fluent", "heart-24-regular")] == "heart"
    assert n[("mdi", "heart-outline")]["style"] == "outline icon" and n[("ph", "heart-fill")]["style"] == "filled icon"
    assert (
        n[("ph", "heart-bold")]["reason"] == "variant"
        and n[("material-symbols", "home-rounded")]["reason"] == "variant"
    )
    # plural -> singular; words that only look plural stay
    assert (key[("game-icons", "berries")], key[("lucide", "boxes")], key[("mdi", "cats")]) == ("berry", "box", "cat")
    assert (key[("game-icons", "glasses")], key[("lucide", "bus")]) == ("glasses", "bus")
    # hyphens / underscores -> spaces; trailing variant numbers and colour words removed
    assert key[("tabler", "ice-cream")] == key[("tabler", "ice_cream")] == "ice cream"
    assert key[("solar", "home-2-linear")] == "home" and key[("mdi", "red-apple")] == "apple"
    assert all(v["reason"] == "" for k, v in n.items() if k[1] not in ("heart-bold", "home-rounded"))


def test_brand_and_ui_exclusion():
    n = normalise(
        ("tabler", "brand-github"),
        ("lucide", "github"),
        ("ph", "apple-logo"),
        ("mdi", "facebook"),
        ("ri", "twitter-x-line"),
        ("tabler", "apple"),
        ("tabler", "arrow-left"),
        ("tabler", "bell-off"),
        ("mdi", "format-bold"),
        ("tabler", "letter-a"),
    )
    for name in ("brand-github", "github", "apple-logo", "facebook", "twitter-x-line"):
        assert next(v for k, v in n.items() if k[1] == name)["reason"] == "brand", name
    for name in ("arrow-left", "bell-off", "format-bold"):
        assert next(v for k, v in n.items() if k[1] == name)["reason"] == "ui", name
    assert n[("tabler", "letter-a")]["reason"] in ("ui", "shape")
    assert n[("tabler", "apple")]["reason"] == ""  # the fruit is not the brand
