"""Inspect an ISO BMFF / QuickTime video: every top-level box, the movie and track headers, every track that is
not plain video or audio, user data and metadata, free space holding data, data after the last box, and encoder
strings in the SEI of the first video samples. Only box headers and the `moov` payload are read into memory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

from ..errors import CorruptImageError
from ..metadata.base import Parsed, human_size, printable, tag_name
from ..metadata.report import Category, Risk
from . import sei, tags
from .boxes import Box, TopLevel, children, is_zero, read_at, read_payload, top_level
from .entries import read_entry
from .model import Movie, Track, read_hdlr, read_mdhd, read_mvhd, read_stsd, read_tables, read_tkhd

NEUTRAL_HANDLER_NAMES = frozenset({"", "VideoHandler", "SoundHandler"})
SEI_SAMPLES = 3  # video samples per track whose SEI is read by inspect
_EPOCH_1904 = datetime(1904, 1, 1, tzinfo=UTC)
_TRACK_KINDS: dict[bytes, tuple[Category, str, Risk | None]] = {
    b"gpmd": (Category.LOCATION, "GoPro telemetry track (GPS, sensors, camera serial)", None),
    b"mebx": (Category.UNKNOWN, "timed metadata track", Risk.HIGH),
    b"tmcd": (Category.TIME, "timecode track", None),
    b"camm": (Category.LOCATION, "camera motion and GPS track", None),
    b"fdsc": (Category.UNKNOWN, "GoPro firmware data track", Risk.HIGH),
    b"tx3g": (Category.IDENTITY, "subtitle track", Risk.MEDIUM),
    b"wvtt": (Category.IDENTITY, "subtitle track", Risk.MEDIUM),
    b"stpp": (Category.IDENTITY, "subtitle track", Risk.MEDIUM),
    b"text": (Category.IDENTITY, "text track", Risk.MEDIUM),
    b"c608": (Category.IDENTITY, "closed caption track", Risk.MEDIUM),
    b"rtp ": (Category.UNKNOWN, "hint track", Risk.LOW),
}


def inspect_isobmff(src: BinaryIO, parsed: Parsed) -> TopLevel:
    """Fill `parsed` with the findings of the whole file; returns its top level."""
    top = top_level(src)
    if not top.boxes:
        raise CorruptImageError(f"not a readable video: {top.problem or 'no boxes'}")
    for box in top.boxes:
        parsed.part()
        parsed.pos = box.start
        parsed.header_seen = True
        where = f"{box.name} @ {box.start:#x}"
        TOP.get(box.kind, _top_unknown)(src, box, where, parsed)
    if top.tail < top.size:
        why = f" ({top.problem})" if top.problem else ""
        parsed.add(f"after the last box @ {top.tail:#x}", f"{human_size(top.size - top.tail)} of data after the "
                   f"last box{why}", Category.HIDDEN, top.size - top.tail)
    return top


def _ftyp(src: BinaryIO, box: Box, where: str, parsed: Parsed) -> None:
    brands = read_at(src, box.body, min(box.size, 64))
    parsed.structure(where, f"file type '{tag_name(brands[:4])}'", box.size)


def _mdat(src: BinaryIO, box: Box, where: str, parsed: Parsed) -> None:
    parsed.structure(where, f"media data, {human_size(box.size)}", box.size)


def _free(src: BinaryIO, box: Box, where: str, parsed: Parsed) -> None:
    if is_zero(src, box.body, box.end):
        parsed.structure(where, f"free space, {human_size(box.size)} of zeros", box.size)
    else:
        parsed.add(where, f"free space holding leftover data, {human_size(box.size)}", Category.HIDDEN, box.size)


def _uuid(src: BinaryIO, box: Box, where: str, parsed: Parsed) -> None:
    start = box.body - 16
    tags.uuid_box(read_at(src, start, min(box.end - start, parsed.limits.max_item_bytes)), where, parsed)


def _top_meta(src: BinaryIO, box: Box, where: str, parsed: Parsed) -> None:
    data = read_at(src, box.start, box.end - box.start) if box.size <= parsed.limits.max_item_bytes else b""
    if not data:
        parsed.add(where, f"metadata box, {human_size(box.size)} (too large to read)", Category.UNKNOWN, box.size,
                   Risk.HIGH)
        return
    inner = Box(box.kind, 0, box.body - box.start, len(data))
    if box.kind == b"meta":
        tags.meta(data, inner, where, box.start, parsed, 1)
    else:
        tags.udta(data, inner, where, box.start, parsed, 1)


def _fragment(src: BinaryIO, box: Box, where: str, parsed: Parsed) -> None:
    parsed.structure(where, f"movie fragment part '{box.name}', {human_size(box.size)}", box.size)


def _top_unknown(src: BinaryIO, box: Box, where: str, parsed: Parsed) -> None:
    parsed.add(where, f"unknown box '{box.name}', {human_size(box.size)}", Category.UNKNOWN, box.size, Risk.HIGH)


def _moov(src: BinaryIO, box: Box, where: str, parsed: Parsed) -> None:
    data = read_payload(src, box, parsed.limits)
    base = box.body
    number = 0
    for part in children(data, 0, len(data)):
        parsed.part()
        here = f"moov > {part.name} @ {base + part.start:#x}"
        if part.kind == b"mvhd":
            _times(parsed, here, "movie header", read_mvhd(data, part, Movie()))
        elif part.kind == b"trak":
            number += 1
            _trak(src, data, part, f"moov > trak[{number}]", base, parsed)
        elif part.kind == b"udta":
            tags.udta(data, part, here, base, parsed, 1)
        elif part.kind == b"meta":
            tags.meta(data, part, here, base, parsed, 1)
        elif part.kind == b"uuid":
            tags.uuid_box(data[part.body - 16 : part.end], here, parsed)
        elif part.kind in (b"iods", b"mvex"):
            parsed.structure(here, f"'{part.name}' box", part.size)
        else:
            parsed.add(here, f"unknown box '{part.name}', {human_size(part.size)}", Category.UNKNOWN, part.size,
                       Risk.MEDIUM)


def _times(parsed: Parsed, where: str, what: str, times: tuple[int, int]) -> None:
    created, modified = times
    if created or modified:
        parsed.add(where, f"{what}: created {_date(created)}, modified {_date(modified)}", Category.TIME, 8)
    else:
        parsed.structure(where, f"{what} (no dates)")


def _date(seconds: int) -> str:
    if not seconds:
        return "never"
    try:
        return (_EPOCH_1904 + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S UTC")
    except OverflowError:
        return f"{seconds} s after 1904"


def _trak(src: BinaryIO, data: bytes, trak: Box, where: str, base: int, parsed: Parsed) -> None:
    track = Track(where)
    for part in children(data, trak.body, trak.end):
        parsed.part()
        here = f"{where} > {part.name} @ {base + part.start:#x}"
        if part.kind == b"tkhd":
            _times(parsed, here, "track header", read_tkhd(data, part, track))
        elif part.kind == b"mdia":
            _mdia(data, part, where, base, parsed, track)
        elif part.kind in (b"udta", b"meta"):
            (tags.udta if part.kind == b"udta" else tags.meta)(data, part, here, base, parsed, 1)
        elif part.kind in (b"edts", b"tref", b"tapt", b"load", b"clip", b"matt"):
            parsed.structure(here, f"'{part.name}' box", part.size)
        else:
            parsed.add(here, f"unknown box '{part.name}', {human_size(part.size)}", Category.UNKNOWN, part.size,
                       Risk.MEDIUM)
    _describe_track(src, track, where, parsed)


def _mdia(data: bytes, mdia: Box, where: str, base: int, parsed: Parsed, track: Track) -> None:
    for part in children(data, mdia.body, mdia.end):
        here = f"{where} > mdia > {part.name} @ {base + part.start:#x}"
        if part.kind == b"mdhd":
            _times(parsed, here, "media header", read_mdhd(data, part, track))
        elif part.kind == b"hdlr":
            track.handler = _handler(data, part, here, parsed)
        elif part.kind == b"minf":
            _minf(data, part, f"{where} > mdia > minf", base, parsed, track)
        else:
            parsed.add(here, f"unknown box '{part.name}'", Category.UNKNOWN, part.size, Risk.MEDIUM)


def _handler(data: bytes, box: Box, where: str, parsed: Parsed) -> bytes:
    handler, name = read_hdlr(data, box)
    if name in NEUTRAL_HANDLER_NAMES:
        parsed.structure(where, f"handler '{tag_name(handler)}'")
    else:
        parsed.add(where, f"handler name: {printable(name.encode())}", Category.SOFTWARE, box.size)
    return handler


def _minf(data: bytes, minf: Box, where: str, base: int, parsed: Parsed, track: Track) -> None:
    for part in children(data, minf.body, minf.end):
        here = f"{where} > {part.name} @ {base + part.start:#x}"
        if part.kind == b"hdlr":
            _handler(data, part, here, parsed)
        elif part.kind == b"stbl":
            stsd = next((b for b in children(data, part.body, part.end) if b.kind == b"stsd"), None)
            try:
                track.entries = read_stsd(data, stsd) if stsd is not None else []
                read_tables(data, part, track)
            except CorruptImageError as exc:
                parsed.unparseable(here, exc, part.size)
        elif part.kind not in (b"vmhd", b"smhd", b"gmhd", b"nmhd", b"sthd", b"hmhd", b"dinf"):
            parsed.add(here, f"unknown box '{part.name}'", Category.UNKNOWN, part.size, Risk.MEDIUM)


def _describe_track(src: BinaryIO, track: Track, where: str, parsed: Parsed) -> None:
    kinds = [k for k, _ in track.entries]
    if track.kind == "other" or not kinds:
        first = kinds[0] if kinds else track.handler
        category, words, risk = _TRACK_KINDS.get(first, (Category.UNKNOWN, "", Risk.HIGH))
        words = words or f"'{tag_name(track.handler)}' track ({tag_name(first)})"
        parsed.add(where, f"{words}, {len(track.tables.sizes)} samples", category,
                   sum(track.tables.sizes), risk)
        return
    for kind, payload in track.entries:
        entry = read_entry(kind, payload, track.handler)
        size = f" {track.width >> 16}x{track.height >> 16}" if track.kind == "video" else ""
        parsed.structure(where, f"{track.kind} track: {tag_name(kind)}{size}, {len(track.tables.sizes)} samples")
        if entry.compressor:
            parsed.add(where + f" > stsd > {tag_name(kind)}", f"compressor name: {entry.compressor}",
                       Category.SOFTWARE, 32)
        if entry.vendor.strip(b"\x00"):
            parsed.add(where + f" > stsd > {tag_name(kind)}", f"vendor '{tag_name(entry.vendor)}'",
                       Category.SOFTWARE, 4)
        for child_kind, child_payload in entry.boxes:
            if child_kind == b"damr" and child_payload[:5].strip(b"\x00"):
                parsed.add(where + f" > stsd > {tag_name(kind)} > damr", f"encoder vendor "
                           f"'{tag_name(child_payload[:4])}'", Category.SOFTWARE, 5)
            elif child_kind not in _KNOWN_CONFIG:
                parsed.add(where + f" > stsd > {tag_name(kind)} > {tag_name(child_kind)}",
                           f"extra box '{tag_name(child_kind)}' in the sample description", Category.UNKNOWN,
                           len(child_payload), Risk.LOW)
        _sei(src, track, entry.kind, entry.boxes, where, parsed)


_KNOWN_CONFIG = frozenset({b"avcC", b"hvcC", b"av1C", b"vpcC", b"esds", b"d263", b"colr", b"pasp", b"fiel", b"clli",
                           b"mdcv", b"dvcC", b"dvvC", b"damr", b"dOps", b"dfLa", b"dac3", b"dec3", b"alac", b"wave",
                           b"btrt", b"chan"})  # fmt: skip


def _sei(src: BinaryIO, track: Track, kind: bytes, boxes: list[tuple[bytes, bytes]], where: str,
         parsed: Parsed) -> None:
    """Encoder strings and other user data in the decoder configuration and the first video samples."""
    hevc = kind in sei.HEVC_ENTRIES
    config = next((p for k, p in boxes if k in (b"avcC", b"hvcC", b"esds")), None)
    if config is None or not (hevc or kind in sei.AVC_ENTRIES or kind == b"mp4v"):
        return
    here = f"{where} > stsd > {tag_name(kind)}"
    if hevc:
        for nal in sei.hvcc_sei(config):
            for payload in (p for k, p in sei.sei_payloads(nal, True) if k == sei.USER_DATA_UNREGISTERED):
                _user_data(f"{here} > hvcC SEI", payload[16:], parsed)
    if kind == b"mp4v":
        for payload in sei.mpeg4_user_data(config):
            _user_data(f"{here} > esds user data", payload, parsed)
    size = 0 if kind == b"mp4v" else sei.length_size(kind, config)
    for offset, length in _first_samples(track, SEI_SAMPLES):
        if length > parsed.limits.max_item_bytes:
            break
        sample = read_at(src, offset, length)
        found = sei.mpeg4_user_data(sample) if kind == b"mp4v" else [
            p[16:] for p in sei.user_data(sample, size, hevc)]
        for payload in found:
            _user_data(f"{where} sample @ {offset:#x} > user data", payload, parsed)


def _user_data(where: str, payload: bytes, parsed: Parsed) -> None:
    text = printable(payload, 80)
    shown = text if sum(c.isalnum() for c in text) * 2 > len(text) else f"{len(payload)} bytes"
    parsed.add(where, f"encoder or camera data in the video stream: {shown}", Category.SOFTWARE, len(payload))


def _first_samples(track: Track, n: int) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    sizes = track.tables.sizes
    for offset, first, count in track.tables.chunks:
        for i in range(first, min(first + count, len(sizes))):
            found.append((offset, sizes[i]))
            offset += sizes[i]
            if len(found) >= n:
                return found
    return found


TOP: dict[bytes, Callable[[BinaryIO, Box, str, Parsed], None]] = {
    b"ftyp": _ftyp, b"moov": _moov, b"mdat": _mdat, b"free": _free, b"skip": _free, b"wide": _free,
    b"uuid": _uuid, b"meta": _top_meta, b"udta": _top_meta, b"moof": _fragment, b"mfra": _fragment,
    b"sidx": _fragment, b"styp": _fragment, b"pdin": _fragment,
}  # fmt: skip
