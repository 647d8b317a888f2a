"""The lossless strip of ISO BMFF / QuickTime: a new file written from parsed fields.

Layout of the output: `ftyp` (the input's brands), one `mdat` holding the kept tracks' chunks in their original
order, then `moov` with `mvhd` (times zero) and one `trak` per video or audio track: `tkhd` (times zero, matrix
kept: rotation is not identifying), `edts`/`elst` when the input had one, `mdia` with `mdhd` (times zero,
language kept), `hdlr` (neutral name), `minf` with `vmhd`/`smhd`, a self-contained `dinf`, and `stbl` with the
rebuilt sample descriptions and the sample tables (chunk offsets rewritten). Nothing else is written: every
other track, user data, metadata, uuid, free space and trailing data is left behind.

Samples are copied in chunks of at most 1 MB. H.264/HEVC samples are read one at a time and their SEI NAL
units holding user data (encoder settings, camera data) are dropped; every other NAL unit, and every other
sample, is copied bit-exact.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from ..errors import CorruptImageError, TooLargeError, UnsupportedFormatError
from ..options import Limits
from . import sei
from .boxes import CHUNK, Box, TopLevel, child, children, read_at, read_payload
from .entries import box, check_codec, full, read_entry, rebuild_entry
from .model import Movie, Track, read_mvhd, read_track

HANDLER_NAMES = {b"vide": b"VideoHandler", b"soun": b"SoundHandler"}
FRAGMENTS = frozenset({b"moof", b"mvex", b"sidx", b"styp", b"mfra"})
SELF_CONTAINED = frozenset({b"url ", b"alis", b"urn "})


@dataclass
class Plan:
    """What is kept: the movie header fields and the video and audio tracks; what was dropped, in words."""

    movie: Movie
    ftyp: bytes
    tracks: list[Track] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    sei_samples: int = 0  # video samples from which SEI user data was dropped


def plan(src: BinaryIO, top: TopLevel, limits: Limits) -> Plan:
    """Read the movie and decide what to keep; refuse what cannot be stripped losslessly."""
    # Bytes after the last whole box (a trailer, or a box cut short) are left behind; a cut that reaches into
    # the movie or the samples is refused below (no moov, or samples past the end of the file).
    kinds = [b.kind for b in top.boxes]
    if FRAGMENTS.intersection(kinds):
        raise UnsupportedFormatError("fragmented MP4 (moof) cannot be stripped yet; remux it to a plain MP4 first")
    moovs = [b for b in top.boxes if b.kind == b"moov"]
    if len(moovs) != 1:
        why = f" ({top.problem})" if top.problem else ""
        raise CorruptImageError(f"the file has {len(moovs)} movie boxes (moov); exactly one is needed{why}")
    ftyp = next((b for b in top.boxes if b.kind == b"ftyp"), None)
    brands = read_payload(src, ftyp, limits) if ftyp is not None else b"qt  \x00\x00\x00\x00qt  "
    data = read_payload(src, moovs[0], limits)
    result = Plan(Movie(), _brands(brands))
    number = 0
    for part in children(data, 0, len(data)):
        if part.kind == b"mvhd":
            read_mvhd(data, part, result.movie)
        elif part.kind == b"trak":
            number += 1
            _keep_or_drop(data, part, f"track {number}", result, top.size)
    if result.movie.timescale == 0:
        raise CorruptImageError("the movie header (mvhd) is missing or has no time scale")
    if not any(t.kind == "video" for t in result.tracks):
        raise UnsupportedFormatError("the file has no video track to keep")
    return result


def _brands(payload: bytes) -> bytes:
    """ftyp payload: major brand, minor version 0, compatible brands (each a printable four-character code)."""
    if len(payload) < 8:
        raise CorruptImageError("the file type box (ftyp) is truncated")
    brands = [payload[i : i + 4] for i in range(8, len(payload) - 3, 4)][:64]
    clean = [b for b in brands if all(32 <= c < 127 for c in b)]
    return payload[:4] + bytes(4) + b"".join(clean)


def _keep_or_drop(data: bytes, trak: Box, where: str, result: Plan, file_size: int) -> None:
    track = read_track(data, trak, where)
    if track.kind == "other":
        name = (track.entries[0][0] if track.entries else track.handler).decode("latin-1")
        result.dropped.append(f"{where} ({name.strip()})")
        return
    _check_references(data, trak, where)
    for kind, _payload in track.entries:
        check_codec(kind, track.handler, where)
    for offset, first, count in track.tables.chunks:
        end = offset + sum(track.tables.sizes[first : first + count])
        if end > file_size:
            raise CorruptImageError(f"{where}: samples lie past the end of the file (truncated?)")
    result.tracks.append(track)


def _check_references(data: bytes, trak: Box, where: str) -> None:
    """Refuse samples kept in another file: a data reference that is not 'this file' (flag 1)."""
    mdia = child(data, trak, b"mdia")
    minf = child(data, mdia, b"minf") if mdia else None
    dinf = child(data, minf, b"dinf") if minf else None
    dref = child(data, dinf, b"dref") if dinf else None
    if dref is None:
        return
    for ref in children(data, dref.body + 8, dref.end):
        if ref.kind not in SELF_CONTAINED or not data[ref.body + 3] & 1:
            raise UnsupportedFormatError(f"{where} keeps its samples in another file; only self-contained "
                                         "videos can be stripped")


@dataclass
class Copied:
    """Per kept track: the new sample sizes and chunk offsets."""

    sizes: list[int]
    offsets: list[int]


def write(src: BinaryIO, sink: BinaryIO, p: Plan, limits: Limits) -> int:
    """Write the stripped file to sink from its current position; returns the number of bytes written."""
    ftyp = box(b"ftyp", p.ftyp)
    sink.write(ftyp)
    mdat_at = len(ftyp)
    sink.write(struct.pack(">I4sQ", 1, b"mdat", 0))
    copied = _copy_samples(src, sink, p, limits, mdat_at + 16)
    end = sink.tell()
    sink.seek(mdat_at + 8)
    sink.write(struct.pack(">Q", end - mdat_at))
    sink.seek(end)
    moov = moov_box(p, copied)
    sink.write(moov)
    return end + len(moov)


def _copy_samples(src: BinaryIO, sink: BinaryIO, p: Plan, limits: Limits, start: int) -> list[Copied]:
    copied = [Copied(list(t.tables.sizes), [0] * len(t.tables.chunks)) for t in p.tracks]
    order = sorted((offset, ti, ci) for ti, t in enumerate(p.tracks) for ci, (offset, _, _) in
                   enumerate(t.tables.chunks))
    nal = [_nal_format(t) for t in p.tracks]
    mpeg4 = [any(k == b"mp4v" for k, _ in t.entries) and t.kind == "video" for t in p.tracks]
    pos = start
    for offset, ti, ci in order:
        _, first, count = p.tracks[ti].tables.chunks[ci]
        copied[ti].offsets[ci] = pos
        sizes = p.tracks[ti].tables.sizes[first : first + count]
        if nal[ti] is None and not mpeg4[ti]:
            pos += _copy(src, sink, offset, sum(sizes))
            continue
        length_size, hevc = nal[ti] or (0, False)
        for i, size in enumerate(sizes):
            if size > limits.max_item_bytes:
                raise TooLargeError(f"a video sample of {size} bytes is over the item limit")
            sample = read_at(src, offset, size)
            if len(sample) != size:
                raise CorruptImageError("a video sample runs past the end of the file")
            kept = sei.drop_user_data(sample, length_size, hevc) if length_size else sei.drop_mpeg4_user_data(sample)
            p.sei_samples += len(kept) != size
            sink.write(kept)
            copied[ti].sizes[first + i] = len(kept)
            offset += size
            pos += len(kept)
    return copied


def _nal_format(track: Track) -> tuple[int, bool] | None:
    """(NAL length size, is HEVC) for H.264/HEVC tracks, None for others."""
    sizes: set[tuple[int, bool]] = set()
    for kind, payload in track.entries:
        hevc = kind in sei.HEVC_ENTRIES
        if not (hevc or kind in sei.AVC_ENTRIES):
            return None
        entry = read_entry(kind, payload, track.handler)
        config = next((c for k, c in entry.boxes if k in (b"avcC", b"hvcC")), None)
        if config is None:
            raise CorruptImageError(f"{track.where}: H.264/HEVC sample description without its configuration")
        sizes.add((sei.length_size(kind, config), hevc))
    if len(sizes) != 1:
        raise UnsupportedFormatError(f"{track.where} mixes NAL length sizes; this cannot be stripped yet")
    return sizes.pop()


def _copy(src: BinaryIO, sink: BinaryIO, offset: int, n: int) -> int:
    src.seek(offset)
    left = n
    while left:
        piece = src.read(min(CHUNK, left))
        if not piece:
            raise CorruptImageError("media data runs past the end of the file")
        sink.write(piece)
        left -= len(piece)
    return n


def moov_box(p: Plan, copied: list[Copied]) -> bytes:
    wide = any(o >= 1 << 32 for c in copied for o in c.offsets)
    traks = b"".join(_trak(t, c, i + 1, wide) for i, (t, c) in enumerate(zip(p.tracks, copied, strict=True)))
    return box(b"moov", _mvhd(p.movie, len(p.tracks) + 1) + traks)


def _mvhd(m: Movie, next_id: int) -> bytes:
    v1 = m.duration >= 1 << 32
    head = struct.pack(">QQIQ", 0, 0, m.timescale, m.duration) if v1 else struct.pack(">IIII", 0, 0, m.timescale,
                                                                                        m.duration)
    rest = struct.pack(">IH10x", m.rate, m.volume) + m.matrix + bytes(24) + struct.pack(">I", next_id)
    return full(b"mvhd", int(v1), 0, head + rest)


def _trak(t: Track, c: Copied, track_id: int, wide: bool) -> bytes:
    v1 = t.tkhd_duration >= 1 << 32
    times = (struct.pack(">QQIIQ", 0, 0, track_id, 0, t.tkhd_duration) if v1 else
             struct.pack(">IIIII", 0, 0, track_id, 0, t.tkhd_duration))
    tkhd = full(b"tkhd", int(v1), t.tkhd_flags & 0xF, times + struct.pack(">8xhhH2x", t.layer, t.alternate_group,
                t.volume) + t.matrix + struct.pack(">II", t.width, t.height))
    return box(b"trak", tkhd + _edts(t) + box(b"mdia", _mdhd(t) + _hdlr(t.handler) + _minf(t, c, wide)))


def _edts(t: Track) -> bytes:
    if t.edits is None:
        return b""
    v1 = any(d >= 1 << 32 or not -(1 << 31) <= m < 1 << 31 for d, m, _ in t.edits)
    fmt = ">QqI" if v1 else ">IiI"
    body = struct.pack(">I", len(t.edits)) + b"".join(struct.pack(fmt, *e) for e in t.edits)
    return box(b"edts", full(b"elst", int(v1), 0, body))


def _mdhd(t: Track) -> bytes:
    v1 = t.duration >= 1 << 32
    head = struct.pack(">QQIQ", 0, 0, t.timescale, t.duration) if v1 else struct.pack(">IIII", 0, 0, t.timescale,
                                                                                        t.duration)
    return full(b"mdhd", int(v1), 0, head + struct.pack(">HH", t.language, 0))


def _hdlr(handler: bytes) -> bytes:
    return full(b"hdlr", 0, 0, bytes(4) + handler + bytes(12) + HANDLER_NAMES[handler] + b"\x00")


def _minf(t: Track, c: Copied, wide: bool) -> bytes:
    header = full(b"vmhd", 0, 1, bytes(8)) if t.kind == "video" else full(b"smhd", 0, 0, bytes(4))
    dinf = box(b"dinf", full(b"dref", 0, 0, struct.pack(">I", 1) + full(b"url ", 0, 1, b"")))
    return box(b"minf", header + dinf + box(b"stbl", _stbl(t, c, wide)))


def _stbl(t: Track, c: Copied, wide: bool) -> bytes:
    tb = t.tables
    entries = [rebuild_entry(read_entry(k, p, t.handler)) for k, p in t.entries]
    out = [full(b"stsd", 0, 0, struct.pack(">I", len(entries)) + b"".join(entries)), _table(b"stts", ">II", tb.stts)]
    if tb.ctts is not None:
        out.append(_table(b"ctts", ">Ii" if tb.ctts_version else ">II", tb.ctts, tb.ctts_version))
    if tb.stss is not None:
        out.append(_table(b"stss", ">I", [(n,) for n in tb.stss]))
    if tb.sdtp is not None and len(tb.sdtp) == len(tb.sizes):
        out.append(full(b"sdtp", 0, 0, tb.sdtp))
    out.append(_table(b"stsc", ">III", tb.stsc))
    out.append(full(b"stsz", 0, 0, struct.pack(">II", 0, len(c.sizes)) + struct.pack(f">{len(c.sizes)}I", *c.sizes)))
    out.append(_table(b"co64" if wide else b"stco", ">Q" if wide else ">I", [(o,) for o in c.offsets]))
    return b"".join(out)


def _table(kind: bytes, fmt: str, rows: Sequence[tuple[int, ...]], version: int = 0) -> bytes:
    record = struct.Struct(fmt)
    return full(kind, version, 0, struct.pack(">I", len(rows)) + b"".join(record.pack(*r) for r in rows))
