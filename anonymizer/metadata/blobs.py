"""Payloads that several containers carry: ICC profiles, Photoshop/IPTC records, C2PA manifests, trailers.

Each function only reads inside the bytes it is given and reports what it recognises; none of them
raises on malformed content (a payload we cannot read is reported as such and dropped by strip).
"""

from __future__ import annotations

import re
import struct

from .base import Parsed, human_size, jpeg_dimensions, printable, tag_name
from .report import Category, Risk


def icc_description(profile: bytes) -> str:
    """'sRGB IEC61966-2.1' style name of an ICC profile, or '' when it cannot be read."""
    if len(profile) < 132:
        return ""
    count = int.from_bytes(profile[128:132], "big")
    for i in range(min(count, 256)):
        pos = 132 + 12 * i
        if pos + 12 > len(profile):
            break
        sig, off, size = struct.unpack_from(">4sII", profile, pos)
        if sig == b"desc" and off + size <= len(profile):
            return _icc_text(profile[off : off + size])
    return ""


def _icc_text(tag: bytes) -> str:
    if tag[:4] == b"desc" and len(tag) >= 12:
        n = int.from_bytes(tag[8:12], "big")
        return printable(tag[12 : 12 + n])
    if tag[:4] == b"mluc" and len(tag) >= 28:
        length, off = struct.unpack_from(">II", tag, 20)
        return printable(tag[off : off + length].decode("utf-16-be", "replace").encode())
    return ""


def icc_findings(profile: bytes, where: str, parsed: Parsed) -> None:
    name = icc_description(profile) or "unnamed"
    parts = [f"colour profile '{name}', {human_size(len(profile))}"]
    if len(profile) >= 84:
        year, month, day = struct.unpack_from(">HHH", profile, 24)
        if year:
            parts.append(f"dated {year:04d}-{month:02d}-{day:02d}")
        maker, creator = profile[48:52].strip(b"\x00 "), profile[80:84].strip(b"\x00 ")
        if maker or creator:
            parts.append(f"made by '{tag_name(maker or creator)}'")
    parsed.add(where, ", ".join(parts), Category.COLOUR_PROFILE, len(profile))
    if "srgb" not in name.lower():
        note = f"colour profile '{name}' removed: colours are now read as sRGB and may look slightly different"
        if note not in parsed.notes:
            parsed.notes.append(note)


MAX_RECORDS = 10_000  # IPTC datasets or Photoshop resources read from one block; real ones hold dozens
_IPTC: dict[int, tuple[Category, str]] = {
    5: (Category.IDENTITY, "object name"),
    25: (Category.IDENTITY, "keywords"),
    55: (Category.TIME, "date created"),
    60: (Category.TIME, "time created"),
    62: (Category.TIME, "digital creation date"),
    63: (Category.TIME, "digital creation time"),
    65: (Category.SOFTWARE, "originating program"),
    80: (Category.IDENTITY, "by-line (author)"),
    85: (Category.IDENTITY, "author title"),
    90: (Category.LOCATION, "city"),
    92: (Category.LOCATION, "sub-location"),
    95: (Category.LOCATION, "province or state"),
    100: (Category.LOCATION, "country code"),
    101: (Category.LOCATION, "country"),
    105: (Category.IDENTITY, "headline"),
    110: (Category.IDENTITY, "credit"),
    115: (Category.IDENTITY, "source"),
    116: (Category.IDENTITY, "copyright notice"),
    118: (Category.IDENTITY, "contact"),
    120: (Category.IDENTITY, "caption"),
    122: (Category.IDENTITY, "caption writer"),
}


