"""Upright previews of a photo, optionally with face boxes drawn: for `detect --preview` and the web page."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from . import imaging
from .formats import FORMATS
from .options import DEFAULT_LIMITS, Limits
from .types import Detection


def draw(data: bytes, faces: Sequence[Detection], limits: Limits = DEFAULT_LIMITS, max_side: int = 0) -> bytes:
    """The upright image as PNG (no metadata), with each face box drawn and numbered, scaled to max_side."""
    pixels = imaging.decode(data, limits).pixels[:, :, :3].copy()
    scale = 1.0
    if max_side and max(pixels.shape[:2]) > max_side:
        scale = max_side / max(pixels.shape[:2])
        size = (round(pixels.shape[1] * scale), round(pixels.shape[0] * scale))
        pixels = np.ascontiguousarray(cv2.resize(pixels, size, interpolation=cv2.INTER_AREA))
    thickness = max(2, round(max(pixels.shape[:2]) / 400))
    for number, det in enumerate(faces, start=1):
        b = det.box
        p1 = (round(b.x * scale), round(b.y * scale))
        p2 = (round((b.x + b.w) * scale), round((b.y + b.h) * scale))
        cv2.rectangle(pixels, p1, p2, (255, 0, 64), thickness)
        cv2.putText(
            pixels,
            str(number),
            (p1[0], max(12, p1[1] - 4)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4 * thickness,
            (255, 0, 64),
            thickness,
        )
    return imaging.encode(pixels, FORMATS["png"], 100)
