"""Multi-view, tiled detection: several looks at one photo, fused into one list of faces.

A `Plan` is a list of `Pass`es (views). Each pass resizes the photo so that its long side is about
`Pass.long_side` pixels (never enlarging it more than `max_zoom`), optionally mirrors it or turns it by
quarter turns, cuts that into overlapping tiles of at most `Plan.tile` pixels a side, runs the model
on each tile and maps the boxes back to the photo. Small faces are found by a pass that enlarges the
photo; large, turned or odd ones by the passes that see it whole. The views are then fused
(see `merge.fuse`): weak evidence from several views adds up.

A focused pass (`Pass.near`) looks only around what the passes before it found, however faintly (see
`focus`): the enlarged pass where the whole photo shows a face or a hint of one, not over sky or floor; the
mirrored pass where the upright one left a doubt. On crowded WIDER FACE photos that is about a third of the
view, at the same coverage; on a portrait much less.

Work and memory are bounded: pass sizes are fixed whatever the photo's resolution, and every tile is
cut from the original and resized on its own, so no enlarged or turned copy of the photo is made.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from ..types import Detection
from .base import RGB
from .centerface import shared_net, to_detections
from .focus import Rect, focus_rects, to_photo, to_view
from .merge import Boxes, drop_contained, fuse

#: a face model: (RGB tile, score threshold) -> N x 5 boxes (x1, y1, x2, y2, score) in tile pixels
Model = Callable[[RGB, float], Boxes]

EDGE = 2.0  # a box this close to a tile edge shared with another tile was cut by that edge
#: a focused pass whose parts would cover more than this share of its view looks at all of it: as many pixels
#: in fewer, larger tiles (less padding, more context)
WHOLE_ABOVE = 0.7


@dataclass(frozen=True)
class Pass:
    """One view of the photo: a scale, and optionally mirrored and then turned counter-clockwise.

    `near`: a focused pass, looking only around boxes that earlier passes found scoring at least this."""

    long_side: int
    max_zoom: float = 1.0
    turns: int = 0  # quarter turns, as np.rot90
    mirror: bool = False
    near: float | None = None

    def scale(self, width: int, height: int) -> float:
        return min(self.long_side / max(width, height), self.max_zoom)


@dataclass(frozen=True)
class Plan:
    passes: tuple[Pass, ...]
    threshold: float = 0.3  # on the fused score
    candidates: float = 0.1  # boxes below this score in a single view are not considered
    tile: int = 1120  # largest tile side fed to the model, in pass pixels (bounds memory)
    overlap: int = 64  # tiles overlap by this many pass pixels: faces up to this size are seen whole
    merge_iou: float = 0.5
    cells: int = 12  # a focused pass's grid: cells across the long side of the view

    def floor(self) -> float:
        """The lowest score any pass needs from the model: for fusion, or as a hint for a focused pass."""
        return min([self.candidates, *(step.near for step in self.passes if step.near is not None)])


def _spans(size: int, scale: float, tile: int, overlap: int) -> list[tuple[int, int]]:
    """Overlapping [start, end) spans covering 0..size whose length times `scale` is at most `tile`."""
    length = size * scale
    if length <= tile:
        return [(0, size)]
    count = math.ceil((length - overlap) / (tile - overlap))
    span = min(size, math.ceil((size + (count - 1) * overlap / scale) / count))
    starts = np.linspace(0, size - span, count).round().astype(int)
    return [(int(s), int(s) + span) for s in starts]


def tile_grid(width: int, height: int, scale: float, plan: Plan, within: Rect | None = None) -> list[Rect]:
    """The tiles of one pass over a width x height view (or the part `within` it), in view pixels."""
    x0, y0, x1, y1 = within or (0, 0, width, height)
    xs = _spans(x1 - x0, scale, plan.tile, plan.overlap)
    ys = _spans(y1 - y0, scale, plan.tile, plan.overlap)
    return [(x0 + a, y0 + b, x0 + c, y0 + d) for b, d in ys for a, c in xs]


def pass_tiles(step: Pass, width: int, height: int, plan: Plan, hints: Boxes) -> list[Rect]:
    """The tiles a pass runs over its width x height view: all of it, or for a focused pass the parts around
    the hints (photo boxes scoring at least `step.near`) unless those cover most of it."""
    scale = step.scale(width, height)
    whole = tile_grid(width, height, scale, plan)
    if step.near is None:
        return whole
    seen = to_view(hints[hints[:, 4] >= step.near], step.turns, step.mirror, *_photo_size(step, width, height))
    cell = max(width, height) / plan.cells
    rects = focus_rects(seen, width, height, cell, plan.overlap / 2 / scale)
    tiles = [tile for rect in rects for tile in tile_grid(width, height, scale, plan, rect)]
    return whole if _area(tiles) > WHOLE_ABOVE * _area(whole) else tiles


def _area(rects: list[Rect]) -> int:
    return sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in rects)


def _photo_size(step: Pass, vw: int, vh: int) -> tuple[int, int]:
    return (vw, vh) if step.turns % 2 == 0 else (vh, vw)


def _pixels(rgb: RGB, step: Pass, rect: Rect, size: tuple[int, int]) -> RGB:
    """The view's `rect` resized to `size` (w, h): cut from the photo, resized, then mirrored and turned."""
    h, w = rgb.shape[:2]
    view_box = np.array([[*rect]], np.float32)
    x0, y0, x1, y1 = (round(float(v)) for v in to_photo(view_box, step.turns, step.mirror, w, h)[0])
    crop = rgb[y0:y1, x0:x1]
    upright = size if step.turns % 2 == 0 else (size[1], size[0])
    if upright != (x1 - x0, y1 - y0):
        interp = cv2.INTER_AREA if upright[0] < x1 - x0 else cv2.INTER_LINEAR
        crop = np.asarray(cv2.resize(np.ascontiguousarray(crop), upright, interpolation=interp), np.uint8)
    if step.mirror:
        crop = crop[:, ::-1]
    return np.ascontiguousarray(np.rot90(crop, step.turns) if step.turns % 4 else crop)


