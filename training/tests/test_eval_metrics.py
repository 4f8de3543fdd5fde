"""FID / KID against closed forms, and the colour rule on synthetic images (mmamba/metrics.py)."""

import math

import numpy as np
import torch
from mmamba import data as D
from mmamba import metrics as M


def test_frechet_distance_closed_form():
    d = 6
    mu1, mu2 = torch.zeros(d), torch.full((d,), 0.5)
    s1, s2 = torch.eye(d) * 4.0, torch.eye(d) * 1.0  # N(0, 2² I) vs N(0.5, 1² I)
    # ‖Δμ‖² + d (σ1 − σ2)² for isotropic Gaussians
    assert math.isclose(M.frechet_distance(mu1, s1, mu2, s2), d * 0.25 + d * (2 - 1) ** 2, rel_tol=1e-9)
    # diagonal covariances: Σ (√a_i − √b_i)²
    a, b = torch.tensor([1.0, 4.0, 9.0]), torch.tensor([4.0, 4.0, 1.0])
    assert math.isclose(
        M.frechet_distance(torch.zeros(3), torch.diag(a), torch.zeros(3), torch.diag(b)), 1.0 + 0.0 + 4.0, rel_tol=1e-9
    )
    # a full covariance against itself: 0 (the matrix square root is exact to rounding)
    r = torch.randn(d, d, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    s = r @ r.t() + torch.eye(d, dtype=torch.float64)
    assert abs(M.frechet_distance(mu1, s, mu1, s)) < 1e-8


def test_fid_of_samples():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4000, 8, generator=g)
    assert abs(M.fid(x, x)) < 1e-8  # identical sets
    y = torch.randn(4000, 8, generator=g) + torch.tensor([1.0] + [0.0] * 7)
    assert abs(M.fid(x, y) - 1.0) < 0.1  # shifted by a unit vector: ≈ 1 (+ O(d/N))


def test_kid_unbiased_near_zero_and_detects_shift():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(600, 8, generator=g), torch.randn(600, 8, generator=g)
    same = M.kid(x, y, subsets=5, subset_size=300)
    shifted = M.kid(x, y + 1.0, subsets=5, subset_size=300)
    assert abs(same) < 0.02 and shifted > 10 * abs(same) + 0.05


def _canvas(bg):
    img = np.empty((128, 128, 3), np.uint8)
    img[:] = D.PALETTE[bg]
    return img


def test_colour_rule_on_synthetic_images():
    yy, xx = np.mgrid[0:128, 0:128]
    disc = (xx - 64) ** 2 + (yy - 64) ** 2 < 40**2
    img = _canvas("white")
    img[disc] = D.PALETTE["red"]
    img[disc & (np.abs(xx - 64) > 36)] = (20, 20, 20)  # a thin dark outline stays a minority
    assert M.image_colours(img) == ("red", "white")
    img = _canvas("blue")
    img[30:80, 20:70] = D.PALETTE["yellow"]
    assert M.image_colours(img) == ("yellow", "blue")
    assert M.image_colours(_canvas("green")) == ("", "green")  # no art found
    fg, bg = M.colour_matches(np.stack([img, img]), ["yellow", "red"], ["blue", None])
    assert fg == [True, False] and bg == [True, None]


def test_colour_rule_matches_scene_labels(tmp_path):
    pack = D.load_pack(D.make_tiny_dataset(str(tmp_path / "pack")))
    scenes = [ei for ei, e in enumerate(pack.entries) if pack.bases[e.base]["kind"] == "icon"]
    for ei in scenes[:12]:
        m = pack.meta(ei)
        assert M.image_colours(pack.image(ei)) == (m["colour"], m["background"]), m
