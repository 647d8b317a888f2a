"""Parsing and checking what users give: the short text forms they type (boxes, ellipses, colours), the regions JSON
format (README: strokes, erasing strokes, boxes, ellipses, polygons, each with an optional time range) and face lists.
Errors are OptionsError, one line each, naming where in the document the problem is.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import NamedTuple

from .errors import OptionsError
from .types import Box, Ellipse, Point, Polygon, Regions, Stroke

Shape = Stroke | Box | Ellipse | Polygon

#: coordinates and sizes beyond this (in pixels) are refused: no photo is that large, and cv2 draws in int32
MAX_COORD = 1_000_000.0


def numbers(text: str, count: int, what: str) -> tuple[float, ...]:
    parts = [p.strip() for p in text.split(",")]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError as exc:
        raise OptionsError(f"{what} {text!r}: expected {count} numbers separated by commas") from exc
    if len(values) != count:
        raise OptionsError(f"{what} {text!r}: expected {count} numbers separated by commas")
    return values


def box(text: str) -> Box:
    """'X,Y,W,H' in pixels of the upright image."""
    x, y, w, h = numbers(text, 4, "box")
    if w <= 0 or h <= 0:
        raise OptionsError(f"box {text!r}: width and height must be positive")
    return Box(x, y, w, h)


def ellipse(text: str) -> Ellipse:
    """'CX,CY,RX,RY' in pixels of the upright image."""
    cx, cy, rx, ry = numbers(text, 4, "ellipse")
    if rx <= 0 or ry <= 0:
        raise OptionsError(f"ellipse {text!r}: radii must be positive")
    return Ellipse(cx, cy, rx, ry)


def colour(text: str) -> tuple[int, int, int]:
    """'#RRGGBB', 'RRGGBB' or 'R,G,B'."""
    raw = text.strip().lstrip("#")
    if "," in raw:
        values = numbers(raw, 3, "colour")
        if not all(v.is_integer() and 0 <= v <= 255 for v in values):
            raise OptionsError(f"colour {text!r}: each value must be a whole number from 0 to 255")
        return int(values[0]), int(values[1]), int(values[2])
    if len(raw) != 6:
        raise OptionsError(f"colour {text!r}: use #RRGGBB or R,G,B")
    try:
        return int(raw[0:2], 16), int(raw[2:4], 16), int(raw[4:6], 16)
    except ValueError as exc:
        raise OptionsError(f"colour {text!r}: use #RRGGBB or R,G,B") from exc


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


def check_box(box: Box, what: str) -> None:
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
        check_box(box, f"box {i}")
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
    check_box(box, where)
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
