"""The movie as the stripper needs it: each track's header fields, sample descriptions and sample tables,
parsed from the `moov` payload held in memory. Every count is checked against the bytes that hold it."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ..errors import CorruptImageError, TooLargeError
from ..metadata.base import need, u32, unpack
from .boxes import Box, child, children

MAX_SAMPLES = 50_000_000  # a 24 h video at 60 fps has 5 million video samples


@dataclass
class Tables:
    """Sample tables. sizes: one per sample; chunks: (offset, first sample index, sample count)."""

    stts: list[tuple[int, int]] = field(default_factory=list)
    ctts: list[tuple[int, int]] | None = None
    ctts_version: int = 0
    stss: list[int] | None = None
    stsc: list[tuple[int, int, int]] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    sdtp: bytes | None = None
    chunks: list[tuple[int, int, int]] = field(default_factory=list)


@dataclass
class Track:
    where: str
    handler: bytes = b""
    track_id: int = 0
    tkhd_flags: int = 0
    tkhd_duration: int = 0
    layer: int = 0
    alternate_group: int = 0
    volume: int = 0
    matrix: bytes = b""
    width: int = 0
    height: int = 0
    edits: list[tuple[int, int, int]] | None = None  # (segment duration, media time, rate 16.16)
    timescale: int = 0
    duration: int = 0
    language: int = 0x55C4  # 'und'
    entries: list[tuple[bytes, bytes]] = field(default_factory=list)  # (sample entry type, payload)
    tables: Tables = field(default_factory=Tables)

    @property
    def kind(self) -> str:
        return {b"vide": "video", b"soun": "audio"}.get(self.handler, "other")


@dataclass
class Movie:
    timescale: int = 0
    duration: int = 0
    rate: int = 0x10000
    volume: int = 0x100
    matrix: bytes = b""
    tracks: list[Track] = field(default_factory=list)


def full_box(data: bytes, box: Box) -> tuple[int, int]:
    """(version, flags) of a full box."""
    word = u32(data, box.body, f"'{box.name}' header")
    return word >> 24, word & 0xFFFFFF


def read_mvhd(data: bytes, box: Box, movie: Movie) -> tuple[int, int]:
    """Fills the movie's header fields; returns (creation, modification) times."""
    version, _ = full_box(data, box)
    at = box.body + 4
    if version == 1:
        created, modified, movie.timescale, movie.duration = unpack(">QQIQ", data, at, "mvhd")
        at += 28
    else:
        created, modified, movie.timescale, movie.duration = unpack(">IIII", data, at, "mvhd")
        at += 16
    movie.rate, movie.volume = unpack(">IH", data, at, "mvhd rate")
    need(data, at + 16, 36, "mvhd matrix")
    movie.matrix = data[at + 16 : at + 52]
    return created, modified


def read_tkhd(data: bytes, box: Box, track: Track) -> tuple[int, int]:
    version, track.tkhd_flags = full_box(data, box)
    at = box.body + 4
    if version == 1:
        created, modified, track.track_id, _, track.tkhd_duration = unpack(">QQIIQ", data, at, "tkhd")
        at += 32
    else:
        created, modified, track.track_id, _, track.tkhd_duration = unpack(">IIIII", data, at, "tkhd")
        at += 20
    track.layer, track.alternate_group, track.volume = unpack(">8xhhH2x", data, at, "tkhd")
    need(data, at + 16, 44, "tkhd matrix")
    track.matrix = data[at + 16 : at + 52]
    track.width, track.height = unpack(">II", data, at + 52, "tkhd size")
    return created, modified


def read_mdhd(data: bytes, box: Box, track: Track) -> tuple[int, int]:
    version, _ = full_box(data, box)
    at = box.body + 4
    if version == 1:
        created, modified, track.timescale, track.duration = unpack(">QQIQ", data, at, "mdhd")
        at += 28
    else:
        created, modified, track.timescale, track.duration = unpack(">IIII", data, at, "mdhd")
        at += 16
    track.language = unpack(">H", data, at, "mdhd language")[0]
    return created, modified


def read_hdlr(data: bytes, box: Box) -> tuple[bytes, str]:
    """(handler type, name) of an hdlr box; QuickTime names are a Pascal string, ISO ones end with a NUL."""
    need(data, box.body, 24, "hdlr")
    handler = data[box.body + 8 : box.body + 12]
    raw = data[box.body + 24 : box.end]
    if raw and raw[0] == len(raw) - 1:
        raw = raw[1:]
    return handler, raw.split(b"\x00", 1)[0].decode("utf-8", "replace")


def read_elst(data: bytes, box: Box) -> list[tuple[int, int, int]]:
    version, _ = full_box(data, box)
    count = u32(data, box.body + 4, "elst count")
    fmt, width = (">QqI", 20) if version == 1 else (">IiI", 12)
    need(data, box.body + 8, count * width, "elst entries")
    return [struct.unpack_from(fmt, data, box.body + 8 + i * width) for i in range(count)]


def _array(data: bytes, box: Box, fmt: str, skip: int = 4, what: str = "") -> list[tuple[int, ...]]:
    """The entries of a sample table: a count at `skip`, then `count` records of `fmt`."""
    count = u32(data, box.body + skip, f"'{box.name}' count")
    width = struct.calcsize(fmt)
    if count > MAX_SAMPLES:
        raise TooLargeError(f"'{box.name}' lists {count} entries; more than {MAX_SAMPLES} is refused")
    need(data, box.body + skip + 4, count * width, f"'{box.name}' {what}entries")
    return list(struct.iter_unpack(fmt, data[box.body + skip + 4 : box.body + skip + 4 + count * width]))


