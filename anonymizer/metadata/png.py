"""PNG: every chunk, and anything after IEND; strip writes a new PNG from the parsed fields.

Strip never copies a chunk. It writes IHDR (13 bytes), PLTE (only the entries up to the highest one a pixel
uses, the unused ones zeroed), tRNS (exactly what the colour type allows), the APNG acTL/fcTL/fdAT chunks
(from their fields, renumbered), one IDAT sequence and an empty IEND, each with a fresh CRC. The image data's
zlib stream is inflated and must hold exactly the rows IHDR implies and end at its own end: then its compressed
bytes are kept as they are (no re-deflate for a normal file); otherwise the exact rows are deflated anew. With
keep_icc the colour chunks (iCCP with a rebuilt profile, sRGB, gAMA, cHRM, cICP, mDCv, cLLi at their exact
sizes) stay when they come before PLTE and IDAT as PNG requires. Whatever no field explains (bytes after a
chunk's fields, data after a stream's end, surplus rows, unused palette entries that are not zero, CRCs that do
not match) is reported as hidden data.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

from isal import isal_zlib

from ..errors import CorruptImageError, TooLargeError
from . import blobs, exif, xmp
from .base import Parsed, check_item, human_size, need, printable, tag_name, u32
from .png_image import State, _finish, _image_chunk, chunk, slack
from .report import Category, Risk

IMAGE = {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND", b"acTL", b"fcTL", b"fdAT"}
# colour chunks: their exact size (None: variable), and what they are called in a report
COLOUR_SIZES: dict[bytes, tuple[int, str]] = {
    b"sRGB": (1, "sRGB rendering intent"), b"gAMA": (4, "gamma"), b"cHRM": (32, "chromaticities"),
    b"cICP": (4, "colour signalling (cICP)"), b"mDCv": (24, "mastering display colour volume"),
    b"cLLi": (8, "content light level"),
}  # fmt: skip
SIMPLE: dict[bytes, tuple[Category, str, Risk | None]] = {
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
DISPLAY_LIMIT = 1 << 20
ICC_NAME = b"ICC profile"

Handler = Callable[[bytes, str, Parsed], None]  # chunk data, where, parsed


def parse(data: bytes, parsed: Parsed) -> None:
    need(data, 0, 8, "PNG signature")
    state = State()
    pos = 8
    while True:
        parsed.pos = pos
        parsed.part()
        length, kind = u32(data, pos, "PNG chunk length"), data[pos + 4 : pos + 8]
        name = tag_name(kind)
        if length > 0x7FFFFFFF:
            raise CorruptImageError(f"PNG chunk at offset {pos:#x} claims an impossible length")
        if kind not in IMAGE:  # image data is bounded by the pixel limits when it is inflated
            check_item(length, parsed.limits, f"PNG chunk '{name}'")
        need(data, pos + 8, length + 4, f"PNG chunk '{name}'")
        if not parsed.header_seen and kind != b"IHDR":
            raise CorruptImageError("PNG does not start with an IHDR chunk")
        end = pos + 12 + length
        where = f"PNG {name} chunk @ {pos:#x}"
        _check_crc(data, pos, end, where, parsed)
        _chunk(data, kind, pos, end, where, state, parsed)
        pos = end
        if kind == b"IEND":
            _finish(data, state, parsed)
            blobs.trailer_findings(data, pos, f"PNG after IEND @ {pos:#x}", parsed)
            return


def _check_crc(data: bytes, start: int, end: int, where: str, parsed: Parsed) -> None:
    if isal_zlib.crc32(memoryview(data)[start + 4 : end - 4]) != int.from_bytes(data[end - 4 : end], "big"):
        parsed.add(where, "its CRC does not match its contents (4 bytes no field explains)", Category.HIDDEN, 4)


def _chunk(data: bytes, kind: bytes, start: int, end: int, where: str, state: State, parsed: Parsed) -> None:
    body = data[start + 8 : end - 4] if kind != b"IDAT" and kind != b"fdAT" else b""
    if kind in IMAGE:
        _image_chunk(data, kind, start, end, body, where, state, parsed)
        return
    since = len(parsed.findings)
    if kind in COLOUR_SIZES:
        size, label = COLOUR_SIZES[kind]
        parsed.add(where, label, Category.COLOUR_PROFILE, len(body))
        rebuilt = _exact(kind, body, size, where, parsed)
    elif kind == b"iCCP":
        rebuilt = _iccp(body, where, parsed)
    elif kind in SIMPLE:
        category, label, risk = SIMPLE[kind]
        parsed.add(where, label, category, len(body), risk)
        rebuilt = None
    else:
        HANDLERS.get(kind, _unknown)(body, where, parsed)
        rebuilt = None
    # after PLTE or IDAT a colour chunk would make the PNG invalid, so only earlier ones stay
    reported = all(f.category in (Category.COLOUR_PROFILE, Category.HIDDEN) for f in parsed.findings[since:])
    if rebuilt is not None and parsed.keep_icc and not state.image_seen and reported:
        state.colour.append(chunk(kind, rebuilt))
        parsed.kept_colour = True


def _exact(kind: bytes, body: bytes, size: int, where: str, parsed: Parsed) -> bytes | None:
    """A colour chunk's fields at their exact size, or None when it is too short or out of range."""
    slack(body, size, where, parsed)
    if kind == b"sRGB" and body[:1] > b"\x03":
        parsed.add(where, "rendering intent out of range", Category.HIDDEN, 1)
    if len(body) < size or (kind == b"sRGB" and body[0] > 3):
        parsed.note(f"PNG {tag_name(kind)} chunk is malformed; removed")
        return None
    return body[:size]


