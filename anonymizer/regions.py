"""Regions to obscure -> one boolean mask (True = obscure), in the pixels of the upright image.

Coordinates are continuous: pixel (column j, row i) is the unit square [j, j+1) x [i, i+1), its centre at
(j + 0.5, i + 0.5). A shape covers a pixel when it contains the pixel's centre, except boxes, which cover
every pixel they touch. Every shape errs on the side of covering more: strokes are drawn about a pixel
wider than their radius, ellipses always cover the pixel holding their centre, polygons are filled by the
nonzero winding rule (a lasso drawn twice around something still covers it) plus their outline.

Checking and parsing what users give (the regions JSON format, face lists) is in anonymizer.parse; its entry
points are re-exported here.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from . import imaging
from .errors import InputError, OptionsError
from .options import CleanOptions, FaceShape, Limits
from .parse import MAX_COORD as MAX_COORD
from .parse import Shape, check_box
from .parse import parse_faces_choice as parse_faces_choice
from .parse import parse_faces_json as parse_faces_json
from .parse import parse_regions_json as parse_regions_json
from .parse import validate as validate
from .types import Box, Detection, Ellipse, Polygon, Regions, Stroke

Canvas = NDArray[np.uint8]
Mask = NDArray[np.bool_]

#: strokes are drawn this much wider than asked, so every pixel centre within the radius is covered
STROKE_MARGIN = 0.75
#: cv2 fixed-point drawing: coordinates carry this many fractional bits
_SHIFT = 4
#: a mask image pixel obscures when its luminance (composited over black) is at least this
MASK_THRESHOLD = 128


# ---------------------------------------------------------------- time (videos)


def _active(shape: Shape, seconds: float) -> bool:
    """Ends included: a shape covers the frames at both ends of its range (err on covering more)."""
    return (shape.start is None or shape.start <= seconds) and (shape.end is None or seconds <= shape.end)


def regions_at(regions: Regions, seconds: float) -> Regions:
    """The shapes active at `seconds` into a video (those without a range always are; the mask image has no
    time and always applies). A photo has no time: build_mask draws every shape, whatever its range."""
    return Regions(
        strokes=tuple(s for s in regions.strokes if _active(s, seconds)),
        boxes=tuple(b for b in regions.boxes if _active(b, seconds)),
        ellipses=tuple(e for e in regions.ellipses if _active(e, seconds)),
        polygons=tuple(p for p in regions.polygons if _active(p, seconds)),
        mask=regions.mask,
    )


# ---------------------------------------------------------------- drawing


def _fixed(x: float, y: float) -> tuple[int, int]:
    """A continuous coordinate as a cv2 fixed-point pixel coordinate (cv2 puts pixel centres on integers)."""
    scale = 1 << _SHIFT
    return round((x - 0.5) * scale), round((y - 0.5) * scale)


def draw_box(canvas: Canvas, box: Box) -> None:
    """Every pixel the box touches."""
    height, width = canvas.shape
    x0, y0 = max(0, math.floor(box.x)), max(0, math.floor(box.y))
    x1, y1 = min(width, math.ceil(box.x + box.w)), min(height, math.ceil(box.y + box.h))
    if x0 < x1 and y0 < y1:
        canvas[y0:y1, x0:x1] = 1


def draw_ellipse(canvas: Canvas, ell: Ellipse) -> None:
    """Pixel centres inside the (rotated) ellipse, found row by row without full-size temporaries."""
    height, width = canvas.shape
    t = math.radians(ell.angle)
    c, s = math.cos(t), math.sin(t)
    a = c * c / ell.rx**2 + s * s / ell.ry**2
    b = 2 * c * s * (1 / ell.rx**2 - 1 / ell.ry**2)
    q = s * s / ell.rx**2 + c * c / ell.ry**2
    half_h = math.hypot(ell.rx * s, ell.ry * c)
    rows = np.arange(max(0, math.floor(ell.cy - half_h)), min(height, math.ceil(ell.cy + half_h) + 1))
    dy = rows + 0.5 - ell.cy
    disc = (b * dy) ** 2 - 4 * a * (q * dy * dy - 1)
    root = np.sqrt(np.maximum(disc, 0.0))
    lo = np.ceil(ell.cx + (-b * dy - root) / (2 * a) - 0.5).clip(0, width)
    hi = np.floor(ell.cx + (-b * dy + root) / (2 * a) - 0.5).clip(-1, width - 1)
    for row, start, stop, ok in zip(rows, lo.astype(int), hi.astype(int), disc >= 0, strict=True):
        if ok and start <= stop:
            canvas[row, start : stop + 1] = 1
    cx, cy = math.floor(ell.cx), math.floor(ell.cy)
    if 0 <= cx < width and 0 <= cy < height:
        canvas[cy, cx] = 1


def draw_stroke(canvas: Canvas, stroke: Stroke) -> None:
    """A round brush of `radius` along the polyline; a single point is a disc. Painting errs on covering more
    (drawn STROKE_MARGIN wider); erasing errs on taking back less (drawn STROKE_MARGIN narrower)."""
    reach = stroke.radius - STROKE_MARGIN if stroke.erase else stroke.radius + STROKE_MARGIN
    if reach <= 0:
        return  # an eraser finer than the margin takes nothing back
    value = 0 if stroke.erase else 1
    thickness = max(1, math.floor(2 * reach) if stroke.erase else math.ceil(2 * reach))
    radius = math.floor(reach * (1 << _SHIFT)) if stroke.erase else math.ceil(reach * (1 << _SHIFT))
    points = [_fixed(x, y) for x, y in stroke.points]
    for point in points:
        cv2.circle(canvas, point, radius, value, -1, cv2.LINE_8, _SHIFT)
    for start, end in itertools.pairwise(points):
        cv2.line(canvas, start, end, value, thickness, cv2.LINE_8, _SHIFT)


def _winding(height: int, width: int, poly: Polygon) -> tuple[NDArray[np.int32], int, int] | None:
    """The polygon's winding number at each pixel centre of its bounding box, clipped to the image."""
    pts = np.asarray(poly.points, dtype=np.float64)
    y0 = max(0, math.floor(pts[:, 1].min()))
    y1 = min(height, math.ceil(pts[:, 1].max()) + 1)
    x0 = max(0, math.floor(pts[:, 0].min()))
    x1 = min(width, math.ceil(pts[:, 0].max()) + 1)
    if y0 >= y1 or x0 >= x1:
        return None
    diff = np.zeros((y1 - y0, x1 - x0 + 1), dtype=np.int32)
    for (ax, ay), (bx, by) in zip(pts, np.roll(pts, -1, axis=0), strict=True):
        if ay == by:
            continue
        lo, hi = min(ay, by), max(ay, by)
        rows = np.arange(max(y0, math.ceil(lo - 0.5)), min(y1, math.ceil(hi - 0.5)))
        if rows.size == 0:
            continue
        yc = rows + 0.5
        xc = ax + (yc - ay) * (bx - ax) / (by - ay)
        cols = (np.floor(xc - 0.5) + 1 - x0).clip(0, x1 - x0).astype(np.intp)
        np.add.at(diff, (rows - y0, cols), 1 if by > ay else -1)
    return np.cumsum(diff[:, :-1], axis=1, dtype=np.int32), y0, x0


