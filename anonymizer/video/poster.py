"""A video's poster frame, for a frontend to show before a job starts: its faces, its upright preview, its timing
and the video's metadata report (what /v1/detect answers for a video)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, BinaryIO

from .. import formats as registry
from .. import media, review
from ..errors import InputError
from ..faces import Detector
from ..metadata import Report
from ..options import Limits

#: the poster is the first frame at or after this many seconds (the very first frame is often a fade-in)
POSTER_SECONDS = 1.0


@dataclass(frozen=True)
class PosterReview:
    found: review.ReviewResult
    video: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {**self.found.to_json(), "video": self.video}


def _poster_png(src: BinaryIO, limits: Limits) -> tuple[bytes, dict[str, Any]]:
    """The poster frame, upright, as a PNG, and the video's timing."""
    from ..imaging import encode
    from . import frames

    with frames.Source(src, limits) as source:
        info = source.info
        chosen = None
        for event in source.events(with_audio=False):
            if isinstance(event, frames.Frame):
                chosen = event
                if event.seconds(info.time_base) >= POSTER_SECONDS:
                    break
        if chosen is None:
            raise InputError("the video has no frame to show")
        png = encode(chosen.rgb, registry.FORMATS["png"], 100)
        rate = float(info.rate) if info.rate else 0.0
        facts = {
            "format": info.format,
            "duration": round(info.frames / rate, 3) if info.frames and rate else 0.0,
            "frame_rate": round(rate, 3),
            "frames": info.frames,
            "rotation": source.rotation,
            "poster_time": round(chosen.seconds(info.time_base), 3),
            "audio": info.audio_codec is not None,
        }
    return png, facts


def _report_or_none(data: bytes, limits: Limits) -> Report | None:
    try:
        return media.inspect_stream(io.BytesIO(data), limits)
    except InputError:
        return None


def poster_review(data: bytes, detector: Detector, limits: Limits) -> PosterReview:
    """Faces in the poster frame (upright pixels), the poster as a JPEG preview, the video's metadata report."""
    png, facts = _poster_png(io.BytesIO(data), limits)
    found = review.review(png, detector, limits, with_preview=True)
    metadata = _report_or_none(data, limits)
    return PosterReview(review.ReviewResult(found.detected, metadata, found.preview), facts)

