"""Multi-view, tiled detection: several looks at one photo, fused into one list of faces.

A `Plan` is a list of `Pass`es (views). Each pass resizes the photo so that its long side is about
`Pass.long_side` pixels (never enlarging it more than `max_zoom`), optionally mirrors it or turns it by
quarter turns, cuts that into overlapping tiles of at most `Plan.tile` pixels a side, runs the model
on each tile and maps the boxes back to the photo. Small faces are found by a pass that enlarges the
photo; large, turned or odd ones by the passes that see it whole. The views are then fused
(see `merge.fuse`): weak evidence from several views adds up.

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
from .merge import Boxes, drop_contained, fuse

#: a face model: (RGB tile, score threshold) -> N x 5 boxes (x1, y1, x2, y2, score) in tile pixels
Model = Callable[[RGB, float], Boxes]
Rect = tuple[int, int, int, int]  # x0, y0, x1, y1

EDGE = 2.0  # a box this close to a tile edge shared with another tile was cut by that edge


@dataclass(frozen=True)
class Pass:
    """One view of the photo: a scale, and optionally mirrored and then turned counter-clockwise."""

    long_side: int
    max_zoom: float = 1.0
    turns: int = 0  # quarter turns, as np.rot90
    mirror: bool = False

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


def _spans(size: int, scale: float, tile: int, overlap: int) -> list[tuple[int, int]]:
    """Overlapping [start, end) spans covering 0..size whose length times `scale` is at most `tile`."""
    length = size * scale
    if length <= tile:
        return [(0, size)]
    count = math.ceil((length - overlap) / (tile - overlap))
    span = min(size, math.ceil((size + (count - 1) * overlap / scale) / count))
    starts = np.linspace(0, size - span, count).round().astype(int)
    return [(int(s), int(s) + span) for s in starts]


def tile_grid(width: int, height: int, scale: float, plan: Plan) -> list[Rect]:
    """The tiles of one pass over a width x height view, in view pixels."""
    xs = _spans(width, scale, plan.tile, plan.overlap)
    ys = _spans(height, scale, plan.tile, plan.overlap)
    return [(x0, y0, x1, y1) for y0, y1 in ys for x0, x1 in xs]


def to_photo(boxes: Boxes, step: Pass, width: int, height: int) -> Boxes:
    """Boxes in the view of `step` (photo mirrored, then turned) mapped back to the width x height photo."""
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    turns = step.turns % 4
    if turns == 1:
        x1, y1, x2, y2 = width - y2, x1, width - y1, x2
    elif turns == 2:
        x1, y1, x2, y2 = width - x2, height - y2, width - x1, height - y1
    elif turns == 3:
        x1, y1, x2, y2 = y1, height - x2, y2, height - x1
    if step.mirror:
        x1, x2 = width - x2, width - x1
    return np.stack([x1, y1, x2, y2, *boxes[:, 4:].T], axis=1).astype(np.float32)


def _pixels(rgb: RGB, step: Pass, rect: Rect, size: tuple[int, int]) -> RGB:
    """The view's `rect` resized to `size` (w, h): cut from the photo, resized, then mirrored and turned."""
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = (round(float(v)) for v in to_photo(np.array([[*rect]], np.float32), step, w, h)[0])
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
    boxes = model(_pixels(rgb, step, rect, size), plan.candidates)
    shared = np.array([x0 > 0, y0 > 0, x1 < vw, y1 < vh])
    near = np.stack(
        [boxes[:, 0] <= EDGE, boxes[:, 1] <= EDGE, boxes[:, 2] >= size[0] - EDGE, boxes[:, 3] >= size[1] - EDGE],
        axis=1,
    )
    mapped = boxes.copy()
    mapped[:, 0:4:2] = boxes[:, 0:4:2] * ((x1 - x0) / size[0]) + x0
    mapped[:, 1:4:2] = boxes[:, 1:4:2] * ((y1 - y0) / size[1]) + y0
    return mapped, (near & shared).any(axis=1)


def run_pass(model: Model, rgb: RGB, step: Pass, plan: Plan) -> tuple[Boxes, NDArray[np.bool_]]:
    """All boxes one pass finds, in photo pixels, and which were cut by a tile edge."""
    h, w = rgb.shape[:2]
    vw, vh = (w, h) if step.turns % 2 == 0 else (h, w)
    found = [_run_tile(model, rgb, step, rect, plan) for rect in tile_grid(vw, vh, step.scale(vw, vh), plan)]
    boxes = np.concatenate([b for b, _ in found]).reshape(-1, 5)
    cut = np.concatenate([c for _, c in found])
    return to_photo(boxes, step, w, h), cut


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


def detect_boxes(model: Model, rgb: RGB, plan: Plan) -> Boxes:
    """Every pass of `plan`; boxes cut by a tile edge that lie inside a larger box are dropped (that box
    is the whole face, seen by another tile or pass); the rest are fused across passes and thresholded."""
    if not plan.passes:
        return np.empty((0, 5), np.float32)
    small, fx, fy = reduced(rgb, plan)
    results = [run_pass(model, small, step, plan) for step in plan.passes]
    boxes = np.concatenate([b for b, _ in results]).astype(np.float32)
    cut = np.concatenate([c for _, c in results])
    views = np.concatenate([np.full(len(b), i) for i, (b, _) in enumerate(results)]).astype(np.float32)
    kept = drop_contained(np.concatenate([boxes, views[:, None]], axis=1), cut, 0.7)
    fused = fuse(kept[:, :5], kept[:, 5].astype(np.int_), plan.merge_iou)
    fused = fused[fused[:, 4] >= plan.threshold]
    fused[:, 0:4:2] *= fx
    fused[:, 1:4:2] *= fy
    return fused


class Ensemble:
    """A detector that runs a `Plan` with one model (CenterFace unless another is given)."""

    def __init__(self, name: str, plan: Plan, model: Model | None = None) -> None:
        self.name = name
        self.plan = plan
        self._model: Model = model if model is not None else shared_net().run

    def detect(self, rgb: RGB) -> list[Detection]:
        return to_detections(detect_boxes(self._model, rgb[:, :, :3], self.plan), self.name)
