"""Regions to obscure -> one boolean mask (True = obscure), in the pixels of the upright image.

Coordinates are continuous: pixel (column j, row i) is the unit square [j, j+1) x [i, i+1), its centre at
(j + 0.5, i + 0.5). A shape covers a pixel when it contains the pixel's centre, except boxes, which cover
every pixel they touch. Every shape errs on the side of covering more: strokes are drawn about a pixel
wider than their radius, ellipses always cover the pixel holding their centre, polygons are filled by the
nonzero winding rule (a lasso drawn twice around something still covers it) plus their outline.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from . import imaging
from .errors import InputError, OptionsError
from .options import CleanOptions, FaceShape, Limits
from .types import Box, Detection, Ellipse, Point, Polygon, Regions, Stroke

Canvas = NDArray[np.uint8]
Mask = NDArray[np.bool_]

#: coordinates and sizes beyond this (in pixels) are refused: no photo is that large, and cv2 draws in int32
MAX_COORD = 1_000_000.0
#: strokes are drawn this much wider than asked, so every pixel centre within the radius is covered
STROKE_MARGIN = 0.75
#: cv2 fixed-point drawing: coordinates carry this many fractional bits
_SHIFT = 4
#: a mask image pixel obscures when its luminance (composited over black) is at least this
MASK_THRESHOLD = 128


# ---------------------------------------------------------------- validation


def _number(value: float, what: str) -> float:
    if not math.isfinite(value) or abs(value) > MAX_COORD:
        raise OptionsError(f"{what} must be a finite number of pixels within ±{MAX_COORD:.0f}, not {value!r}")
    return float(value)


def _positive(value: float, what: str) -> float:
    if not _number(value, what) > 0:
        raise OptionsError(f"{what} must be positive, not {value!r}")
    return float(value)


def _points(points: Sequence[Point], what: str, minimum: int) -> None:
    if len(points) < minimum:
        raise OptionsError(f"{what} needs at least {minimum} point{'s' if minimum > 1 else ''}")
    for i, (x, y) in enumerate(points):
        _number(x, f"{what} point {i} x")
        _number(y, f"{what} point {i} y")


def _check_box(box: Box, what: str) -> None:
    _number(box.x, f"{what} x")
    _number(box.y, f"{what} y")
    _positive(box.w, f"{what} width")
    _positive(box.h, f"{what} height")


def validate(regions: Regions) -> None:
    """Raise OptionsError when a region is malformed (non-finite, empty, negative size, out of range)."""
    for i, stroke in enumerate(regions.strokes):
        _points(stroke.points, f"stroke {i}", 1)
        _positive(stroke.radius, f"stroke {i} radius")
    for i, box in enumerate(regions.boxes):
        _check_box(box, f"box {i}")
    for i, ell in enumerate(regions.ellipses):
        _number(ell.cx, f"ellipse {i} cx")
        _number(ell.cy, f"ellipse {i} cy")
        _positive(ell.rx, f"ellipse {i} rx")
        _positive(ell.ry, f"ellipse {i} ry")
        _number(ell.angle, f"ellipse {i} angle")
    for i, poly in enumerate(regions.polygons):
        _points(poly.points, f"polygon {i}", 3)


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
    """A round brush of `radius` along the polyline; a single point is a disc."""
    reach = stroke.radius + STROKE_MARGIN
    thickness = max(1, math.ceil(2 * reach))
    points = [_fixed(x, y) for x, y in stroke.points]
    for point in points:
        cv2.circle(canvas, point, math.ceil(reach * (1 << _SHIFT)), 1, -1, cv2.LINE_8, _SHIFT)
    for start, end in itertools.pairwise(points):
        cv2.line(canvas, start, end, 1, thickness, cv2.LINE_8, _SHIFT)


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
    """One boolean mask (True = obscure) from the faces, grown by options.face_scale, and the user's regions."""
    validate(regions)
    for i, face in enumerate(faces):
        _check_box(face.box, f"face {i}")
    canvas: Canvas = np.zeros((height, width), dtype=np.uint8)
    for face in faces:
        draw_face(canvas, face.box, options.face_scale, options.face_shape)
    for stroke in regions.strokes:
        draw_stroke(canvas, stroke)
    for box in regions.boxes:
        draw_box(canvas, box)
    for ell in regions.ellipses:
        draw_ellipse(canvas, ell)
    for poly in regions.polygons:
        draw_polygon(canvas, poly)
    mask: Mask = canvas.view(np.bool_)
    if regions.mask is not None:
        mask |= decode_mask(regions.mask, height, width, options.limits)
    return mask


# ---------------------------------------------------------------- the strokes / regions JSON format

