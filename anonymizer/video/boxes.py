"""ISO BMFF / QuickTime boxes: the top level read from a seekable stream (headers only), and the boxes inside a
payload held in memory (moov, udta ...). Every size is checked against its parent before use; a lie ends in
CorruptImageError, too many boxes or too deep a nesting in TooLargeError."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

from ..errors import CorruptImageError, TooLargeError
from ..metadata.base import tag_name
from ..options import Limits

MAX_BOXES = 100_000  # boxes in one parent: a moov has a few dozen, a file's top level a handful
MAX_VIDEO_BYTES = 1 << 40  # 1 TiB: a size field beyond this is a lie, not a video
CHUNK = 1 << 20  # bytes copied or scanned per read


@dataclass(frozen=True)
class Box:
    """A box: its type, where its header starts, where its payload starts, where it ends (offsets in the
    buffer or stream it was read from)."""

    kind: bytes
    start: int
    body: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.body

    @property
    def name(self) -> str:
        return box_name(self.kind)


def box_name(kind: bytes) -> str:
    """A box type for a report: ASCII, with QuickTime's leading © shown as such."""
    return ("©" + tag_name(kind[1:])) if kind[:1] == b"\xa9" else tag_name(kind)


def parse_header(head: bytes, pos: int, end: int) -> Box:
    """The box whose first (up to 32) bytes are `head`, starting at pos and bounded by end."""
    if len(head) < 8:
        raise CorruptImageError(f"box header at offset {pos:#x} is truncated")
    size, kind = struct.unpack_from(">I4s", head)
    header = 8
    if size == 1:
        if len(head) < 16:
            raise CorruptImageError(f"box '{tag_name(kind)}' at offset {pos:#x} is truncated")
        size, header = struct.unpack_from(">Q", head, 8)[0], 16
    elif size == 0:
        size = end - pos
    if kind == b"uuid":
        header += 16
    if size < header or pos + size > end or size > MAX_VIDEO_BYTES:
        raise CorruptImageError(f"box '{tag_name(kind)}' at offset {pos:#x} has a size that does not fit")
    return Box(kind, pos, pos + header, pos + size)


def stream_size(src: BinaryIO) -> int:
    src.seek(0, 2)
    size = src.tell()
    src.seek(0)
    return size


def read_at(src: BinaryIO, pos: int, n: int) -> bytes:
    src.seek(pos)
    data = src.read(n)
    return data if isinstance(data, bytes) else bytes(data)


@dataclass(frozen=True)
class TopLevel:
    """The file's top-level boxes; `tail` is where they stop (the file size when every byte is in a box) and
    `problem` why the walk stopped early, if it did."""

    boxes: tuple[Box, ...]
    tail: int
    size: int
    problem: str = ""


def top_level(src: BinaryIO) -> TopLevel:
    """Walk the top level of a stream, reading only box headers."""
    size = stream_size(src)
    boxes: list[Box] = []
    pos = 0
    while pos < size:
        if len(boxes) >= MAX_BOXES:
            raise TooLargeError(f"the file has more than {MAX_BOXES} top-level boxes")
        try:
            box = parse_header(read_at(src, pos, 32), pos, size)
        except CorruptImageError as exc:
            return TopLevel(tuple(boxes), pos, size, str(exc))
        boxes.append(box)
        pos = box.end
    return TopLevel(tuple(boxes), pos, size)


def read_payload(src: BinaryIO, box: Box, limits: Limits) -> bytes:
    """A box's whole payload, refused past limits.max_item_bytes."""
    if box.size > limits.max_item_bytes:
        raise TooLargeError(f"box '{box.name}' holds {box.size} bytes; the limit for one item is "
                            f"{limits.max_item_bytes} bytes")
    data = read_at(src, box.body, box.size)
    if len(data) != box.size:
        raise CorruptImageError(f"box '{box.name}' at offset {box.start:#x} is truncated")
    return data


def children(data: bytes, start: int, end: int) -> list[Box]:
    """The boxes in data[start:end]; a trailing 4-byte zero terminator (QuickTime) is allowed."""
    found: list[Box] = []
    pos = start
    while pos + 8 <= end:
        if len(found) >= MAX_BOXES:
            raise TooLargeError(f"a box holds more than {MAX_BOXES} boxes")
        box = parse_header(data[pos : pos + 32], pos, end)
        found.append(box)
        pos = box.end
    if pos < end and data[pos:end].strip(b"\x00"):
        raise CorruptImageError(f"{end - pos} stray bytes after the last box at offset {pos:#x}")
    return found


def child(data: bytes, parent: Box, kind: bytes, skip: int = 0) -> Box | None:
    """The first child of `parent` of type `kind` (payload starting `skip` bytes in), or None."""
    for box in children(data, parent.body + skip, parent.end):
        if box.kind == kind:
            return box
    return None


def check_depth(depth: int, limits: Limits) -> None:
    if depth > limits.max_depth:
        raise TooLargeError(f"boxes are nested more than {limits.max_depth} deep")


def is_zero(src: BinaryIO, start: int, end: int) -> bool:
    """Whether the bytes of the stream from start to end are all zero (read in chunks)."""
    pos = start
    while pos < end:
        piece = read_at(src, pos, min(CHUNK, end - pos))
        if not piece or piece.strip(b"\x00"):
            return not piece
        pos += len(piece)
    return True
