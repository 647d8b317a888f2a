"""Plain value types shared by the whole library.

All coordinates are in pixels of the *upright* image, i.e. after EXIF orientation has been applied:
what the user sees is what the coordinates mean.

The shapes a user marks (strokes, boxes, ellipses, polygons) may carry a time range, `start` and `end` in
seconds (the regions format's "from" and "to"), for videos: `regions.regions_at` picks the shapes active at a
time. A photo has no time: every shape applies to it, whatever its range.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Point = tuple[float, float]


@dataclass(frozen=True)
class Box:
    """Axis-aligned rectangle: top-left corner and size, in pixels."""

    x: float
    y: float
    w: float
    h: float
    start: float | None = None  # seconds; None = from the beginning
    end: float | None = None  # seconds; None = to the end

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    def scaled(self, factor: float) -> Box:
        """The box grown (or shrunk) about its centre."""
        w, h = self.w * factor, self.h * factor
        return Box(self.cx - w / 2, self.cy - h / 2, w, h)

    def iou(self, other: Box) -> float:
        ix = max(0.0, min(self.x + self.w, other.x + other.w) - max(self.x, other.x))
        iy = max(0.0, min(self.y + self.h, other.y + other.h) - max(self.y, other.y))
        inter = ix * iy
        union = self.w * self.h + other.w * other.h - inter
        return inter / union if union > 0 else 0.0


@dataclass(frozen=True)
class Detection:
    """A face found by a detector."""

    box: Box
    score: float
    source: str = ""


@dataclass(frozen=True)
class Stroke:
    """A brush stroke: a polyline (or a single point) painted with a round brush of `radius` pixels.

    An erasing stroke (`erase`) takes back what the user's earlier shapes and strokes covered; a later painting
    stroke can cover it again. It never uncovers a face.
    """

    points: tuple[Point, ...]
    radius: float
    erase: bool = False
    start: float | None = None
    end: float | None = None


@dataclass(frozen=True)
class Ellipse:
    """An ellipse by centre and radii, rotated by `angle` degrees."""

    cx: float
    cy: float
    rx: float
    ry: float
    angle: float = 0.0
    start: float | None = None
    end: float | None = None


@dataclass(frozen=True)
class Polygon:
    """A closed polygon."""

    points: tuple[Point, ...]
    start: float | None = None
    end: float | None = None


@dataclass(frozen=True)
class Regions:
    """Everything the user asked to obscure besides faces.

    `mask` is an encoded image (PNG, ...) of the same size as the upright photo; white means obscure. It has no
    time range. Drawing order: the mask image, then boxes, ellipses and polygons, then the strokes in order
    (painting adds, erasing takes back); faces are drawn over all of it.
    """

    strokes: tuple[Stroke, ...] = ()
    boxes: tuple[Box, ...] = ()
    ellipses: tuple[Ellipse, ...] = ()
    polygons: tuple[Polygon, ...] = ()
    mask: bytes | None = field(default=None, repr=False)

    def is_empty(self) -> bool:
        return not (self.strokes or self.boxes or self.ellipses or self.polygons or self.mask)
