"""How large a photo a detector needs, so that a caller can decode less of a large JPEG for detection alone.

Every pass of an ensemble shrinks a photo larger than its own size (see ensemble.Pass.scale): a photo whose long
side is at least the largest pass's gives the same faces, up to resampling, as the same photo at any larger size.
A JPEG decoder can decode at 1/2, 1/4 or 1/8 of the size almost for free (DCT scaling; Pillow's `Image.draft`),
so a caller that only wants faces (the page's first answer, `/v1/detect`) can decode a 12 MP JPEG at 1/2 and
map the boxes back with `scaled`; obscuring still works on the full-size pixels.
"""

from __future__ import annotations

import math

from ..types import Box, Detection
from .base import Detector
from .ensemble import Ensemble


def needed_long_side(detector: Detector) -> int | None:
    """The long side (px) above which a photo gives `detector` nothing more; None when it uses every pixel."""
    if isinstance(detector, Ensemble) and detector.plan.passes:
        return max(step.long_side for step in detector.plan.passes)
    return None


def draft_request(width: int, height: int, long_side: int | None) -> tuple[int, int] | None:
    """The size to ask `Image.draft` for, so that a width x height JPEG decodes with its long side still at
    least `long_side`; None when no reduction (1/2 at least) is possible."""
    if long_side is None or max(width, height) < 2 * long_side:
        return None
    factor = long_side / max(width, height)
    return max(1, math.ceil(width * factor)), max(1, math.ceil(height * factor))


def scaled(found: list[Detection], fx: float, fy: float) -> list[Detection]:
    """Detections in a reduced decoding mapped to the full-size photo (fx, fy: full size / reduced size)."""
    return [
        Detection(
            Box(d.box.x * fx, d.box.y * fy, d.box.w * fx, d.box.h * fy, d.box.start, d.box.end), d.score, d.source
        )
        for d in found
    ]