def iptc_findings(block: bytes, where: str, parsed: Parsed) -> None:
    if not parsed.detailed(where, "IPTC block", len(block)):
        return
    pos, other, seen = 0, 0, 0
    while pos + 5 <= len(block) and block[pos] == 0x1C and seen < MAX_RECORDS:
        seen += 1
        record, dataset, length = block[pos + 1], block[pos + 2], int.from_bytes(block[pos + 3 : pos + 5], "big")
        if length & 0x8000:  # extended length: not used by real files; stop reading
            break
        value = block[pos + 5 : pos + 5 + length]
        entry = _IPTC.get(dataset) if record == 2 else None
        if entry is None:
            other += 1
        else:
            parsed.add(f"{where} > IPTC 2:{dataset}", f"IPTC {entry[1]}: {printable(value)}", entry[0], length)
        pos += 5 + length
    if other or pos == 0 or seen == MAX_RECORDS:
        more = f" (only the first {MAX_RECORDS} read)" if seen == MAX_RECORDS else ""
        parsed.add(where, f"IPTC block, {human_size(len(block))}, {other} other fields{more}", Category.UNKNOWN,
                   len(block))


_IRB_NAMES = {0x0404: "IPTC", 0x0409: "thumbnail", 0x040C: "thumbnail", 0x040F: "ICC profile",
              0x0422: "EXIF", 0x0424: "XMP", 0x0425: "IPTC digest", 0x03ED: "resolution"}


def irb_findings(block: bytes, where: str, parsed: Parsed) -> None:
    """Photoshop image resource blocks ('8BIM' records), as in JPEG APP13 or the TIFF Photoshop tag."""
    if not parsed.detailed(where, "Photoshop resources", len(block)):
        return
    pos, other, names = 0, 0, list[str]()
    while pos + 12 <= len(block) and block[pos : pos + 4] in (b"8BIM", b"PHUT", b"AgHg", b"DCSR"):
        if other >= MAX_RECORDS:
            break
        rid = int.from_bytes(block[pos + 4 : pos + 6], "big")
        name_len = block[pos + 6]
        pos += 6 + ((name_len + 2) & ~1)
        if pos + 4 > len(block):
            break
        size = int.from_bytes(block[pos : pos + 4], "big")
        data = block[pos + 4 : pos + 4 + size]
        here = f"{where} > resource {rid:#06x}"
        if rid == 0x0404:
            iptc_findings(data, here, parsed)
        elif rid in (0x0409, 0x040C):
            dims = jpeg_dimensions(data, 28) if len(data) > 28 else None
            size_text = f" {dims[0]}x{dims[1]}" if dims else ""
            parsed.add(here, f"embedded thumbnail{size_text} (Photoshop)", Category.EMBEDDED, size)
        elif rid == 0x040F:
            icc_findings(data, here, parsed)
        elif rid == 0x0422:
            parsed.add(here, f"EXIF data in Photoshop resources, {human_size(size)}", Category.DEVICE, size)
        elif rid == 0x0424:
            parsed.add(here, f"XMP in Photoshop resources, {human_size(size)}", Category.UNKNOWN, size)
        else:
            other += 1
            if len(names) < 8:
                names.append(_IRB_NAMES.get(rid, f"{rid:#06x}"))
        pos += 4 + size + (size & 1)
    if other or pos == 0:
        text = ", ".join(names) + (" …" if other > 8 else "")
        parsed.add(where, f"other Photoshop resources ({other}): {text}", Category.SOFTWARE, len(block), Risk.LOW)


_C2PA_AUTHOR = re.compile(rb'"author"\s*:\s*\[?\s*\{[^}]{0,400}?"name"\s*:\s*"([^"]{1,100})"')


def _cbor_text_after(payload: bytes, key: bytes) -> str:
    """The CBOR text string that follows a CBOR key, e.g. claim_generator's value; '' when there is none."""
    at = payload.find(key)
    pos = at + len(key)
    if at < 0 or pos >= len(payload):
        return ""
    head = payload[pos]
    if 0x60 <= head <= 0x77:
        n, pos = head - 0x60, pos + 1
    elif head == 0x78 and pos + 1 < len(payload):
        n, pos = payload[pos + 1], pos + 2
    else:
        return ""
    return printable(payload[pos : pos + n])


