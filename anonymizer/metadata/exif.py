"""EXIF (and TIFF tags) in plain words: where the photo was taken, by whom, with what, when.

`findings` reads an EXIF block (TIFF structure, as in JPEG APP1 after 'Exif\\0\\0', PNG eXIf, WebP EXIF,
HEIF Exif items); `file_findings` reads the tags of a TIFF file, where image-structure tags are kept
apart from metadata.
"""

from __future__ import annotations

import math

from PIL.ExifTags import GPSTAGS, TAGS

from ..errors import CorruptImageError
from ..options import Limits
from . import blobs, tiffwalk, xmp
from .base import Parsed, human_size, jpeg_dimensions, printable
from .report import Category, Risk
from .tiffwalk import Entry, Ifd, Tiff

_C = Category
TAG_MEANING: dict[int, tuple[Category, str, Risk | None]] = {
    0x010E: (_C.IDENTITY, "image description", None),
    0x010F: (_C.DEVICE, "camera make", None),
    0x0110: (_C.DEVICE, "camera model", None),
    0x0131: (_C.SOFTWARE, "software", None),
    0x0132: (_C.TIME, "date modified", None),
    0x013B: (_C.IDENTITY, "artist", None),
    0x013C: (_C.DEVICE, "host computer", None),
    0x8298: (_C.IDENTITY, "copyright", None),
    0x9003: (_C.TIME, "date taken", None),
    0x9004: (_C.TIME, "date digitized", None),
    0x9010: (_C.TIME, "time zone", None),
    0x9011: (_C.TIME, "time zone (taken)", None),
    0x9012: (_C.TIME, "time zone (digitized)", None),
    0x9286: (_C.IDENTITY, "user comment", None),
    0xA420: (_C.IDENTITY, "unique image ID", Risk.MEDIUM),
    0xA430: (_C.IDENTITY, "camera owner name", None),
    0xA431: (_C.DEVICE, "camera serial number", Risk.HIGH),
    0xA433: (_C.DEVICE, "lens make", None),
    0xA434: (_C.DEVICE, "lens model", None),
    0xA435: (_C.DEVICE, "lens serial number", Risk.HIGH),
    0x9C9B: (_C.IDENTITY, "title (Windows)", None),
    0x9C9C: (_C.IDENTITY, "comment (Windows)", None),
    0x9C9D: (_C.IDENTITY, "author (Windows)", None),
    0x9C9E: (_C.IDENTITY, "keywords (Windows)", None),
    0x9C9F: (_C.IDENTITY, "subject (Windows)", None),
    0xC4A5: (_C.SOFTWARE, "print settings (PrintIM)", Risk.LOW),
    0x830E: (_C.LOCATION, "GeoTIFF pixel scale", None),
    0x8482: (_C.LOCATION, "GeoTIFF tie points (map position)", None),
    0x85D8: (_C.LOCATION, "GeoTIFF transformation (map position)", None),
    0x87AF: (_C.LOCATION, "GeoTIFF keys (map projection)", None),
    0x87B0: (_C.LOCATION, "GeoTIFF double parameters", None),
    0x87B1: (_C.LOCATION, "GeoTIFF text parameters", None),
}
ORIENTATION_WORDS = {1: "normal", 2: "mirrored", 3: "rotate 180°", 4: "mirrored vertically",
                     5: "mirrored and rotated 90° counter-clockwise", 6: "rotate 90° clockwise",
                     7: "mirrored and rotated 90° clockwise", 8: "rotate 90° counter-clockwise"}
# Tags a TIFF file needs to be decoded: image structure, not metadata.
STRUCTURE_TAGS = frozenset({
    254, 255, 256, 257, 258, 259, 262, 263, 266, 273, 274, 277, 278, 279, 280, 281, 282, 283, 284, 292, 293, 296,
    297, 301, 317, 318, 319, 320, 321, 322, 323, 324, 325, 332, 338, 339, 340, 341, 347, 529, 530, 531, 532,
})
SPECIAL_TAGS = frozenset({0x0112, 0x927C, 0x02BC, 0x83BB, 0x8649, 0x8773, 0x0201, 0x0202, *tiffwalk.POINTERS})
MAX_TAG_FINDINGS = 60


def _name(tag: int, gps: bool = False) -> str:
    return (GPSTAGS if gps else TAGS).get(tag, f"tag {tag:#06x}")


def _value_text(tiff: Tiff, e: Entry) -> str:
    raw = tiff.raw(e)
    if e.tag in (0x9C9B, 0x9C9C, 0x9C9D, 0x9C9E, 0x9C9F):
        return printable(raw.decode("utf-16-le", "replace").encode())
    if e.tag == 0x9286 and raw[:8] in (b"ASCII\x00\x00\x00", b"UNICODE\x00", b"\x00" * 8):
        return printable(raw[8:].decode("utf-16" if raw[:7] == b"UNICODE" else "latin-1", "replace").encode())
    return printable(tiff.text(e))


