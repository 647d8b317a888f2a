"""AVI (RIFF): inspect only. The INFO list (software, dates, names), XMP (`_PMX`), the stream names (`strn`) and
vendor data (`strd`), the recording date (`IDIT`), JUNK holding data, and data after the RIFF chunks.
Strip refuses AVI: its index (`idx1`/OpenDML) would have to be rewritten, which is not done here."""

from __future__ import annotations

from typing import BinaryIO

from ..errors import CorruptImageError, TooLargeError
from ..metadata import xmp
from ..metadata.base import Parsed, human_size, printable, tag_name
from ..metadata.report import Category, Risk
from .boxes import check_depth, read_at, stream_size

INFO: dict[bytes, tuple[Category, str]] = {
    b"ISFT": (Category.SOFTWARE, "software"), b"ICRD": (Category.TIME, "creation date"),
    b"IDIT": (Category.TIME, "recording date"), b"IART": (Category.IDENTITY, "artist"),
    b"INAM": (Category.IDENTITY, "title"), b"ICMT": (Category.IDENTITY, "comment"),
    b"ICOP": (Category.IDENTITY, "copyright"), b"IKEY": (Category.IDENTITY, "keywords"),
    b"IENG": (Category.IDENTITY, "engineer"), b"ITCH": (Category.IDENTITY, "technician"),
    b"ISBJ": (Category.IDENTITY, "subject"), b"ISRC": (Category.IDENTITY, "source"),
    b"IPRD": (Category.IDENTITY, "product"), b"IGNR": (Category.IDENTITY, "genre"),
    b"strn": (Category.IDENTITY, "stream name"), b"ISMP": (Category.TIME, "timecode"),
    b"IMAK": (Category.DEVICE, "camera make"), b"IMOD": (Category.DEVICE, "camera model"),
}  # fmt: skip
STRUCTURE = frozenset({b"avih", b"strh", b"strf", b"idx1", b"indx", b"dmlh", b"vprp"})
MAX_CHUNKS = 100_000


def inspect(src: BinaryIO, parsed: Parsed) -> None:
    size = stream_size(src)
    head = read_at(src, 0, 12)
    if len(head) < 12:
        raise CorruptImageError("the AVI header is truncated")
    pos = 0
    while pos + 8 <= size:
        fourcc, length = read_at(src, pos, 4), int.from_bytes(read_at(src, pos + 4, 4), "little")
        if fourcc != b"RIFF" or length < 4:
            break
        if pos + 8 + length > size:
            parsed.add(f"RIFF @ {pos:#x}", f"truncated file: the RIFF chunk claims {human_size(length)}, "
                       f"{human_size(size - pos - 8)} present", Category.UNKNOWN, 0, Risk.LOW)
            length = size - pos - 8
        parsed.header_seen = True
        parsed.structure(f"RIFF '{tag_name(read_at(src, pos + 8, 4))}' @ {pos:#x}", "AVI file", length)
        _chunks(src, pos + 12, pos + 8 + length, "RIFF", parsed, 1)
        pos += 8 + length + (length & 1)
    if pos < size:
        parsed.add(f"after the RIFF chunks @ {pos:#x}", f"{human_size(size - pos)} of data after the last chunk",
                   Category.HIDDEN, size - pos)


def _chunks(src: BinaryIO, start: int, end: int, where: str, parsed: Parsed, depth: int) -> None:
    check_depth(depth, parsed.limits)
    pos = start
    while pos + 8 <= end:
        parsed.part()
        parsed.pos = pos
        if parsed.parts > MAX_CHUNKS:
            raise TooLargeError(f"the AVI file has more than {MAX_CHUNKS} chunks")
        header = read_at(src, pos, 12)
        fourcc, length = header[:4], int.from_bytes(header[4:8], "little")
        if pos + 8 + length > end:
            if fourcc == b"LIST" and header[8:12] == b"movi":
                length = end - pos - 8  # a truncated file: the frames are cut short
            else:
                raise CorruptImageError(f"AVI chunk '{tag_name(fourcc)}' at offset {pos:#x} runs past its list")
        here = f"{where} > {tag_name(fourcc)} @ {pos:#x}"
        if fourcc == b"LIST":
            _list(src, header[8:12], pos, length, here, parsed, depth)
        else:
            _chunk(src, fourcc, pos + 8, length, here, parsed)
        pos += 8 + length + (length & 1)


def _list(src: BinaryIO, kind: bytes, pos: int, length: int, where: str, parsed: Parsed, depth: int) -> None:
    where = f"{where} '{tag_name(kind)}'"
    if kind in (b"movi", b"rec "):
        parsed.structure(where, f"media data, {human_size(length)}", length)
    else:
        _chunks(src, pos + 12, pos + 8 + length, where, parsed, depth + 1)


def _chunk(src: BinaryIO, fourcc: bytes, body: int, length: int, where: str, parsed: Parsed) -> None:
    if fourcc in STRUCTURE:
        parsed.structure(where, f"'{tag_name(fourcc)}' header", length)
        return
    if length > parsed.limits.max_item_bytes:
        parsed.add(where, f"'{tag_name(fourcc)}' chunk, {human_size(length)}", Category.UNKNOWN, length, Risk.HIGH)
        return
    data = read_at(src, body, length)
    if fourcc in INFO:
        category, words = INFO[fourcc]
        parsed.add(where, f"{words}: {printable(data)}", category, length)
    elif fourcc == b"_PMX":
        xmp.findings(data, where, parsed)
    elif fourcc == b"JUNK" and not data.strip(b"\x00"):
        parsed.structure(where, f"padding, {human_size(length)}", length)
    elif fourcc == b"JUNK":
        parsed.add(where, f"padding holding leftover data, {human_size(length)}", Category.HIDDEN, length)
    else:
        parsed.add(where, f"'{tag_name(fourcc)}' chunk, {human_size(length)}", Category.UNKNOWN, length, Risk.HIGH)
