"""PNG: every chunk, and anything after IEND.

Strip keeps the chunks decoding needs (IHDR, PLTE, tRNS, IDAT, IEND and the APNG animation chunks) byte for
byte, CRCs included, and drops every other chunk and all data after IEND. With keep_icc the colour chunks
(iCCP, sRGB, gAMA, cHRM, cICP, mDCv, cLLi) stay too, in place, when they come before PLTE and IDAT as PNG requires.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

from ..errors import CorruptImageError, TooLargeError
from . import blobs, exif, xmp
from .base import Parsed, check_item, human_size, need, printable, tag_name, u32
from .report import Category, Risk

SIGNATURE = b"\x89PNG\r\n\x1a\n"
KEEP = {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND", b"acTL", b"fcTL", b"fdAT"}
SIMPLE: dict[bytes, tuple[Category, str, Risk | None]] = {
    b"sRGB": (Category.COLOUR_PROFILE, "sRGB rendering intent", None),
    b"gAMA": (Category.COLOUR_PROFILE, "gamma", None),
    b"cHRM": (Category.COLOUR_PROFILE, "chromaticities", None),
    b"cICP": (Category.COLOUR_PROFILE, "colour signalling (cICP)", None),
    b"mDCv": (Category.COLOUR_PROFILE, "mastering display colour volume", None),
    b"cLLi": (Category.COLOUR_PROFILE, "content light level", None),
    b"pHYs": (Category.SOFTWARE, "pixel density", Risk.LOW),
    b"sBIT": (Category.SOFTWARE, "significant bits", Risk.LOW),
    b"bKGD": (Category.SOFTWARE, "background colour", Risk.LOW),
    b"hIST": (Category.SOFTWARE, "palette histogram", Risk.LOW),
    b"sPLT": (Category.SOFTWARE, "suggested palette", Risk.LOW),
    b"oFFs": (Category.UNKNOWN, "image offset", Risk.LOW),
    b"pCAL": (Category.UNKNOWN, "pixel calibration", None),
    b"sCAL": (Category.UNKNOWN, "physical scale", None),
    b"dSIG": (Category.IDENTITY, "digital signature", None),
}
TEXT_KEYS: dict[str, tuple[Category, Risk | None]] = {
    "author": (Category.IDENTITY, None),
    "copyright": (Category.IDENTITY, None),
    "description": (Category.IDENTITY, None),
    "title": (Category.IDENTITY, None),
    "comment": (Category.IDENTITY, None),
    "disclaimer": (Category.IDENTITY, Risk.MEDIUM),
    "warning": (Category.IDENTITY, Risk.MEDIUM),
    "source": (Category.DEVICE, None),
    "creation time": (Category.TIME, None),
    "date:create": (Category.TIME, None),
    "date:modify": (Category.TIME, None),
    "date:timestamp": (Category.TIME, None),
    "software": (Category.SOFTWARE, None),
}
COLOUR = {b"iCCP"} | {kind for kind, (category, _, _) in SIMPLE.items() if category is Category.COLOUR_PROFILE}
DISPLAY_LIMIT = 1 << 20

Handler = Callable[[bytes, str, Parsed], None]  # chunk data, where, parsed


def parse(data: bytes, parsed: Parsed) -> None:
    need(data, 0, 8, "PNG signature")
    parsed.keep.append(SIGNATURE)
    pos = 8
    while True:
        parsed.pos = pos
        parsed.part()
        length, kind = u32(data, pos, "PNG chunk length"), data[pos + 4 : pos + 8]
        if length > 0x7FFFFFFF:
            raise CorruptImageError(f"PNG chunk at offset {pos:#x} claims an impossible length")
        if kind not in KEEP:  # image data is copied, never read: only metadata items are bounded
            check_item(length, parsed.limits, f"PNG chunk '{tag_name(kind)}'")
        need(data, pos + 8, length + 4, f"PNG chunk '{tag_name(kind)}'")
        if not parsed.header_seen and kind != b"IHDR":
            raise CorruptImageError("PNG does not start with an IHDR chunk")
        end = pos + 12 + length
        _chunk(data, kind, pos, end, parsed)
        pos = end
        if kind == b"IEND":
            blobs.trailer_findings(data, pos, f"PNG after IEND @ {pos:#x}", parsed)
            return


def _chunk(data: bytes, kind: bytes, start: int, end: int, parsed: Parsed) -> None:
    body = data[start + 8 : end - 4]
    where = f"PNG {tag_name(kind)} chunk @ {start:#x}"
    if kind in KEEP:
        parsed.keep.append((start, end))
        if kind in (b"PLTE", b"IDAT"):
            parsed.extra["image_data"] = 1
        if kind == b"IHDR" and len(body) >= 8:
            parsed.header_seen = True
            width, height = int.from_bytes(body[:4], "big"), int.from_bytes(body[4:8], "big")
            parsed.structure(where, f"image header {width}x{height}", end - start)
        elif kind != b"IDAT" or not parsed.findings or "IDAT" not in parsed.findings[-1].where:
            parsed.structure(where, "image data" if kind == b"IDAT" else f"{tag_name(kind)} (decoding)",
                             end - start)
        return
    since = len(parsed.findings)
    if kind in SIMPLE:
        category, label, risk = SIMPLE[kind]
        parsed.add(where, label, category, len(body), risk)
    else:
        HANDLERS.get(kind, _unknown)(body, where, parsed)
    if kind in COLOUR and "image_data" not in parsed.extra:  # after PLTE or IDAT it would make the PNG invalid
        parsed.keep_colour((start, end), since)


def _inflate(raw: bytes, parsed: Parsed) -> bytes:
    """Decompress a zTXt/iTXt/iCCP payload: at most 16 MB from one chunk, and at most max_item_bytes from
    all of a file's chunks together (a few kB of zlib can claim gigabytes, and a file can hold many)."""
    budget = parsed.limits.max_item_bytes - parsed.extra.get("inflated", 0)
    if budget <= 0:
        raise TooLargeError(f"compressed PNG chunks expand to more than {parsed.limits.max_item_bytes} bytes in all")
    try:
        inflater = zlib.decompressobj()
        out = inflater.decompress(raw, min(budget, 16 * DISPLAY_LIMIT))
    except zlib.error as exc:
        raise CorruptImageError(f"compressed PNG text cannot be read ({exc})") from exc
    parsed.extra["inflated"] = parsed.extra.get("inflated", 0) + len(out)
    return out


