"""Matroska and WebM (EBML): inspect. Segment info (title, date, muxing and writing application, segment IDs),
track names and non-audio/video tracks, tags, attachments, chapters, Void elements holding data, data after the
segment, and encoder strings in the SEI of the first H.264/HEVC blocks (and in an HEVC CodecPrivate). Clusters
are otherwise skipped by their size (or, for live recordings of unknown size, by their children's headers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import BinaryIO

from ..errors import CorruptImageError, TooLargeError
from ..metadata.base import Parsed, human_size, printable
from ..metadata.report import Category, Risk
from . import ebml, sei
from .boxes import check_depth, read_at, stream_size
from .tags import key_category

EBML, SEGMENT, CLUSTER, VOID = ebml.EBML, ebml.SEGMENT, ebml.CLUSTER, ebml.VOID
MASTERS = {0x1549A966: "Info", 0x1654AE6B: "Tracks", 0xAE: "TrackEntry", 0x1254C367: "Tags", 0x7373: "Tag",
           0x67C8: "SimpleTag", 0x1941A469: "Attachments", 0x61A7: "AttachedFile", 0x63C0: "Targets"}
STRUCTURE = {0x4286: "EBMLVersion", 0x42F7: "EBMLReadVersion", 0x42F2: "EBMLMaxIDLength",
             0x42F3: "EBMLMaxSizeLength", 0x4282: "DocType", 0x4287: "DocTypeVersion", 0x4285: "DocTypeReadVersion",
             0x114D9B74: "SeekHead", 0x1C53BB6B: "Cues", 0x2AD7B1: "TimestampScale", 0x4489: "Duration",
             0xD7: "TrackNumber", 0x73C5: "TrackUID", 0x83: "TrackType", 0x86: "CodecID", 0x63A2: "CodecPrivate",
             0xE0: "Video", 0xE1: "Audio", 0x9C: "FlagLacing", 0x22B59C: "Language", 0x23E383: "DefaultDuration",
             0xB9: "FlagEnabled", 0x88: "FlagDefault", 0x55AA: "FlagForced", 0x56AA: "CodecDelay",
             0x56BB: "SeekPreRoll", 0x22B59D: "LanguageBCP47", 0xBF: "CRC-32",
             0x6DE7: "MinCache", 0x23314F: "TrackTimestampScale", 0x55EE: "MaxBlockAdditionID",
             0xAA: "CodecDecodeAll", 0x6DF8: "MaxCache"}
TEXT: dict[int, tuple[Category, str, Risk | None]] = {
    0x7BA9: (Category.IDENTITY, "title", None), 0x4D80: (Category.SOFTWARE, "muxing application", None),
    0x5741: (Category.SOFTWARE, "writing application", None), 0x536E: (Category.IDENTITY, "track name", Risk.MEDIUM),
    0x258688: (Category.SOFTWARE, "codec name", None), 0x466E: (Category.EMBEDDED, "attached file", None),
    0x467E: (Category.EMBEDDED, "attachment description", None), 0x4660: (Category.EMBEDDED, "attachment type", None),
    0x73A4: (Category.UNKNOWN, "segment ID", Risk.LOW), 0x3CB923: (Category.UNKNOWN, "previous segment ID", Risk.LOW),
    0x3EB923: (Category.UNKNOWN, "next segment ID", Risk.LOW), 0x4444: (Category.UNKNOWN, "segment family", Risk.LOW),
}  # fmt: skip
TRACK_TYPES = {1: "video", 2: "audio"}
_EPOCH_2001 = datetime(2001, 1, 1, tzinfo=UTC)


def inspect(src: BinaryIO, parsed: Parsed) -> None:
    size = stream_size(src)
    pos = 0
    while pos < size:
        parsed.part()
        ident, body, stop, _ = ebml.header(read_at(src, pos, 16), pos, size, clamp=True)
        if stop > size:
            parsed.add(f"@ {pos:#x}", f"truncated file: element {ident:#x} claims {human_size(stop - body)}, "
                       f"{human_size(size - body)} present", Category.UNKNOWN, 0, Risk.LOW)
            stop = size
        parsed.header_seen = True
        parsed.pos = pos
        if ident == SEGMENT:
            _segment(src, body, stop, parsed)
        elif ident == EBML:
            parsed.structure(f"EBML header @ {pos:#x}", "Matroska header", stop - body)
        elif ident == VOID:
            _void(src, pos, body, stop, "Void", parsed)
        else:
            parsed.add(f"@ {pos:#x}", f"{human_size(size - pos)} of data after the segment", Category.HIDDEN,
                       size - pos)
            return
        pos = stop


def _segment(src: BinaryIO, start: int, end: int, parsed: Parsed) -> None:
    pos, clusters, cluster_bytes = start, 0, 0
    tracks: dict[int, tuple[str, bytes]] = {}
    scanned: dict[int, int] = {}
    while pos < end:
        parsed.part()
        ident, body, stop, unknown = ebml.header(read_at(src, pos, 16), pos, end, clamp=True)
        parsed.pos = pos
        if stop > end:
            parsed.add(f"Segment @ {pos:#x}", f"truncated element {ident:#x}", Category.UNKNOWN, 0, Risk.LOW)
            stop = end
        if ident == CLUSTER:
            stop = ebml.cluster_end(src, body, end) if unknown else stop
            clusters, cluster_bytes = clusters + 1, cluster_bytes + stop - body
            if any(scanned.get(n, 0) < SEI_BLOCKS for n in tracks):
                _scan_cluster(src, body, stop, tracks, scanned, parsed)
        elif ident == VOID:
            _void(src, pos, body, stop, "Segment > Void", parsed)
        elif ident in STRUCTURE:
            parsed.structure(f"Segment > {STRUCTURE[ident]} @ {pos:#x}", STRUCTURE[ident], stop - body)
        elif ident == ebml.CHAPTERS:
            parsed.add(f"Segment > Chapters @ {pos:#x}", f"chapters, {human_size(stop - body)}", Category.UNKNOWN,
                       stop - body, Risk.MEDIUM)
        elif ident in MASTERS and stop - body <= parsed.limits.max_item_bytes:
            data = read_at(src, body, stop - body)
            _master(data, 0, len(data), f"Segment > {MASTERS[ident]}", body, parsed, 1)
            if ident == ebml.TRACKS:
                tracks = _nal_tracks(data, body, parsed)
        else:
            parsed.add(f"Segment > {ident:#x} @ {pos:#x}", f"element {ident:#x}, {human_size(stop - body)}",
                       Category.UNKNOWN, stop - body, Risk.HIGH)
        pos = stop
    parsed.structure("Segment > Clusters", f"{clusters} clusters of frames, {human_size(cluster_bytes)}")


SEI_BLOCKS = 3  # blocks per H.264/HEVC track whose SEI inspect reads
NAL_CODECS = {"V_MPEG4/ISO/AVC": b"avc1", "V_MPEGH/ISO/HEVC": b"hvc1"}


def _nal_tracks(data: bytes, base: int, parsed: Parsed) -> dict[int, tuple[str, bytes]]:
    """H.264/HEVC tracks: number -> (codec ID, CodecPrivate); encoder SEI kept in an HEVC CodecPrivate is
    reported here."""
    found: dict[int, tuple[str, bytes]] = {}
    for ident, _start, body, stop in ebml.children(data, 0, len(data)):
        if ident != ebml.TRACK_ENTRY:
            continue
        fields = {i: data[b:e] for i, _s, b, e in ebml.children(data, body, stop)}
        codec = fields.get(ebml.CODEC_ID, b"").decode("latin-1")
        if codec in NAL_CODECS and ebml.CODEC_PRIVATE in fields:
            number = ebml.uint(fields.get(ebml.TRACK_NUMBER, b""))
            found[number] = (codec, fields[ebml.CODEC_PRIVATE])
            for nal in sei.hvcc_sei(fields[ebml.CODEC_PRIVATE]) if codec.startswith("V_MPEGH") else []:
                for payload in (p for k, p in sei.sei_payloads(nal, True) if k == sei.USER_DATA_UNREGISTERED):
                    _user_data(f"Segment > Tracks @ {base:#x} > track {number} CodecPrivate", payload, parsed)
    return found


def _scan_cluster(src: BinaryIO, body: int, stop: int, tracks: dict[int, tuple[str, bytes]],
                  scanned: dict[int, int], parsed: Parsed) -> None:
    if stop - body > parsed.limits.max_item_bytes:
        return
    data = read_at(src, body, stop - body)
    for ident, start, block, end in ebml.children(data, 0, len(data)):
        if ident == ebml.BLOCK_GROUP:
            inner = [c for c in ebml.children(data, block, end) if c[0] == ebml.BLOCK]
            if not inner:
                continue
            block, end = inner[0][2], inner[0][3]
        elif ident != ebml.SIMPLE_BLOCK:
            continue
        number, frame = block_frame(data[block:end])
        if number not in tracks or frame is None or scanned.get(number, 0) >= SEI_BLOCKS:
            continue
        scanned[number] = scanned.get(number, 0) + 1
        codec, private = tracks[number]
        hevc = codec.startswith("V_MPEGH")
        for payload in sei.user_data(frame, sei.length_size(NAL_CODECS[codec], private), hevc):
            _user_data(f"Segment > Cluster block @ {body + start:#x} > SEI user data", payload, parsed)


def block_frame(block: bytes) -> tuple[int, bytes | None]:
    """(track number, frame data) of a Block or SimpleBlock; the frame is None when the block is laced."""
    number, after, _ = ebml.vint(block, 0, False)
    if after + 3 > len(block):
        raise CorruptImageError("a Matroska block is truncated")
    laced = (block[after + 2] >> 1) & 3
    return number, None if laced else block[after + 3 :]


def _user_data(where: str, payload: bytes, parsed: Parsed) -> None:
    text = printable(payload[16:], 80)
    shown = text if sum(c.isalnum() for c in text) * 2 > len(text) else f"{len(payload)} bytes"
    parsed.add(where, f"encoder or camera data in the video stream: {shown}", Category.SOFTWARE, len(payload))


def _void(src: BinaryIO, pos: int, body: int, stop: int, where: str, parsed: Parsed) -> None:
    data = read_at(src, body, min(stop - body, parsed.limits.max_item_bytes))
    if data.strip(b"\x00"):
        parsed.add(f"{where} @ {pos:#x}", f"padding holding data, {human_size(stop - body)}", Category.HIDDEN,
                   stop - body)
    else:
        parsed.structure(f"{where} @ {pos:#x}", f"padding, {human_size(stop - body)}", stop - body)


def _master(data: bytes, start: int, end: int, where: str, base: int, parsed: Parsed, depth: int) -> None:
    check_depth(depth, parsed.limits)
    pos, tag_name = start, ""
    while pos < end:
        parsed.part()
        ident, body, stop, _ = ebml.header(data[pos : pos + 16], pos, end)
        if stop > len(data):
            raise TooLargeError("EBML element larger than the data read")
        payload = data[body:stop]
        here = f"{where} > {ident:#x} @ {base + pos:#x}"
        if ident in MASTERS:
            _master(data, body, stop, f"{where} > {MASTERS[ident]}", base, parsed, depth + 1)
        elif ident == 0x45A3:  # TagName
            tag_name = printable(payload)
        elif ident == 0x4487:  # TagString
            parsed.add(here, f"tag {tag_name or '?'}: {printable(payload)}", key_category(tag_name), len(payload),
                       Risk.MEDIUM if key_category(tag_name) is Category.UNKNOWN else None)
        elif ident == 0x4461:  # DateUTC, nanoseconds since 2001
            nanos = int.from_bytes(payload, "big", signed=True)
            when = (_EPOCH_2001 + timedelta(microseconds=nanos // 1000)).strftime("%Y-%m-%d %H:%M:%S UTC")
            parsed.add(here, f"date: {when}", Category.TIME, len(payload))
        elif ident == 0x83 and int.from_bytes(payload, "big") not in TRACK_TYPES:
            parsed.add(here, f"track of type {int.from_bytes(payload, 'big')} (not video or audio)",
                       Category.UNKNOWN, len(payload), Risk.MEDIUM)
        elif ident == VOID and not payload.strip(b"\x00"):
            parsed.structure(here, "padding")
        elif ident in TEXT and not payload.strip(b"\x00"):
            parsed.structure(here, f"{TEXT[ident][1]} (empty)")
        elif ident in TEXT:
            category, words, risk = TEXT[ident]
            parsed.add(here, f"{words}: {printable(payload)}", category, len(payload), risk)
        elif ident in STRUCTURE:
            parsed.structure(here, STRUCTURE[ident], len(payload))
        elif ident == 0x465C:  # FileData
            parsed.add(here, f"attached file data, {human_size(len(payload))}", Category.EMBEDDED, len(payload))
        elif ident not in (0x63C5, 0x68CA, 0x63CA, 0x447A, 0x4484, 0x46AE):  # targets, language, default flags, UID
            parsed.add(here, f"element {ident:#x}, {human_size(len(payload))}", Category.UNKNOWN, len(payload),
                       Risk.LOW)
        pos = stop
