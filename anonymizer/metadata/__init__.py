"""Metadata: find it (`inspect`) and remove it (`strip`), in every container we read.

One reader per container, chosen by the format registry (anonymizer.formats). A reader walks the whole file,
reports every part it finds (image structure included, as Category.STRUCTURE) and accounts for every byte:
what no field explains (slack in a segment, data past a stream's end, unused tables and palette entries) is
reported as hidden data. Strip writes the file anew from the parsed fields of the parts decoding needs (an
allowlist), at the exact lengths the format defines, keeping only the compressed pixel data bit-exact. Where
that is not possible (HEIF, TIFF, a JPEG whose EXIF orientation must be applied, or bytes hidden inside
compressed data) strip re-encodes from pixels and says so in `notes`, with `lossless=False`. With keep_icc a
valid colour profile stays, rebuilt with its colour tags only (a re-encode embeds the rebuilt profile too).
`removed` is the input's report here; pipeline.strip narrows it with not_carried to what the verified output no
longer carries.
"""

from __future__ import annotations

import io
import struct
from collections import Counter
from dataclasses import dataclass

from PIL import Image

from ..errors import CorruptImageError, UnsupportedFormatError
from ..options import DEFAULT_LIMITS, QUALITY, Limits, OutputFormat
from .base import Parsed, Reader
from .exif import ORIENTATION_WORDS
from .report import Category, Finding, Report, Risk

__all__ = [
    "KEPT_PROFILE_NOTE", "Category", "Finding", "Report", "Risk", "StripResult", "inspect", "not_carried",
    "strip",
]  # fmt: skip

KEPT_PROFILE_NOTE = "kept the colour profile, as asked (rebuilt with its colour tags only)"
@dataclass(frozen=True)
class StripResult:
    """The photo without metadata. `format` is the output's format name; `removed` is what the input carried
    and the output does not (from pipeline.strip: everything, but a colour profile kept with keep_icc)."""

    data: bytes
    format: str
    lossless: bool
    removed: Report
    notes: tuple[str, ...] = ()
    width: int = 0  # of the output as it decodes (pipeline.strip fills them in when it verifies the output)
    height: int = 0


def _parse(data: bytes, limits: Limits, lenient: bool, keep_icc: bool = False) -> tuple[str, Reader, Parsed]:
    from .. import formats, imaging  # the registry holds our readers: imported here, not at package import

    imaging.check_size(data, limits)
    fmt = formats.sniff(data)
    reader = fmt.reader
    if reader is None:
        raise UnsupportedFormatError(f"reading metadata from {fmt.label} files is not supported here")
    parsed = Parsed(fmt.name, limits, keep_icc)
    try:
        reader.parse(data, parsed)
    except CorruptImageError as exc:
        if not (lenient and parsed.header_seen):
            raise
        parsed.unparseable(f"{fmt.name.upper()} @ {parsed.pos:#x}", exc, len(data) - parsed.pos)
    except (IndexError, struct.error, ValueError, UnicodeError, OverflowError) as exc:
        # Defence in depth: every read is bounded, so this is a reader bug; still a typed error to the caller.
        raise CorruptImageError(f"the {fmt.name} structure cannot be read ({type(exc).__name__})") from exc
    return fmt.name, reader, parsed


