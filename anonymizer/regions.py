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
from typing import NamedTuple

import cv2
import numpy as np
from numpy.typing import NDArray

from . import imaging
from .errors import InputError, OptionsError
from .options import CleanOptions, FaceShape, Limits
from .types import Box, Detection, Ellipse, Point, Polygon, Regions, Stroke

Shape = Stroke | Box | Ellipse | Polygon

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


def _check_span(shape: Shape, what: str) -> None:
    for name in ("start", "end"):
        value = getattr(shape, name)
        if value is not None and not _number(value, f"{what} {name}") >= 0:
            raise OptionsError(f"{what} {name} must be a time in seconds, not {value!r}")
    if shape.start is not None and shape.end is not None and shape.start > shape.end:
        raise OptionsError(f"{what} starts ({shape.start:g} s) after it ends ({shape.end:g} s)")


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
    shapes: tuple[tuple[str, Sequence[Shape]], ...] = (
        ("stroke", regions.strokes), ("box", regions.boxes), ("ellipse", regions.ellipses),
        ("polygon", regions.polygons),
    )
    for kind, group in shapes:
        for i, shape in enumerate(group):
            _check_span(shape, f"{kind} {i}")


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
        _check_box(face.box, f"face {i}")
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


# ---------------------------------------------------------------- the regions JSON format (and face lists)

#: a regions document larger than this is refused before parsing
MAX_JSON_BYTES = 16 * 1024 * 1024
#: at most this many points over all strokes and polygons
MAX_POINTS = 1_000_000
#: at most this many boxes in a face list
MAX_FACES = 1000
_KEYS = ("strokes", "boxes", "ellipses", "polygons")
_TIME = ("from", "to")  # optional on every shape's object form: seconds, for videos
_BOX = ("x", "y", "w", "h")
_DETECTION_KEYS = frozenset({"box", "score", "source"})  # a face as /v1/detect and `detect --json` give it


class Span(NamedTuple):
    start: float | None = None
    end: float | None = None


