"""Mutations of image files: blind byte damage and structure-aware lies.

A mutation is a tuple (name, a, b, c) of plain integers, so that Hypothesis can draw and shrink it and the
long run can draw it from a seeded random generator; `apply` turns it into bytes. Structure-aware mutations
find the length and offset fields of each container (JPEG segment lengths, PNG chunk lengths, RIFF sizes,
ISOBMFF box sizes, TIFF IFD offsets, entry counts and value offsets, wherever a TIFF structure is embedded)
and the spans of its chunks, and lie about them or duplicate them.

`plant` hides the canary marker (tests/canary.py) where no field explains it: appended to a JPEG segment, PNG
chunk, RIFF chunk (nested in an animation frame too) or GIF extension or image data, with the lengths (and the
PNG CRC) fixed so the file still parses, or after the end of the file. The harness then checks that no output
of strip or clean carries the marker. `smudge` inserts a different string inside structures without fixing
anything (it may land in pixel data, where it is legitimately kept), for robustness only.
"""

from __future__ import annotations

import random
import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from ..canary import MARKER

SMUDGE = b"smudge-not-a-canary-0123456789"
Mutation = tuple[str, int, int, int]


@dataclass(frozen=True)
class Field:
    """An integer field in the file: where, how wide, which byte order."""

    offset: int
    width: int
    big: bool

    def read(self, data: bytes | bytearray) -> int:
        return int.from_bytes(data[self.offset : self.offset + self.width], "big" if self.big else "little")

    def write(self, data: bytearray, value: int) -> None:
        value %= 1 << (8 * self.width)
        data[self.offset : self.offset + self.width] = value.to_bytes(self.width, "big" if self.big else "little")


Span = tuple[int, int]  # a chunk, segment or box: start, end
_ENTROPY_END = re.compile(rb"\xff[^\x00\xd0-\xd7]")


# --- structure scanners: every length/offset field and every chunk span ------------------------------------


def _jpeg(data: bytes) -> tuple[list[Field], list[Span]]:
    fields, spans, pos = [], [], 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xD9:
            break
        if 0xD0 <= marker <= 0xD7 or marker in (0x01, 0xFF):
            pos += 2 if marker != 0xFF else 1
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        fields.append(Field(pos + 2, 2, True))
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            fields += [Field(pos + 5, 2, True), Field(pos + 7, 2, True)]  # height, width
        spans.append((pos, pos + 2 + length))
        pos += 2 + length
        if marker == 0xDA:  # skip the entropy-coded data to the next marker
            found = _ENTROPY_END.search(data, pos)
            pos = found.start() if found else len(data)
    return fields, spans


def _png(data: bytes) -> tuple[list[Field], list[Span]]:
    fields, spans, pos = [], [], 8
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        fields.append(Field(pos, 4, True))
        if data[pos + 4 : pos + 8] == b"IHDR":
            fields += [Field(pos + 8, 4, True), Field(pos + 12, 4, True)]
        spans.append((pos, pos + 12 + length))
        if data[pos + 4 : pos + 8] == b"IEND":
            break
        pos += 12 + length
    return fields, spans


def _riff(data: bytes) -> tuple[list[Field], list[Span]]:
    fields, spans, pos = [Field(4, 4, False)], [], 12
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        fields.append(Field(pos + 4, 4, False))
        spans.append((pos, pos + 8 + size + (size & 1)))
        if data[pos : pos + 4] == b"ANMF":  # frames hold chunks of their own after a 16-byte header
            inner_fields, inner_spans = _riff_chunks(data, pos + 24, pos + 8 + size)
            fields += inner_fields
            spans += inner_spans
        pos += 8 + size + (size & 1)
    return fields, spans


def _riff_chunks(data: bytes, pos: int, end: int) -> tuple[list[Field], list[Span]]:
    fields, spans = [], []
    while pos + 8 <= min(end, len(data)):
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        fields.append(Field(pos + 4, 4, False))
        spans.append((pos, pos + 8 + size))
        pos += 8 + size + (size & 1)
    return fields, spans


CONTAINERS = {b"meta": 4, b"iprp": 0, b"ipco": 0, b"iinf": 6, b"iref": 4, b"dinf": 0, b"moov": 0, b"trak": 0,
              b"mdia": 0, b"minf": 0, b"stbl": 0, b"grpl": 0, b"dref": 8}


