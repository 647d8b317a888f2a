"""WebP: the RIFF chunks, the VP8X feature flags, and anything after the RIFF end.

Strip keeps the bitstreams (VP8, VP8L, ALPH) and the animation chunks (ANIM, ANMF) byte for byte and
rebuilds the headers: a VP8X header only when alpha in an ALPH chunk or animation needs it, with the
ICC, EXIF and XMP flags cleared; otherwise the simple format (one VP8 or VP8L chunk). With keep_icc the ICCP
chunk stays, unchanged, and the VP8X header with it, its ICC flag set.
"""

from __future__ import annotations

import struct

from ..errors import CorruptImageError
from . import blobs, exif, xmp
from .base import Parsed, check_item, human_size, need, tag_name, u32
from .report import Category

KEEP = {b"VP8 ", b"VP8L", b"ALPH", b"ANIM", b"ANMF"}
FLAG_ANIMATION, FLAG_XMP, FLAG_EXIF, FLAG_ALPHA, FLAG_ICC = 0x02, 0x04, 0x08, 0x10, 0x20


def parse(data: bytes, parsed: Parsed) -> None:
    need(data, 0, 12, "RIFF header")
    total = u32(data, 4, "RIFF size", big=False) + 8
    if total > len(data):
        raise CorruptImageError(f"WebP says it is {total} bytes long but only {len(data)} are there (truncated)")
    pos = 12
    while pos < total:
        parsed.pos = pos
        parsed.part()
        need(data, pos, 8, "WebP chunk header")
        kind, size = data[pos : pos + 4], u32(data, pos + 4, "WebP chunk size", big=False)
        if kind not in KEEP:  # image data is copied, never read: only metadata items are bounded
            check_item(size, parsed.limits, f"WebP chunk '{tag_name(kind)}'")
        end = pos + 8 + size + (size & 1)
        if pos + 8 + size > total:
            raise CorruptImageError(f"WebP chunk '{tag_name(kind)}' at offset {pos:#x} runs past the RIFF end")
        _chunk(data, kind, pos, min(end, total), parsed)
        pos = end
    if not parsed.header_seen:
        raise CorruptImageError("WebP holds no image bitstream (VP8 or VP8L)")
    blobs.trailer_findings(data, total, f"WebP after RIFF end @ {total:#x}", parsed)


def _chunk(data: bytes, kind: bytes, start: int, end: int, parsed: Parsed) -> None:
    body = data[start + 8 : start + 8 + u32(data, start + 4, "size", big=False)]
    where = f"WebP {tag_name(kind).strip()} chunk @ {start:#x}"
    if kind in KEEP:
        parsed.keep.append((start, end))
        parsed.structure(where, _describe_image(kind, body), end - start)
        if kind in (b"VP8 ", b"VP8L", b"ANMF"):
            parsed.header_seen = True
        if kind in (b"ALPH", b"ANIM"):
            parsed.extra[kind.decode()] = 1
    elif kind == b"VP8X":
        if len(body) < 10:
            raise CorruptImageError("WebP VP8X header is too short")
        parsed.extra["flags"] = body[0]
        parsed.extra["canvas"] = int.from_bytes(body[4:10], "little")
        parsed.structure(where, "extended header (rebuilt without metadata flags)", end - start)
    elif kind == b"ICCP":
        since = len(parsed.findings)
        blobs.icc_findings(body, where, parsed)
        if "flags" in parsed.extra and not parsed.keep and parsed.keep_colour((start, end), since):
            parsed.extra["ICCP"] = 1  # kept: it came after VP8X and before any image or animation chunk
    elif kind == b"EXIF":
        exif.findings(exif.tiff_start(body), where, parsed)
    elif kind in (b"XMP ", b"XMP\x00"):
        xmp.findings(body, where, parsed)
    else:
        parsed.add(where, f"unknown chunk ({human_size(len(body))})", Category.UNKNOWN, len(body))


def _describe_image(kind: bytes, body: bytes) -> str:
    if kind == b"VP8 " and len(body) >= 10 and body[3:6] == b"\x9d\x01\x2a":
        width, height = struct.unpack_from("<HH", body, 6)
        return f"lossy image data (VP8) {width & 0x3FFF}x{height & 0x3FFF}"
    if kind == b"VP8L" and len(body) >= 5 and body[0] == 0x2F:
        bits = int.from_bytes(body[1:5], "little")
        return f"lossless image data (VP8L) {(bits & 0x3FFF) + 1}x{((bits >> 14) & 0x3FFF) + 1}"
    return {b"ALPH": "alpha channel", b"ANIM": "animation parameters", b"ANMF": "animation frame"}.get(
        kind, "image data")


def rebuild(data: bytes, parsed: Parsed) -> bytes:
    chunks = parsed.assemble(data)
    animated, alpha_chunk, icc = "ANIM" in parsed.extra, "ALPH" in parsed.extra, "ICCP" in parsed.extra
    if animated or alpha_chunk or icc:
        if "flags" not in parsed.extra:
            raise CorruptImageError("WebP has animation or alpha chunks but no VP8X header")
        flags = (FLAG_ANIMATION if animated else 0) | (parsed.extra["flags"] & FLAG_ALPHA)
        flags |= (FLAG_ALPHA if alpha_chunk else 0) | (FLAG_ICC if icc else 0)
        vp8x = b"VP8X" + struct.pack("<I", 10) + bytes([flags, 0, 0, 0]) + parsed.extra["canvas"].to_bytes(6, "little")
        chunks = vp8x + chunks
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + chunks