def read_tables(data: bytes, stbl: Box, track: Track) -> None:
    t = track.tables
    for box in children(data, stbl.body, stbl.end):
        reader = _TABLES.get(box.kind)
        if reader is not None:
            reader(data, box, t)
    _resolve_chunks(t, track.where)


def _stts(data: bytes, box: Box, t: Tables) -> None:
    t.stts = [(a, b) for a, b in _array(data, box, ">II")]


def _ctts(data: bytes, box: Box, t: Tables) -> None:
    t.ctts_version = full_box(data, box)[0]
    t.ctts = [(a, b) for a, b in _array(data, box, ">Ii" if t.ctts_version else ">II")]


def _stss(data: bytes, box: Box, t: Tables) -> None:
    t.stss = [a for (a,) in _array(data, box, ">I")]


def _stsc(data: bytes, box: Box, t: Tables) -> None:
    t.stsc = [(a, b, c) for a, b, c in _array(data, box, ">III")]


def _stsz(data: bytes, box: Box, t: Tables) -> None:
    uniform, count = unpack(">II", data, box.body + 4, "stsz")
    if uniform:
        if count > MAX_SAMPLES:
            raise TooLargeError(f"'stsz' lists {count} samples; more than {MAX_SAMPLES} is refused")
        t.sizes = [uniform] * count
    else:
        t.sizes = [a for (a,) in _array(data, box, ">I", skip=8)]


def _stz2(data: bytes, box: Box, t: Tables) -> None:
    bits = unpack(">I", data, box.body + 4, "stz2")[0] & 0xFF
    count = u32(data, box.body + 8, "stz2 count")
    if bits not in (4, 8, 16) or count > MAX_SAMPLES:
        raise CorruptImageError("'stz2' has an invalid field size or too many samples")
    raw = data[box.body + 12 : box.end]
    need(data, box.body + 12, (count * bits + 7) // 8, "stz2 entries")
    if bits == 16:
        t.sizes = [a for (a,) in struct.iter_unpack(">H", raw[: count * 2])]
    elif bits == 8:
        t.sizes = list(raw[:count])
    else:
        t.sizes = [(raw[i // 2] >> (4 if i % 2 == 0 else 0)) & 0xF for i in range(count)]


def _stco(data: bytes, box: Box, t: Tables) -> None:
    t.offsets = [a for (a,) in _array(data, box, ">I")]


def _co64(data: bytes, box: Box, t: Tables) -> None:
    t.offsets = [a for (a,) in _array(data, box, ">Q")]


def _sdtp(data: bytes, box: Box, t: Tables) -> None:
    t.sdtp = data[box.body + 4 : box.end]


_TABLES = {b"stts": _stts, b"ctts": _ctts, b"stss": _stss, b"stsc": _stsc, b"stsz": _stsz, b"stz2": _stz2,
           b"stco": _stco, b"co64": _co64, b"sdtp": _sdtp}  # fmt: skip


def _resolve_chunks(t: Tables, where: str) -> None:
    """Each chunk's offset, first sample and sample count, from stsc; refuses tables that disagree."""
    nchunks, sample = len(t.offsets), 0
    for i, (first, per_chunk, _sdi) in enumerate(t.stsc):
        last = t.stsc[i + 1][0] - 1 if i + 1 < len(t.stsc) else nchunks
        if first < 1 or last > nchunks or (i + 1 < len(t.stsc) and last < first):
            raise CorruptImageError(f"{where}: the sample-to-chunk table does not match the chunk offsets")
        for chunk in range(first - 1, last):
            t.chunks.append((t.offsets[chunk], sample, per_chunk))
            sample += per_chunk
            if sample > len(t.sizes):
                raise CorruptImageError(f"{where}: the chunks hold more samples than the sample size table lists")
    if sample != len(t.sizes) or sum(n for n, _ in t.stts) != len(t.sizes):
        raise CorruptImageError(f"{where}: the sample tables disagree on the number of samples")


def read_stsd(data: bytes, stsd: Box) -> list[tuple[bytes, bytes]]:
    """The sample entries of an stsd box: (type, payload)."""
    count = u32(data, stsd.body + 4, "stsd count")
    entries = [(box.kind, data[box.body : box.end]) for box in children(data, stsd.body + 8, stsd.end)]
    if count != len(entries):
        raise CorruptImageError(f"'stsd' announces {count} sample descriptions but holds {len(entries)}")
    return entries


def read_track(data: bytes, trak: Box, where: str) -> Track:
    """A track's fields and tables (the stripper's view; inspect reads the same boxes for findings)."""
    track = Track(where)
    tkhd = child(data, trak, b"tkhd")
    mdia = child(data, trak, b"mdia")
    if tkhd is None or mdia is None:
        raise CorruptImageError(f"{where} has no track header or media box")
    read_tkhd(data, tkhd, track)
    edts = child(data, trak, b"edts")
    elst = child(data, edts, b"elst") if edts is not None else None
    track.edits = read_elst(data, elst) if elst is not None else None
    mdhd, hdlr, minf = (child(data, mdia, k) for k in (b"mdhd", b"hdlr", b"minf"))
    if mdhd is None or hdlr is None or minf is None:
        raise CorruptImageError(f"{where} has no media header, handler or media information")
    read_mdhd(data, mdhd, track)
    track.handler = read_hdlr(data, hdlr)[0]
    stbl = child(data, minf, b"stbl")
    stsd = child(data, stbl, b"stsd") if stbl is not None else None
    if stbl is None or stsd is None:
        raise CorruptImageError(f"{where} has no sample table")
    track.entries = read_stsd(data, stsd)
    read_tables(data, stbl, track)
    return track