def draw_polygon(canvas: Canvas, poly: Polygon) -> None:
    """Pixel centres inside the polygon (nonzero winding), plus its outline."""
    found = _winding(canvas.shape[0], canvas.shape[1], poly)
    if found is not None:
        winding, y0, x0 = found
        view = canvas[y0 : y0 + winding.shape[0], x0 : x0 + winding.shape[1]]
        view |= (winding != 0).view(np.uint8)
    outline = np.array([(math.floor(x), math.floor(y)) for x, y in poly.points], dtype=np.int32)
    cv2.polylines(canvas, [outline], True, 1, 1, cv2.LINE_8)  # the pixels holding the edges


def draw_face(canvas: Canvas, box: Box, scale: float, shape: FaceShape) -> None:
    """The detection grown `scale` times about its centre, as an ellipse or a box, and never less than the box."""
    width, height = scale * box.w, scale * box.h
    if shape is FaceShape.BOX:
        draw_box(canvas, Box(box.cx - width / 2, box.cy - height / 2, width, height))
    else:
        draw_ellipse(canvas, Ellipse(box.cx, box.cy, width / 2, height / 2))
    draw_box(canvas, box)


# ---------------------------------------------------------------- mask image


def decode_mask(data: bytes, height: int, width: int, limits: Limits) -> Mask:
    """An encoded mask image as booleans: luminance, composited over black, of at least 128 obscures."""
    try:
        decoded = imaging.decode(data, limits)
    except InputError as exc:
        raise OptionsError(f"the mask image cannot be read: {exc}") from exc
    if (decoded.height, decoded.width) != (height, width):
        raise OptionsError(
            f"the mask image is {decoded.width}x{decoded.height} but the photo is {width}x{height} "
            "(upright); they must be the same size"
        )
    pixels = decoded.pixels
    luminance = cv2.cvtColor(np.ascontiguousarray(pixels[:, :, :3]), cv2.COLOR_RGB2GRAY)
    if pixels.shape[2] == 4:
        luminance = cv2.multiply(luminance, np.ascontiguousarray(pixels[:, :, 3]), scale=1 / 255)
    return np.asarray(luminance >= MASK_THRESHOLD, dtype=np.bool_)


# ---------------------------------------------------------------- the mask


def build_mask(height: int, width: int, regions: Regions, faces: Sequence[Detection], options: CleanOptions) -> Mask:
    """One boolean mask (True = obscure) from the user's regions and the faces, grown by options.face_scale.

    The regions are drawn in order: the mask image, boxes, ellipses, polygons, then the strokes one by one
    (an erasing stroke takes back what is under it so far; a later painting stroke covers it again). Faces are
    drawn last: nothing the user erases uncovers a face. Time ranges are ignored (a photo has no time; a video
    frame's caller picks its shapes with regions_at first).
    """
    validate(regions)
    for i, face in enumerate(faces):
        check_box(face.box, f"face {i}")
    canvas: Canvas = np.zeros((height, width), dtype=np.uint8)
    if regions.mask is not None:
        canvas[decode_mask(regions.mask, height, width, options.limits)] = 1
    for box in regions.boxes:
        draw_box(canvas, box)
    for ell in regions.ellipses:
        draw_ellipse(canvas, ell)
    for poly in regions.polygons:
        draw_polygon(canvas, poly)
    for stroke in regions.strokes:
        draw_stroke(canvas, stroke)
    for face in faces:
        draw_face(canvas, face.box, options.face_scale, options.face_shape)
    mask: Mask = canvas.view(np.bool_)
    return mask