def findings(block: bytes, where: str, parsed: Parsed) -> None:
    """Findings for one EXIF block (TIFF structure); malformed blocks become an 'unparseable' finding.

    Only the first block's orientation counts, as in Pillow.
    """
    primary = parsed.exif_blocks == 0
    parsed.exif_blocks += 1
    if not primary and not parsed.detailed(where, "EXIF block", len(block)):
        return
    try:
        tiff = tiffwalk.read(block, parsed.limits)
    except CorruptImageError as exc:
        parsed.unparseable(where, exc, len(block))
        return
    before = len(parsed.findings)
    if primary:
        parsed.extra["orientation_read"] = 1  # the first EXIF block parsed: Pillow would find the same tag
    for ifd in tiff.ifds:
        _ifd_findings(tiff, ifd, f"{where} > {ifd.name}", parsed, primary, file_mode=False)
    if len(parsed.findings) == before:
        parsed.add(where, f"EXIF block without tags, {human_size(len(block))}", Category.UNKNOWN, len(block), Risk.LOW)


def file_findings(tiff: Tiff, parsed: Parsed) -> None:
    """Findings for the IFDs of a TIFF file: structure in the first image, metadata everywhere."""
    for ifd in tiff.ifds:
        _ifd_findings(tiff, ifd, f"TIFF {ifd.name} @ {ifd.offset:#x}", parsed, True, file_mode=True)


def _ifd_findings(tiff: Tiff, ifd: Ifd, where: str, parsed: Parsed, primary: bool, file_mode: bool) -> None:
    if ifd.name == "GPS":
        _gps(tiff, ifd, where, parsed)
        return
    if ifd.name == "IFD1" and not file_mode:
        _thumbnail(tiff, ifd, where, parsed)
    elif file_mode and ifd.name != "IFD0" and ifd.name not in ("ExifIFD", "Interop"):
        _extra_image(tiff, ifd, where, parsed)
    other: list[str] = []
    for tag, e in ifd.entries.items():
        if tag in SPECIAL_TAGS:
            _special(tiff, e, where, parsed, primary and ifd.name == "IFD0")
        elif tag in TAG_MEANING:
            category, label, risk = TAG_MEANING[tag]
            binary = category is Category.LOCATION or e.tag == 0xC4A5
            text = human_size(e.size) if binary else _value_text(tiff, e)
            if not text:
                text, risk = "(empty)", Risk.LOW
            parsed.add(f"{where} > {_name(tag)}", f"{label}: {text}", category, e.size, risk)
        elif not (file_mode and tag in STRUCTURE_TAGS):
            other.append(_name(tag))
    if ifd.bad:
        parsed.add(where, f"{ifd.bad} tags point outside the data", Category.UNKNOWN, 0, Risk.MEDIUM)
    if other:
        names = ", ".join(other[:10]) + (f" and {len(other) - 10} more" if len(other) > 10 else "")
        image_ifd = file_mode and ifd.name not in ("ExifIFD", "Interop")
        category, risk = (Category.UNKNOWN, None) if image_ifd else (Category.DEVICE, Risk.LOW)
        parsed.add(where, f"camera settings and other tags ({len(other)}): {names}", category, 0, risk)
    if file_mode and ifd.name == "IFD0":
        parsed.structure(where, f"image structure ({sum(t in STRUCTURE_TAGS for t in ifd.entries)} tags)")


def _special(tiff: Tiff, e: Entry, where: str, parsed: Parsed, primary: bool) -> None:
    here = f"{where} > {_name(e.tag)}"
    raw = tiff.raw(e)
    if e.tag == 0x0112:
        value = tiff.int(e, 1)
        if primary and 1 <= value <= 8 and parsed.orientation == 1:
            parsed.orientation = value
        words = ORIENTATION_WORDS.get(value, f"invalid value {value}")
        parsed.add(here, f"orientation: {words}", Category.DEVICE, 0, Risk.LOW)
    elif e.tag == 0x927C:
        parsed.add(here, f"maker notes, {human_size(e.size)} (vendor data; may hold serial numbers)",
                   Category.DEVICE, e.size, Risk.HIGH)
    elif e.tag == 0x02BC:
        xmp.findings(raw, here, parsed)
    elif e.tag == 0x83BB:
        blobs.iptc_findings(raw, here, parsed)
    elif e.tag == 0x8649:
        blobs.irb_findings(raw, here, parsed)
    elif e.tag == 0x8773:
        blobs.icc_findings(raw, here, parsed)


