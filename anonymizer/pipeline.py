"""The only workflow: decode -> detect faces -> build mask -> obscure -> encode -> verify.

Every public function takes bytes and returns bytes or plain data; nothing here touches a path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import formats, imaging, metadata, obscure, regions, segmentation, verify
from .errors import VerificationError, translated
from .faces import Detector, get_detector
from .faces.merge import absorb
from .formats import Format
from .imaging import Decoded
from .metadata import Report
from .options import DEFAULT_LIMITS, Background, CleanOptions, Limits
from .summary import Summary
from .types import Box, Detection, Regions
from .verify import inspect, strip, strip_summary

# inspect, strip and strip_summary live in verify.py (the metadata side, light to import) and are part of the one
# workflow this module stands for
__all__ = ["CleanResult", "DetectResult", "clean", "detect", "inspect", "strip", "strip_summary"]


@dataclass(frozen=True)
class CleanResult:
    """A clean photo and what was done to make it."""

    data: bytes
    format: Format
    width: int
    height: int
    faces: tuple[Detection, ...]
    regions_obscured: bool  # the user's regions (strokes, boxes, ellipses, polygons, mask) covered something
    orientation_applied: int
    removed: Report | None
    notes: tuple[str, ...] = ()

    def summary(self) -> Summary:
        """What was done, for every front-end's view (CLI line, --json, API headers and JSON)."""
        return Summary(
            operation="clean", format=self.format.name, width=self.width, height=self.height, faces=self.faces,
            regions_obscured=self.regions_obscured, removed=self.removed, lossless=False,
            orientation_applied=self.orientation_applied, notes=self.notes, size=len(self.data),
        )


@dataclass(frozen=True)
class DetectResult:
    """Faces found in the upright image."""

    width: int
    height: int
    faces: tuple[Detection, ...]
    orientation_applied: int


@translated
def detect(data: bytes, detector: Detector | None = None, limits: Limits = DEFAULT_LIMITS) -> DetectResult:
    """Decode `data` upright and find the faces in it (a large JPEG is decoded only as large as the detector
    looks: the faces are the same, found in a fraction of the time, and mapped back to the full size)."""
    from .faces._input import needed_long_side, scaled

    detector = detector or get_detector()
    decoded = imaging.decode(data, limits, at_least=needed_long_side(detector))
    found = detector.detect(decoded.pixels[:, :, :3])
    width, height = decoded.full_size or (decoded.width, decoded.height)
    if decoded.full_size is not None:
        found = scaled(found, width / decoded.width, height / decoded.height)
    return DetectResult(width, height, one_per_face(found), decoded.orientation)


def one_per_face(found: Sequence[Detection]) -> tuple[Detection, ...]:
    """The faces as reported (counts, the page's list, --json): a face the detector saw twice is listed once, as
    the union of its boxes (so a reported list, sent back as faces, covers what the detections did). The mask
    of an automatic clean is drawn from every detection, unmerged. Faces the user gave are kept as given."""
    detected = [d for d in found if d.source != "user"]
    if len(detected) < 2:
        return tuple(found)
    corners = [[d.box.x, d.box.y, d.box.x + d.box.w, d.box.y + d.box.h, d.score] for d in detected]
    rows = np.asarray(corners, np.float32)
    merged = tuple(
        Detection(Box(float(x1), float(y1), float(x2 - x1), float(y2 - y1)), float(score), detected[0].source)
        for x1, y1, x2, y2, score in absorb(rows).tolist()
    )
    return merged + tuple(d for d in found if d.source == "user")


def _faces(decoded: Decoded, options: CleanOptions, detector: Detector | None) -> tuple[Detection, ...]:
    if options.faces is not None:
        return tuple(Detection(box, 1.0, "user") for box in options.faces)
    if not options.detect_faces:
        return ()
    return tuple((detector or get_detector(options.detector)).detect(decoded.pixels[:, :, :3]))


def _encode(pixels: imaging.Pixels, target: Format, quality: int, icc: bytes | None) -> bytes:
    """Encode the output; an encoder failure is a failed output (VerificationError), never the input's fault."""
    try:
        return imaging.encode(pixels, target, quality, icc)
    except (OSError, ValueError) as exc:
        raise VerificationError(f"the {target.label} encoder failed ({exc}); nothing was written") from exc


def _verify_output(data: bytes, width: int, height: int, options: CleanOptions) -> Report:
    """Fail closed on metadata left, or an output that does not decode to the upright size; what it carries."""
    report = verify.verify_metadata(data, options.limits, verify.kept(options.keep_icc))
    if verify.check_decodes(data, options.limits) != (width, height, 1):
        raise VerificationError("output size or orientation differs from the upright input")
    return report


def _notes(decoded: Decoded, options: CleanOptions) -> tuple[str, ...]:
    notes: tuple[str, ...] = () if decoded.frames == 1 else (f"kept the first of {decoded.frames} frames",)
    if decoded.colour_profile:
        notes += (f"colours converted to sRGB from {decoded.colour_profile}",)
    if decoded.icc_profile:
        notes += (metadata.KEPT_PROFILE_NOTE,)
    if options.background is not Background.KEEP:
        notes += (f"obscured everything but the people ({options.background.value})",)
    return notes


def _obscured(
    decoded: Decoded, options: CleanOptions, detector: Detector | None
) -> tuple[imaging.Pixels, tuple[Detection, ...], bool]:
    """The upright pixels with background, faces and regions obscured; the faces; whether the user's regions covered
    anything."""
    faces = _faces(decoded, options, detector)
    mask = regions.build_mask(decoded.height, decoded.width, Regions(), faces, options)
    marked = False
    if not options.regions.is_empty():
        user = regions.build_mask(decoded.height, decoded.width, options.regions, (), options)
        marked = bool(user.any())
        mask |= user
    base = segmentation.obscure_background(decoded.pixels, options)  # the room first, faces and regions on top
    return (obscure.apply(base, mask, options) if bool(mask.any()) else base), faces, marked


@translated
def clean(data: bytes, options: CleanOptions | None = None, detector: Detector | None = None) -> CleanResult:
    """Obscure faces and regions, drop all metadata, and return the verified clean photo."""
    options = options or CleanOptions()
    decoded = imaging.decode(data, options.limits, options.keep_icc)
    pixels, faces, marked = _obscured(decoded, options, detector)
    width, height, orientation, notes = decoded.width, decoded.height, decoded.orientation, _notes(decoded, options)
    target, icc = formats.output_for(decoded.format, options.output_format), decoded.icc_profile
    del decoded  # large photos: keep one full-size copy alive while encoding, not two
    out = _encode(pixels, target, options.quality, icc)
    del pixels
    carried = _verify_output(out, width, height, options)
    removed = verify.input_report(data, options.limits)
    return CleanResult(
        data=out,
        format=target,
        width=width,
        height=height,
        faces=one_per_face(faces),
        regions_obscured=marked,
        orientation_applied=orientation,
        removed=None if removed is None else metadata.not_carried(removed, carried),
        notes=notes,
    )