def _inflate(raw: bytes, parsed: Parsed, where: str = "") -> bytes:
    """Decompress a zTXt/iTXt/iCCP payload: at most 16 MB from one chunk, and at most max_item_bytes from
    all of a file's chunks together (a few kB of zlib can claim gigabytes, and a file can hold many).
    With `where`, data after the end of the zlib stream is reported as hidden."""
    budget = parsed.limits.max_item_bytes - parsed.extra.get("inflated", 0)
    if budget <= 0:
        raise TooLargeError(f"compressed PNG chunks expand to more than {parsed.limits.max_item_bytes} bytes in all")
    try:
        inflater = zlib.decompressobj()
        out = inflater.decompress(raw, min(budget, 16 * DISPLAY_LIMIT))
    except zlib.error as exc:
        raise CorruptImageError(f"compressed PNG text cannot be read ({exc})") from exc
    parsed.extra["inflated"] = parsed.extra.get("inflated", 0) + len(out)
    if where and inflater.eof and inflater.unused_data:
        n = len(inflater.unused_data)
        parsed.add(where, f"{n} bytes after the end of its compressed data", Category.HIDDEN, n)
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


def _iccp(body: bytes, where: str, parsed: Parsed) -> bytes | None:
    """Report the embedded profile; return the chunk rebuilt around a rebuilt profile (None: not one we keep)."""
    _name, _, rest = body.partition(b"\x00")
    try:
        profile = _inflate(rest[1:], parsed, where)
    except CorruptImageError as exc:
        parsed.unparseable(where, exc, len(body))
        return None
    blobs.icc_findings(profile, where, parsed)
    if not parsed.keep_icc:
        return None
    rebuilt = parsed.kept_profile(profile, "PNG iCCP chunk")
    return None if rebuilt is None else ICC_NAME + b"\x00\x00" + zlib.compress(rebuilt)


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
    b"tEXt": _text,
    b"zTXt": _ztxt,
    b"iTXt": _itxt,
    b"eXIf": _exif,
    b"tIME": _time,
    b"caBX": _c2pa,
}


def rebuild(data: bytes, parsed: Parsed) -> bytes:
    return parsed.assemble(data)


# --- the image: header, palette, transparency, frames and their compressed data ------------------------------
