"""JPEG: every marker segment, the entropy-coded data, and anything after the end-of-image marker.

Strip keeps SOI, the frame and scan structure (DQT, DHT, DAC, DRI, SOFn, SOS, DNL, RSTn), a minimal JFIF
header when there was one, the Adobe APP14 colour-transform flag, the entropy-coded data bit-exact, and EOI.
Everything else goes: APPn segments, comments, MPF second images, trailers; with keep_icc the APP2
ICC_PROFILE segments stay, in place and unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..errors import CorruptImageError
from . import blobs, exif, xmp
from .base import SOF_MARKERS, Parsed, human_size, need, printable, tag_name, u16
from .report import Category, Risk

_ENTROPY_END = re.compile(rb"\xff[^\x00\xd0-\xd7]")
_FILL = re.compile(rb"\xff+")
STRUCTURE_MARKERS = {0xDB: "quantisation tables", 0xC4: "Huffman tables", 0xCC: "arithmetic coding tables",
                     0xDD: "restart interval", 0xDC: "number of lines", 0xDF: "expand reference"}
PROCESS = {0xC0: "baseline", 0xC1: "extended sequential", 0xC2: "progressive", 0xC3: "lossless"}
XMP_NS = b"http://ns.adobe.com/xap/1.0/\x00"
EXT_XMP_NS = b"http://ns.adobe.com/xmp/extension/\x00"

Handler = Callable[[bytes, int, int, int, Parsed], None]  # data, marker, segment start, segment end, parsed


def parse(data: bytes, parsed: Parsed) -> None:
    need(data, 0, 2, "JPEG start marker")
    if data[:2] != b"\xff\xd8":
        raise CorruptImageError("not a JPEG (no start-of-image marker)")
    parsed.keep.append(b"\xff\xd8")
    pos = 2
    while True:
        parsed.pos = pos
        parsed.part()
        marker, start, pos = _next_marker(data, pos)
        if marker == 0xD9:
            parsed.keep.append(b"\xff\xd9")
            blobs.trailer_findings(data, pos, f"JPEG after end of image @ {pos:#x}", parsed)
            return
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            parsed.keep.append((start, pos))
            continue
        length = u16(data, pos, f"JPEG segment {marker:#04x} length")
        if length < 2:
            raise CorruptImageError(f"JPEG segment at offset {start:#x} has an impossible length {length}")
        need(data, pos, length, f"JPEG segment {marker:#04x}")
        end = pos + length
        _handler(marker)(data, marker, start, end, parsed)
        pos = end
        if marker == 0xDA:
            pos = _entropy(data, end, parsed)


def _next_marker(data: bytes, pos: int) -> tuple[int, int, int]:
    need(data, pos, 2, "JPEG marker")
    if data[pos] != 0xFF:
        raise CorruptImageError(f"expected a JPEG marker at offset {pos:#x}")
    start = pos
    fill = _FILL.match(data, pos)  # fill bytes: a run of 0xFF before the marker
    pos = fill.end() - 1 if fill else pos
    need(data, pos, 2, "JPEG marker")
    return data[pos + 1], start, pos + 2


def _entropy(data: bytes, pos: int, parsed: Parsed) -> int:
    match = _ENTROPY_END.search(data, pos)
    if match is None:
        raise CorruptImageError("the image data ends without an end-of-image marker (truncated file)")
    parsed.keep.append((pos, match.start()))
    return match.start()


def _handler(marker: int) -> Handler:
    if marker in SOF_MARKERS:
        return _sof
    if marker in STRUCTURE_MARKERS:
        return _structure
    return SEGMENTS.get(marker, _app if 0xE0 <= marker <= 0xEF else _unknown)


MARKER_NAMES = {0xFE: "COM", 0xDA: "SOS", 0xDB: "DQT", 0xC4: "DHT", 0xCC: "DAC", 0xDD: "DRI", 0xDC: "DNL",
                0xDF: "EXP", **{m: f"SOF{m - 0xC0}" for m in SOF_MARKERS}}


def _where(marker: int, start: int, label: str = "") -> str:
    name = f"APP{marker - 0xE0}" if 0xE0 <= marker <= 0xEF else MARKER_NAMES.get(marker, f"marker {marker:#04x}")
    return f"JPEG {name}{' ' + label if label else ''} @ {start:#x}"


def _structure(data: bytes, marker: int, start: int, end: int, parsed: Parsed) -> None:
    parsed.keep.append((start, end))
    parsed.structure(_where(marker, start), STRUCTURE_MARKERS[marker], end - start)


def _sof(data: bytes, marker: int, start: int, end: int, parsed: Parsed) -> None:
    need(data, start + 4, 6, "JPEG frame header")
    if end - start < 10:
        raise CorruptImageError(f"JPEG frame header at offset {start:#x} is too short")
    height, width, comps = u16(data, start + 5, "height"), u16(data, start + 7, "width"), data[start + 9]
    parsed.keep.append((start, end))
    parsed.header_seen = True
    process = PROCESS.get(marker, f"SOF{marker - 0xC0}")
    parsed.structure(_where(marker, start), f"frame header: {process}, {width}x{height}, {comps} components",
                     end - start)


def _sos(data: bytes, marker: int, start: int, end: int, parsed: Parsed) -> None:
    if not parsed.header_seen:
        raise CorruptImageError(f"JPEG scan at offset {start:#x} comes before any frame header")
    parsed.keep.append((start, end))
    parsed.structure(_where(marker, start), "scan header and entropy-coded image data", end - start)


def _app0(data: bytes, marker: int, start: int, end: int, parsed: Parsed) -> None:
    payload = data[start + 4 : end]
    where = _where(marker, start, "JFIF")
    if payload[:5] == b"JFIF\x00" and len(payload) >= 14:
        parsed.keep.append(b"\xff\xe0\x00\x10" + payload[:12] + b"\x00\x00")
        tw, th = payload[12], payload[13]
        parsed.structure(where, "JFIF header", 16)
        if tw and th:
            parsed.add(where, f"embedded thumbnail {tw}x{th} (JFIF)", Category.EMBEDDED, 3 * tw * th)
        elif len(payload) > 14:
            parsed.add(where, f"{len(payload) - 14} extra bytes in the JFIF header", Category.UNKNOWN, len(payload))
    elif payload[:5] == b"JFXX\x00":
        parsed.add(_where(marker, start, "JFXX"), "embedded thumbnail (JFIF extension)", Category.EMBEDDED,
                   len(payload))
    else:
        _app(data, marker, start, end, parsed)


def _app1(data: bytes, marker: int, start: int, end: int, parsed: Parsed) -> None:
    payload = data[start + 4 : end]
    if payload[:6] == b"Exif\x00\x00":
        exif.findings(payload[6:], _where(marker, start, "Exif"), parsed)
    elif payload.startswith(XMP_NS):
        xmp.findings(payload[len(XMP_NS) :], _where(marker, start, "XMP"), parsed)
    elif payload.startswith(EXT_XMP_NS):
        chunk = payload[len(EXT_XMP_NS) + 40 :]
        where = _where(marker, start, "ExtendedXMP")
        parsed.add(where, f"extended XMP chunk, {human_size(len(chunk))}", Category.UNKNOWN, len(chunk))
        xmp.findings(chunk, where, parsed)
    else:
        _app(data, marker, start, end, parsed)


def _app2(data: bytes, marker: int, start: int, end: int, parsed: Parsed) -> None:
    payload = data[start + 4 : end]
    if payload[:12] == b"ICC_PROFILE\x00" and len(payload) >= 14:
        where = _where(marker, start, f"ICC profile chunk {payload[12]}/{payload[13]}")
        since = len(parsed.findings)
        if payload[12] <= 1:
            blobs.icc_findings(payload[14:], where, parsed)
        else:
            parsed.add(where, "colour profile (continued)", Category.COLOUR_PROFILE, len(payload))
        parsed.keep_colour((start, end), since)
    elif payload[:4] == b"MPF\x00":
        exif.mpf_findings(payload[4:], _where(marker, start, "MPF"), parsed, parsed.limits)
    else:
        _app(data, marker, start, end, parsed)


def _app11(data: bytes, marker: int, start: int, end: int, parsed: Parsed) -> None:
    payload = data[start + 4 : end]
    if payload[:2] == b"JP" and len(payload) >= 8:
        seq = int.from_bytes(payload[4:8], "big")
        blobs.c2pa_findings(payload[8:], _where(marker, start, "JUMBF"), parsed, first=seq <= 1)
    else:
        _app(data, marker, start, end, parsed)


def _app13(data: bytes, marker: int, start: int, end: int, parsed: Parsed) -> None:
    payload = data[start + 4 : end]
    if payload[:14] == b"Photoshop 3.0\x00":
        where = _where(marker, start, "Photoshop")
        parsed.add(where, f"Photoshop image resources, {human_size(len(payload))}", Category.SOFTWARE,
                   len(payload), Risk.LOW)
        blobs.irb_findings(payload[14:], where, parsed)
    else:
        _app(data, marker, start, end, parsed)


def _app14(data: bytes, marker: int, start: int, end: int, parsed: Parsed) -> None:
    payload = data[start + 4 : end]
    if payload[:5] == b"Adobe" and len(payload) >= 12:
        parsed.keep.append(b"\xff\xee\x00\x0e" + payload[:12])  # colour transform flag: decoding needs it
        parsed.structure(_where(marker, start, "Adobe"), f"Adobe colour transform {payload[11]}", 16)
    else:
        _app(data, marker, start, end, parsed)


def _com(data: bytes, marker: int, start: int, end: int, parsed: Parsed) -> None:
    text = printable(data[start + 4 : end])
    parsed.add(_where(marker, start), f"comment: '{text}'", Category.IDENTITY, end - start - 4, Risk.MEDIUM)


def _app(data: bytes, marker: int, start: int, end: int, parsed: Parsed) -> None:
    payload = data[start + 4 : end]
    ident = tag_name(payload.split(b"\x00", 1)[0][:24]) if payload else ""
    label = f"'{ident}' " if ident else ""
    parsed.add(_where(marker, start), f"APP{marker - 0xE0} segment {label}({human_size(len(payload))})",
               Category.UNKNOWN, len(payload))


def _unknown(data: bytes, marker: int, start: int, end: int, parsed: Parsed) -> None:
    parsed.add(_where(marker, start), f"unknown segment ({human_size(end - start)})", Category.UNKNOWN, end - start)


SEGMENTS: dict[int, Handler] = {
    0xDA: _sos, 0xE0: _app0, 0xE1: _app1, 0xE2: _app2, 0xEB: _app11, 0xED: _app13, 0xEE: _app14, 0xFE: _com,
}


def rebuild(data: bytes, parsed: Parsed) -> bytes:
    return parsed.assemble(data)
