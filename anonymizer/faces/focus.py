"""Views of a photo (mirrored, turned) and where a focused pass looks in one.

A view is the photo mirrored (optionally) and then turned counter-clockwise by quarter turns, as np.rot90.
`to_photo` and `to_view` map N x 5 boxes (x1, y1, x2, y2, score) between the photo and a view.

A focused pass does not look at the whole view: it looks only around what earlier passes found, even faintly.
The view is cut into a grid of square cells; the cells holding the centre of such a box are kept, runs of kept
cells along a row become rectangles, rectangles with the same columns in adjacent rows are joined, and each is
grown by a margin, so that a face at its edge is seen whole (`focus_rects`).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from .merge import Boxes

Rect = tuple[int, int, int, int]  # x0, y0, x1, y1


def _turn(boxes: Boxes, width: int) -> Boxes:
    """Boxes in a width-wide image turned a quarter counter-clockwise (np.rot90), in the turned image."""
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    return np.stack([y1, width - x2, y2, width - x1, *boxes[:, 4:].T], axis=1).astype(np.float32)


def to_view(boxes: Boxes, turns: int, mirror: bool, width: int, height: int) -> Boxes:
    """Boxes in the width x height photo mapped into its view (mirrored, then turned `turns` times)."""
    out = boxes.astype(np.float32, copy=True)
    if mirror:
        out[:, 0], out[:, 2] = width - boxes[:, 2], width - boxes[:, 0]
    w, h = width, height
    for _ in range(turns % 4):
        out = _turn(out, w)
        w, h = h, w
    return out


def to_photo(boxes: Boxes, turns: int, mirror: bool, width: int, height: int) -> Boxes:
    """Boxes in the view of the width x height photo (mirrored, then turned) mapped back to the photo."""
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    turns %= 4
    if turns == 1:
        x1, y1, x2, y2 = width - y2, x1, width - y1, x2
    elif turns == 2:
        x1, y1, x2, y2 = width - x2, height - y2, width - x1, height - y1
    elif turns == 3:
        x1, y1, x2, y2 = y1, height - x2, y2, height - x1
    if mirror:
        x1, x2 = width - x2, width - x1
    return np.stack([x1, y1, x2, y2, *boxes[:, 4:].T], axis=1).astype(np.float32)


def kept_cells(boxes: Boxes, width: int, height: int, cell: float) -> NDArray[np.bool_]:
    """The rows x columns grid of `cell`-sized squares over a width x height view; True where a box lies."""
    grid = np.zeros((max(1, math.ceil(height / cell)), max(1, math.ceil(width / cell))), bool)
    rows, cols = grid.shape
    first = np.floor(boxes[:, :2] / cell).astype(int)
    last = np.floor(np.maximum(boxes[:, 2:4], boxes[:, :2]) / cell).astype(int)
    for (c0, r0), (c1, r1) in zip(first.tolist(), last.tolist(), strict=True):
        grid[max(0, r0) : min(rows, r1 + 1), max(0, c0) : min(cols, c1 + 1)] = True
    return grid


def _runs(row: NDArray[np.bool_]) -> list[tuple[int, int]]:
    """[start, end) column ranges of the True runs in one grid row."""
    edges = np.diff(np.concatenate([[0], row.astype(np.int8), [0]]))
    return list(zip(np.nonzero(edges == 1)[0].tolist(), np.nonzero(edges == -1)[0].tolist(), strict=True))


def cell_blocks(grid: NDArray[np.bool_]) -> list[tuple[int, int, int, int]]:
    """Kept cells as blocks (col0, row0, col1, row1), end exclusive: row runs, joined down while they match."""
    open_blocks: dict[tuple[int, int], int] = {}  # (col0, col1) -> first row
    blocks = []
    for r in range(grid.shape[0] + 1):
        runs = set(_runs(grid[r])) if r < grid.shape[0] else set()
        for span in [s for s in open_blocks if s not in runs]:
            blocks.append((span[0], open_blocks.pop(span), span[1], r))
        for span in runs - set(open_blocks):
            open_blocks[span] = r
    return sorted(blocks, key=lambda b: (b[1], b[0]))


def focus_rects(boxes: Boxes, width: int, height: int, cell: float, margin: float) -> list[Rect]:
    """Rectangles of a width x height view around the centres of `boxes` (in that view), grown by `margin`.

    The centre's cell, not every cell the box touches: faint hints are many and often large (keeping their
    extent cost 1.5x the CPU time on WIDER photos for no more faces), and a real face large enough to leave
    its cell is seen whole by the passes that gave the hint."""
    centres = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], axis=1)
    rects = []
    for c0, r0, c1, r1 in cell_blocks(kept_cells(np.concatenate([centres, centres], axis=1), width, height, cell)):
        x0, y0 = max(0, math.floor(c0 * cell - margin)), max(0, math.floor(r0 * cell - margin))
        x1, y1 = min(width, math.ceil(c1 * cell + margin)), min(height, math.ceil(r1 * cell + margin))
        rects.append((x0, y0, x1, y1))
    return rects
