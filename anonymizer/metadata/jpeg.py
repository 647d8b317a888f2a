"""JPEG: every marker segment, the entropy-coded data, and anything after the end-of-image marker.

Strip writes a new file from parsed fields, never copying a segment whole: SOI; one minimal JFIF APP0 when
there was one; the Adobe APP14 colour-transform byte; with keep_icc the colour profile, rebuilt (metadata.icc)
and chunked into APP2 segments; then the frame and scan structure in file order (DQT and DHT with only the
tables a frame or scan uses, SOF, DRI, SOS at their exact lengths), the entropy-coded data split at its restart
markers, and EOI. Everything else goes: APPn segments, comments, DNL/EXP/DAC, fill bytes, bytes between
segments, MPF second images, trailers. inspect reports every byte strip does not keep and no field explains
(slack in segments, unused tables, surplus entropy-coded data: jpeg_entropy) as hidden data. A JPEG whose
entropy-coded data carries surplus bytes gets Parsed.reencode_why: strip re-encodes it from pixels.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable

from ..errors import CorruptImageError
from . import blobs, exif, icc, jpeg_entropy, xmp
from .base import SOF_MARKERS, Parsed, Piece, human_size, need, printable, tag_name, u16
from .jpeg_model import HUFFMAN_DCT, Chunk, Frame, Walk, assemble, rendered
from .report import Category, Risk

_MARKER = re.compile(rb"\xff[^\x00]")  # inside entropy-coded data: a restart marker or the end of the scan
_FILL = re.compile(rb"\xff+")
PROCESS = {0xC0: "baseline", 0xC1: "extended sequential", 0xC2: "progressive", 0xC3: "lossless"}
XMP_NS = b"http://ns.adobe.com/xap/1.0/\x00"
EXT_XMP_NS = b"http://ns.adobe.com/xmp/extension/\x00"
ICC_SIG = b"ICC_PROFILE\x00"
ICC_CHUNK = 65535 - 2 - 14  # profile bytes in one APP2 segment
JFIF = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"  # version 1.01, aspect 1:1, no thumbnail

Handler = Callable[[bytes, int, int, int, Walk], None]  # data, marker, segment start, segment end, walk


def parse(data: bytes, parsed: Parsed) -> None:
    need(data, 0, 2, "JPEG start marker")
    if data[:2] != b"\xff\xd8":
        raise CorruptImageError("not a JPEG (no start-of-image marker)")
    walk, pos = Walk(parsed), 2
    while True:
        parsed.pos = pos
        parsed.part()
        marker, start, pos = _next_marker(data, pos, walk)
        if marker == 0xD9:
            _finish(data, walk)
            blobs.trailer_findings(data, pos, f"JPEG after end of image @ {pos:#x}", parsed)
            return
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            walk.hidden(_where(marker, start), "a marker that belongs to no image data", 2)
            continue
        length = u16(data, pos, f"JPEG segment {marker:#04x} length")
        if length < 2:
            raise CorruptImageError(f"JPEG segment at offset {start:#x} has an impossible length {length}")
        need(data, pos, length, f"JPEG segment {marker:#04x}")
        end = pos + length
        _handler(marker)(data, marker, start, end, walk)
        pos = _entropy(data, end, walk) if marker == 0xDA else end


def rebuild(data: bytes, parsed: Parsed) -> bytes:
    return parsed.assemble(data)


def _next_marker(data: bytes, pos: int, walk: Walk) -> tuple[int, int, int]:
    need(data, pos, 2, "JPEG marker")
    if data[pos] != 0xFF:
        found = data.find(b"\xff", pos)
        if found < 0:
            raise CorruptImageError(f"no JPEG marker after offset {pos:#x} (truncated or corrupt)")
        walk.hidden(f"JPEG @ {pos:#x}", f"{found - pos} bytes between segments that belong to none", found - pos)
        pos = found
    fill = _FILL.match(data, pos)
    start = fill.end() - 1 if fill else pos
    if start > pos:
        walk.hidden(f"JPEG @ {pos:#x}", f"{start - pos} fill bytes (0xFF) before a marker", start - pos)
    need(data, start, 2, "JPEG marker")
    if data[start + 1] == 0x00:
        raise CorruptImageError(f"a stuffed 0xFF00 at offset {start:#x} where a marker should be")
    return data[start + 1], start, start + 2


def _entropy(data: bytes, pos: int, walk: Walk) -> int:
    """Record the scan's entropy-coded data (split at its restart markers, fill bytes dropped); return where
    the marker that ends it starts."""
    start = pos
    while (match := _MARKER.search(data, pos)) is not None:
        at = match.start()
        fill = _FILL.match(data, at)
        after = fill.end() if fill else at + 1
        if after >= len(data) or not 0xD0 <= data[after] <= 0xD7:
            walk.data(start, at)
            return at
        if after - at > 1:
            fill_bytes = after - at - 1
            walk.hidden(f"JPEG @ {at:#x}", f"{fill_bytes} fill bytes (0xFF) before a restart marker", fill_bytes)
        walk.data(start, at, restart=data[after])
        start = pos = after + 1
    raise CorruptImageError("the image data ends without an end-of-image marker (truncated file)")


def _finish(data: bytes, walk: Walk) -> None:
    """At EOI: account for tables and the colour profile, write the output, check the entropy-coded data."""
    parsed = walk.parsed
    if walk.frame is None or not walk.scans:
        raise CorruptImageError(f"the JPEG has no {'frame header' if walk.frame is None else 'image data'}")
    walk.report_tables()
    profile = _colour_profile(walk)
    pieces, scans = rendered(walk, icc_segments(profile) if profile else [])
    stream = assemble(data, pieces)
    parsed.keep = [stream]
    if why := _unchecked(walk.frame, parsed):
        parsed.add(_where(walk.frame.marker, walk.frame.start), f"image data not checked for hidden bytes: {why}",
                   Category.UNKNOWN, risk=Risk.HIGH)
        parsed.reencode_why = f"its image data cannot be checked for hidden bytes ({why})"
        return
    empty = [k for k, (_, end, _, _) in enumerate(walk.scans) if not end]
    problem = (empty[0], "a scan with no entropy-coded data") if empty else jpeg_entropy.unread(stream, scans)
    if problem:
        index, words = problem
        where = _where(0xDA, walk.scan_offsets[index], f"(scan {index + 1})") if index >= 0 else "JPEG image data"
        walk.hidden(where, words, 0)
        parsed.reencode_why = f"its image data carries bytes that decoding never reads ({words})"


def _unchecked(frame: Frame, parsed: Parsed) -> str:
    """Why the entropy-coded data is not checked ('' when it is): a coding process libjpeg is not asked about,
    or more pixels than the limits let a decoder allocate for."""
    if frame.marker not in HUFFMAN_DCT:
        return f"{PROCESS.get(frame.marker, f'SOF{frame.marker - 0xC0}')} coding"
    if frame.width * frame.height > parsed.limits.max_pixels:
        return f"{frame.width}x{frame.height} is over the pixel limit"
    return ""


def _colour_profile(walk: Walk) -> bytes | None:
    """The ICC profile from the APP2 chunks, checked as one; the rebuilt profile when strip keeps it."""
    chunks, parsed = walk.icc, walk.parsed
    if not chunks:
        return None
    where, size = chunks[0].where, sum(len(c.payload) for c in chunks)
    problem = _chunk_problem(chunks)
    profile = b"".join(c.payload for c in sorted(chunks, key=lambda c: c.seq))
    problem = problem or icc.describe_problem(profile)
    if problem:
        parsed.add(where, f"data labelled as an ICC colour profile that is not one ({problem}), "
                   f"{human_size(size)}", Category.HIDDEN, size)
        parsed.notes.append(f"removed data labelled as a colour profile that is not a valid one ({problem})")
        return None
    blobs.icc_findings(profile, where, parsed)
    if not parsed.keep_icc:
        return None
    parsed.kept_colour = True
    return icc.rebuild_profile(profile)


def _chunk_problem(chunks: list[Chunk]) -> str:
    counts = {c.count for c in chunks}
    seqs = sorted(c.seq for c in chunks)
    if len(counts) != 1 or seqs != list(range(1, len(chunks) + 1)) or counts != {len(chunks)}:
        return f"its {len(chunks)} APP2 chunks are numbered {seqs} of {sorted(counts)}"
    return ""


def icc_segments(profile: bytes) -> list[bytes]:
    """A profile as APP2 ICC_PROFILE segments, numbered 1..n of n."""
    parts = [profile[i : i + ICC_CHUNK] for i in range(0, len(profile), ICC_CHUNK)]
    return [struct.pack(">BBH", 0xFF, 0xE2, 2 + 14 + len(p)) + ICC_SIG + bytes([n, len(parts)]) + p
            for n, p in enumerate(parts, 1)]  # fmt: skip


def _handler(marker: int) -> Handler:
    if marker in SOF_MARKERS:
        return _sof
    return SEGMENTS.get(marker, _app if 0xE0 <= marker <= 0xEF else _unknown)


MARKER_NAMES = {0xFE: "COM", 0xDA: "SOS", 0xDB: "DQT", 0xC4: "DHT", 0xCC: "DAC", 0xDD: "DRI", 0xDC: "DNL",
                0xDF: "EXP", **{m: f"SOF{m - 0xC0}" for m in SOF_MARKERS}}


def _where(marker: int, start: int, label: str = "") -> str:
    name = f"APP{marker - 0xE0}" if 0xE0 <= marker <= 0xEF else MARKER_NAMES.get(marker, f"marker {marker:#04x}")
    return f"JPEG {name}{' ' + label if label else ''} @ {start:#x}"


def _slack(walk: Walk, marker: int, start: int, used: int, end: int, what: str) -> None:
    """Bytes of a segment after the fields its format defines."""
    if end > used:
        walk.hidden(_where(marker, start), f"{end - used} bytes after the {what}'s fields", end - used)


def _dqt(data: bytes, marker: int, start: int, end: int, walk: Walk) -> None:
    pos, segment = start + 4, walk.tables(marker)
    while pos < end:
        precision, ident = data[pos] >> 4, data[pos] & 15
        size = 1 + 64 * (precision + 1)
        if precision > 1 or ident > 3 or pos + size > end:
            break
        segment.add(_where(marker, pos), "quantisation", ident, data[pos : pos + size])
        pos += size
    _slack(walk, marker, start, pos, end, "quantisation tables")
    walk.parsed.structure(_where(marker, start), "quantisation tables", pos - start)


def _dht(data: bytes, marker: int, start: int, end: int, walk: Walk) -> None:
    pos, segment = start + 4, walk.tables(marker)
    while pos + 17 <= end:
        kind, ident = data[pos] >> 4, data[pos] & 15
        size = 17 + sum(data[pos + 1 : pos + 17])
        if kind > 1 or ident > 3 or size > 17 + 256 or pos + size > end:
            break
        symbols = data[pos + 17 : pos + size]
        segment.add(_where(marker, pos), "Huffman", (kind << 4) | ident, data[pos : pos + size], symbols)
        pos += size
    _slack(walk, marker, start, pos, end, "Huffman tables")
    walk.parsed.structure(_where(marker, start), "Huffman tables", pos - start)


def _sof(data: bytes, marker: int, start: int, end: int, walk: Walk) -> None:
    need(data, start + 4, 6, "JPEG frame header")
    if walk.frame is not None:
        raise CorruptImageError(f"a second JPEG frame header at offset {start:#x}")
    height, width, count = u16(data, start + 5, "height"), u16(data, start + 7, "width"), data[start + 9]
    used = start + 10 + 3 * count
    if count == 0 or used > end:
        raise CorruptImageError(f"JPEG frame header at offset {start:#x} is too short for {count} components")
    if height == 0:
        raise CorruptImageError("a JPEG whose height is given by a DNL segment is not supported")
    fields = data[start + 4 : used]
    components = {fields[6 + 3 * i]: (fields[7 + 3 * i] >> 4, fields[7 + 3 * i] & 15, fields[8 + 3 * i])
                  for i in range(count)}  # fmt: skip
    if any(not (1 <= h <= 4 and 1 <= v <= 4) for h, v, _ in components.values()):
        raise CorruptImageError(f"JPEG frame header at offset {start:#x} has impossible sampling factors")
    walk.frame = Frame(marker, start, height, width, components)
    walk.body.append(struct.pack(">BBH", 0xFF, marker, len(fields) + 2) + fields)
    walk.parsed.header_seen = True
    _slack(walk, marker, start, used, end, "frame header")
    process = PROCESS.get(marker, f"SOF{marker - 0xC0}")
    walk.parsed.structure(_where(marker, start), f"frame header: {process}, {width}x{height}, {count} components",
                          end - start)


def _sos(data: bytes, marker: int, start: int, end: int, walk: Walk) -> None:
    if walk.frame is None:
        raise CorruptImageError(f"JPEG scan at offset {start:#x} comes before any frame header")
    need(data, start + 4, 1, "JPEG scan header")
    count = data[start + 4]
    used = start + 5 + 2 * count + 3
    if count == 0 or used > end:
        raise CorruptImageError(f"JPEG scan header at offset {start:#x} is too short for {count} components")
    fields = data[start + 4 : used]
    walk.scan(start, [(fields[1 + 2 * i], fields[2 + 2 * i]) for i in range(count)], fields[-3], fields[-1] >> 4)
    walk.body.append(struct.pack(">BBH", 0xFF, marker, len(fields) + 2) + fields)
    _slack(walk, marker, start, used, end, "scan header")
    walk.parsed.structure(_where(marker, start), "scan header and entropy-coded image data", end - start)


def _dri(data: bytes, marker: int, start: int, end: int, walk: Walk) -> None:
    interval = u16(data, start + 4, "restart interval") if end - start >= 6 else None
    if interval is None:
        raise CorruptImageError(f"JPEG restart interval segment at offset {start:#x} is too short")
    walk.interval = interval
    walk.body.append(struct.pack(">BBHH", 0xFF, marker, 4, interval))
    _slack(walk, marker, start, start + 6, end, "restart interval")
    walk.parsed.structure(_where(marker, start), f"restart interval {interval}", 6)


def _dnl(data: bytes, marker: int, start: int, end: int, walk: Walk) -> None:
    lines = u16(data, start + 4, "number of lines") if end - start >= 6 else -1
    if walk.frame is not None and lines == walk.frame.height and end - start == 6:
        walk.parsed.structure(_where(marker, start), "number of lines (repeats the frame header)", 6)
    else:
        walk.hidden(_where(marker, start), f"number-of-lines segment its frame does not use, {end - start} bytes",
                    end - start)


def _unused(what: str) -> Handler:
    def handle(data: bytes, marker: int, start: int, end: int, walk: Walk) -> None:
        walk.hidden(_where(marker, start), f"{what}, {human_size(end - start)}", end - start)

    return handle


def _app0(data: bytes, marker: int, start: int, end: int, walk: Walk) -> None:
    payload = data[start + 4 : end]
    where = _where(marker, start, "JFIF")
    if payload[:5] == b"JFIF\x00" and len(payload) >= 14:
        tw, th = payload[12], payload[13]
        if walk.jfif is None:
            walk.jfif = JFIF
            walk.parsed.structure(where, "JFIF header", 16)
        else:
            walk.hidden(where, "a second JFIF header", 16)
        if tw and th:
            walk.parsed.add(where, f"embedded thumbnail {tw}x{th} (JFIF)", Category.EMBEDDED, 3 * tw * th)
        _slack(walk, marker, start, start + 4 + 14 + 3 * tw * th, end, "JFIF header")
    elif payload[:5] == b"JFXX\x00":
        walk.parsed.add(_where(marker, start, "JFXX"), "embedded thumbnail (JFIF extension)", Category.EMBEDDED,
                        len(payload))
    else:
        _app(data, marker, start, end, walk)


def _app1(data: bytes, marker: int, start: int, end: int, walk: Walk) -> None:
    payload, parsed = data[start + 4 : end], walk.parsed
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
        _app(data, marker, start, end, walk)


def _app2(data: bytes, marker: int, start: int, end: int, walk: Walk) -> None:
    payload = data[start + 4 : end]
    if payload[:12] == ICC_SIG and len(payload) >= 14:
        where = _where(marker, start, f"ICC profile chunk {payload[12]}/{payload[13]}")
        walk.icc.append(Chunk(payload[12], payload[13], payload[14:], where))
    elif payload[:4] == b"MPF\x00":
        exif.mpf_findings(payload[4:], _where(marker, start, "MPF"), walk.parsed, walk.parsed.limits)
    else:
        _app(data, marker, start, end, walk)


def _app11(data: bytes, marker: int, start: int, end: int, walk: Walk) -> None:
    payload = data[start + 4 : end]
    if payload[:2] == b"JP" and len(payload) >= 8:
        seq = int.from_bytes(payload[4:8], "big")
        blobs.c2pa_findings(payload[8:], _where(marker, start, "JUMBF"), walk.parsed, first=seq <= 1)
    else:
        _app(data, marker, start, end, walk)


def _app13(data: bytes, marker: int, start: int, end: int, walk: Walk) -> None:
    payload = data[start + 4 : end]
    if payload[:14] == b"Photoshop 3.0\x00":
        where = _where(marker, start, "Photoshop")
        walk.parsed.add(where, f"Photoshop image resources, {human_size(len(payload))}", Category.SOFTWARE,
                        len(payload), Risk.LOW)
        blobs.irb_findings(payload[14:], where, walk.parsed)
    else:
        _app(data, marker, start, end, walk)


def _app14(data: bytes, marker: int, start: int, end: int, walk: Walk) -> None:
    payload = data[start + 4 : end]
    if payload[:5] == b"Adobe" and len(payload) >= 12 and payload[11] <= 2:
        where = _where(marker, start, "Adobe")
        if walk.adobe is None:  # the colour transform flag: decoding needs it; version and flags are rewritten
            walk.adobe = b"\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00" + payload[11:12]
            walk.parsed.structure(where, f"Adobe colour transform {payload[11]}", 16)
        else:
            walk.hidden(where, "a second Adobe colour transform segment", end - start)
        _slack(walk, marker, start, start + 16, end, "Adobe colour transform")
    else:
        _app(data, marker, start, end, walk)


def _com(data: bytes, marker: int, start: int, end: int, walk: Walk) -> None:
    text = printable(data[start + 4 : end])
    walk.parsed.add(_where(marker, start), f"comment: '{text}'", Category.IDENTITY, end - start - 4, Risk.MEDIUM)


def _app(data: bytes, marker: int, start: int, end: int, walk: Walk) -> None:
    payload = data[start + 4 : end]
    ident = tag_name(payload.split(b"\x00", 1)[0][:24]) if payload else ""
    label = f"'{ident}' " if ident else ""
    walk.parsed.add(_where(marker, start), f"APP{marker - 0xE0} segment {label}({human_size(len(payload))})",
                    Category.UNKNOWN, len(payload))


def _unknown(data: bytes, marker: int, start: int, end: int, walk: Walk) -> None:
    walk.parsed.add(_where(marker, start), f"unknown segment ({human_size(end - start)})", Category.UNKNOWN,
                    end - start)


SEGMENTS: dict[int, Handler] = {
    0xDA: _sos, 0xDB: _dqt, 0xC4: _dht, 0xDD: _dri, 0xDC: _dnl, 0xDF: _unused("expand reference segment, which "
    "only hierarchical JPEGs use"), 0xCC: _unused("arithmetic coding tables, which this Huffman-coded JPEG does "
    "not use"), 0xE0: _app0, 0xE1: _app1, 0xE2: _app2, 0xEB: _app11, 0xED: _app13, 0xEE: _app14, 0xFE: _com,
}  # fmt: skip

__all__ = ["Piece", "icc_segments", "parse", "rebuild"]
