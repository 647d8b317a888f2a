"""ICC colour profiles: validate one, and write a new one holding only what defines colour.

A profile kept with keep_icc is never copied: `rebuild_profile` parses the header and tag table, checks
them (declared size, 'acsp', known class and colour spaces, tag table inside the data and clear of the
header), and writes a fresh profile from the parsed fields. The new header zeroes everything that could
identify (CMM, creation date, platform, device maker and model, creator, profile ID) and masks flag words
to their defined bits; the PCS illuminant is D50, as the ICC specification requires. Only colour tags stay
(white and black point, primaries, tone curves, chromatic adaptation, A2Bn/B2An transforms, cicp), each
re-serialised from its own type structure at its exact length, so nothing rides in reserved fields, in
padding or after a tag's data. The description becomes 'colour profile'; copyright and private tags go.

`describe_problem` says in plain words why a blob is not a profile we keep ('' when it is one).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

HEADER = 128
MAX_TAGS = 256  # real profiles carry 10 to 40 tags
MAX_CHANNELS = 15
MAX_CLUT_BYTES = 16 * 1024 * 1024
DESCRIPTION = "colour profile"
D50 = struct.pack(">iii", 0x0000F6D6, 0x00010000, 0x0000D32D)
CLASSES = frozenset({b"mntr", b"scnr", b"prtr", b"spac"})
PCS = frozenset({b"XYZ ", b"Lab "})
CHANNELS: dict[bytes, int] = {
    b"XYZ ": 3, b"Lab ": 3, b"Luv ": 3, b"YCbr": 3, b"Yxy ": 3, b"RGB ": 3, b"GRAY": 1, b"HSV ": 3, b"HLS ": 3,
    b"CMYK": 4, b"CMY ": 3, **{f"{n:X}CLR".encode(): n for n in range(2, 16)},
}  # fmt: skip
PARA_PARAMS = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}


class _Invalid(Exception):
    """Why a blob is not a profile we keep (internal: callers get None or a message)."""


@dataclass(frozen=True)
class _Header:
    version: bytes
    device_class: bytes
    space: bytes
    pcs: bytes
    flags: int
    attributes: int
    intent: int


def rebuild_profile(data: bytes) -> bytes | None:
    """A new profile with only `data`'s colour-defining tags and no identifying header fields; None when
    `data` is not a valid ICC profile of a kind we keep, or keeps nothing that defines colour."""
    try:
        return _rebuild(data)
    except _Invalid:
        return None


def describe_problem(data: bytes) -> str:
    """Why `data` is not a colour profile we keep, in plain words; '' when it is one."""
    try:
        _rebuild(data)
    except _Invalid as exc:
        return str(exc)
    return ""


def _rebuild(data: bytes) -> bytes:
    header = _header(data)
    tags = _colour_tags(data)
    _check_complete(header, tags)
    tags[b"desc"] = _description(header.version[0])
    return _write(header, tags)


def _header(data: bytes) -> _Header:
    if len(data) < HEADER + 4:
        raise _Invalid(f"{len(data)} bytes is too short for an ICC profile")
    if data[36:40] != b"acsp":
        raise _Invalid("no 'acsp' signature: not an ICC profile")
    size = int.from_bytes(data[0:4], "big")
    if size != len(data):
        raise _Invalid(f"the profile declares {size} bytes but holds {len(data)}")
    cls, space, pcs = data[12:16], data[16:20], data[20:24]
    if cls not in CLASSES:
        raise _Invalid(f"profile class {cls!r} is not one an image embeds")
    if space not in CHANNELS or pcs not in PCS:
        raise _Invalid(f"unknown colour spaces {space!r} / {pcs!r}")
    if data[8] not in (2, 4):
        raise _Invalid(f"unknown ICC version {data[8]}")
    intent = int.from_bytes(data[64:68], "big")
    if intent > 3:
        raise _Invalid(f"unknown rendering intent {intent}")
    flags = int.from_bytes(data[44:48], "big") & 0x3
    attributes = int.from_bytes(data[56:64], "big") & 0xF
    return _Header(bytes([data[8], data[9], 0, 0]), cls, space, pcs, flags, attributes, intent)


def _table(data: bytes) -> list[tuple[bytes, int, int]]:
    count = int.from_bytes(data[128:132], "big")
    end_of_table = HEADER + 4 + 12 * count
    if count > MAX_TAGS or end_of_table > len(data):
        raise _Invalid(f"the tag table claims {count} tags")
    entries = []
    for i in range(count):
        sig, off, size = struct.unpack_from(">4sII", data, HEADER + 4 + 12 * i)
        if off < end_of_table or size < 8 or off + size > len(data):
            raise _Invalid(f"tag {sig!r} lies outside the profile's data")
        entries.append((sig, off, size))
    return entries


def _colour_tags(data: bytes) -> dict[bytes, bytes]:
    tags: dict[bytes, bytes] = {}
    for sig, off, size in _table(data):
        types = TAG_TYPES.get(sig)
        if types is None or sig in tags:
            continue
        body = data[off : off + size]
        writer = TYPE_WRITERS.get(body[:4])
        if writer is None or body[:4] not in types:
            raise _Invalid(f"tag {sig.decode('latin-1')} has type {body[:4]!r}, not one it may have")
        tags[sig] = writer(_Reader(body))
    return tags


def _check_complete(header: _Header, tags: dict[bytes, bytes]) -> None:
    if b"wtpt" not in tags and header.version[0] < 4:
        raise _Invalid("the profile has no white point")
    lut = any(s in tags for s in (b"A2B0", b"A2B1", b"A2B2"))
    needed = {b"RGB ": (b"rXYZ", b"gXYZ", b"bXYZ", b"rTRC", b"gTRC", b"bTRC"), b"GRAY": (b"kTRC",)}
    matrix = needed.get(header.space)
    if not lut and (matrix is None or not all(s in tags for s in matrix)):
        raise _Invalid("the profile holds none of the tags that define its colours")


def _description(major: int) -> bytes:
    text = DESCRIPTION.encode("ascii")
    if major >= 4:
        utf16 = DESCRIPTION.encode("utf-16-be")
        return b"mluc" + bytes(4) + struct.pack(">II2s2sII", 1, 12, b"en", b"US", len(utf16), 28) + utf16
    ascii_part = struct.pack(">I", len(text) + 1) + text + b"\x00"
    return b"desc" + bytes(4) + ascii_part + bytes(4 + 4 + 2 + 1 + 67)  # empty Unicode and ScriptCode parts


def _write(header: _Header, tags: dict[bytes, bytes]) -> bytes:
    order = sorted(tags)
    offset = HEADER + 4 + 12 * len(order)
    table, body, placed = bytearray(), bytearray(), dict[bytes, int]()
    for sig in order:
        data = tags[sig]
        if data not in placed:  # tags with identical data share it, as rTRC/gTRC/bTRC often do
            placed[data] = offset + len(body)
            body += data + bytes(-len(data) % 4)
        table += struct.pack(">4sII", sig, placed[data], len(data))
    size = offset + len(body)
    head = struct.pack(">I4s4s4s4s4s12s4s4sI4s4sQI12s4s16s28s", size, bytes(4), header.version,
                       header.device_class, header.space, header.pcs, bytes(12), b"acsp", bytes(4), header.flags,
                       bytes(4), bytes(4), header.attributes, header.intent, D50, bytes(4), bytes(16), bytes(28))
    return head + struct.pack(">I", len(order)) + bytes(table) + bytes(body)


class _Reader:
    """Bounded reads inside one tag's data; a read past its end makes the profile invalid."""

    def __init__(self, data: bytes, base: int = 0) -> None:
        self.data = data
        self.base = base

    def take(self, off: int, n: int) -> bytes:
        start = self.base + off
        if off < 0 or n < 0 or start + n > len(self.data):
            raise _Invalid("a tag's data runs past its declared size")
        return self.data[start : start + n]

    def uint(self, off: int, n: int) -> int:
        return int.from_bytes(self.take(off, n), "big")

    def at(self, off: int) -> _Reader:
        return _Reader(self.data, self.base + off)


