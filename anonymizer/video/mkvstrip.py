"""The lossless strip of Matroska and WebM: a new file written from parsed fields.

Output: the EBML header (version fields and DocType), one Segment with Info (timestamp scale and duration; the
muxing and writing applications, which the format requires, left empty), Tracks (each video or audio track
rebuilt from an allowlist of its fields, its UID replaced by its number) and the Clusters (timestamp and the
blocks of the kept tracks, H.264/HEVC frames without their SEI user data, everything else copied bit-exact).
Everything else is left behind: SeekHead and Cues (players seek without them), Tags, Attachments, Chapters,
segment IDs, other tracks' blocks, block additions, Void and data after the segment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO

from ..errors import CorruptImageError, TooLargeError, UnsupportedFormatError
from ..options import Limits
from . import ebml, sei
from .boxes import read_at, stream_size
from .matroska import NAL_CODECS, block_frame

HEADER_KEEP = (0x4286, 0x42F7, 0x42F2, 0x42F3, 0x4282, 0x4287, 0x4285)
TRACK_KEEP = frozenset({0xD7, 0x83, 0xB9, 0x88, 0x55AA, 0x9C, 0x23E383, 0x23314F, 0x22B59C, 0x22B59D, 0x86,
                        0x63A2, 0x56AA, 0x56BB, 0x55EE, 0x6DE7, 0xAA, 0x6D80})
VIDEO_KEEP = frozenset({0xB0, 0xBA, 0x54B0, 0x54BA, 0x54B2, 0x9A, 0x9D, 0x53B8, 0x53C0, 0x54AA, 0x54BB, 0x54CC,
                        0x54DD, 0x54B3, 0x55B0, 0x7670})
AUDIO_KEEP = frozenset({0xB5, 0x78B5, 0x9F, 0x6264})
GROUP_KEEP = frozenset({ebml.BLOCK, 0x9B, 0xFB, 0xFA, 0x75A2})
ENCRYPTION = b"\x50\x35"  # ContentEncryption inside ContentEncodings


@dataclass
class MkvPlan:
    doc_header: bytes
    info: bytes
    tracks: bytes
    kept: set[int]
    nal: dict[int, tuple[int, bool]]  # track number -> (NAL length size, HEVC)
    clusters: list[tuple[int, int]] = field(default_factory=list)  # (payload start, payload end)
    dropped: list[str] = field(default_factory=list)
    sei_blocks: int = 0


def plan(src: BinaryIO, limits: Limits) -> MkvPlan:
    size = stream_size(src)
    ident, body, stop, _ = ebml.header(read_at(src, 0, 16), 0, size)
    if ident != ebml.EBML:
        raise CorruptImageError("the file does not start with an EBML header")
    head = _bounded(src, body, stop, limits)
    fields = {i: head[b:e] for i, _s, b, e in ebml.children(head, 0, len(head))}
    doc = b"".join(ebml.element(i, fields[i]) for i in HEADER_KEEP if i in fields)
    seg_id, seg_body, seg_end, _ = ebml.header(read_at(src, stop, 16), stop, size)
    if seg_id != ebml.SEGMENT:
        raise CorruptImageError("the EBML header is not followed by a segment")
    return _walk(src, seg_body, seg_end, doc, limits)


def _bounded(src: BinaryIO, body: int, stop: int, limits: Limits) -> bytes:
    if stop - body > limits.max_item_bytes:
        raise TooLargeError(f"a Matroska element holds {stop - body} bytes; the limit for one item is "
                            f"{limits.max_item_bytes} bytes")
    data = read_at(src, body, stop - body)
    if len(data) != stop - body:
        raise CorruptImageError("a Matroska element runs past the end of the file")
    return data


def _walk(src: BinaryIO, start: int, end: int, doc: bytes, limits: Limits) -> MkvPlan:
    info = tracks = None
    clusters: list[tuple[int, int]] = []
    pos = start
    while pos < end:
        ident, body, stop, unknown = ebml.header(read_at(src, pos, 16), pos, end)
        if ident == ebml.CLUSTER:
            stop = ebml.cluster_end(src, body, end) if unknown else stop
            clusters.append((body, stop))
        elif ident == ebml.INFO and info is None:
            info = _bounded(src, body, stop, limits)
        elif ident == ebml.TRACKS and tracks is None:
            tracks = _bounded(src, body, stop, limits)
        elif unknown:
            raise CorruptImageError(f"Matroska element {ident:#x} of unknown size")
        pos = stop
    if info is None or tracks is None or not clusters:
        raise CorruptImageError("the Matroska segment lacks its info, tracks or clusters")
    result = MkvPlan(doc, _info(info), b"", set(), {}, clusters)
    result.tracks = _tracks(tracks, result)
    if not result.kept:
        raise UnsupportedFormatError("the file has no video track to keep")
    return result


def _info(data: bytes) -> bytes:
    fields = {i: data[b:e] for i, _s, b, e in ebml.children(data, 0, len(data))}
    out = ebml.element(0x2AD7B1, fields.get(0x2AD7B1, (1_000_000).to_bytes(3, "big")))
    if 0x4489 in fields:
        out += ebml.element(0x4489, fields[0x4489])
    return out + ebml.element(0x4D80, b"") + ebml.element(0x5741, b"")


def _tracks(data: bytes, result: MkvPlan) -> bytes:
    out, video = b"", False
    for ident, _start, body, stop in ebml.children(data, 0, len(data)):
        if ident != ebml.TRACK_ENTRY:
            continue
        entry = ebml.children(data, body, stop)
        fields = {i: data[b:e] for i, _s, b, e in entry}
        number, kind = ebml.uint(fields.get(ebml.TRACK_NUMBER, b"")), ebml.uint(fields.get(ebml.TRACK_TYPE, b""))
        codec = fields.get(ebml.CODEC_ID, b"").decode("latin-1")
        if kind not in (1, 2):
            result.dropped.append(f"track {number} ({codec or kind})")
            continue
        if ENCRYPTION in fields.get(0x6D80, b""):
            raise UnsupportedFormatError(f"track {number} is encrypted; it cannot be rewritten")
        video |= kind == 1
        result.kept.add(number)
        if codec in NAL_CODECS and ebml.CODEC_PRIVATE in fields:
            private = fields[ebml.CODEC_PRIVATE]
            result.nal[number] = (sei.length_size(NAL_CODECS[codec], private), codec.startswith("V_MPEGH"))
        out += ebml.element(ebml.TRACK_ENTRY, _track_fields(data, entry, number, codec))
    if not video:
        result.kept.clear()
    return out


def _track_fields(data: bytes, entry: list[ebml.Element], number: int, codec: str) -> bytes:
    out = ebml.element(0x73C5, number.to_bytes(8, "big"))  # a UID that says nothing about the original file
    for ident, _start, body, stop in entry:
        payload = data[body:stop]
        if ident == ebml.CODEC_PRIVATE and codec == "V_MPEGH/ISO/HEVC":
            from .entries import rebuild_hvcc

            payload = rebuild_hvcc(payload)
        if ident in TRACK_KEEP:
            out += ebml.element(ident, payload)
        elif ident in (0xE0, 0xE1):
            keep = VIDEO_KEEP if ident == 0xE0 else AUDIO_KEEP
            out += ebml.element(ident, b"".join(ebml.element(i, data[b:e]) for i, _s, b, e in
                                                ebml.children(data, body, stop) if i in keep))
    return out


def write(src: BinaryIO, sink: BinaryIO, p: MkvPlan, limits: Limits) -> None:
    sink.write(ebml.element(ebml.EBML, p.doc_header))
    sink.write(ebml.encode_id(ebml.SEGMENT) + ebml.encode_size(0))
    segment = sink.tell()
    sink.write(ebml.element(ebml.INFO, p.info) + ebml.element(ebml.TRACKS, p.tracks))
    for body, stop in p.clusters:
        sink.write(ebml.element(ebml.CLUSTER, _cluster(_bounded(src, body, stop, limits), p)))
    end = sink.tell()
    sink.seek(segment - 8)
    sink.write(ebml.encode_size(end - segment))
    sink.seek(end)


def _cluster(data: bytes, p: MkvPlan) -> bytes:
    out = []
    for ident, _start, body, stop in ebml.children(data, 0, len(data)):
        if ident == ebml.TIMESTAMP:
            out.append(ebml.element(ident, data[body:stop]))
        elif ident == ebml.SIMPLE_BLOCK:
            block = _block(data[body:stop], p)
            out.append(ebml.element(ident, block) if block else b"")
        elif ident == ebml.BLOCK_GROUP:
            out.append(_group(data, body, stop, p))
    return b"".join(out)


def _group(data: bytes, body: int, stop: int, p: MkvPlan) -> bytes:
    parts = []
    for ident, _start, b, e in ebml.children(data, body, stop):
        if ident == ebml.BLOCK:
            block = _block(data[b:e], p)
            if not block:
                return b""
            parts.append(ebml.element(ident, block))
        elif ident in GROUP_KEEP:
            parts.append(ebml.element(ident, data[b:e]))
    return ebml.element(ebml.BLOCK_GROUP, b"".join(parts)) if parts else b""


def _block(block: bytes, p: MkvPlan) -> bytes:
    """The block if its track is kept (H.264/HEVC frames without SEI user data), else b""."""
    number, frame = block_frame(block)
    if number not in p.kept:
        return b""
    if frame is None or number not in p.nal:
        return block
    size, hevc = p.nal[number]
    kept = sei.drop_user_data(frame, size, hevc)
    if len(kept) == len(frame):
        return block
    p.sei_blocks += 1
    return block[: len(block) - len(frame)] + kept

