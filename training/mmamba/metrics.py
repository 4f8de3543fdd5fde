"""Image-set metrics for the evaluation suite (docs/evaluation.md): Fréchet distance and KID between feature
sets, and the deterministic colour rule that checks the colour words of a prompt.

FID (Heusel et al. 2017): ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2(Σ₁^½ Σ₂ Σ₁^½)^½), computed in float64 with symmetric
eigendecompositions (Σ₁^½ Σ₂ Σ₁^½ is symmetric PSD, so its square root's trace is Σ √λ, λ clamped at 0).
KID (Bińkowski et al. 2018): unbiased MMD² with the cubic polynomial kernel k(x, y) = (x·y/d + 1)³, averaged
over random subsets; unlike FID it is unbiased in the sample count, so small sets compare fairly.

Colour rule (a pure function of the pixels, no learned part): the background is the most frequent colour name
(data.colour_index) of the 2-pixel border; the art is every pixel farther than ART_DISTANCE (RGB, 0..255) from
the border's median colour; the art's colour is data.dominant_colours of those pixels, the function that named
the dataset's colours. Its agreement with the labels on real test images is reported as the rule's ceiling.
"""

from __future__ import annotations

import numpy as np
import torch

from . import data as D

ART_DISTANCE = 60.0
BORDER = 2


# ------------------------------------------------------------------------------------------ FID / KID
def feature_stats(feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, C) -> (mean (C,), covariance (C, C)) in float64 (unbiased, N - 1)."""
    f = feats.double()
    mu = f.mean(0)
    x = f - mu
    return mu, x.t() @ x / max(f.shape[0] - 1, 1)


def _sqrt_psd(m: torch.Tensor) -> torch.Tensor:
    w, v = torch.linalg.eigh(m)
    return (v * w.clamp_min(0).sqrt()) @ v.t()


def frechet_distance(mu1: torch.Tensor, s1: torch.Tensor, mu2: torch.Tensor, s2: torch.Tensor) -> float:
    mu1, s1, mu2, s2 = (t.double().cpu() for t in (mu1, s1, mu2, s2))
    r1 = _sqrt_psd(s1)
    m = r1 @ s2 @ r1
    tr_sqrt = torch.linalg.eigvalsh(0.5 * (m + m.t())).clamp_min(0).sqrt().sum()
    return float((mu1 - mu2).pow(2).sum() + torch.trace(s1) + torch.trace(s2) - 2 * tr_sqrt)


def fid(feats_a: torch.Tensor, feats_b: torch.Tensor) -> float:
    return frechet_distance(*feature_stats(feats_a), *feature_stats(feats_b))


def kid(
    feats_a: torch.Tensor, feats_b: torch.Tensor, subsets: int = 20, subset_size: int = 1000, seed: int = 0
) -> float:
    """Mean unbiased MMD² over `subsets` random subsets of min(subset_size, |a|, |b|) items of each set."""
    a, b = feats_a.double().cpu(), feats_b.double().cpu()
    d = a.shape[1]
    n = min(subset_size, a.shape[0], b.shape[0])
    if n < 2:
        return float("nan")
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(subsets):
        x = a[torch.randperm(a.shape[0], generator=g)[:n]]
        y = b[torch.randperm(b.shape[0], generator=g)[:n]]
        kxx, kyy, kxy = ((x @ x.t() / d + 1) ** 3, (y @ y.t() / d + 1) ** 3, (x @ y.t() / d + 1) ** 3)
        off = 1.0 - torch.eye(n, dtype=torch.float64)
        out.append(float((kxx * off).sum() / (n * (n - 1)) + (kyy * off).sum() / (n * (n - 1)) - 2 * kxy.mean()))
    return float(np.mean(out))


# ------------------------------------------------------------------------------------------ colours
def image_colours(rgb: np.ndarray) -> tuple[str, str]:
    """(art colour name or "" if no art was found, background colour name) of one (H, W, 3) uint8 image."""
    border = np.concatenate(
        [
            rgb[:BORDER].reshape(-1, 3),
            rgb[-BORDER:].reshape(-1, 3),
            rgb[:, :BORDER].reshape(-1, 3),
            rgb[:, -BORDER:].reshape(-1, 3),
        ]
    )
    h, s, v = D.rgb_to_hsv(border)
    counts = np.bincount(D.colour_index(h, s, v), minlength=len(D.COLOUR_NAMES))
    bg = D.COLOUR_NAMES[int(np.argmax(counts))]
    ref = np.median(border.astype(np.float32), axis=0)
    art = np.sqrt(((rgb.astype(np.float32) - ref) ** 2).sum(-1)) > ART_DISTANCE  # (H, W)
    if int(art.sum()) == 0:
        return "", bg
    fg, _, _ = D.dominant_colours(rgb, art)
    return fg, bg


def colour_matches(images: np.ndarray, colours: list[str], backgrounds: list[str | None]):
    """Per image: (art colour == colours[i], background == backgrounds[i] or None when the prompt names no
    background). images (N, H, W, 3) uint8."""
    fg_ok, bg_ok = [], []
    for img, c, bgname in zip(images, colours, backgrounds):
        fg, bg = image_colours(np.asarray(img))
        fg_ok.append(fg == c)
        bg_ok.append(None if not bgname else bg == bgname)
    return fg_ok, bg_ok