def _xyz(r: _Reader) -> bytes:
    return b"XYZ " + bytes(4) + r.take(8, 12)


def _sf32(r: _Reader) -> bytes:
    return b"sf32" + bytes(4) + r.take(8, 36)


def _cicp(r: _Reader) -> bytes:
    return b"cicp" + bytes(4) + r.take(8, 4)


def _curv(r: _Reader) -> bytes:
    count = r.uint(8, 4)
    return b"curv" + bytes(4) + struct.pack(">I", count) + r.take(12, 2 * count)


def _para(r: _Reader) -> bytes:
    function = r.uint(8, 2)
    if function not in PARA_PARAMS:
        raise _Invalid(f"unknown parametric curve type {function}")
    return b"para" + bytes(4) + struct.pack(">HH", function, 0) + r.take(12, 4 * PARA_PARAMS[function])


def _curve(r: _Reader) -> bytes:
    kind = r.take(0, 4)
    if kind == b"curv":
        return _curv(r)
    if kind == b"para":
        return _para(r)
    raise _Invalid(f"a transform's curve has type {kind!r}")


def _channels(i: int, o: int) -> None:
    if not (1 <= i <= MAX_CHANNELS and 1 <= o <= MAX_CHANNELS):
        raise _Invalid(f"a transform claims {i} inputs and {o} outputs")


