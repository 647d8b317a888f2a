"""Parsing the short text forms users type: boxes, ellipses, colours. Errors are OptionsError."""

from __future__ import annotations

from .errors import OptionsError
from .types import Box, Ellipse


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
