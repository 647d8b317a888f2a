"""What a front-end shows before cleaning: the faces found, the metadata the file carries, an upright preview.

`review()` is the detect-plus-inspect composition the service's /v1/detect and the page use, so that a photo is
uploaded once when it is opened; `needs_detector()` is the one answer to "does this clean need the face model".
"""

from __future__ import annotations

from dataclasses import dataclass

from . import pipeline, summary, verify
from .faces import Detector
from .metadata import Report
from .options import DEFAULT_LIMITS, CleanOptions, Limits, OutputFormat
from .pipeline import CleanResult, DetectResult

#: JPEG quality of previews: they are for the screen, never shared
PREVIEW_QUALITY = 85


@dataclass(frozen=True)
class ReviewResult:
    """The faces in the upright photo, its metadata report (None when its container cannot be walked, though its
    pixels decode) and, when asked for, its upright preview."""

    detected: DetectResult
    metadata: Report | None
    preview: CleanResult | None = None

    def to_json(self) -> summary.JSON:
        """/v1/detect's JSON (without the preview's bytes): the detect view plus the metadata report."""
        report = None if self.metadata is None else summary.report(self.metadata)
        return {**summary.detect_result(self.detected), "metadata": report}


def needs_detector(options: CleanOptions) -> bool:
    """Whether clean() with `options` runs face detection (faces neither given nor switched off)."""
    return options.detect_faces and options.faces is None


def preview(data: bytes, limits: Limits = DEFAULT_LIMITS) -> CleanResult:
    """The photo upright as a metadata-free JPEG at full size, for screens that cannot show the original (HEIC).

    It is the clean pipeline with nothing to obscure: decoded upright, re-encoded from pixels and verified, so its
    geometry is exactly the one detect() and clean() use. Nothing is obscured: a preview is not to be shared.
    """
    options = CleanOptions(detect_faces=False, output_format=OutputFormat.JPEG, quality=PREVIEW_QUALITY, limits=limits)
    return pipeline.clean(data, options)


def review(
    data: bytes, detector: Detector | None = None, limits: Limits = DEFAULT_LIMITS, with_preview: bool = False
) -> ReviewResult:
    """Faces (found by `detector`, default the bundled one) and metadata of `data`, and its preview if asked."""
    detected = pipeline.detect(data, detector, limits)
    return ReviewResult(detected, verify.input_report(data, limits), preview(data, limits) if with_preview else None)