def _grid_size(points: list[int], outputs: int, precision: int) -> int:
    size = outputs * precision
    for n in points:
        if n < 2:
            raise _Invalid("a colour lookup table has fewer than 2 grid points")
        size *= n
        if size > MAX_CLUT_BYTES:
            raise _Invalid("a colour lookup table is too large")
    return size


def _lut(r: _Reader, precision: int) -> bytes:
    """lut8Type (mft1) or lut16Type (mft2), at its exact length."""
    i, o, g = r.uint(8, 1), r.uint(9, 1), r.uint(10, 1)
    _channels(i, o)
    head = r.take(0, 4) + bytes(4) + bytes([i, o, g, 0]) + r.take(12, 36)
    if precision == 1:
        n = m = 256
        pos = 48
    else:
        n, m = r.uint(48, 2), r.uint(50, 2)
        head += struct.pack(">HH", n, m)
        pos = 52
    size = precision * (n * i + m * o) + _grid_size([g] * i, o, precision)
    return head + r.take(pos, size)


def _mft1(r: _Reader) -> bytes:
    return _lut(r, 1)


def _mft2(r: _Reader) -> bytes:
    return _lut(r, 2)


def _clut(r: _Reader, inputs: int, outputs: int) -> bytes:
    points = [r.uint(k, 1) for k in range(inputs)]
    precision = r.uint(16, 1)
    if precision not in (1, 2):
        raise _Invalid(f"a colour lookup table has precision {precision}")
    grid = bytes(points) + bytes(16 - inputs)
    return grid + bytes([precision, 0, 0, 0]) + r.take(20, _grid_size(points, outputs, precision))


def _curves(r: _Reader, count: int) -> bytes:
    out, off = bytearray(), 0
    for _ in range(count):
        curve = _curve(r.at(off))
        off += len(curve) + (-len(curve) % 4)
        out += curve + bytes(-len(curve) % 4)
    return bytes(out)


def _lut_ab(r: _Reader) -> bytes:
    """lutAtoBType (mAB) or lutBtoAType (mBA): each element re-serialised, laid out afresh after the header."""
    kind, i, o = r.take(0, 4), r.uint(8, 1), r.uint(9, 1)
    _channels(i, o)
    b_n, a_n = (o, i) if kind == b"mAB " else (i, o)
    offsets = [r.uint(12 + 4 * k, 4) for k in range(5)]  # B curves, matrix, M curves, CLUT, A curves
    makers: list[Callable[[_Reader], bytes]] = [
        lambda e: _curves(e, b_n), lambda e: e.take(0, 48), lambda e: _curves(e, b_n), lambda e: _clut(e, i, o),
        lambda e: _curves(e, a_n),
    ]
    elements = [make(r.at(off)) if off else b"" for make, off in zip(makers, offsets, strict=True)]
    if not elements[0]:
        raise _Invalid(f"a {kind.decode('latin-1').strip()} transform has no B curves")
    new_offsets, pos = [], 32
    for element in elements:
        new_offsets.append(pos if element else 0)
        pos += len(element) + (-len(element) % 4)
    head = kind + bytes(4) + bytes([i, o, 0, 0]) + struct.pack(">5I", *new_offsets)
    return head + b"".join(e + bytes(-len(e) % 4) for e in elements)


TYPE_WRITERS: dict[bytes, Callable[[_Reader], bytes]] = {
    b"XYZ ": _xyz, b"sf32": _sf32, b"cicp": _cicp, b"curv": _curv, b"para": _para, b"mft1": _mft1,
    b"mft2": _mft2, b"mAB ": _lut_ab, b"mBA ": _lut_ab,
}  # fmt: skip


_POINT = frozenset({b"XYZ "})
_TRC = frozenset({b"curv", b"para"})
_A2B = frozenset({b"mft1", b"mft2", b"mAB "})
_B2A = frozenset({b"mft1", b"mft2", b"mBA "})
TAG_TYPES: dict[bytes, frozenset[bytes]] = {  # the colour tags kept, with the types each may have
    b"wtpt": _POINT, b"bkpt": _POINT, b"rXYZ": _POINT, b"gXYZ": _POINT, b"bXYZ": _POINT,
    b"rTRC": _TRC, b"gTRC": _TRC, b"bTRC": _TRC, b"kTRC": _TRC, b"chad": frozenset({b"sf32"}),
    b"cicp": frozenset({b"cicp"}),
    b"A2B0": _A2B, b"A2B1": _A2B, b"A2B2": _A2B, b"B2A0": _B2A, b"B2A1": _B2A, b"B2A2": _B2A,
}  # fmt: skip