def _text(body: bytes, where: str, parsed: Parsed) -> None:
    key, _, value = body.partition(b"\x00")
    _keyword(key.decode("latin-1"), value, where, parsed)


def _ztxt(body: bytes, where: str, parsed: Parsed) -> None:
    key, _, rest = body.partition(b"\x00")
    try:
        value = _inflate(rest[1:], parsed)
    except CorruptImageError as exc:
        parsed.unparseable(where, exc, len(body))
        return
    _keyword(key.decode("latin-1"), value, where, parsed)


def _itxt(body: bytes, where: str, parsed: Parsed) -> None:
    key, _, rest = body.partition(b"\x00")
    compressed = rest[:1] == b"\x01"
    parts = rest[2:].split(b"\x00", 2)
    value = parts[2] if len(parts) == 3 else b""
    if compressed:
        try:
            value = _inflate(value, parsed)
        except CorruptImageError as exc:
            parsed.unparseable(where, exc, len(body))
            return
    _keyword(key.decode("latin-1"), value, where, parsed)


def _keyword(key: str, value: bytes, where: str, parsed: Parsed) -> None:
    here = f"{where} '{printable(key.encode(), 40)}'"
    lower = key.lower()
    if lower == "xml:com.adobe.xmp" or lower == "raw profile type xmp":
        xmp.findings(value, here, parsed)
    elif lower.startswith("raw profile type "):
        _raw_profile(lower.removeprefix("raw profile type "), value, here, parsed)
    else:
        category, risk = TEXT_KEYS.get(lower, (Category.IDENTITY, Risk.MEDIUM))
        parsed.add(here, f"text '{printable(key.encode(), 40)}': {printable(value)}", category, len(value), risk)


def _raw_profile(kind: str, value: bytes, where: str, parsed: Parsed) -> None:
    """ImageMagick's hex-encoded profiles: '\\nexif\\n   1234\\n4578696600...'."""
    lines = value.strip().split(b"\n", 2)
    try:
        blob = bytes.fromhex(lines[2].decode("ascii")) if len(lines) == 3 else b""
    except ValueError:
        blob = b""
    if kind in ("exif", "app1") and blob:
        exif.findings(blob[6:] if blob[:6] == b"Exif\x00\x00" else blob, where, parsed)
    elif kind in ("iptc", "8bim") and blob:
        blobs.irb_findings(blob, where, parsed)
        blobs.iptc_findings(blob, where, parsed)
    elif kind in ("icc", "icm") and blob:
        blobs.icc_findings(blob, where, parsed)
    else:
        parsed.add(where, f"'{kind}' profile, {human_size(len(value))}", Category.UNKNOWN, len(value))


def _iccp(body: bytes, where: str, parsed: Parsed) -> None:
    _name, _, rest = body.partition(b"\x00")
    try:
        blobs.icc_findings(_inflate(rest[1:], parsed), where, parsed)
    except CorruptImageError as exc:
        parsed.unparseable(where, exc, len(body))


def _exif(body: bytes, where: str, parsed: Parsed) -> None:
    exif.findings(body[6:] if body[:6] == b"Exif\x00\x00" else body, where, parsed)


def _time(body: bytes, where: str, parsed: Parsed) -> None:
    if len(body) >= 7:
        year = int.from_bytes(body[:2], "big")
        stamp = f"{year:04d}-{body[2]:02d}-{body[3]:02d} {body[4]:02d}:{body[5]:02d}:{body[6]:02d}"
        parsed.add(where, f"last modified {stamp}", Category.TIME, len(body))
    else:
        parsed.add(where, "last-modified time (unreadable)", Category.TIME, len(body))


def _c2pa(body: bytes, where: str, parsed: Parsed) -> None:
    blobs.c2pa_findings(body, where, parsed)


def _unknown(body: bytes, where: str, parsed: Parsed) -> None:
    parsed.add(where, f"unknown chunk ({human_size(len(body))})", Category.UNKNOWN, len(body))


HANDLERS: dict[bytes, Handler] = {
    b"tEXt": _text, b"zTXt": _ztxt, b"iTXt": _itxt, b"iCCP": _iccp, b"eXIf": _exif, b"tIME": _time,
    b"caBX": _c2pa,
}


def rebuild(data: bytes, parsed: Parsed) -> bytes:
    return parsed.assemble(data)