def _boxes(data: bytes, pos: int, end: int, depth: int = 0) -> tuple[list[Field], list[Span]]:
    fields, spans = [], []
    while pos + 8 <= end and depth < 8:
        size, kind = int.from_bytes(data[pos : pos + 4], "big"), data[pos + 4 : pos + 8]
        fields.append(Field(pos, 4, True))
        if size < 8 or pos + size > end:
            break
        spans.append((pos, pos + size))
        if kind in CONTAINERS:
            inner = _boxes(data, pos + 8 + CONTAINERS[kind], pos + size, depth + 1)
            fields += inner[0]
            spans += inner[1]
        if kind == b"iloc":
            fields += _iloc(data, pos + 8, pos + size)
        pos += size
    return fields, spans


def _iloc(data: bytes, body: int, end: int) -> list[Field]:
    """The item count, extent counts, offsets and lengths of an iloc box (version 0/1, 4-byte fields)."""
    if body + 8 > end:
        return []
    version, sizes = data[body], int.from_bytes(data[body + 4 : body + 6], "big")
    off_size, len_size, base_size = sizes >> 12, (sizes >> 8) & 15, (sizes >> 4) & 15
    index_size = sizes & 15 if version in (1, 2) else 0
    if version > 1 or {off_size, len_size, base_size, index_size} - {0, 4, 8}:
        return []
    fields, pos = [Field(body + 6, 2, True)], body + 8
    for _ in range(min(int.from_bytes(data[body + 6 : body + 8], "big"), 64)):
        pos += 2 + (2 if version == 1 else 0) + 2 + base_size
        if pos + 2 > end:
            break
        fields.append(Field(pos, 2, True))
        extents, pos = int.from_bytes(data[pos : pos + 2], "big"), pos + 2
        for _ in range(min(extents, 16)):
            pos += index_size
            if off_size:
                fields.append(Field(pos, off_size, True))
            if len_size:
                fields.append(Field(pos + off_size, len_size, True))
            pos += off_size + len_size
    return [f for f in fields if f.offset + f.width <= end]


def _tiff_at(data: bytes, start: int) -> list[Field]:
    """Fields of the TIFF structure whose header is at `start` (offsets are relative to it)."""
    big = data[start : start + 2] == b"MM"
    fields, seen, queue = [Field(start + 4, 4, big)], set(), [int.from_bytes(data[start + 4 : start + 8],
                                                                              "big" if big else "little")]
    while queue and len(seen) < 16:
        off = queue.pop(0)
        pos = start + off
        if off in seen or pos + 2 > len(data):
            continue
        seen.add(off)
        count = Field(pos, 2, big).read(data)
        fields.append(Field(pos, 2, big))
        for i in range(min(count, 64)):
            entry = pos + 2 + 12 * i
            if entry + 12 > len(data):
                break
            tag = Field(entry, 2, big).read(data)
            fields += [Field(entry + 2, 2, big), Field(entry + 4, 4, big), Field(entry + 8, 4, big)]
            if tag in (0x8769, 0x8825, 0xA005, 0x014A):
                queue.append(Field(entry + 8, 4, big).read(data))
        nxt = pos + 2 + 12 * count
        if nxt + 4 <= len(data):
            fields.append(Field(nxt, 4, big))
            queue.append(Field(nxt, 4, big).read(data))
    return fields


def _tiffs(data: bytes) -> list[Field]:
    fields: list[Field] = []
    for magic in (b"II*\x00", b"MM\x00*"):
        at = data.find(magic)
        while at >= 0 and len(fields) < 2000:
            fields += _tiff_at(data, at)
            at = data.find(magic, at + 4)
    return fields


def structure(data: bytes) -> tuple[list[Field], list[Span]]:
    """Every length/offset field and every chunk span we can find in `data`."""
    scanners: dict[bytes, Callable[[bytes], tuple[list[Field], list[Span]]]] = {
        b"\xff\xd8": _jpeg, b"\x89P": _png, b"RI": _riff,
    }
    if data[4:8] == b"ftyp":
        fields, spans = _boxes(data, 0, len(data))
    elif data[:2] in scanners:
        fields, spans = scanners[data[:2]](data)
    else:
        fields, spans = [], []
    fields += _tiffs(data)
    return [f for f in fields if f.offset + f.width <= len(data)], [s for s in spans if s[1] <= len(data)]


