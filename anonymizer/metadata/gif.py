"""GIF: header, colour tables, image blocks and every extension (comments, application data, plain text).

Strip keeps the header, colour tables, graphic control extensions, the NETSCAPE/ANIMEXTS looping
extension and the image blocks byte for byte, and drops comments, other application extensions,
plain-text extensions and anything after the trailer; with keep_icc the ICCRGBG1012 colour profile
extension stays, in place and unchanged.
"""

from __future__ import annotations

from ..errors import CorruptImageError, TooLargeError
from . import blobs, xmp
from .base import Parsed, check_item, human_size, need, printable, tag_name, u8
from .report import Category, Risk

LOOPING = {b"NETSCAPE2.0", b"ANIMEXTS1.0"}
# Data sub-blocks in one file. Encoders fill them (255 bytes each), so an honest 200 MB GIF has 800 000;
# a hostile one made of 1-byte blocks would otherwise cost a Python loop turn every two bytes.
MAX_SUB_BLOCKS = 1_000_000


def _blocks(data: bytes, pos: int, parsed: Parsed) -> tuple[int, bytes]:
    """Skip a chain of data sub-blocks; return the offset after its terminator and the first block."""
    first = data[pos + 1 : pos + 1 + u8(data, pos, "GIF sub-block size")]
    budget = MAX_SUB_BLOCKS - parsed.extra.get("sub_blocks", 0)
    end, count = len(data), 0
    while pos < end and data[pos]:  # kept tight: this runs once per block
        pos += 1 + data[pos]
        count += 1
        if count > budget:
            raise TooLargeError(f"GIF is made of more than {MAX_SUB_BLOCKS} data blocks")
    if pos >= end:
        raise CorruptImageError("GIF data blocks run past the end of the file (truncated or corrupt)")
    parsed.extra["sub_blocks"] = MAX_SUB_BLOCKS - budget + count
    return pos + 1, first


def _joined(data: bytes, pos: int, end: int) -> bytes:
    parts = []
    while pos < end and data[pos]:
        parts.append(data[pos + 1 : pos + 1 + data[pos]])
        pos += 1 + data[pos]
    return b"".join(parts)


def parse(data: bytes, parsed: Parsed) -> None:
    need(data, 0, 13, "GIF header")
    packed = data[10]
    pos = 13 + (3 * (2 << (packed & 7)) if packed & 0x80 else 0)
    need(data, 0, pos, "GIF global colour table")
    parsed.keep.append((0, pos))
    parsed.structure("GIF header", f"GIF {int.from_bytes(data[6:8], 'little')}x{int.from_bytes(data[8:10], 'little')}")
    while True:
        parsed.pos = pos
        parsed.part()
        kind = u8(data, pos, "GIF block")
        if kind == 0x3B:
            parsed.keep.append((pos, pos + 1))
            blobs.trailer_findings(data, pos + 1, f"GIF after trailer @ {pos + 1:#x}", parsed)
            return
        if kind == 0x2C:
            pos = _image(data, pos, parsed)
        elif kind == 0x21:
            pos = _extension(data, pos, parsed)
        else:
            raise CorruptImageError(f"unknown GIF block {kind:#04x} at offset {pos:#x}")


def _image(data: bytes, pos: int, parsed: Parsed) -> int:
    need(data, pos, 10, "GIF image descriptor")
    parsed.header_seen = True
    packed = data[pos + 9]
    start = pos
    pos += 10 + (3 * (2 << (packed & 7)) if packed & 0x80 else 0)
    need(data, pos, 1, "GIF LZW code size")
    end, _ = _blocks(data, pos + 1, parsed)
    parsed.keep.append((start, end))
    parsed.structure(f"GIF image @ {start:#x}", "image data", end - start)
    return end


def _extension(data: bytes, pos: int, parsed: Parsed) -> int:
    label = u8(data, pos + 1, "GIF extension label")
    end, first = _blocks(data, pos + 2, parsed)
    check_item(end - pos, parsed.limits, f"GIF extension {label:#04x}")
    where = f"GIF extension {label:#04x} @ {pos:#x}"
    if label == 0xF9:
        parsed.keep.append((pos, end))
    elif label == 0xFF and first[:11] in LOOPING:
        parsed.keep.append((pos, end))
        parsed.structure(where, "animation looping")
    elif label == 0xFE:
        text = printable(_joined(data, pos + 2, end))
        parsed.add(where, f"comment: '{text}'", Category.IDENTITY, end - pos, Risk.MEDIUM)
    elif label == 0x01:
        parsed.add(where, "plain-text overlay", Category.IDENTITY, end - pos, Risk.MEDIUM)
    elif label == 0xFF and first[:11] == b"XMP DataXMP":
        xmp.findings(data[pos + 14 : end], f"{where} XMP", parsed)
    elif label == 0xFF and first[:11] == b"ICCRGBG1012":
        since = len(parsed.findings)
        blobs.icc_findings(_joined(data, pos + 14, end), where, parsed)
        parsed.keep_colour((pos, end), since)
    else:
        name = tag_name(first[:11]) if label == 0xFF else f"label {label:#04x}"
        parsed.add(where, f"extension '{name}', {human_size(end - pos)}", Category.UNKNOWN, end - pos)
    return end


def rebuild(data: bytes, parsed: Parsed) -> bytes:
    return parsed.assemble(data)