def _thumbnail(tiff: Tiff, ifd: Ifd, where: str, parsed: Parsed) -> None:
    off, length = ifd.entries.get(0x0201), ifd.entries.get(0x0202)
    if off is not None and length is not None:
        start, size = tiff.int(off), tiff.int(length)
        dims = jpeg_dimensions(tiff.data, start, start + size) if start + size <= len(tiff.data) else None
        shape = f" {dims[0]}x{dims[1]}" if dims else ""
        parsed.add(f"{where} > thumbnail", f"embedded thumbnail{shape} (JPEG, {human_size(size)})",
                   Category.EMBEDDED, size)
    elif 0x0111 in ifd.entries or 0x0100 in ifd.entries:
        w, h = tiff.int(ifd.entries.get(0x0100)), tiff.int(ifd.entries.get(0x0101))
        parsed.add(f"{where} > thumbnail", f"embedded thumbnail {w}x{h} (uncompressed)", Category.EMBEDDED)


def _extra_image(tiff: Tiff, ifd: Ifd, where: str, parsed: Parsed) -> None:
    w, h = tiff.int(ifd.entries.get(0x0100)), tiff.int(ifd.entries.get(0x0101))
    kind = "reduced-resolution preview" if tiff.int(ifd.entries.get(0x00FE)) & 1 else "additional image"
    parsed.add(where, f"{kind} {w}x{h}", Category.EMBEDDED)


def _degrees(tiff: Tiff, e: Entry | None) -> float:
    if e is None:
        return math.nan
    parts = tiff.rationals(e)[:3]
    if len(parts) == 1:
        return parts[0]
    if len(parts) < 3:
        return math.nan
    return parts[0] + parts[1] / 60 + parts[2] / 3600


def _ref(tiff: Tiff, e: Entry | None, default: str) -> str:
    text = tiff.raw(e)[:1].decode("ascii", "replace") if e is not None else ""
    return text if text.strip("\x00 ") else default


def _gps(tiff: Tiff, ifd: Ifd, where: str, parsed: Parsed) -> None:
    entries = ifd.entries
    lat, lon = _degrees(tiff, entries.get(2)), _degrees(tiff, entries.get(4))
    if math.isfinite(lat) and math.isfinite(lon) and (lat or lon):
        text = f"GPS position {lat:.4f} {_ref(tiff, entries.get(1), 'N')}, {lon:.4f} {_ref(tiff, entries.get(3), 'E')}"
        parsed.add(f"{where} > GPSLatitude/GPSLongitude", text, Category.LOCATION)
    elif 2 in entries or 4 in entries:
        parsed.add(where, "GPS position fields present but empty or unreadable", Category.LOCATION, 0, Risk.MEDIUM)
    else:
        parsed.add(where, "GPS block without a position", Category.LOCATION, 0, Risk.LOW)
    if 6 in entries:
        alt = tiff.rationals(entries[6])[:1]
        if alt and math.isfinite(alt[0]):
            parsed.add(f"{where} > GPSAltitude", f"GPS altitude {alt[0]:.1f} m", Category.LOCATION, 0, Risk.MEDIUM)
    if 29 in entries or 7 in entries:
        date = printable(tiff.text(entries[29])) if 29 in entries else ""
        parts = tiff.rationals(entries[7])[:3] if 7 in entries else []
        clock = ":".join(f"{v:02.0f}" for v in parts if math.isfinite(v))
        parsed.add(f"{where} > GPSDateStamp", f"GPS date and time (UTC) {date} {clock}".rstrip(), Category.TIME)
    other = [_name(t, gps=True) for t in entries if t not in (1, 2, 3, 4, 6, 7, 29)]
    if other:
        names = ", ".join(other[:10]) + (" …" if len(other) > 10 else "")
        parsed.add(where, f"other GPS data ({len(other)}): {names}", Category.LOCATION, 0, Risk.MEDIUM)


def tiff_start(body: bytes) -> bytes:
    """EXIF chunks should start with the TIFF header; some writers put 'Exif\\0\\0' or other bytes first."""
    for magic in (b"II*\x00", b"MM\x00*"):
        at = body.find(magic, 0, 64)
        if at >= 0:
            return body[at:]
    return body


def mpf_findings(block: bytes, where: str, parsed: Parsed, limits: Limits) -> None:
    """The MP index of a JPEG MPF segment: how many images the file holds besides this one."""
    try:
        tiff = tiffwalk.read(block, limits)
    except CorruptImageError as exc:
        parsed.unparseable(where, exc, len(block))
        return
    index = tiff.find("IFD0")
    count_entry = index.entries.get(0xB001) if index else None
    entries = index.entries.get(0xB002) if index else None
    count = tiff.int(count_entry, 0)
    sizes = []
    if entries is not None:
        raw = tiff.raw(entries)
        fmt_big = tiff.big
        for i in range(1, min(count, len(raw) // 16)):
            sizes.append(int.from_bytes(raw[i * 16 + 4 : i * 16 + 8], "big" if fmt_big else "little"))
    extra = ", ".join(human_size(s) for s in sizes[:8])
    parsed.add(where, f"MPF index: {count} images in the file" + (f" (others: {extra})" if extra else ""),
               Category.EMBEDDED, len(block))
