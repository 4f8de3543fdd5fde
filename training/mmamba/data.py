"""Text-to-image dataset: loads the pack built by `npm run data` (data/packed/{index.json,images.bin}),
derives recolour variants and icon scenes deterministically, captions them truthfully in the forms people
type, and splits them train/val/test so that val/test name concepts and attribute combinations never seen
in training. Also the evaluation ("fixed ruler") item lists: seen concept in an unseen combination, unseen
concept, and the paraphrase prompts.

Pack contents (written by `write_pack`, used by training/data/pack.py and `make_tiny_dataset`):
  images.bin  concatenated lossless WebP blobs: colour art = 128x128 RGB on white, reduced to the fewest of
              COLOUR_LEVELS palette colours that keep COLOUR_MIN_PSNR dB (the stored pixels are the truth:
              colour names are measured on them); monochrome art = 56x56 L masks with MASK_LEVELS grey levels
  index.json  {"format": "mmamba-data", "version": 2, "imageSize", "iconSize", "hueShifts", "sources",
               "storage", "sets": [{set, kind, emoji}], "styles": [str], "concepts": [{name, synonyms,
               keywords, group}], "bases": [[set, style, concept, name, label, length, variants], ...]}
              (set/style/concept are indices; label "" = the concept name; offsets are cumulative lengths;
              variants: 2 letters per hue shift, colour and secondary colour as COLOUR_LETTERS, "-" = none)
  Pack.bases expands each base to a dict {kind, set, style, name, label, concept, synonyms, keywords, group,
  emoji, offset, length, variants: [[hue_shift_deg, colour, colour2], ...]}. kind "emoji" = colour art
  (any colour set), kind "icon" = monochrome mask; `emoji` = the drawing comes from an emoji set.
Derived images ("entries"):
  emoji  (base, k): hue_rotate(base image, variants[k][0]); captions use the precomputed colour names,
                    which were measured on the rotated stored pixels by the same functions as below.
  icon   (base, k), k < SCENE_VARIANTS: the mask drawn in a named colour at a named position on a named
                    background colour; (fg, bg, position) come from a hash of (icon name, style, k).
Determinism: no global RNG; every choice is `_u32`-hashed from (seed, ...). Pixels depend only on the pack.
Only numpy, Pillow (and torch for the Dataset wrapper) are used.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

IMAGE_SIZE = 128
ICON_SIZE = 56
HUE_SHIFTS = (0, 90, 180, 270)
SCENE_VARIANTS = 4
MIN_CHROMA_SHARE = 0.10  # an emoji gets hue variants only if this share of its art is chromatic
# Storage (chosen by measurement to fit the 24 MB pack budget; docs/training.md "Dataset v2"):
COLOUR_LEVELS = (16, 32, 64, 128, 256)  # palette sizes tried for colour art, fewest first
COLOUR_MIN_PSNR = 38.0  # dB against the render (composited on white); else the largest palette
MASK_LEVELS = 3  # grey levels kept in a monochrome mask (0, 128, 255): edges stay soft
CAPTION_VARIANTS = 8  # captions per item that encode_tokens.py stores: the canonical one + 7 variations
DEFAULT_ROOT = os.environ.get("MMAMBA_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "data", "packed"))

CHROMATIC = ("red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink", "brown")
ACHROMATIC = ("black", "gray", "white")
COLOUR_NAMES = CHROMATIC + ACHROMATIC
COLOUR_LETTERS = "abcdefghijkl"  # index.json code of COLOUR_NAMES[i]
# Canonical RGB of each name, used to paint icon scenes; colour_name() maps each back to its own name.
PALETTE = {
    "red": (220, 30, 30),
    "orange": (245, 140, 20),
    "yellow": (245, 215, 30),
    "green": (40, 170, 60),
    "cyan": (30, 190, 200),
    "blue": (30, 90, 220),
    "purple": (130, 50, 200),
    "pink": (240, 110, 180),
    "brown": (130, 80, 35),
    "black": (20, 20, 20),
    "gray": (128, 128, 128),
    "white": (255, 255, 255),
}
SCENE_FG = tuple(c for c in COLOUR_NAMES if c != "white")
SCENE_BG = COLOUR_NAMES
# 3x3 grid of icon positions: name -> (x, y) top-left offset of the 56 px icon in the 128 px canvas.
POSITIONS = {
    "top left": (6, 6),
    "top": (36, 6),
    "top right": (66, 6),
    "left": (6, 36),
    "center": (36, 36),
    "right": (66, 36),
    "bottom left": (6, 66),
    "bottom": (36, 66),
    "bottom right": (66, 66),
}
# Concepts always kept in training (the product demo and everyday prompts, e.g. "red apple"); they are
# also never in the paraphrase split, so their bare names are trained. build_dataset.mjs reads this literal
# and names a merged concept by one of these words when its drawings carry it ("house" over "home").
DEMO_CONCEPTS = frozenset(
    {
        "apple",
        "heart",
        "star",
        "sun",
        "house",
        "tree",
        "cat face",
        "dog face",
        "rocket",
        "pizza",
        "snowman",
        "coffee",
        "thumbs up",
        "car",
        "fish",
        "flower",
        "cake",
        "banana",
        "moon",
        "cloud",
        "bell",
        "dog",
        "cat",
        "bird",
        "book",
        "umbrella",
        "rainbow",
        "key",
        "gift",
        "bicycle",
    }
)
# Split rates: fraction of keys held out to (test, val).
CONCEPT_HOLDOUT = (0.06, 0.03)
STYLE_PAIR_HOLDOUT = (0.04, 0.02)
COLOUR_PAIR_HOLDOUT = (0.06, 0.03)
SCENE_COLOUR_HOLDOUT = (0.05, 0.03)
# Emoji groups whose concepts make readable test prompts (animals, food, travel, activities).
PROMPT_GROUPS = (3, 4, 5, 6)


# ---------------------------------------------------------------- hashing (counter-based, portable)
def _hash32(x: int) -> int:
    """lowbias32, as in docs/architecture.md (u32 wrap-around)."""
    x &= 0xFFFFFFFF
    x ^= x >> 16
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x846CA68B) & 0xFFFFFFFF
    x ^= x >> 16
    return x


def _u32(*parts) -> int:
    """Hash of a tuple of ints/strings; stable across runs and platforms (no Python hash())."""
    h = 0x9E3779B9
    for p in parts:
        if isinstance(p, str):
            p = int.from_bytes(hashlib.blake2s(p.encode(), digest_size=4).digest(), "little")
        h = _hash32(h ^ _hash32(int(p) & 0xFFFFFFFF))
    return h


def _unit(*parts) -> float:
    return (_u32(*parts) >> 8) / float(1 << 24)


# ---------------------------------------------------------------- colour maths
def rgb_to_hsv(rgb: np.ndarray):
    """uint8/float RGB [...,3] -> (h degrees [0,360), s [0,1], v [0,1]) float32 arrays."""
    c = rgb.astype(np.float32) / 255.0
    r, g, b = c[..., 0], c[..., 1], c[..., 2]
    mx, mn = c.max(-1), c.min(-1)
    d = mx - mn
    s = np.where(mx > 0, d / np.maximum(mx, 1e-8), 0.0)
    dd = np.maximum(d, 1e-8)
    h = np.where(mx == r, (g - b) / dd % 6.0, np.where(mx == g, (b - r) / dd + 2.0, (r - g) / dd + 4.0))
    h = np.where(d > 0, h * 60.0, 0.0) % 360.0
    return h.astype(np.float32), s.astype(np.float32), mx.astype(np.float32)


def hsv_to_rgb(h, s, v) -> np.ndarray:
    """Inverse of rgb_to_hsv; returns uint8 RGB (rounded)."""
    hp = (h % 360.0) / 60.0
    c = v * s
    x = c * (1 - np.abs(hp % 2 - 1))
    m = v - c
    z = np.zeros_like(c)
    i = np.floor(hp).astype(np.int32) % 6
    r = np.choose(i, [c, x, z, z, x, c])
    g = np.choose(i, [x, c, c, x, z, z])
    b = np.choose(i, [z, z, x, c, c, x])
    out = np.stack([r + m, g + m, b + m], -1)
    return np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)


def split_palette(rgb: np.ndarray):
    """(distinct colours (U, 3) uint8, index of each pixel's colour (H·W,)) of an RGB image."""
    rgb = np.asarray(rgb, np.uint8)
    key = (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) | rgb[..., 2]
    uniq, inverse = np.unique(key.ravel(), return_inverse=True)
    cols = np.stack([uniq >> 16, (uniq >> 8) & 0xFF, uniq & 0xFF], -1).astype(np.uint8)
    return cols, inverse.reshape(-1)


def rotate_colours(cols: np.ndarray, degrees: float) -> np.ndarray:
    """Hue rotation of RGB colours [..., 3]; greys (white background, black outlines) are left bit-exact.
    Elementwise, so rotating an image's distinct colours and mapping them back equals rotating each pixel."""
    h, s, v = rgb_to_hsv(cols)
    out = hsv_to_rgb(h + degrees, s, v)
    grey = (cols.max(-1) == cols.min(-1))[..., None]
    return np.where(grey, cols, out)


def hue_rotate(rgb: np.ndarray, degrees: float) -> np.ndarray:
    """Rotates hue by `degrees` (rotate_colours of every pixel), computed once per distinct colour (stored
    colour art has at most 256)."""
    if degrees % 360 == 0:
        return rgb
    cols, inverse = split_palette(rgb)
    return rotate_colours(cols, degrees)[inverse].reshape(np.shape(rgb))


def colour_index(h, s, v) -> np.ndarray:
    """Per-pixel index into COLOUR_NAMES from HSV (rules in degrees / unit scale)."""
    idx = np.full(h.shape, COLOUR_NAMES.index("gray"), np.int32)
    N = COLOUR_NAMES.index
    chrom = (v >= 0.2) & (s >= 0.2)
    hue = np.select(
        [(h < 20) | (h >= 345), h < 42, h < 70, h < 165, h < 195, h < 255, h < 290, h < 320],
        [N("red"), N("orange"), N("yellow"), N("green"), N("cyan"), N("blue"), N("purple"), N("purple")],
        N("pink"),
    )
    redish = hue == N("red")
    hue = np.where(redish & (v < 0.5), N("brown"), hue)
    hue = np.where(redish & (v >= 0.75) & (s < 0.5), N("pink"), hue)
    hue = np.where((hue == N("orange")) & (v < 0.65), N("brown"), hue)
    hue = np.where((hue == N("yellow")) & (v < 0.5), N("brown"), hue)
    hue = np.where((h >= 290) & (h < 320) & (v > 0.75) & (s < 0.6), N("pink"), hue)
    idx = np.where(chrom, hue, idx)
    idx = np.where(v < 0.2, N("black"), idx)
    idx = np.where((v >= 0.2) & (s < 0.2) & (v > 0.85), N("white"), idx)
    return idx


def colour_name(rgb) -> str:
    """Name of one RGB colour."""
    h, s, v = rgb_to_hsv(np.asarray(rgb, np.uint8).reshape(1, 3))
    return COLOUR_NAMES[int(colour_index(h, s, v)[0])]


def dominant_colours(rgb: np.ndarray, mask: np.ndarray, hue_shift: float = 0.0):
    """(dominant, secondary or "", chromatic share) of the pixels under `mask`, after a hue rotation.
    A chromatic colour wins if chromatic pixels are >= 25% of the art, else the top of black/gray/white."""
    h, s, v = rgb_to_hsv(rgb[mask])
    counts = np.bincount(colour_index((h + hue_shift) % 360.0, s, v), minlength=len(COLOUR_NAMES))
    total = max(int(counts.sum()), 1)
    nc = len(CHROMATIC)
    chroma = counts[:nc].sum() / total
    pool = counts[:nc] if chroma >= 0.25 else counts[nc:]
    dom = int(np.argmax(pool)) + (0 if chroma >= 0.25 else nc)
    rest = counts.copy()
    rest[dom] = 0
    sec = int(np.argmax(rest))
    secname = COLOUR_NAMES[sec] if rest[sec] / total >= 0.15 else ""
    return COLOUR_NAMES[dom], secname, float(chroma)


def _contrast_ok(a: str, b: str) -> bool:
    pa, pb = np.array(PALETTE[a], float), np.array(PALETTE[b], float)
    return a != b and float(np.sqrt(((pa - pb) ** 2).sum())) >= 140.0


# ---------------------------------------------------------------- pack writing (builder + tiny fallback)
def encode_webp(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "WEBP", lossless=True, quality=100, method=4)
    return buf.getvalue()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return 99.0 if mse == 0 else float(10.0 * np.log10(255.0**2 / mse))


def reduce_colours(rgb: np.ndarray) -> np.ndarray:
    """The stored form of colour art: median-cut (no dithering) to the fewest of COLOUR_LEVELS colours that
    keeps COLOUR_MIN_PSNR dB, else to the largest; unchanged once a level holds all its colours. Deterministic."""
    flat = rgb.reshape(-1, 3)
    n = len(np.unique(flat[:, 0].astype(np.uint32) << 16 | flat[:, 1].astype(np.uint32) << 8 | flat[:, 2]))
    im = Image.fromarray(rgb)
    for k in COLOUR_LEVELS:
        if n <= k:
            return rgb
        q = np.asarray(im.quantize(k, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).convert("RGB"))
        if psnr(q, rgb) >= COLOUR_MIN_PSNR or k == COLOUR_LEVELS[-1]:
            return q
    raise AssertionError("unreachable")


def reduce_mask(alpha: np.ndarray) -> np.ndarray:
    """The stored form of a monochrome mask: MASK_LEVELS evenly spaced grey levels (keeps anti-aliasing)."""
    step = 255.0 / (MASK_LEVELS - 1)
    return (np.round(alpha.astype(np.float32) / step) * step).round().astype(np.uint8)


def emoji_variants(rgba: np.ndarray, rgb: np.ndarray | None = None):
    """Recolour variants of colour art: [[hue_shift, colour, colour2], ...]. Variant 0 is the original;
    hue-rotated ones exist only if enough of the art is chromatic (so they are distinct). The art is the
    alpha >= 128 part of the RGBA render; names are measured on `rgb` (the stored pixels; default the render)."""
    mask = rgba[..., 3] >= 128
    if mask.sum() == 0:
        return []
    rgb = rgba[..., :3] if rgb is None else rgb
    out = []
    for shift in HUE_SHIFTS:
        dom, sec, chroma = dominant_colours(rgb, mask, shift)
        if shift and chroma < MIN_CHROMA_SHARE:
            break
        out.append([shift, dom, sec])
    return out


def composite_white(rgba: np.ndarray) -> np.ndarray:
    a = rgba[..., 3:4].astype(np.float32) / 255.0
    return np.clip(np.round(rgba[..., :3] * a + 255.0 * (1 - a)), 0, 255).astype(np.uint8)


def _encode_variants(variants) -> str:
    n = COLOUR_NAMES.index
    return "".join(COLOUR_LETTERS[n(c1)] + (COLOUR_LETTERS[n(c2)] if c2 else "-") for _, c1, c2 in variants)


def _decode_variants(code: str, shifts) -> list:
    out = []
    for i in range(0, len(code), 2):
        c2 = code[i + 1]
        out.append(
            [
                int(shifts[i // 2]),
                COLOUR_NAMES[COLOUR_LETTERS.index(code[i])],
                "" if c2 == "-" else COLOUR_NAMES[COLOUR_LETTERS.index(c2)],
            ]
        )
    return out


def store_item(it: dict):
    """(stored pixels, WebP blob, variants, storage PSNR or None) of one builder item (see write_pack), or
    None when the drawing is blank. Pure function of the item (pack.py runs it in worker processes)."""
    px = it["pixels"]
    if it["kind"] == "emoji":
        variants_mask = px[..., 3] >= 128
        if not variants_mask.any():
            return None
        flat = composite_white(px)
        stored = reduce_colours(flat)
        variants = emoji_variants(px, stored)
        return stored, encode_webp(stored), variants, psnr(stored, flat)
    stored = reduce_mask(px)
    if int(stored.max()) < 128:
        return None
    return stored, encode_webp(stored), [], None


def write_pack(
    items,
    out_dir: str,
    sources: dict | None = None,
    concepts: list | None = None,
    log=print,
    stored: list | None = None,
) -> dict:
    """Writes index.json + images.bin (format above). `items`: dicts with kind ("emoji" colour art |
    "icon" mask), set, style, name, optional label and emoji (bool), concept (index into `concepts`, or a
    concept name when `concepts` is None: then keywords/group come from the item) and pixels (emoji: RGBA
    uint8 128x128x4; icon: alpha uint8 56x56). `stored`: store_item(it) per item if already computed.
    Blank drawings and exact duplicates (same stored pixels, any set) are dropped."""
    os.makedirs(out_dir, exist_ok=True)
    if concepts is None:
        concepts, cidx = [], {}
        for it in items:
            if it["concept"] not in cidx:
                cidx[it["concept"]] = len(concepts)
                concepts.append(
                    {
                        "name": it["concept"],
                        "synonyms": list(it.get("synonyms", [])),
                        "keywords": list(it.get("keywords", [])),
                        "group": int(it.get("group", -1)),
                    }
                )
        items = [dict(it, concept=cidx[it["concept"]]) for it in items]
    sets, set_idx, styles, style_idx = [], {}, [], {}
    bases, blobs, seen, psnrs, dropped = [], [], set(), [], {"blank": 0, "duplicate": 0}
    size = {"emoji": 0, "icon": 0}
    for i, it in enumerate(items):
        r = stored[i] if stored is not None else store_item(it)
        if r is None:
            dropped["blank"] += 1
            continue
        px, blob, variants, p = r
        key = hashlib.sha1(it["kind"].encode() + px.tobytes()).hexdigest()
        if key in seen:
            dropped["duplicate"] += 1
            continue
        seen.add(key)
        if p is not None:
            psnrs.append(p)
        if it["set"] not in set_idx:
            set_idx[it["set"]] = len(sets)
            sets.append({"set": it["set"], "kind": it["kind"], "emoji": bool(it.get("emoji", it["kind"] == "emoji"))})
        if it["style"] not in style_idx:
            style_idx[it["style"]] = len(styles)
            styles.append(it["style"])
        label = it.get("label", "") or ""
        if label == concepts[it["concept"]]["name"]:
            label = ""
        bases.append(
            [
                set_idx[it["set"]],
                style_idx[it["style"]],
                int(it["concept"]),
                it["name"],
                label,
                len(blob),
                _encode_variants(variants),
            ]
        )
        blobs.append(blob)
        size[it["kind"]] += len(blob)
    used = sorted({b[2] for b in bases})
    remap = {c: i for i, c in enumerate(used)}
    for b in bases:
        b[2] = remap[b[2]]
    storage = {
        "colour": f"lossless WebP, palette of the fewest of {list(COLOUR_LEVELS)} colours with >= "
        f"{COLOUR_MIN_PSNR:g} dB",
        "mask": f"lossless WebP, {MASK_LEVELS} grey levels",
        "colour_psnr_mean": round(float(np.mean(psnrs)), 3) if psnrs else None,
        "colour_psnr_p10": round(float(np.percentile(psnrs, 10)), 3) if psnrs else None,
        "colour_psnr_min": round(float(np.min(psnrs)), 3) if psnrs else None,
        "colour_bytes": size["emoji"],
        "mask_bytes": size["icon"],
        "dropped": dropped,
    }
    index = {
        "format": "mmamba-data",
        "version": 2,
        "imageSize": IMAGE_SIZE,
        "iconSize": ICON_SIZE,
        "hueShifts": list(HUE_SHIFTS),
        "sources": sources or {},
        "storage": storage,
        "sets": sets,
        "styles": styles,
        "concepts": [concepts[c] for c in used],
        "bases": bases,
    }
    with open(os.path.join(out_dir, "images.bin"), "wb") as f:
        for b in blobs:
            f.write(b)
    with open(os.path.join(out_dir, "index.json"), "w") as f:
        json.dump(index, f, separators=(",", ":"))
    log(
        f"[data] packed {len(bases)} base images ({dropped['duplicate']} duplicates, {dropped['blank']} blank "
        f"dropped), {sum(size.values()) / 1e6:.2f} MB of WebP -> {out_dir}"
    )
    return index


def make_tiny_dataset(out_dir: str) -> str:
    """Synthetic stand-in pack (no node needed): disc/square 'emoji' in 3 styles and a few icon masks.
    Same format as the real pack; used by the tests. Returns out_dir."""
    yy, xx = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE]
    iy, ix = np.mgrid[0:ICON_SIZE, 0:ICON_SIZE]
    shapes = {
        "apple": (xx - 64) ** 2 + (yy - 68) ** 2 < 44**2,
        "box": (abs(xx - 64) < 40) & (abs(yy - 64) < 40),
        "bar": (abs(xx - 64) < 50) & (abs(yy - 64) < 14),
        "ring": abs(np.sqrt((xx - 64) ** 2 + (yy - 64) ** 2) - 36) < 8,
        "kite": abs(xx - 64) + abs(yy - 64) < 48,
        "cross": ((abs(xx - 64) < 10) | (abs(yy - 64) < 10)) & (abs(xx - 64) < 48) & (abs(yy - 64) < 48),
    }
    synonyms = {"apple": ["pomme"], "box": ["crate", "carton"], "kite": ["diamond kite"], "ring": ["hoop"]}
    colours = {"tiny noto": (220, 30, 30), "tiny flat": (40, 170, 60), "tiny line": (30, 90, 220)}
    items = []
    for style, col in colours.items():
        for concept, m in shapes.items():
            rgba = np.zeros((IMAGE_SIZE, IMAGE_SIZE, 4), np.uint8)
            rgba[m] = (*col, 255)
            edge = m & ~np.roll(m, 3, 0)
            rgba[edge] = (20, 20, 20, 255)
            items.append(
                dict(
                    kind="emoji",
                    set=style,
                    style=style,
                    name=concept,
                    label=concept,
                    emoji=True,
                    concept=concept,
                    keywords=["shape", concept[:2] + "x"],
                    synonyms=synonyms.get(concept, []),
                    pixels=rgba,
                )
            )
    icon_shapes = {
        "apple": (ix - 28) ** 2 + (iy - 28) ** 2 < 22**2,
        "box": (abs(ix - 28) < 20) & (abs(iy - 28) < 20) & ~((abs(ix - 28) < 14) & (abs(iy - 28) < 14)),
        "star": abs(ix - 28) + abs(iy - 28) < 24,
        "bar": (abs(ix - 28) < 24) & (abs(iy - 28) < 7),
    }
    for concept, m in icon_shapes.items():
        items.append(
            dict(
                kind="icon",
                set="tiny-icons",
                style="outline icon",
                name=concept,
                label="shiny star" if concept == "star" else concept,
                emoji=False,
                concept=concept,
                keywords=[],
                pixels=(m * 255).astype(np.uint8),
            )
        )
    write_pack(items, out_dir, {"tiny": {"package": "synthetic", "license": "CC0-1.0"}}, log=lambda *_: None)
    return out_dir


# ---------------------------------------------------------------- loading, entries, splits, captions
@dataclass(frozen=True)
class Entry:
    base: int  # index into bases
    variant: int  # emoji: index into base variants; icon: scene number < SCENE_VARIANTS
    colour: str  # dominant (emoji) or icon colour (scene)
    colour2: str  # secondary colour or ""
    hue: int  # hue shift in degrees (emoji), 0 for scenes
    bg: str  # scene background colour name ("white" for emoji)
    position: str  # scene position name ("" for emoji)


def _scene_params(name: str, style: str, n: int):
    """n distinct (fg, bg, position) triples for one icon, from a hash of its name (content salt, not split seed)."""
    out, seen, attempt = [], set(), 0
    pos_names = list(POSITIONS)
    while len(out) < n:
        u = _u32("scene", style, name, attempt)
        attempt += 1
        fg = SCENE_FG[u % len(SCENE_FG)]
        u2 = _hash32(u)
        bg = "white" if u2 % 3 == 0 else SCENE_BG[(u2 >> 2) % len(SCENE_BG)]
        pos = pos_names[(u2 >> 8) % len(pos_names)]
        t = (fg, bg, pos)
        if t in seen or not _contrast_ok(fg, bg):
            continue
        seen.add(t)
        out.append(t)
    return out


# ---------------------------------------------------------------- caption forms (one home for wording)
# Variation forms of Pack.caption with their weights. Every form is optional; "bare" is the concept alone.
CAPTION_FORMS = (
    "bare",
    "article",
    "colour_before",
    "colour_after",
    "style",
    "kind",
    "icon_of",
    "drawing_of",
    "keywords",
    "scene",
    "canonical",
)
CAPTION_FORM_WEIGHTS = (10, 10, 15, 7, 9, 7, 5, 4, 7, 10, 16)
# Forms of the paraphrase split (user wordings); "colour_after" and "style" there carry no other fact.
PARAPHRASE_FORMS = ("bare", "article", "synonym", "kind", "icon_of", "style", "colour_after", "drawing_of")
_PLURAL_OK = ("ss", "us", "is", "ous")


def with_article(phrase: str) -> str:
    """ "a rocket", "an apple"; a phrase whose last word looks plural ("thumbs up" excepted: first word)
    takes none ("sparkles", "glasses")."""
    words = phrase.split()
    if any(w.endswith("s") and not w.endswith(_PLURAL_OK) and len(w) > 3 for w in words[-1:] + words[:1]):
        return phrase
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def caption_form(form: str, f: dict, name: str, u: int = 0) -> str:
    """One caption of `form` for the facts `f` (Pack.facts) that names the drawing `name` (its concept, a
    synonym or its own label); `u` picks sub-variants. States only facts of f: its colour, style, whether
    it is an emoji or an icon, and for scenes the position and background."""
    colour, style, emoji, scene = f["colour"], f["style"], f["emoji"], f["kind"] == "icon"
    noun = "emoji" if emoji else "icon"
    cname = f"{colour} {name}" if (u >> 3) & 1 else name
    if form == "bare":
        return name
    if form == "article":
        return with_article(name)
    if form == "colour_before":
        return with_article(f"{colour} {name}") if u & 1 else f"{colour} {name}"
    if form == "colour_after":
        return f"{name}, {colour}" if u & 1 or not scene else f"{name}, {colour}, on {f['background']}"
    if form == "style":
        return f"{cname}, {style}"
    if form == "kind":
        return f"{cname} {noun}"
    if form == "icon_of":
        return f"an {noun} of {with_article(cname)}"
    if form == "drawing_of":
        return f"a drawing of {with_article(cname)}"
    if form == "keywords":
        kws = f["keywords"]
        k = 1 + (u >> 1) % 2
        start = (u >> 4) % max(len(kws), 1)
        return ", ".join([f"{colour} {name}"] + [kws[(start + i) % len(kws)] for i in range(min(k, len(kws)))])
    if form == "scene":
        if not scene:
            return f"{with_article(cname)} on a white background" if u & 1 else f"{colour} {name}, {style}"
        pos = f["position"]
        where = "in the center" if pos == "center" else f"at the {pos}"
        return (
            f"{with_article(f'{colour} {name}')} on a {f['background']} background"
            if u & 1
            else f"{colour} {name} {where}, {f['background']} background"
            if (u >> 1) & 1
            else f"{colour} {name}, {style}, {pos}, {f['background']} background"
        )
    raise ValueError(f"unknown caption form {form!r}")


def _pick(u: int, weights) -> int:
    """Index chosen by u (uniform in [0, 65536)) with integer weights."""
    x = (u * sum(weights)) >> 16
    for i, w in enumerate(weights):
        if x < w:
            return i
        x -= w
    return len(weights) - 1


def _expand_bases(index: dict) -> list[dict]:
    """index.json bases (version 1: dicts; version 2: compact rows) as dicts with the fields of the header."""
    if index.get("version", 1) == 1:
        return [dict(b, synonyms=b.get("synonyms", []), emoji=b["kind"] == "emoji") for b in index["bases"]]
    sets, styles, concepts = index["sets"], index["styles"], index["concepts"]
    shifts = index.get("hueShifts", HUE_SHIFTS)
    out, offset = [], 0
    for si, st, ci, name, label, length, code in index["bases"]:
        s, c = sets[si], concepts[ci]
        out.append(
            {
                "kind": s["kind"],
                "set": s["set"],
                "emoji": bool(s["emoji"]),
                "style": styles[st],
                "name": name,
                "label": label or c["name"],
                "concept": c["name"],
                "synonyms": c.get("synonyms", []),
                "keywords": c.get("keywords", []),
                "group": int(c.get("group", -1)),
                "offset": offset,
                "length": int(length),
                "variants": _decode_variants(code, shifts),
            }
        )
        offset += int(length)
    return out


class Pack:
    """The packed data: base images, all derived entries and the seed-dependent split."""

    def __init__(self, root: str | None = None, seed: int = 0):
        self.root = os.path.abspath(root or DEFAULT_ROOT)
        self.seed = int(seed)
        idx_path = os.path.join(self.root, "index.json")
        if not os.path.exists(idx_path):
            raise FileNotFoundError(f"{idx_path} missing: run `npm run data` (or make_tiny_dataset for tests)")
        with open(idx_path) as f:
            self.index = json.load(f)
        if self.index.get("format") != "mmamba-data" or self.index.get("version") not in (1, 2):
            raise ValueError(f"{idx_path}: not an mmamba-data pack of version 1 or 2")
        with open(os.path.join(self.root, "images.bin"), "rb") as f:
            self.blob = f.read()
        self.bases = _expand_bases(self.index)
        if self.bases and self.bases[-1]["offset"] + self.bases[-1]["length"] > len(self.blob):
            raise ValueError(f"{self.root}: images.bin is shorter than index.json says")
        # A synonym that is another concept's name would make a caption name the wrong concept: dropped.
        names = {b["concept"] for b in self.bases}
        self._synonyms = {}
        for b in self.bases:
            if b["concept"] not in self._synonyms:
                self._synonyms[b["concept"]] = [s for s in b["synonyms"] if s not in names]
        self._decode = lru_cache(maxsize=2048)(self._decode_uncached)
        self._palette = lru_cache(maxsize=256)(lambda bi: split_palette(self._decode(bi)))
        self._levels: dict = {}
        self.entries: list[Entry] = []
        for bi, b in enumerate(self.bases):
            if b["kind"] == "emoji":
                for vi, (shift, c1, c2) in enumerate(b["variants"]):
                    self.entries.append(Entry(bi, vi, c1, c2, int(shift), "white", ""))
            else:
                for vi, (fg, bg, pos) in enumerate(_scene_params(b["name"], b["style"], SCENE_VARIANTS)):
                    self.entries.append(Entry(bi, vi, fg, "", 0, bg, pos))
        self._assign_splits()
        self._paraphrase = None
        self._paraphrase_set = None

    # -- splits
    def _natural_colours(self):
        nat: dict[str, set] = {}
        for b in self.bases:
            if b["kind"] == "emoji" and b["variants"]:
                nat.setdefault(b["concept"], set()).add(b["variants"][0][1])
        return nat

    def _level(self, rates, *key) -> str:
        if key not in self._levels:
            u = _unit(self.seed, *key)
            self._levels[key] = "test" if u < rates[0] else "val" if u < rates[0] + rates[1] else "train"
        return self._levels[key]

    def _assign_splits(self):
        """Each entry's split is the strictest of its keys (test > val > train). Keys: the concept;
        the (concept, style) pair; the (concept, colour) pair unless the colour is one of the concept's
        natural colours (so "red apple" stays trainable); for scenes the (fg, bg) colour pair. Any key in
        test/val never occurs in train, so their prompts name unseen concepts or unseen combinations."""
        nat = self._natural_colours()
        order = {"train": 0, "val": 1, "test": 2}
        self.split_of: list[str] = []
        self.reason_of: list[str] = []
        for e in self.entries:
            b = self.bases[e.base]
            c = b["concept"]
            demo = c in DEMO_CONCEPTS
            keys = [
                ("concept", "train" if demo else self._level(CONCEPT_HOLDOUT, "concept", c)),
                ("concept+style", "train" if demo else self._level(STYLE_PAIR_HOLDOUT, "style", c, b["style"])),
                (
                    "concept+colour",
                    "train" if e.colour in nat.get(c, ()) else self._level(COLOUR_PAIR_HOLDOUT, "colour", c, e.colour),
                ),
            ]
            if b["kind"] == "icon":
                keys.append(("colour+background", self._level(SCENE_COLOUR_HOLDOUT, "fgbg", e.colour, e.bg)))
            split, reason = "train", ""
            for name, s in keys:
                if order[s] > order[split]:
                    split, reason = s, name
            self.split_of.append(split)
            self.reason_of.append(reason)
        self.splits = {s: [i for i, x in enumerate(self.split_of) if x == s] for s in ("train", "val", "test")}

    # -- pixels
    def _decode_uncached(self, bi: int) -> np.ndarray:
        b = self.bases[bi]
        im = Image.open(io.BytesIO(self.blob[b["offset"] : b["offset"] + b["length"]]))
        return np.asarray(im.convert("RGB" if b["kind"] == "emoji" else "L"))

    def image(self, ei: int) -> np.ndarray:
        """uint8 HWC 128x128x3 of entry `ei` (pure function of the pack)."""
        e = self.entries[ei]
        px = self._decode(e.base)
        if self.bases[e.base]["kind"] == "emoji":
            if e.hue % 360 == 0:
                return px.copy()
            cols, inverse = self._palette(e.base)  # shared by the base's hue variants
            return rotate_colours(cols, e.hue)[inverse].reshape(px.shape)
        # background colour everywhere; only the icon's square is blended (f32, rounded to nearest)
        canvas = np.empty((IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
        canvas[:] = PALETTE[e.bg]
        x, y = POSITIONS[e.position]
        a = px.astype(np.float32)[..., None] / 255.0
        bg = np.asarray(PALETTE[e.bg], np.float32)
        blend = bg * (1 - a) + np.asarray(PALETTE[e.colour], np.float32) * a
        canvas[y : y + px.shape[0], x : x + px.shape[1]] = np.round(blend).astype(np.uint8)
        return canvas

    # -- captions
    def meta(self, ei: int) -> dict:
        e, b = self.entries[ei], self.bases[self.entries[ei].base]
        return {
            "concept": b["concept"],
            "style": b["style"],
            "set": b["set"],
            "kind": b["kind"],
            "colour": e.colour,
            "colour2": e.colour2,
            "background": e.bg,
            "position": e.position,
            "hue": e.hue,
            "name": b["name"],
            "label": b["label"],
            "split": self.split_of[ei],
            "holdout": self.reason_of[ei],
            "entry": ei,
        }

    def prompt_facts(self, ei: int) -> dict:
        """What an evaluation prompt taken from entry ei is checked against: its concept, colour, background
        (scenes only; None for emoji, whose white is not asked for), the hold-out reason, and the entry."""
        m = self.meta(ei)
        return {
            "concept": m["concept"],
            "colour": m["colour"],
            "holdout": m["holdout"],
            "entry": int(ei),
            "background": m["background"] if m["kind"] == "icon" else None,
        }

    def synonyms(self, concept: str) -> list[str]:
        """Other names of a concept usable in place of it (none is another concept's name)."""
        return list(self._synonyms.get(concept, []))

    def facts(self, ei: int) -> dict:
        """What is true of entry ei and may be said in a caption (see caption_form)."""
        e, b = self.entries[ei], self.bases[self.entries[ei].base]
        return {
            "concept": b["concept"],
            "label": b["label"],
            "synonyms": self.synonyms(b["concept"]),
            "keywords": list(b["keywords"]),
            "colour": e.colour,
            "style": b["style"],
            "emoji": b["emoji"],
            "kind": b["kind"],
            "position": e.position,
            "background": e.bg,
        }

    def caption(self, ei: int, epoch: int | None = None, index: int = 0) -> str:
        """Canonical caption (epoch None: colour concept, style, scene, keywords), or a per-(seed, epoch,
        index, entry) variation in one of CAPTION_FORMS, naming the concept (or, for ~15%, a synonym or the
        drawing's own label). Every caption states only facts true of the image; no variation equals a
        paraphrase prompt (paraphrase_prompts)."""
        e, b = self.entries[ei], self.bases[self.entries[ei].base]
        kws = list(b["keywords"])
        if epoch is None:
            parts = [f"{e.colour} {b['concept']}", b["style"]]
            if b["kind"] == "icon":
                parts += [e.position, f"{e.bg} background"]
            return ", ".join(parts + kws[: 2 if b["kind"] == "icon" else 4])
        f = self.facts(ei)
        names = f["synonyms"] + ([b["label"]] if b["label"] != b["concept"] else [])
        held = self.paraphrase_set()
        for attempt in range(4):
            u = _u32(self.seed, "cap", epoch, index, ei, attempt)
            form = CAPTION_FORMS[_pick(u & 0xFFFF, CAPTION_FORM_WEIGHTS)]
            if form in ("kind", "icon_of") and (u >> 30) & 1:  # "emoji"/"icon" words at half weight
                form = "bare"
            name = b["concept"]
            if names and ((u >> 16) & 0xFF) < 38:
                name = names[(u >> 24) % len(names)]
            cap = (
                self._canonical_variation(ei, _hash32(u))
                if form == "canonical"
                else caption_form(form, f, name, _hash32(u))
            )
            if cap not in held:
                return cap
        return self.short_caption(ei)

    def _canonical_variation(self, ei: int, u: int) -> str:
        """Canonical caption with the style dropped ~10% of the time and 0-2 keywords (1 for scenes)."""
        e, b = self.entries[ei], self.bases[self.entries[ei].base]
        kws = list(b["keywords"])
        keep_style = (u & 0xFF) >= 26
        nk = (u >> 8) % 3
        start = (u >> 12) % max(len(kws), 1)
        chosen = [kws[(start + i) % len(kws)] for i in range(min(nk, len(kws)))]
        parts = [f"{e.colour} {b['concept']}"] + ([b["style"]] if keep_style else [])
        if b["kind"] == "icon":
            parts += [e.position, f"{e.bg} background"]
            chosen = chosen[:1]
        return ", ".join(parts + chosen)

    def short_caption(self, ei: int) -> str:
        e, b = self.entries[ei], self.bases[self.entries[ei].base]
        parts = [f"{e.colour} {b['concept']}", b["style"]]
        if b["kind"] == "icon":
            parts += [e.position, f"{e.bg} background"]
        return ", ".join(parts)

    def paraphrase_set(self) -> frozenset:
        if self._paraphrase_set is None:
            self._paraphrase_set = frozenset(p["prompt"] for p in paraphrase_prompts(self))
        return self._paraphrase_set


@lru_cache(maxsize=8)
def load_pack(root: str | None = None, seed: int = 0) -> Pack:
    return Pack(root, seed)


# ---------------------------------------------------------------- pooled decode (many entries at once)
def decode_images(pack: Pack, entries, workers: int | None = None, chunk: int | None = None) -> np.ndarray:
    """Pack.image of every entry as one (N, 128, 128, 3) uint8 array, in the order given. With more than one
    worker (mmamba/pool.py: `workers`, $MMAMBA_DECODE_WORKERS or os.cpu_count()) the entries are split into
    `chunk`-sized spans (default pool.DEFAULT_CHUNK) decoded by forked processes straight into a shared anonymous
    mapping (no pickling of
    pixels); every image is still Pack.image's, so the result is byte-identical to the serial path."""
    import mmap

    from .pool import run_spans

    ids = [int(e) for e in entries]
    shape = (len(ids), IMAGE_SIZE, IMAGE_SIZE, 3)
    if not ids:
        return np.zeros(shape, np.uint8)
    buf = mmap.mmap(-1, int(np.prod(shape)))  # MAP_SHARED | MAP_ANONYMOUS: children write here
    out = np.frombuffer(buf, np.uint8).reshape(shape)  # keeps `buf` alive

    def fill(lo: int, hi: int) -> int:
        for k in range(lo, hi):
            out[k] = pack.image(ids[k])
        return hi - lo

    assert sum(run_spans(fill, len(ids), workers, chunk)) == len(ids)
    return out


def get_item(split: str, index: int, seed: int = 0, epoch: int = 0, root: str | None = None):
    """(uint8 HWC 128x128x3 image, caption, meta) of item `index` of `split`; deterministic in
    (seed, epoch, index). Order within a split is fixed; shuffle with `epoch_permutation`."""
    p = load_pack(root, seed)
    ei = p.splits[split][index]
    return p.image(ei), p.caption(ei, epoch, index), p.meta(ei)


def split_size(split: str, seed: int = 0, root: str | None = None) -> int:
    return len(load_pack(root, seed).splits[split])


def all_captions(split: str = "train", seed: int = 0, root: str | None = None) -> list[str]:
    """Canonical caption of every item of a split (Pack.caption(ei)); the variations use more words."""
    p = load_pack(root, seed)
    return [p.caption(ei) for ei in p.splits[split]]


def epoch_permutation(n: int, seed: int, epoch: int) -> np.ndarray:
    """Deterministic shuffle of range(n) for an epoch (sort by hash)."""
    keys = np.array([_u32(seed, "perm", epoch, i) for i in range(n)], np.uint64)
    return np.argsort(keys, kind="stable")


def test_prompts(n: int = 8, seed: int = 0, root: str | None = None) -> list[str]:
    """n fixed, readable test-split prompts for sample grids, mixing the hold-out kinds
    (unseen concept, unseen concept+style, unseen concept+colour, unseen scene colours)."""
    p = load_pack(root, seed)
    readable = {b["concept"] for b in p.bases if b.get("group", -1) in PROMPT_GROUPS}
    by_reason: dict[str, list] = {}
    for ei in p.splits["test"]:
        b = p.bases[p.entries[ei].base]
        if len(b["concept"]) > 14 or (readable and b["concept"] not in readable):
            continue
        by_reason.setdefault(p.reason_of[ei], []).append((_u32(seed, "prompt", ei), ei))
    pools = [sorted(v) for _, v in sorted(by_reason.items())]
    out, seen, i = [], set(), 0
    while len(out) < n and any(i < len(pl) for pl in pools):
        for pl in pools:
            if i < len(pl) and len(out) < n:
                cap = p.short_caption(pl[i][1])
                if cap not in seen:
                    seen.add(cap)
                    out.append(cap)
        i += 1
    return out


# ---------------------------------------------------------------- evaluation item lists ("fixed ruler")
PARAPHRASE_PROMPTS = 500  # paraphrase prompts (one per concept) held out of the training captions
RULER_KINDS = ("seen_concept_unseen_combination", "unseen_concept")


def paraphrase_prompts(pack: Pack, n: int = PARAPHRASE_PROMPTS) -> list[dict]:
    """The paraphrase split: up to n prompts worded the way users type (PARAPHRASE_FORMS: "rocket",
    "a rocket", a synonym, "rocket emoji", "an icon of a rocket", "rocket, outline icon", "apple, red",
    "a drawing of a rocket"), one per concept, for concepts that ARE in training (never a DEMO_CONCEPTS one).
    Each prompt is true of its `entry` (a train entry of the concept). Pack.caption never produces these
    exact strings, so the split measures wording, not knowledge. Deterministic in the pack and its seed.
    Returns [{prompt, concept, entry, form}] in a fixed hash order."""
    seed = pack.seed
    train_of: dict[str, list] = {}
    for ei in pack.splits["train"]:
        train_of.setdefault(pack.bases[pack.entries[ei].base]["concept"], []).append(ei)
    concepts = sorted((c for c in train_of if c not in DEMO_CONCEPTS), key=lambda c: (_u32(seed, "para", c), c))
    out, seen = [], set()
    for c in concepts:
        if len(out) >= n:
            break
        ei = min(train_of[c], key=lambda i: _u32(seed, "para-entry", i))
        f = pack.facts(ei)
        forms = [fm for fm in PARAPHRASE_FORMS if fm != "synonym" or f["synonyms"]]
        form = forms[_u32(seed, "para-form", c) % len(forms)]
        if form == "synonym":
            syn = f["synonyms"][_u32(seed, "para-syn", c) % len(f["synonyms"])]
            prompt = with_article(syn) if _u32(seed, "para-art", c) & 1 else syn
        else:
            prompt = caption_form(form, f, c, 1)  # u = 1: no colour word, except "colour_after"'s own
        if prompt in seen:
            continue
        seen.add(prompt)
        out.append({"prompt": prompt, "concept": c, "entry": int(ei), "form": form})
    return out


def ruler_items(pack: Pack, kind: str, n: int | None = None) -> list[dict]:
    """Test-split evaluation items of one kind: "seen_concept_unseen_combination" (the concept is in
    training; its colour, style or scene colours are not, with it) or "unseen_concept" (the concept has no
    train entry at all). One item per distinct short caption, in a fixed hash order; at most n.
    Returns [{prompt, concept, entry, holdout, colour, background}]."""
    if kind not in RULER_KINDS:
        raise ValueError(f"ruler kind must be one of {RULER_KINDS}, not {kind!r}")
    want_unseen = kind == "unseen_concept"
    train_concepts = {pack.bases[pack.entries[ei].base]["concept"] for ei in pack.splits["train"]}
    ids = [
        ei
        for ei in pack.splits["test"]
        if (pack.bases[pack.entries[ei].base]["concept"] not in train_concepts) == want_unseen
    ]
    ids.sort(key=lambda ei: (_u32(pack.seed, "ruler", ei), ei))
    out, seen = [], set()
    for ei in ids:
        cap = pack.short_caption(ei)
        if cap in seen:
            continue
        seen.add(cap)
        out.append({"prompt": cap, **pack.prompt_facts(ei)})
        if n is not None and len(out) >= n:
            break
    return out


try:
    import torch
    from torch.utils.data import Dataset as _TorchDataset
except ImportError:  # pragma: no cover - torch is always present in training
    torch = None
    _TorchDataset = object


class ImageCaptionDataset(_TorchDataset):
    """torch Dataset over one split. Item: (image, caption, meta). image: float32 CHW in [0, 1] by default,
    or uint8 HWC tensor with image_format="uint8". Call set_epoch(e) each epoch for caption variation.
    meta holds only str/int values (default collate works)."""

    def __init__(
        self, split: str = "train", root: str | None = None, seed: int = 0, epoch: int = 0, image_format: str = "float"
    ):
        assert split in ("train", "val", "test") and image_format in ("float", "uint8")
        self.split, self.root, self.seed, self.epoch, self.image_format = split, root, seed, epoch, image_format
        self.pack = load_pack(root, seed)
        self.ids = self.pack.splits[split]

    def set_epoch(self, epoch: int):
        self.epoch = int(epoch)

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, index: int):
        ei = self.ids[index]
        img = self.pack.image(ei)
        cap = self.pack.caption(ei, self.epoch, index)
        t = torch.from_numpy(img)
        if self.image_format == "float":
            t = t.permute(2, 0, 1).float().div_(255.0)
        return t, cap, self.pack.meta(ei)

    def captions(self) -> list[str]:
        return [self.pack.caption(ei) for ei in self.ids]
