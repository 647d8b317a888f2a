"""EBML, the binary layout of Matroska and WebM: variable-size integers, element headers read from a stream or a
buffer, and elements written back. Every size is checked against its parent; unknown sizes (live recordings)
are allowed only where the format allows them (Segment, Cluster)."""

from __future__ import annotations

from typing import BinaryIO

from ..errors import CorruptImageError, TooLargeError
from .boxes import read_at

EBML, SEGMENT, CLUSTER, VOID, CRC32 = 0x1A45DFA3, 0x18538067, 0x1F43B675, 0xEC, 0xBF
INFO, TRACKS, TRACK_ENTRY, CUES, SEEK_HEAD = 0x1549A966, 0x1654AE6B, 0xAE, 0x1C53BB6B, 0x114D9B74
TAGS, ATTACHMENTS, CHAPTERS = 0x1254C367, 0x1941A469, 0x1043A770
SIMPLE_BLOCK, BLOCK_GROUP, BLOCK, TIMESTAMP = 0xA3, 0xA0, 0xA1, 0xE7
TRACK_NUMBER, TRACK_TYPE, CODEC_ID, CODEC_PRIVATE = 0xD7, 0x83, 0x86, 0x63A2
CLUSTER_CHILDREN = frozenset({TIMESTAMP, SIMPLE_BLOCK, BLOCK_GROUP, 0xA7, 0xAB, 0x5854, 0xAF, VOID, CRC32})
MAX_ELEMENTS = 1_000_000

Element = tuple[int, int, int, int]  # (id, start, payload start, payload end)


def vint(data: bytes, pos: int, keep_marker: bool) -> tuple[int, int, bool]:
    """(value, position after, all value bits set = unknown size) of an EBML variable-size integer."""
    if pos >= len(data) or data[pos] == 0:
        raise CorruptImageError(f"invalid EBML number at offset {pos:#x}")
    length = 8 - data[pos].bit_length() + 1
    if pos + length > len(data):
        raise CorruptImageError(f"EBML number at offset {pos:#x} is truncated")
    value = int.from_bytes(data[pos : pos + length], "big")
    if not keep_marker:
        value &= (1 << (7 * length)) - 1
    return value, pos + length, value == (1 << (7 * length)) - 1


def header(head: bytes, pos: int, end: int, clamp: bool = False) -> tuple[int, int, int, bool]:
    """(id, payload start, payload end, unknown size) of the element whose first bytes are head, at pos.
    clamp: an element running past `end` (a truncated file) is returned as it claims, for the caller to cut."""
    ident, after, _ = vint(head, 0, True)
    size, after, unknown = vint(head, after, False)
    body = pos + after
    stop = end if unknown else body + size
    if stop > end and not clamp:
        raise CorruptImageError(f"EBML element {ident:#x} at offset {pos:#x} runs past its parent")
    return ident, body, stop, unknown


def children(data: bytes, start: int, end: int) -> list[Element]:
    """The elements in data[start:end] (sizes known)."""
    found: list[Element] = []
    pos = start
    while pos < end:
        if len(found) >= MAX_ELEMENTS:
            raise TooLargeError(f"an EBML element holds more than {MAX_ELEMENTS} elements")
        ident, body, stop, unknown = header(data[pos : pos + 16], pos, end)
        if unknown:
            raise CorruptImageError(f"EBML element {ident:#x} at offset {pos:#x} has an unknown size")
        found.append((ident, pos, body, stop))
        pos = stop
    return found


def cluster_end(src: BinaryIO, body: int, end: int) -> int:
    """Where a cluster of unknown size ends: at the first element that cannot be inside a cluster."""
    pos, count = body, 0
    while pos < end:
        count += 1
        if count > MAX_ELEMENTS:
            raise TooLargeError(f"a cluster holds more than {MAX_ELEMENTS} elements")
        ident, _body, stop, unknown = header(read_at(src, pos, 16), pos, end)
        if ident not in CLUSTER_CHILDREN or unknown:
            return pos
        pos = stop
    return end


def uint(payload: bytes) -> int:
    return int.from_bytes(payload, "big") if len(payload) <= 8 else -1


def element(ident: int, payload: bytes) -> bytes:
    """An element with the shortest size field that holds its size."""
    n = len(payload)
    width = next(w for w in range(1, 9) if n < (1 << (7 * w)) - 1)
    return encode_id(ident) + (n | (1 << (7 * width))).to_bytes(width, "big") + payload


def encode_id(ident: int) -> bytes:
    return ident.to_bytes((ident.bit_length() + 7) // 8, "big")


def encode_size(n: int) -> bytes:
    """An 8-byte size field (for a size patched in after writing)."""
    return (n | (1 << 56)).to_bytes(8, "big")
