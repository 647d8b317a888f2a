"""A video's poster frame for /v1/detect: its faces, its upright preview, its timing, its metadata report.

Stop-gap: this composes library calls only (the library decodes, detects and encodes; nothing here touches
pixels, which stay an opaque object between anonymizer.video.frames and anonymizer.imaging). It belongs in the
library as `anonymizer.video.poster(src, limits) -> (pixels, info)` (or a review-like `review_video`); once that
exists, `poster_review` shrinks to one call of it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, BinaryIO

from anonymizer import InputError, Limits, Report, media, review
from anonymizer import formats as registry
from anonymizer.faces import Detector

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
    from anonymizer.imaging import encode
    from anonymizer.video import frames

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

