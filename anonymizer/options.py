"""Options for the pipeline: enums, not strings; validated once, when built."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from .errors import OptionsError
from .types import Box, Regions


class Method(StrEnum):
    """How a region is obscured. Every method destroys the original pixels inside the region."""

    BLUR = "blur"
    PIXELATE = "pixelate"
    FILL = "fill"
    MASK = "mask"


class FaceShape(StrEnum):
    """The region drawn over a face: its box grown `face_scale` times about its centre, as an ellipse or a box."""

    ELLIPSE = "ellipse"
    BOX = "box"


class OutputFormat(StrEnum):
    """Format of the clean photo. SAME keeps the input's format where we can write it."""

    SAME = "same"
    JPEG = "jpeg"
    PNG = "png"
    WEBP = "webp"


class Background(StrEnum):
    """What happens to everything that is not a person."""

    KEEP = "keep"
    BLUR = "blur"
    FILL = "fill"


#: no method keeps more than this many cells across a region: beyond it faces start to come back (bench_privacy)
MAX_CELLS = 12
#: cells across a region by default, for the methods that have a strength (obscure.METHODS implements them)
DEFAULT_CELLS: dict[Method, int] = {Method.BLUR: 3, Method.PIXELATE: 4}


@dataclass(frozen=True)
class StrengthRange:
    """What `strength` means for a method: cells across a region, from `strongest` to `weakest`."""

    strongest: int
    default: int
    weakest: int


def strength_range(method: Method) -> StrengthRange | None:
    """The strengths `method` accepts and its default; None when it has no strength (fill, mask)."""
    default = DEFAULT_CELLS.get(method)
    return None if default is None else StrengthRange(1, default, MAX_CELLS)


def cells_for(method: Method, strength: float | None) -> int:
    """Cells across a region for `method` at `strength` (None: the default); OptionsError outside its range.

    Methods without a strength return 0 and ignore `strength`.
    """
    bounds = strength_range(method)
    if bounds is None:
        return 0
    value = bounds.default if strength is None else strength
    if isinstance(value, bool) or not math.isfinite(value) or value < bounds.strongest:
        raise OptionsError(
            f"{method.value} strength is the number of cells across a region: at least {bounds.strongest}"
        )
    if value > bounds.weakest:
        raise OptionsError(
            f"{method.value} strength {value:g} would keep too much detail: "
            f"at most {bounds.weakest} cells across a region (lower is stronger)"
        )
    return int(value)



@dataclass(frozen=True)
class Limits:
    """Hard limits that hold for every input."""

    max_bytes: int = 200 * 1024 * 1024
    max_pixels: int = 120_000_000
    max_item_bytes: int = 64 * 1024 * 1024
    max_depth: int = 16

    def __post_init__(self) -> None:
        if min(self.max_bytes, self.max_pixels, self.max_item_bytes, self.max_depth) <= 0:
            raise OptionsError("limits must be positive")


DEFAULT_LIMITS = Limits()
#: the ranges CleanOptions accepts (front-ends advertise them from here)
QUALITY_RANGE = (1, 100)
FACE_SCALE_RANGE = (1.0, 4.0)
#: JPEG/WebP quality of every re-encode (clean's default, and strip's when the container cannot be rebuilt)
QUALITY = 92


@dataclass(frozen=True)
class CleanOptions:
    """What `clean` does.

    faces: None means "detect automatically" (when detect_faces is true); a tuple of boxes is used
    as given instead of detection (so a frontend can drop a false detection or add a missed face).
    strength: method-specific, None for the method's default; each method has a floor it refuses to go below.
    """

    method: Method = Method.BLUR
    strength: float | None = None
    fill_color: tuple[int, int, int] = (0, 0, 0)
    detect_faces: bool = True
    faces: tuple[Box, ...] | None = None
    face_scale: float = 1.4
    face_shape: FaceShape = FaceShape.BOX  # hides the head's outline better than an ellipse (bench_privacy)
    detector: str = "default"
    regions: Regions = field(default_factory=Regions)
    background: Background = Background.KEEP
    output_format: OutputFormat = OutputFormat.SAME
    quality: int = QUALITY
    keep_icc: bool = False  # keep the colour profile (it may name the editing software and a date)
    limits: Limits = DEFAULT_LIMITS

    def __post_init__(self) -> None:
        if not QUALITY_RANGE[0] <= self.quality <= QUALITY_RANGE[1]:
            raise OptionsError(f"quality must be between {QUALITY_RANGE[0]} and {QUALITY_RANGE[1]}, not {self.quality}")
        if not FACE_SCALE_RANGE[0] <= self.face_scale <= FACE_SCALE_RANGE[1]:
            raise OptionsError(
                f"face scale must be between {FACE_SCALE_RANGE[0]} and {FACE_SCALE_RANGE[1]}, not {self.face_scale}"
            )
        if any(not 0 <= c <= 255 for c in self.fill_color) or len(self.fill_color) != 3:
            raise OptionsError("fill colour must be three values from 0 to 255")
        for box in self.faces or ():
            if box.w <= 0 or box.h <= 0:
                raise OptionsError("face boxes must have a positive width and height")
        cells_for(self.method, self.strength)