def c2pa_findings(payload: bytes, where: str, parsed: Parsed, first: bool = True) -> None:
    """A JUMBF box or part of one; C2PA manifests name the author, tools, edits and sometimes the place."""
    if not parsed.detailed(where, "JUMBF box", len(payload)):
        return
    is_c2pa = b"c2pa" in payload
    if first:
        kind = "C2PA content credentials (JUMBF)" if is_c2pa else "JUMBF box"
        parsed.add(where, f"{kind}, {human_size(len(payload))}: may name the author, the tools and the edits",
                   Category.IDENTITY, len(payload))
    for m in _C2PA_AUTHOR.finditer(payload):
        parsed.add(where, f"C2PA author: {printable(m.group(1))}", Category.IDENTITY)
    generator = _cbor_text_after(payload, b"claim_generator")
    if generator:
        parsed.add(where, f"C2PA claim generator: {generator}", Category.SOFTWARE)
    if b"c2pa.thumbnail" in payload:
        parsed.add(where, "C2PA thumbnail of the image", Category.EMBEDDED)
    if b"location" in payload or b"GPSLatitude" in payload:
        parsed.add(where, "C2PA assertion about a location", Category.LOCATION)


_TRAILER_SIGNS: tuple[tuple[bytes, str, Category], ...] = (
    (b"ftyp", "MP4 video", Category.EMBEDDED),
    (b"SEFT", "Samsung trailer (SEFT)", Category.UNKNOWN),
    (b"MCC_Data", "mobile network country code (Samsung MCC_Data)", Category.LOCATION),
    (b"Image_UTC_Data", "capture time in UTC (Samsung Image_UTC_Data)", Category.TIME),
    (b"MotionPhoto_Data", "motion photo video (Samsung MotionPhoto_Data)", Category.EMBEDDED),
    (b"SoundShot", "sound recording (Samsung SoundShot)", Category.EMBEDDED),
    (b"CANON OPTIONAL DATA", "Canon recipe data (CanonVRD)", Category.SOFTWARE),
    (b"cbipcbbl", "PhotoMechanic trailer", Category.IDENTITY),
    (b"\xa1\xb2\xc3\xd4", "FotoStation trailer", Category.IDENTITY),
    (b"Qualcomm", "Qualcomm camera data", Category.DEVICE),
)
_JPEG_START = re.compile(rb"\xff\xd8\xff[\xc0-\xfe]")
SCAN_LIMIT = 8 * 1024 * 1024


def trailer_findings(data: bytes, start: int, where: str, parsed: Parsed, end: int | None = None) -> None:
    """Everything from `start` to `end` lies outside the image and goes; say what it looks like."""
    end = len(data) if end is None else end
    size = end - start
    if size <= 0 or not parsed.detailed(where, "data after the image", size):
        return
    head = data[start : start + min(size, SCAN_LIMIT)]
    tail = data[max(start, end - 4096) : end]
    if not head.strip(b"\x00\xff"):
        parsed.add(where, f"{human_size(size)} of padding after the image", Category.UNKNOWN, size, Risk.LOW)
        return
    images = [m.start() for m in _JPEG_START.finditer(head)][:16]
    dims = [jpeg_dimensions(head, i) for i in images]
    labels = [f"JPEG image {d[0]}x{d[1]}" for d in dims if d]
    signs = [(label, cat) for sign, label, cat in _TRAILER_SIGNS if sign in head or sign in tail]
    labels += [label for label, cat in signs if cat in (Category.EMBEDDED, Category.UNKNOWN)]
    embedded = any(cat is Category.EMBEDDED for _, cat in signs) or bool(images)
    what = f"{human_size(size)} of data after the end of the image"
    if b"ftyp" in head[:64]:
        what = f"video appended after the image, {human_size(size)}"
    parsed.add(where, what + (f": {', '.join(labels)}" if labels else ""),
               Category.EMBEDDED if embedded else Category.UNKNOWN, size)
    for label, cat in signs:
        if cat not in (Category.EMBEDDED, Category.UNKNOWN):
            parsed.add(where, label, cat)