# --- mutations -----------------------------------------------------------------------------------------------

HUGE = 100 * 1024 * 1024


def _lie(value: int, length: int, choice: int) -> int:
    candidates = (0, 1, 2, 7, 8, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, length, length + 1, value - 1,
                  value + 1, value * 2, value // 2, value + 8, value - 8, HUGE, length - value, 1 << 40)
    return candidates[choice % len(candidates)]


def truncate(data: bytearray, a: int, b: int, c: int) -> bytearray:
    return data[: a % (len(data) + 1)]


def flip(data: bytearray, a: int, b: int, c: int) -> bytearray:
    if data:
        data[a % len(data)] ^= 1 << (b % 8)
    return data


def set_byte(data: bytearray, a: int, b: int, c: int) -> bytearray:
    if data:
        data[a % len(data)] = (0x00, 0xFF, 0x7F, 0x80, 0x01, c)[b % 6]
    return data


def insert(data: bytearray, a: int, b: int, c: int) -> bytearray:
    n = b % 64 + 1
    filler = bytes([c]) * n if b & 64 else random.Random(a ^ c).randbytes(n)
    at = a % (len(data) + 1)
    return data[:at] + filler + data[at:]


def delete(data: bytearray, a: int, b: int, c: int) -> bytearray:
    if not data:
        return data
    at = a % len(data)
    return data[:at] + data[at + b % 64 + 1 :]


def lie(data: bytearray, a: int, b: int, c: int) -> bytearray:
    fields, _ = structure(bytes(data))
    if fields:
        target = fields[a % len(fields)]
        target.write(data, _lie(target.read(data), len(data), b))
    return data


def duplicate(data: bytearray, a: int, b: int, c: int) -> bytearray:
    _, spans = structure(bytes(data))
    if spans:
        start, end = spans[a % len(spans)]
        times = (1, 2, 3, 200, 2000)[b % 5]
        if (end - start) * times <= 4 * 1024 * 1024:
            data = data[:end] + data[start:end] * times + data[end:]
    return data


def drop(data: bytearray, a: int, b: int, c: int) -> bytearray:
    _, spans = structure(bytes(data))
    if spans:
        start, end = spans[a % len(spans)]
        data = data[:start] + data[end:]
    return data


def swap(data: bytearray, a: int, b: int, c: int) -> bytearray:
    _, spans = structure(bytes(data))
    if len(spans) >= 2:
        (s1, e1), (s2, e2) = sorted((spans[a % len(spans)], spans[b % len(spans)]))
        if e1 <= s2:
            data = data[:s1] + data[s2:e2] + data[e1:s2] + data[s1:e1] + data[e2:]
    return data


def fix_png_crcs(data: bytearray, a: int, b: int, c: int) -> bytearray:
    """Recompute every PNG chunk CRC, so that damage inside chunks reaches the decoder's parser."""
    _, spans = _png(bytes(data)) if data[:2] == b"\x89P" else ([], [])
    for start, end in spans:
        if end <= len(data) and end - start >= 12:
            data[end - 4 : end] = struct.pack(">I", zlib.crc32(bytes(data[start + 4 : end - 4])))
    return data


# --- planting the marker ------------------------------------------------------------------------------------


def _png_slack(data: bytearray, start: int, end: int) -> bytearray:
    """The marker appended to a PNG chunk's data; length and CRC fixed. Not to tRNS: more entries there are the
    alpha of palette colours the pixels may use, which strip rightly keeps."""
    if data[start + 4 : start + 8] == b"tRNS":
        return data + MARKER
    body_end = end - 4
    out = data[:body_end] + MARKER + data[body_end:]
    out[start : start + 4] = struct.pack(">I", body_end - start - 8 + len(MARKER))
    new_end = end + len(MARKER)
    out[new_end - 4 : new_end] = struct.pack(">I", zlib.crc32(bytes(out[start + 4 : new_end - 4])))
    return out


def _jpeg_slack(data: bytearray, start: int, end: int) -> bytearray:
    length = int.from_bytes(data[start + 2 : start + 4], "big") + len(MARKER)
    if length > 0xFFFF:
        return data + MARKER
    out = data[:end] + MARKER + data[end:]
    out[start + 2 : start + 4] = length.to_bytes(2, "big")
    return out


def _riff_slack(data: bytearray, start: int, end: int) -> bytearray:
    """The marker appended to a RIFF chunk's payload (even length: padding unchanged); every enclosing size
    (an animation frame's, the RIFF header's) grown with it."""
    size = int.from_bytes(data[start + 4 : start + 8], "little")
    payload_end = start + 8 + size
    enclosing = [s for s, e in _riff(bytes(data))[1] if data[s : s + 4] == b"ANMF" and s < start and payload_end <= e]
    out = data[:payload_end] + MARKER + data[payload_end:]
    for at in [start, *enclosing]:
        Field(at + 4, 4, False).write(out, Field(at + 4, 4, False).read(out) + len(MARKER))
    Field(4, 4, False).write(out, Field(4, 4, False).read(out) + len(MARKER))
    return out


def _gif_chains(data: bytes) -> list[int]:
    """Offsets of the terminators of every extension's and image's sub-block chain in a GIF."""
    if len(data) < 13:
        return []
    pos = 13 + (3 * (2 << (data[10] & 7)) if data[10] & 0x80 else 0)
    ends: list[int] = []
    while pos < len(data) and len(ends) < 10_000:
        if data[pos] == 0x21:
            pos += 2
        elif data[pos] == 0x2C and pos + 10 <= len(data):
            packed = data[pos + 9]
            pos += 11 + (3 * (2 << (packed & 7)) if packed & 0x80 else 0)
        else:
            break
        while pos < len(data) and data[pos]:
            pos += 1 + data[pos]
        if pos >= len(data):
            break
        ends.append(pos)
        pos += 1
    return ends


def plant(data: bytearray, a: int, b: int, c: int) -> bytearray:
    """The marker where no field explains it: in a structure's slack (lengths fixed), or after the end."""
    raw = bytes(data)
    if raw[:3] == b"GIF":
        ends = _gif_chains(raw)
        if ends and b % 4:
            at = ends[a % len(ends)]
            return data[:at] + bytes([len(MARKER)]) + MARKER + data[at:]
        return data + MARKER
    slack = {b"\xff\xd8": (_jpeg, _jpeg_slack), b"\x89P": (_png, _png_slack), b"RI": (_riff, _riff_slack)}
    scanner, grow = slack.get(raw[:2], (None, None))
    spans = [s for s in scanner(raw)[1] if s[1] <= len(raw)] if scanner and grow else []
    if not spans or not b % 4 or grow is None:
        return data + MARKER
    start, end = spans[a % len(spans)]
    return grow(data, start, end)


def smudge(data: bytearray, a: int, b: int, c: int) -> bytearray:
    """A string inserted inside a structure, nothing fixed (not a canary: it may land in kept pixel data)."""
    _, spans = structure(bytes(data))
    if not spans:
        return data
    start, end = spans[a % len(spans)]
    at = start + c % max(1, end - start)
    return data[:at] + SMUDGE + data[at:]


MUTATIONS: dict[str, Callable[[bytearray, int, int, int], bytearray]] = {
    "truncate": truncate, "flip": flip, "set_byte": set_byte, "insert": insert, "delete": delete,
    "lie": lie, "duplicate": duplicate, "drop": drop, "swap": swap, "fix_png_crcs": fix_png_crcs,
    "plant": plant, "smudge": smudge,
}
NAMES = tuple(MUTATIONS)
# How often each is drawn by the long run: structure-aware lies most, truncation less (it is the easy case).
WEIGHTS = {"truncate": 1, "flip": 3, "set_byte": 2, "insert": 2, "delete": 2, "lie": 6, "duplicate": 2, "drop": 1,
           "swap": 1, "fix_png_crcs": 1, "plant": 3, "smudge": 1}


def apply(seed: bytes, mutations: list[Mutation]) -> bytes:
    data = bytearray(seed)
    for name, a, b, c in mutations:
        data = MUTATIONS[name](data, a, b, c)
    return bytes(data)


def random_mutations(rng: random.Random) -> list[Mutation]:
    """1 to 4 mutations, drawn with WEIGHTS; the fuzz run's equivalent of the Hypothesis strategy."""
    names = rng.choices(NAMES, weights=[WEIGHTS[n] for n in NAMES], k=rng.choice((1, 1, 1, 2, 2, 3, 4)))
    return [(n, rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(8)) for n in names]
