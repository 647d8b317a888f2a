"""The metadata side of the pipeline: inspect, strip and the verification every output goes through.

Kept apart from the pixel work (pipeline.py) so that reading or stripping metadata loads neither OpenCV nor the
models: `anonymize inspect` and `anonymize strip` start in a fraction of the time.
"""

from __future__ import annotations

from dataclasses import replace

from . import imaging, metadata
from .errors import InputError, VerificationError, translated
from .metadata import Category, Report, StripResult
from .options import DEFAULT_LIMITS, Limits
from .summary import Summary


@translated
def inspect(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Report:
    """What metadata `data` carries."""
    imaging.check_size(data, limits)
    return metadata.inspect(data, limits)


@translated
def strip(data: bytes, limits: Limits = DEFAULT_LIMITS, keep_icc: bool = False) -> StripResult:
    """Remove the metadata (but the colour profile, with keep_icc), keeping pixel data untouched where the format
    allows; verified: nothing identifying is left and the output decodes."""
    imaging.check_size(data, limits)
    result = metadata.strip(data, limits, keep_icc)
    carried = verify_metadata(result.data, limits, kept(keep_icc))
    width, height, _orientation = check_decodes(result.data, limits)
    return replace(result, removed=metadata.not_carried(result.removed, carried), width=width, height=height)


def strip_summary(result: StripResult) -> Summary:
    """The summary of a strip, as for clean."""
    return Summary(
        operation="strip",
        format=result.format,
        width=result.width,
        height=result.height,
        faces=(),
        regions_obscured=False,
        removed=result.removed,
        lossless=result.lossless,
        orientation_applied=1,
        notes=result.notes,
        size=len(result.data),
    )


def kept(keep_icc: bool) -> frozenset[Category]:
    """What the user chose to keep: the colour profile, or nothing."""
    return frozenset({Category.COLOUR_PROFILE}) if keep_icc else frozenset()


def input_report(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Report | None:
    """The metadata report, or None when the container cannot be walked (the report is informational there)."""
    try:
        return metadata.inspect(data, limits)
    except InputError:
        return None  # the report is informational; the output is rebuilt from pixels and verified anyway


def verify_metadata(data: bytes, limits: Limits, allowed: frozenset[Category] = frozenset()) -> Report:
    """Fail closed: raise unless nothing but image structure (and what the user chose to keep) is left."""
    report = metadata.inspect(data, limits)
    left = [f for f in report.identifying if f.category not in allowed]
    if left:
        listed = "; ".join(f"{f.where}: {f.what}" for f in left[:3])
        raise VerificationError(f"output still carries metadata ({listed}); nothing was written")
    return report


def check_decodes(data: bytes, limits: Limits) -> tuple[int, int, int]:
    """Our own output decodes (width, height, orientation tag); VerificationError, never 'corrupt input', if not."""
    try:
        return imaging.check_decodes(data, limits)
    except InputError as exc:
        raise VerificationError(f"the output does not decode ({exc}); nothing was written") from exc