def _run_tile(model: Model, rgb: RGB, step: Pass, rect: Rect, plan: Plan) -> tuple[Boxes, NDArray[np.bool_]]:
    """Boxes found in one tile, in view pixels, and which of them touch an edge shared with another tile."""
    vw, vh = (rgb.shape[1], rgb.shape[0]) if step.turns % 2 == 0 else (rgb.shape[0], rgb.shape[1])
    scale = step.scale(vw, vh)
    x0, y0, x1, y1 = rect
    size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
    boxes = model(_pixels(rgb, step, rect, size), plan.floor())
    shared = np.array([x0 > 0, y0 > 0, x1 < vw, y1 < vh])
    near = np.stack(
        [boxes[:, 0] <= EDGE, boxes[:, 1] <= EDGE, boxes[:, 2] >= size[0] - EDGE, boxes[:, 3] >= size[1] - EDGE],
        axis=1,
    )
    mapped = boxes.copy()
    mapped[:, 0:4:2] = boxes[:, 0:4:2] * ((x1 - x0) / size[0]) + x0
    mapped[:, 1:4:2] = boxes[:, 1:4:2] * ((y1 - y0) / size[1]) + y0
    return mapped, (near & shared).any(axis=1)


def run_pass(
    model: Model, rgb: RGB, step: Pass, plan: Plan, hints: Boxes | None = None
) -> tuple[Boxes, NDArray[np.bool_]]:
    """All boxes one pass finds (scoring at least `plan.floor()`), in photo pixels, and which were cut by a
    tile edge. A focused pass looks around `hints`, boxes in photo pixels found by earlier passes."""
    h, w = rgb.shape[:2]
    vw, vh = (w, h) if step.turns % 2 == 0 else (h, w)
    none = np.empty((0, 5), np.float32)
    tiles = pass_tiles(step, vw, vh, plan, none if hints is None else hints)
    found = [_run_tile(model, rgb, step, rect, plan) for rect in tiles]
    if step.near is not None:  # a box its tile cut is a face outside the focus, or part of one: leave it out
        found = [(boxes[~cut], cut[~cut]) for boxes, cut in found]
    boxes = np.concatenate([none, *(b for b, _ in found)]).reshape(-1, 5)
    cut = np.concatenate([np.zeros(0, bool), *(c for _, c in found)])
    return to_photo(boxes, step.turns, step.mirror, w, h), cut


