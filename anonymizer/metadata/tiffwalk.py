"""A bounded walker over TIFF-structured data: EXIF blocks, MPF indexes and TIFF files.

Every IFD and value offset is checked against the data; loops between IFDs are refused, nesting is
bounded by limits.max_depth, and the number of IFDs by MAX_IFDS.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ..errors import CorruptImageError, TooLargeError
from ..options import Limits
from .base import check_item, need, u16, u32

TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
INT_FORMATS = {1: "B", 3: "H", 4: "I", 6: "b", 8: "h", 9: "i", 13: "I"}
MAX_IFDS = 256
MAX_ENTRIES = 100_000  # over all IFDs: IFDs may overlap, so 256 of them could repeat 65 535 entries each

# Tags that point to further IFDs, and the name the IFD gets.
POINTERS = {0x8769: "ExifIFD", 0x8825: "GPS", 0xA005: "Interop", 0x014A: "SubIFD"}


@dataclass(frozen=True)
class Entry:
    tag: int
    type: int
    count: int
    offset: int  # where the value bytes start, inside the TIFF data

    @property
    def size(self) -> int:
        return TYPE_SIZES.get(self.type, 1) * self.count


@dataclass
class Ifd:
    name: str
    offset: int
    entries: dict[int, Entry] = field(default_factory=dict)
    bad: int = 0  # entries whose values lie outside the data


@dataclass
class Tiff:
    """TIFF-structured bytes and the IFDs found in them, in walk order."""

    data: bytes
    big: bool
    limits: Limits
    ifds: list[Ifd] = field(default_factory=list)
    entries: int = 0

    def raw(self, e: Entry) -> bytes:
        check_item(e.size, self.limits, f"TIFF tag {e.tag:#06x}")
        return self.data[e.offset : e.offset + e.size]

    def ints(self, e: Entry) -> list[int]:
        code = INT_FORMATS.get(e.type)
        if code is None:
            return []
        count = min(e.count, 4096)
        return list(struct.unpack_from((">" if self.big else "<") + code * count, self.data, e.offset))

    def int(self, e: Entry | None, default: int = 0) -> int:
        values = self.ints(e) if e is not None else []
        return values[0] if values else default

    def rationals(self, e: Entry) -> list[float]:
        if e.type not in (5, 10):
            return [float(v) for v in self.ints(e)]
        code = ("I" if e.type == 5 else "i") * 2 * min(e.count, 1024)
        values = struct.unpack_from((">" if self.big else "<") + code, self.data, e.offset)
        pairs = zip(values[0::2], values[1::2], strict=True)
        return [num / den if den else float("nan") for num, den in pairs]

    def text(self, e: Entry) -> bytes:
        if e.type in (2, 7, 1):
            return self.raw(e).split(b"\x00")[0] if e.type == 2 else self.raw(e)
        return " ".join(str(v) for v in self.ints(e)[:16]).encode()

    def find(self, name: str) -> Ifd | None:
        return next((ifd for ifd in self.ifds if ifd.name == name), None)


def read(data: bytes, limits: Limits) -> Tiff:
    """Walk every IFD reachable from the header: the IFD chain, EXIF, GPS, Interop and sub-IFDs."""
    if len(data) < 8 or data[:4] not in (b"II*\x00", b"MM\x00*"):
        raise CorruptImageError("not a TIFF structure (bad byte-order header)")
    big = data[:2] == b"MM"
    tiff = Tiff(data, big, limits)
    queue: list[tuple[str, int, int]] = [("IFD0", u32(data, 4, "TIFF header", big), 0)]
    visited: set[int] = set()
    chain = 0
    while queue:
        name, off, depth = queue.pop(0)
        if off == 0 or off in visited:
            continue
        if len(visited) >= MAX_IFDS:
            raise TooLargeError(f"TIFF structure has more than {MAX_IFDS} IFDs")
        if depth > limits.max_depth:
            raise TooLargeError(f"TIFF IFDs nest deeper than {limits.max_depth} levels")
        visited.add(off)
        ifd, next_off = _read_ifd(tiff, name, off)
        tiff.ifds.append(ifd)
        if name.startswith("IFD") and next_off:
            chain += 1
            queue.append((f"IFD{chain}", next_off, depth))
        queue.extend(_children(tiff, ifd, depth))
    return tiff


def _children(tiff: Tiff, ifd: Ifd, depth: int) -> list[tuple[str, int, int]]:
    found: list[tuple[str, int, int]] = []
    for tag, label in POINTERS.items():
        entry = ifd.entries.get(tag)
        if entry is None or entry.type not in (4, 13, 3):
            continue
        for i, target in enumerate(tiff.ints(entry)[:64]):
            name = f"{label}{i + 1}" if label == "SubIFD" else label
            found.append((name, target, depth + 1))
    return found


def _read_ifd(tiff: Tiff, name: str, off: int) -> tuple[Ifd, int]:
    data, big = tiff.data, tiff.big
    count = u16(data, off, f"{name} entry count", big)
    need(data, off + 2, count * 12, f"{name} entries")
    tiff.entries += count
    if tiff.entries > MAX_ENTRIES:
        raise TooLargeError(f"TIFF structure has more than {MAX_ENTRIES} tags in all")
    ifd = Ifd(name, off)
    fmt = ">HHII" if big else "<HHII"
    for i in range(count):
        pos = off + 2 + i * 12
        tag, typ, n, value = struct.unpack_from(fmt, data, pos)
        size = TYPE_SIZES.get(typ, 0) * n
        voff = pos + 8 if 0 < size <= 4 else value
        if typ not in TYPE_SIZES or voff + size > len(data):
            ifd.bad += 1
            continue
        ifd.entries[tag] = Entry(tag, typ, n, voff)
    end = off + 2 + count * 12
    next_off = u32(data, end, f"{name} next pointer", big) if end + 4 <= len(data) else 0
    return ifd, next_off
