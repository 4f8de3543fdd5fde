"""mmamba/grid_layout.py: a grid PNG cuts back into exactly the cell images it was drawn from."""

import os

import numpy as np
import pytest
from mmamba.grid_layout import LABEL_H, PAD, GridLayout, compose, cut
from PIL import Image

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
SEED = 20261204


def random_cells(rng, prompts: int, seeds: int, size: int) -> np.ndarray:
    cells = rng.integers(0, 256, (prompts, seeds, size, size, 3), dtype=np.uint8)
    cells[..., 0, :, :] = 0  # black top rows and left columns: a cell cut one pixel off would take white pad instead
    cells[..., :, 0, :] = 0
    return cells


@pytest.mark.parametrize("prompts,seeds,size", [(16, 4, 128), (3, 1, 16), (2, 5, 32)])
def test_png_round_trip_recovers_the_cells(tmp_path, prompts, seeds, size):
    print("seed", SEED)
    rng = np.random.default_rng(SEED)
    cells = random_cells(rng, prompts, seeds, size)
    names = [f"prompt {i} " + "x" * (90 * (i % 2)) for i in range(prompts)]  # some longer than the label's 80 chars
    img = compose(cells, names)
    assert img.size == GridLayout(prompts, seeds, size).size
    img.save(tmp_path / "grid.png")
    with Image.open(tmp_path / "grid.png") as im:
        back = cut(im, prompts)
    assert back.shape == cells.shape
    np.testing.assert_array_equal(back, cells)


def test_layout_of_a_canvas_size():
    assert GridLayout.of_size(532, 2340, 16) == GridLayout(16, 4, 128)  # the kept everyday grids
    for w, h in [(533, 2340), (532, 2341), (532, 2340 - 16)]:
        with pytest.raises(ValueError):
            GridLayout.of_size(w, h, 16)
    with pytest.raises(ValueError):
        GridLayout.of_size(532, 2340, 15)


def test_kept_everyday_grid_is_this_layout():
    """A grid sample_grid drew before the layout moved here: re-drawn from its own cut cells it is the same image
    outside the label bands (the text's font is Pillow's default, which may change between versions)."""
    png = os.path.join(ROOT, "docs", "img", "everyday-mmamba-v2-stage4-page.png")
    if not os.path.exists(png):
        pytest.skip("kept grid not in this checkout")
    with Image.open(png) as im:
        kept = np.asarray(im.convert("RGB"))
    cells = cut(kept, 16)
    again = np.asarray(compose(cells, ["" for _ in range(16)]))
    lay = GridLayout(16, 4, 128)
    outside = np.ones(kept.shape[:2], bool)
    for p in range(16):
        outside[lay.row_top(p) - PAD : lay.row_top(p) + LABEL_H] = False
    assert (kept[outside] == again[outside]).all()
    assert (kept[~outside] != 255).any()  # the labels are there, in the bands