#: a regions document larger than this is refused before parsing
MAX_JSON_BYTES = 16 * 1024 * 1024
#: at most this many points over all strokes and polygons
MAX_POINTS = 1_000_000
_KEYS = ("strokes", "boxes", "ellipses", "polygons")


def _num(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OptionsError(f"regions JSON: {where} must be a number")
    return _number(float(value), f"regions JSON: {where}")


def _list(value: object, where: str) -> list[object]:
    if not isinstance(value, list):
        raise OptionsError(f"regions JSON: {where} must be a list")
    return value


def _fields(value: object, names: Sequence[str], optional: dict[str, float], where: str) -> list[float]:
    """[a, b, ...] or {"a": .., "b": ..}: the values in the order of `names`, optional ones defaulted."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise OptionsError(f"regions JSON: {where} has unknown key {unknown[0]!r}")
        missing = [n for n in names if n not in value and n not in optional]
        if missing:
            raise OptionsError(f"regions JSON: {where} is missing {missing[0]!r}")
        return [_num(value.get(n, optional.get(n)), f"{where}.{n}") for n in names]
    items = _list(value, where)
    if not len(names) - len(optional) <= len(items) <= len(names):
        raise OptionsError(f"regions JSON: {where} must be [{', '.join(names)}] or an object with those keys")
    values = [_num(v, f"{where}[{i}]") for i, v in enumerate(items)]
    return values + [optional[n] for n in names[len(values) :]]


def _point_list(value: object, where: str) -> tuple[Point, ...]:
    points: list[Point] = []
    for i, item in enumerate(_list(value, where)):
        pair = _list(item, f"{where}[{i}]")
        if len(pair) != 2:
            raise OptionsError(f"regions JSON: {where}[{i}] must be a point [x, y]")
        points.append((_num(pair[0], f"{where}[{i}][0]"), _num(pair[1], f"{where}[{i}][1]")))
    return tuple(points)


def _stroke(value: object, where: str) -> Stroke:
    if not isinstance(value, dict) or "points" not in value or "radius" not in value:
        raise OptionsError(f'regions JSON: {where} must be an object with "points" and "radius"')
    unknown = sorted(set(value) - {"points", "radius"})
    if unknown:
        raise OptionsError(f"regions JSON: {where} has unknown key {unknown[0]!r}")
    return Stroke(_point_list(value["points"], f"{where}.points"), _num(value["radius"], f"{where}.radius"))


def _polygon(value: object, where: str) -> Polygon:
    if isinstance(value, dict):
        if set(value) != {"points"}:
            raise OptionsError(f'regions JSON: {where} must be a list of points or {{"points": [...]}}')
        value = value["points"]
    return Polygon(_point_list(value, where))


def _load(data: bytes | str) -> dict[str, object]:
    if len(data) > MAX_JSON_BYTES:
        raise OptionsError(f"regions JSON is larger than {MAX_JSON_BYTES // (1024 * 1024)} MB")
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise OptionsError(f"regions JSON cannot be parsed: {str(exc)[:120]}") from exc
    if not isinstance(doc, dict):
        raise OptionsError('regions JSON must be an object such as {"strokes": [...], "boxes": [...]}')
    unknown = sorted(set(doc) - set(_KEYS))
    if unknown:
        raise OptionsError(f"regions JSON has unknown key {unknown[0]!r}; allowed: {', '.join(_KEYS)}")
    return doc


def parse_regions_json(data: bytes | str) -> Regions:
    """Strokes, boxes, ellipses and polygons from the JSON format in the README; OptionsError when malformed."""
    doc = _load(data)
    strokes = tuple(_stroke(v, f"strokes[{i}]") for i, v in enumerate(_list(doc.get("strokes", []), "strokes")))
    boxes = tuple(
        Box(*_fields(v, ("x", "y", "w", "h"), {}, f"boxes[{i}]"))
        for i, v in enumerate(_list(doc.get("boxes", []), "boxes"))
    )
    ellipses = tuple(
        Ellipse(*_fields(v, ("cx", "cy", "rx", "ry", "angle"), {"angle": 0.0}, f"ellipses[{i}]"))
        for i, v in enumerate(_list(doc.get("ellipses", []), "ellipses"))
    )
    polygons = tuple(_polygon(v, f"polygons[{i}]") for i, v in enumerate(_list(doc.get("polygons", []), "polygons")))
    if sum(len(s.points) for s in strokes) + sum(len(p.points) for p in polygons) > MAX_POINTS:
        raise OptionsError(f"regions JSON has more than {MAX_POINTS} points")
    regions = Regions(strokes=strokes, boxes=boxes, ellipses=ellipses, polygons=polygons)
    validate(regions)
    return regions
