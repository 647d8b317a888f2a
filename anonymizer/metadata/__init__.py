"""Metadata: find it (`inspect`) and remove it (`strip`), in every container we read.

One reader per container, chosen by magic bytes. A reader walks the whole file, reports every part it
finds (image structure included, as Category.STRUCTURE) and records the parts decoding needs; strip
rebuilds the file from those parts only (an allowlist), keeping the compressed pixel data bit-exact.
Where that is not possible (HEIF, TIFF, or a JPEG whose EXIF orientation must be applied) strip
re-encodes from pixels and says so in `notes`, with `lossless=False`.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

from PIL import Image

from .. import imaging
from ..errors import CorruptImageError, UnsupportedFormatError
from ..options import DEFAULT_LIMITS, Limits, OutputFormat
from . import gif, isobmff, jpeg, png, tiff, webp
from .base import Parsed, Reader
from .exif import ORIENTATION_WORDS
from .report import Category, Finding, Report, Risk

__all__ = ["READERS", "Category", "Finding", "Report", "Risk", "StripResult", "inspect", "strip"]

REENCODE_QUALITY = 95
HEIF_WHY = "HEIF/AVIF cannot be written here, and its metadata items cannot be removed without rewriting the file"

READERS: dict[str, Reader] = {
    "jpeg": Reader(jpeg.parse, jpeg.rebuild),
    "png": Reader(png.parse, png.rebuild),
    "webp": Reader(webp.parse, webp.rebuild),
    "heif": Reader(isobmff.parse, None, HEIF_WHY),
    "avif": Reader(isobmff.parse, None, HEIF_WHY),
    "tiff": Reader(tiff.parse, None, tiff.WHY),
    "gif": Reader(gif.parse, gif.rebuild),
}


@dataclass(frozen=True)
class StripResult:
    """The photo without metadata. `format` is the output's format name; `removed` is what the input carried."""

    data: bytes
    format: str
    lossless: bool
    removed: Report
    notes: tuple[str, ...] = ()


def _parse(data: bytes, limits: Limits, lenient: bool) -> tuple[str, Reader, Parsed]:
    imaging.check_size(data, limits)
    fmt = imaging.sniff(data)
    reader = READERS.get(fmt.name)
    if reader is None:
        raise UnsupportedFormatError(f"reading metadata from {fmt.name} files is not supported yet")
    parsed = Parsed(fmt.name, limits)
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


def strip(data: bytes, limits: Limits = DEFAULT_LIMITS) -> StripResult:
    """`data` without any metadata; the compressed pixel data is kept bit-exact where the format allows."""
    name, reader, parsed = _parse(data, limits, lenient=False)
    report = Report(name, tuple(parsed.findings))
    if reader.rebuild is None:
        return _reencode(data, limits, report, parsed, reader.reencode_why)
    orientation = parsed.orientation
    unsure = (parsed.exif_blocks and "orientation_read" not in parsed.extra) or "xmp" in parsed.extra
    if orientation == 1 and unsure:
        orientation = _pillow_orientation(data)  # decode rotates as Pillow reads it (EXIF, else XMP): ask Pillow
    if orientation != 1:
        words = ORIENTATION_WORDS.get(orientation, str(orientation))
        source = "EXIF" if parsed.orientation != 1 else "XMP or EXIF"
        why = f"{source} orientation {orientation} ({words}) was applied to the pixels, since the tag cannot stay"
        if name == "jpeg":
            why += "; a lossless JPEG rotation (jpegtran) is not available"
        return _reencode(data, limits, report, parsed, why)
    return StripResult(reader.rebuild(data, parsed), name, True, report, tuple(parsed.notes))


def _pillow_orientation(data: bytes) -> int:
    """The orientation Pillow (and so imaging.decode) would apply; 1 when there is none or it cannot tell."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            value = im.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - Pillow raises many types on malformed EXIF; our own parse already ran
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _reencode(data: bytes, limits: Limits, report: Report, parsed: Parsed, why: str) -> StripResult:
    decoded = imaging.decode(data, limits)
    target = imaging.output_format(decoded.format, OutputFormat.SAME)
    out = imaging.encode(decoded.pixels, target, REENCODE_QUALITY)
    quality = f" at quality {REENCODE_QUALITY}" if target.name in ("jpeg", "webp") else ""
    notes = [f"re-encoded from pixels as {target.name.upper()}{quality}: {why}"]
    if decoded.frames > 1:
        notes.append(f"kept the first of {decoded.frames} frames")
    notes.extend(parsed.notes)
    return StripResult(out, target.name, False, report, tuple(notes))