def inspect(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Report:
    """Everything `data` carries besides its pixels, in file order.

    A file broken after its image header is reported with an 'unparseable data' finding (never clean);
    one broken before it raises CorruptImageError.
    """
    name, _reader, parsed = _parse(data, limits, lenient=True)
    return Report(name, tuple(parsed.findings))


def strip(data: bytes, limits: Limits = DEFAULT_LIMITS, keep_icc: bool = False) -> StripResult:
    """`data` without any metadata; the compressed pixel data is kept bit-exact where the format allows.

    keep_icc keeps the colour profile as it is (the ICC profile, and in PNG the sRGB, gAMA, cHRM, cICP ... chunks).
    """
    try:
        name, reader, parsed = _parse(data, limits, lenient=False, keep_icc=keep_icc)
    except CorruptImageError as exc:
        return _damaged(data, limits, keep_icc, exc)
    report = Report(name, tuple(parsed.findings))
    if reader.rebuild is None:
        return _reencode(data, limits, report, parsed, reader.reencode_why)
    if why := _orientation_why(data, name, parsed) or parsed.reencode_why:
        return _reencode(data, limits, report, parsed, why)
    return StripResult(reader.rebuild(data, parsed), name, True, report, _profile_notes(parsed, parsed.kept_colour))


def _damaged(data: bytes, limits: Limits, keep_icc: bool, exc: CorruptImageError) -> StripResult:
    """A container we cannot walk to its end (a damaged camera JPEG): if its pixels still decode, re-encode them
    and say the strip was not lossless; otherwise the original error stands."""
    try:
        name, _reader, parsed = _parse(data, limits, lenient=True, keep_icc=keep_icc)
    except CorruptImageError:
        raise exc from None
    report = Report(name, tuple(parsed.findings))
    try:
        return _reencode(data, limits, report, parsed, f"its structure is damaged ({exc})")
    except CorruptImageError:
        raise exc from None


def _orientation_why(data: bytes, name: str, parsed: Parsed) -> str:
    """Why the pixels must be re-encoded upright, or '' when the photo has no orientation to apply."""
    orientation = parsed.orientation
    unsure = (parsed.exif_blocks and "orientation_read" not in parsed.extra) or "xmp" in parsed.extra
    if orientation == 1 and unsure:
        orientation = _pillow_orientation(data)  # decode rotates as Pillow reads it (EXIF, else XMP): ask Pillow
    if orientation == 1:
        return ""
    words = ORIENTATION_WORDS.get(orientation, str(orientation))
    source = "EXIF" if parsed.orientation != 1 else "XMP or EXIF"
    why = f"{source} orientation {orientation} ({words}) was applied to the pixels, since the tag cannot stay"
    if name == "jpeg":
        why += "; a lossless JPEG rotation (jpegtran) is not available"
    return why


def _profile_notes(parsed: Parsed, kept: bool) -> tuple[str, ...]:
    """What became of the colour profile: kept as asked, or the readers' notes on its removal."""
    return (KEPT_PROFILE_NOTE,) if kept else tuple(parsed.notes)


def not_carried(report: Report, output: Report) -> Report:
    """The findings of `report` (an input's) that `output` (what was made of it) no longer carries.

    Findings are matched by category and description, as many times as the output has each.
    """
    left: Counter[tuple[Category, str]] = Counter((f.category, f.what) for f in output.identifying)
    removed = []
    for finding in report.findings:
        key = (finding.category, finding.what)
        if left[key] > 0:
            left[key] -= 1
        else:
            removed.append(finding)
    return Report(report.format, tuple(removed))


def _pillow_orientation(data: bytes) -> int:
    """The orientation Pillow (and so imaging.decode) would apply; 1 when there is none or it cannot tell."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            value = im.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - Pillow raises many types on malformed EXIF; our own parse already ran
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _reencode(data: bytes, limits: Limits, report: Report, parsed: Parsed, why: str) -> StripResult:
    from .. import formats, imaging

    decoded = imaging.decode(data, limits, parsed.keep_icc)
    target = formats.output_for(decoded.format, OutputFormat.SAME)
    out = imaging.encode(decoded.pixels, target, QUALITY, decoded.icc_profile)
    quality = f" at quality {QUALITY}" if target.name in ("jpeg", "webp") else ""
    notes = [f"re-encoded from pixels as {target.label}{quality} (not lossless): {why}"]
    if decoded.frames > 1:
        notes.append(f"kept the first of {decoded.frames} frames")
    notes.extend(_profile_notes(parsed, decoded.icc_profile is not None))
    return StripResult(out, target.name, False, report, tuple(notes))
