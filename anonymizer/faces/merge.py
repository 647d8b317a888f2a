"""Merging detections given as N x 5 arrays (x1, y1, x2, y2, score): NMS, fusion across views."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Boxes = NDArray[np.float32]


def _area(boxes: Boxes) -> NDArray[np.float32]:
    return np.asarray(np.maximum(boxes[:, 2] - boxes[:, 0], 0) * np.maximum(boxes[:, 3] - boxes[:, 1], 0), np.float32)


def _intersection(box: Boxes, others: Boxes) -> NDArray[np.float32]:
    iw = np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0])
    ih = np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1])
    return np.asarray(np.maximum(iw, 0) * np.maximum(ih, 0), np.float32)


def nms(boxes: Boxes, iou: float) -> Boxes:
    """The highest-scoring boxes, dropping any box overlapping a better one by IoU >= `iou`."""
    if len(boxes) < 2:
        return boxes
    order = np.argsort(-boxes[:, 4], kind="stable")
    boxes = boxes[order]
    areas = _area(boxes)
    alive = np.ones(len(boxes), bool)
    for i in range(len(boxes)):
        if not alive[i]:
            continue
        rest = np.nonzero(alive[i + 1 :])[0] + i + 1
        if rest.size:
            inter = _intersection(boxes[i], boxes[rest])
            union = areas[i] + areas[rest] - inter
            alive[rest[inter >= iou * np.maximum(union, 1e-6)]] = False
    return boxes[alive]


def drop_contained(boxes: Boxes, candidates: NDArray[np.bool_], share: float) -> Boxes:
    """`boxes` without each candidate lying at least `share` inside another, larger box."""
    if not candidates.any() or len(boxes) < 2:
        return boxes
    areas = _area(boxes)
    keep = np.ones(len(boxes), bool)
    for i in np.nonzero(candidates)[0]:
        others = np.nonzero((areas > areas[i]) & keep)[0]
        if others.size and (_intersection(boxes[i], boxes[others]) >= share * areas[i]).any():
            keep[i] = False
    return boxes[keep]


def fuse(boxes: Boxes, views: NDArray[np.int_], iou: float) -> Boxes:
    """One box per cluster of boxes that overlap the best remaining box by IoU >= `iou`.

    Each view (a pass over the photo at one scale or orientation) adds its best box in the cluster as
    independent evidence: the score is 1 - prod(1 - s), the corners are the score-weighted mean.
    So a face seen weakly at several scales outranks a blob seen once.
    """
    order = np.argsort(-boxes[:, 4], kind="stable")
    boxes, views = boxes[order], views[order]
    areas = _area(boxes)
    alive = np.ones(len(boxes), bool)
    fused = []
    for i in range(len(boxes)):
        if not alive[i]:
            continue
        rest = np.nonzero(alive)[0]
        inter = _intersection(boxes[i], boxes[rest])
        members = rest[inter >= iou * np.maximum(areas[i] + areas[rest] - inter, 1e-6)]
        alive[members] = False
        _, first = np.unique(views[members], return_index=True)  # members are best first
        best = boxes[members[first]]
        weights = np.maximum(best[:, 4], 1e-6)
        corners = (best[:, :4] * weights[:, None]).sum(axis=0) / weights.sum()
        fused.append([*corners, 1 - np.prod(1 - best[:, 4])])
    return np.asarray(fused, np.float32).reshape(-1, 5)


def absorb(boxes: Boxes, share: float = 0.6, sizes: float = 0.4) -> Boxes:
    """One box per face, for reporting: a box lying at least `share` inside a better-scoring one of a similar size
    (at least `sizes` of the other's area: the same face seen twice, shifted or at a nearby scale) is merged into
    it, as their union (so a list of these boxes, sent back as faces to obscure, covers all the originals did),
    with the better score; repeated until nothing changes. A small face inside a large box is another face."""
    while len(boxes) > 1:
        order = np.argsort(-boxes[:, 4], kind="stable")
        boxes = boxes[order].copy()
        alive = np.ones(len(boxes), bool)
        for i in range(len(boxes)):
            rest = np.nonzero(alive[i + 1 :])[0] + i + 1
            if not alive[i] or not rest.size:
                continue
            inter = _intersection(boxes[i], boxes[rest])
            mine, theirs = _area(boxes[i : i + 1])[0], _area(boxes[rest])
            smaller, larger = np.minimum(mine, theirs), np.maximum(mine, theirs)
            members = rest[(inter >= share * np.maximum(smaller, 1e-6)) & (smaller >= sizes * larger)]
            if members.size:
                group = np.concatenate([boxes[i : i + 1], boxes[members]])
                boxes[i, :2], boxes[i, 2:4] = group[:, :2].min(axis=0), group[:, 2:4].max(axis=0)
                alive[members] = False
        if alive.all():
            break
        boxes = boxes[alive]
    return boxes