def reduced(rgb: RGB, plan: Plan) -> tuple[RGB, float, float]:
    """The photo shrunk once to the largest size any pass needs (when every pass shrinks it), and the
    factors (x, y) that map its pixels back to the photo. Saves resizing a large photo in every pass."""
    h, w = rgb.shape[:2]
    largest = max(step.scale(w, h) for step in plan.passes)
    if largest >= 1:
        return rgb, 1.0, 1.0
    size = (max(1, round(w * largest)), max(1, round(h * largest)))
    small = np.asarray(cv2.resize(np.ascontiguousarray(rgb), size, interpolation=cv2.INTER_AREA), np.uint8)
    return small, w / size[0], h / size[1]


def run_passes(model: Model, rgb: RGB, plan: Plan) -> list[tuple[Boxes, NDArray[np.bool_]]]:
    """Every pass in order, each focused one looking around what the passes before it found."""
    results: list[tuple[Boxes, NDArray[np.bool_]]] = []
    for step in plan.passes:
        hints = np.concatenate([np.empty((0, 5), np.float32), *(b for b, _ in results)])
        results.append(run_pass(model, rgb, step, plan, hints))
    return results


def fused(results: list[tuple[Boxes, NDArray[np.bool_]]], plan: Plan) -> Boxes:
    """The passes' boxes scoring at least `plan.candidates`, less those cut by a tile edge that lie inside a
    larger box (that box is the whole face, seen by another tile or pass), fused across passes, thresholded."""
    kept = [(b[b[:, 4] >= plan.candidates], c[b[:, 4] >= plan.candidates]) for b, c in results]
    boxes = np.concatenate([np.empty((0, 5), np.float32), *(b for b, _ in kept)]).astype(np.float32)
    cut = np.concatenate([np.zeros(0, bool), *(c for _, c in kept)])
    views = np.concatenate([np.zeros(0), *(np.full(len(b), i) for i, (b, _) in enumerate(kept))])
    unique = drop_contained(np.concatenate([boxes, views[:, None].astype(np.float32)], axis=1), cut, 0.7)
    found = fuse(unique[:, :5], unique[:, 5].astype(np.int_), plan.merge_iou)
    return found[found[:, 4] >= plan.threshold]


def detect_boxes(model: Model, rgb: RGB, plan: Plan) -> Boxes:
    """Every pass of `plan` over the photo (shrunk once if every pass shrinks it), fused; in photo pixels."""
    if not plan.passes:
        return np.empty((0, 5), np.float32)
    small, fx, fy = reduced(rgb, plan)
    found = fused(run_passes(model, small, plan), plan)
    found[:, 0:4:2] *= fx
    found[:, 1:4:2] *= fy
    return found


class Ensemble:
    """A detector that runs a `Plan` with one model (CenterFace unless another is given)."""

    def __init__(self, name: str, plan: Plan, model: Model | None = None) -> None:
        self.name = name
        self.plan = plan
        self._model: Model = model if model is not None else shared_net().run

    def detect(self, rgb: RGB) -> list[Detection]:
        return to_detections(detect_boxes(self._model, rgb[:, :, :3], self.plan), self.name)
