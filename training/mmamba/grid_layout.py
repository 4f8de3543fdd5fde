"""Layout of a sample grid PNG (training/sample_grid.py): rows are prompts, columns are seeds, each row's prompt is
written in a band above its cells. The one place the geometry lives, so a kept grid (docs/img/everyday-*.png) can
be cut back into its exact cell images (training/score_everyday.py) without regenerating it.

  +-pad-+------cell------+-pad-+------cell------+-pad-+
  | label band (LABEL_H), the prompt's text              |
  |     |   prompt p,    |     |   prompt p,    |     |
  |     |   seed 0       |     |   seed 1       |     |
  +-pad-+----------------+-pad-+----------------+-pad-+   (next row)

Width seeds * (cell + PAD) + PAD, height prompts * (cell + LABEL_H + PAD) + PAD; background white.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

PAD = 4
LABEL_H = 14
LABEL_CHARS = 80  # longer prompts are cut in the label (the cells do not change)
BACKGROUND = (255, 255, 255)


@dataclass(frozen=True)
class GridLayout:
    prompts: int
    seeds: int
    cell: int  # image size in pixels (the VQ's image_size)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the canvas."""
        return self.seeds * (self.cell + PAD) + PAD, self.prompts * (self.cell + LABEL_H + PAD) + PAD

    def row_top(self, p: int) -> int:
        return PAD + p * (self.cell + LABEL_H + PAD)

    def cell_origin(self, p: int, s: int) -> tuple[int, int]:
        """(x, y) of the top-left pixel of prompt p's image for seed s."""
        return PAD + s * (self.cell + PAD), self.row_top(p) + LABEL_H

    @classmethod
    def of_size(cls, width: int, height: int, prompts: int) -> GridLayout:
        """The layout of a canvas of this size with this many prompt rows; ValueError if none fits exactly."""
        row, rem = divmod(height - PAD, prompts)
        cell = row - LABEL_H - PAD
        seeds, rem2 = divmod(width - PAD, cell + PAD) if cell > 0 else (0, 1)
        lay = cls(prompts, seeds, cell)
        if rem or rem2 or seeds < 1 or lay.size != (width, height):
            raise ValueError(f"a {width}x{height} canvas is not a grid of {prompts} prompt rows")
        return lay


def compose(cells: np.ndarray, prompts: list[str]) -> Image.Image:
    """cells (P, seeds, S, S, 3) uint8 -> the grid image with each prompt written above its row."""
    P, K, S = cells.shape[0], cells.shape[1], cells.shape[2]
    if len(prompts) != P or cells.shape[2:] != (S, S, 3) or cells.dtype != np.uint8:
        raise ValueError(f"cells {cells.shape} {cells.dtype} do not match {len(prompts)} prompts")
    lay = GridLayout(P, K, S)
    canvas = Image.new("RGB", lay.size, BACKGROUND)
    for p in range(P):
        for s in range(K):
            canvas.paste(Image.fromarray(cells[p, s]), lay.cell_origin(p, s))
    draw = ImageDraw.Draw(canvas)
    for p, text in enumerate(prompts):
        draw.text((PAD, lay.row_top(p) - 2), text[:LABEL_CHARS], fill=(0, 0, 0))
    return canvas


def cut(canvas: np.ndarray | Image.Image, prompts: int) -> np.ndarray:
    """The grid's cell images: canvas (H, W, 3) uint8 or an RGB image with `prompts` rows -> (P, seeds, S, S, 3)."""
    a = np.asarray(canvas.convert("RGB") if isinstance(canvas, Image.Image) else canvas)
    lay = GridLayout.of_size(a.shape[1], a.shape[0], prompts)
    S = lay.cell
    out = np.empty((lay.prompts, lay.seeds, S, S, 3), np.uint8)
    for p in range(lay.prompts):
        for s in range(lay.seeds):
            x, y = lay.cell_origin(p, s)
            out[p, s] = a[y : y + S, x : x + S, :3]
    return out