def _num(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OptionsError(f"{where} must be a number")
    return _number(float(value), where)


def _list(value: object, where: str) -> list[object]:
    if not isinstance(value, list):
        raise OptionsError(f"{where} must be a list")
    return value


def _object(value: dict[str, object], keys: Sequence[str], where: str) -> None:
    unknown = sorted(set(value) - set(keys) - set(_TIME))
    if unknown:
        raise OptionsError(f"{where} has unknown key {unknown[0]!r}")


def _span(value: object, where: str) -> Span:
    """The optional "from"/"to" (seconds) of a shape's object form, as the types' start/end."""
    if not isinstance(value, dict):
        return Span()
    found = {key: _num(value[key], f"{where}.{key}") if key in value else None for key in _TIME}
    start, end = found["from"], found["to"]
    if (start is not None and start < 0) or (end is not None and end < 0):
        raise OptionsError(f"{where}: from and to are seconds and cannot be negative")
    if start is not None and end is not None and start > end:
        raise OptionsError(f"{where}: from ({start:g} s) is after to ({end:g} s)")
    return Span(start, end)


def _fields(value: object, names: Sequence[str], optional: dict[str, float], where: str) -> list[float]:
    """[a, b, ...] or {"a": .., "b": ..}: the values in the order of `names`, optional ones defaulted."""
    if isinstance(value, dict):
        _object(value, names, where)
        missing = [n for n in names if n not in value and n not in optional]
        if missing:
            raise OptionsError(f"{where} is missing {missing[0]!r}")
        return [_num(value.get(n, optional.get(n)), f"{where}.{n}") for n in names]
    items = _list(value, where)
    if not len(names) - len(optional) <= len(items) <= len(names):
        raise OptionsError(f"{where} must be [{', '.join(names)}] or an object with those keys")
    values = [_num(v, f"{where}[{i}]") for i, v in enumerate(items)]
    return values + [optional[n] for n in names[len(values) :]]


def _box(value: object, where: str) -> Box:
    """The one box parser, for regions and face lists: [x, y, w, h] or {"x", "y", "w", "h"[, "from", "to"]}."""
    span = _span(value, where)
    x, y, w, h = _fields(value, _BOX, {}, where)
    box = Box(x, y, w, h, start=span.start, end=span.end)
    _check_box(box, where)
    return box


def _ellipse(value: object, where: str) -> Ellipse:
    span = _span(value, where)
    cx, cy, rx, ry, angle = _fields(value, ("cx", "cy", "rx", "ry", "angle"), {"angle": 0.0}, where)
    return Ellipse(cx, cy, rx, ry, angle, start=span.start, end=span.end)


def _point_list(value: object, where: str) -> tuple[Point, ...]:
    points: list[Point] = []
    for i, item in enumerate(_list(value, where)):
        pair = _list(item, f"{where}[{i}]")
        if len(pair) != 2:
            raise OptionsError(f"{where}[{i}] must be a point [x, y]")
        points.append((_num(pair[0], f"{where}[{i}][0]"), _num(pair[1], f"{where}[{i}][1]")))
    return tuple(points)


def _stroke(value: object, where: str) -> Stroke:
    if not isinstance(value, dict) or "points" not in value or "radius" not in value:
        raise OptionsError(f'{where} must be an object with "points" and "radius"')
    _object(value, ("points", "radius", "erase"), where)
    erase = value.get("erase", False)
    if not isinstance(erase, bool):
        raise OptionsError(f"{where}.erase must be true or false")
    points, radius = _point_list(value["points"], f"{where}.points"), _num(value["radius"], f"{where}.radius")
    span = _span(value, where)
    return Stroke(points, radius, erase, start=span.start, end=span.end)


def _polygon(value: object, where: str) -> Polygon:
    span = _span(value, where)
    if isinstance(value, dict):
        if "points" not in value or set(value) - {"points", *_TIME}:
            raise OptionsError(f'{where} must be a list of points or {{"points": [...]}}')
        value = value["points"]
    return Polygon(_point_list(value, where), start=span.start, end=span.end)


def _load(data: bytes | str, name: str) -> object:
    if len(data) > MAX_JSON_BYTES:
        raise OptionsError(f"{name} is larger than {MAX_JSON_BYTES // (1024 * 1024)} MB")
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise OptionsError(f"{name} cannot be parsed: {str(exc)[:120]}") from exc


def _document(data: bytes | str) -> dict[str, object]:
    doc = _load(data, "regions JSON")
    if not isinstance(doc, dict):
        raise OptionsError('regions JSON must be an object such as {"strokes": [...], "boxes": [...]}')
    unknown = sorted(set(doc) - set(_KEYS))
    if unknown:
        raise OptionsError(f"regions JSON has unknown key {unknown[0]!r}; allowed: {', '.join(_KEYS)}")
    return doc


def parse_regions_json(data: bytes | str) -> Regions:
    """Strokes, boxes, ellipses and polygons from the JSON format in the README; OptionsError when malformed."""
    doc = _document(data)

    def each(key: str) -> list[tuple[object, str]]:
        return [(v, f"regions JSON: {key}[{i}]") for i, v in enumerate(_list(doc.get(key, []), f"regions JSON: {key}"))]

    strokes = tuple(_stroke(v, where) for v, where in each("strokes"))
    polygons = tuple(_polygon(v, where) for v, where in each("polygons"))
    if sum(len(s.points) for s in strokes) + sum(len(p.points) for p in polygons) > MAX_POINTS:
        raise OptionsError(f"regions JSON has more than {MAX_POINTS} points")
    regions = Regions(
        strokes=strokes,
        boxes=tuple(_box(v, where) for v, where in each("boxes")),
        ellipses=tuple(_ellipse(v, where) for v, where in each("ellipses")),
        polygons=polygons,
    )
    validate(regions)
    return regions


def _face(item: object, where: str) -> Box:
    if isinstance(item, dict) and "box" in item:  # a face as /v1/detect and `anonymize detect --json` give it
        unknown = sorted(set(item) - _DETECTION_KEYS)
        if unknown:
            raise OptionsError(f"{where} has unknown key {unknown[0]!r}")
        return _box(item["box"], f"{where}.box")
    return _box(item, where)


def parse_faces_json(data: bytes | str) -> tuple[Box, ...]:
    """A face list: a JSON list of boxes in any of the regions format's box forms, or of faces as /v1/detect
    returns them ({"box": {...}, "score": .., "source": ..}), or the whole `anonymize detect --json` object (its
    "faces" key); OptionsError when malformed."""
    doc = _load(data, "faces JSON")
    if isinstance(doc, dict) and "faces" in doc:
        doc = doc["faces"]
    if not isinstance(doc, list):
        raise OptionsError('faces JSON must be a list of boxes, or an object with a "faces" list')
    if len(doc) > MAX_FACES:
        raise OptionsError(f"faces JSON has more than {MAX_FACES} faces")
    return tuple(_face(item, f"faces JSON: faces[{i}]") for i, item in enumerate(doc))


def parse_faces_choice(text: str) -> tuple[bool, tuple[Box, ...] | None]:
    """(detect automatically?, the boxes given) from "auto" (or nothing), "none", or a face list (parse_faces_json)."""
    word = text.strip().lower()
    if word in ("", "auto"):
        return True, None
    if word == "none":
        return False, None
    return False, parse_faces_json(text)
