"""GIF: header, colour tables, image blocks and every extension (comments, application data, plain text).

Strip writes a new GIF from the parsed fields: the header and logical screen descriptor (sort flag and aspect
ratio zero), the colour tables with every entry no pixel uses zeroed (the background colour counts as used),
one NETSCAPE looping extension, each image's graphic control extension (4 bytes, reserved bits zero) and
descriptor, and its LZW data cut after the code that completes the image's pixels, closed by the end code and
re-blocked in 255-byte sub-blocks. Comments, other application extensions, plain-text extensions and
anything after the trailer go; with keep_icc the ICCRGBG1012 profile stays, rebuilt. Whatever no field
explains (extra or over-long sub-blocks, data past the end code, unused colour entries that are not zero,
reserved bits) is reported as hidden data.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from ..errors import CorruptImageError, TooLargeError
from . import blobs, xmp
from .base import Memo, Parsed, Piece, check_item, human_size, need, printable, tag_name, u8, unchecked
from .report import Category, Risk

LOOPING = {b"NETSCAPE2.0", b"ANIMEXTS1.0"}
# Data sub-blocks in one file. Encoders fill them (255 bytes each), so an honest 200 MB GIF has 800 000;
# a hostile one made of 1-byte blocks would otherwise cost a Python loop turn every two bytes.
MAX_SUB_BLOCKS = 1_000_000
ICC_ID = b"ICCRGBG1012"
# A palette no decoder reads as greyscale, so that Pillow hands back indices: entry i is (i, 255 - i, 7i)
INDEX_PALETTE = bytes(b for i in range(256) for b in (i, 255 - i, (7 * i) & 255))


@dataclass
class Image_:
    """One image block, parsed."""

    where: str
    descriptor: bytes  # 9 bytes: position, size, packed flags (rebuilt)
    width: int
    height: int
    table: bytes | None  # local colour table
    min_size: int
    data: bytes  # the LZW stream, sub-blocks joined
    control: bytes | None  # graphic control fields (4 bytes), rebuilt


@dataclass
class State:
    version: bytes = b"89a"
    screen: bytes = b""  # logical screen descriptor (7 bytes), rebuilt
    table: bytes | None = None  # global colour table
    background: int = 0
    loop: int | None = None
    icc: bytes | None = None
    control: bytes | None = None  # waiting for its image
    images: list[Image_] = field(default_factory=list)


def _blocks(data: bytes, pos: int, parsed: Parsed) -> tuple[int, list[tuple[int, int]]]:
    """A chain of data sub-blocks: the offset after its terminator and each block's payload span."""
    budget = MAX_SUB_BLOCKS - parsed.extra.get("sub_blocks", 0)
    end, spans = len(data), []
    while pos < end and data[pos]:  # kept tight: this runs once per block
        spans.append((pos + 1, pos + 1 + data[pos]))
        pos += 1 + data[pos]
        if len(spans) > budget:
            raise TooLargeError(f"GIF is made of more than {MAX_SUB_BLOCKS} data blocks")
    if pos >= end:
        raise CorruptImageError("GIF data blocks run past the end of the file (truncated or corrupt)")
    parsed.extra["sub_blocks"] = MAX_SUB_BLOCKS - budget + len(spans)
    return pos + 1, spans


def _joined(data: bytes, spans: list[tuple[int, int]]) -> bytes:
    view = memoryview(data)
    return b"".join(view[a:b] for a, b in spans)


def _reblock(payload: bytes) -> bytes:
    """Data sub-blocks of 255 bytes (the last one shorter) and the terminator."""
    parts = [bytes([len(payload[i : i + 255])]) + payload[i : i + 255] for i in range(0, len(payload), 255)]
    return b"".join(parts) + b"\x00"


def parse(data: bytes, parsed: Parsed) -> None:
    need(data, 0, 13, "GIF header")
    if data[:3] != b"GIF" or data[3:6] not in (b"87a", b"89a"):
        raise CorruptImageError("GIF header names an unknown version")
    state = State(version=data[3:6])
    packed = data[10]
    pos = 13 + (3 * (2 << (packed & 7)) if packed & 0x80 else 0)
    need(data, 0, pos, "GIF global colour table")
    state.screen = data[6:10] + bytes([packed & 0xF7, data[11], 0])
    if data[12]:
        parsed.add("GIF logical screen descriptor", "pixel aspect ratio set (decoders ignore it; strip zeroes it)",
                   Category.HIDDEN, 1)
    state.table, state.background = (data[13:pos] if packed & 0x80 else None), data[11]
    parsed.structure("GIF header", f"GIF {int.from_bytes(data[6:8], 'little')}x{int.from_bytes(data[8:10], 'little')}")
    while True:
        parsed.pos = pos
        parsed.part()
        kind = u8(data, pos, "GIF block")
        if kind == 0x3B:
            if state.control is not None:
                parsed.add(f"GIF @ {pos:#x}", "a graphic control extension no image follows", Category.HIDDEN, 4)
            break
        if kind == 0x2C:
            pos = _image(data, pos, state, parsed)
        elif kind == 0x21:
            pos = _extension(data, pos, state, parsed)
        else:
            raise CorruptImageError(f"unknown GIF block {kind:#04x} at offset {pos:#x}")
    if not state.images:
        raise CorruptImageError("GIF holds no image")
    if not unchecked(parsed, [(image.where, image.width, image.height) for image in state.images]):
        parsed.keep[:] = _write(state, parsed)
    blobs.trailer_findings(data, pos + 1, f"GIF after trailer @ {pos + 1:#x}", parsed)


def _image(data: bytes, pos: int, state: State, parsed: Parsed) -> int:
    need(data, pos, 10, "GIF image descriptor")
    parsed.header_seen = True
    where = f"GIF image @ {pos:#x}"
    packed = data[pos + 9]
    if packed & 0x18:
        parsed.add(where, "reserved bits of the image descriptor are set", Category.HIDDEN, 1)
    table_end = pos + 10 + (3 * (2 << (packed & 7)) if packed & 0x80 else 0)
    need(data, table_end, 1, "GIF LZW code size")
    min_size = data[table_end]
    if not 2 <= min_size <= 8:
        raise CorruptImageError(f"GIF image at offset {pos:#x} has an invalid LZW code size {min_size}")
    end, spans = _blocks(data, table_end + 1, parsed)
    width, height = int.from_bytes(data[pos + 5 : pos + 7], "little"), int.from_bytes(data[pos + 7 : pos + 9], "little")
    if width == 0 or height == 0:
        parsed.add(where, "an image without pixels", Category.HIDDEN, end - pos)
        state.control = None
        return end
    table = data[pos + 10 : table_end] if packed & 0x80 else None
    descriptor = data[pos + 1 : pos + 9] + bytes([packed & 0xC7])
    state.images.append(Image_(where, descriptor, width, height, table, min_size, _joined(data, spans),
                               state.control))
    state.control = None
    parsed.structure(where, "image data", end - pos)
    return end


def _extension(data: bytes, pos: int, state: State, parsed: Parsed) -> int:
    label = u8(data, pos + 1, "GIF extension label")
    end, spans = _blocks(data, pos + 2, parsed)
    check_item(end - pos, parsed.limits, f"GIF extension {label:#04x}")
    where = f"GIF extension {label:#04x} @ {pos:#x}"
    first = data[spans[0][0] : spans[0][1]] if spans else b""
    if label == 0xF9:
        _control(first, spans, where, state, parsed)
    elif label == 0xFF and first in LOOPING:
        _looping(data, spans, where, state, parsed)
    elif label == 0xFE:
        text = printable(_joined(data, spans))
        parsed.add(where, f"comment: '{text}'", Category.IDENTITY, end - pos, Risk.MEDIUM)
    elif label == 0x01:
        parsed.add(where, "plain-text overlay", Category.IDENTITY, end - pos, Risk.MEDIUM)
    elif label == 0xFF and first[:11] == b"XMP DataXMP":
        xmp.findings(data[pos + 14 : end], f"{where} XMP", parsed)
    elif label == 0xFF and first == ICC_ID:
        _icc(_joined(data, spans[1:]), where, state, parsed)
    else:
        name = tag_name(first[:11]) if label == 0xFF else f"label {label:#04x}"
        parsed.add(where, f"extension '{name}', {human_size(end - pos)}", Category.UNKNOWN, end - pos)
    return end


def _extra_blocks(spans: list[tuple[int, int]], fields: int, where: str, parsed: Parsed) -> None:
    """Report what an extension carries beyond its one block of `fields` bytes."""
    extra = sum(b - a for a, b in spans) - fields
    if len(spans) > 1 or extra > 0:
        parsed.add(where, f"{max(extra, 0)} bytes beyond the extension's {fields} bytes of fields", Category.HIDDEN,
                   max(extra, 0))


def _control(first: bytes, spans: list[tuple[int, int]], where: str, state: State, parsed: Parsed) -> None:
    _extra_blocks(spans, 4, where, parsed)
    if len(first) < 4:
        raise CorruptImageError(f"{where}: graphic control extension is {len(first)} bytes long; it needs 4")
    if first[0] & 0xE0:
        parsed.add(where, "reserved bits of the graphic control extension are set", Category.HIDDEN, 1)
    if state.control is not None:
        parsed.add(where, "a second graphic control extension for one image", Category.HIDDEN, 4)
    transparent = first[3] if first[0] & 1 else 0
    if first[3] != transparent:
        parsed.add(where, "a transparent colour index with transparency off", Category.HIDDEN, 1)
    state.control = bytes([first[0] & 0x1F]) + first[1:3] + bytes([transparent])


def _looping(data: bytes, spans: list[tuple[int, int]], where: str, state: State, parsed: Parsed) -> None:
    parsed.structure(where, "animation looping")
    body = data[spans[1][0] : spans[1][1]] if len(spans) > 1 else b""
    if len(spans) != 2 or len(body) != 3 or body[0] != 1:
        extra = sum(b - a for a, b in spans[1:]) - 3
        parsed.add(where, f"the looping extension carries {max(extra, 0)} bytes beyond its loop count",
                   Category.HIDDEN, max(extra, 0))
    if state.loop is not None:
        parsed.add(where, "a second looping extension", Category.HIDDEN, 3)
    elif len(body) >= 3 and body[0] == 1:
        state.loop = int.from_bytes(body[1:3], "little")


def _icc(profile: bytes, where: str, state: State, parsed: Parsed) -> None:
    since = len(parsed.findings)
    blobs.icc_findings(profile, where, parsed)
    if not parsed.keep_icc or state.icc is not None or state.images:
        return
    if any(f.category is not Category.COLOUR_PROFILE for f in parsed.findings[since:]):
        return
    state.icc = parsed.kept_profile(profile, "GIF ICC extension")
    parsed.kept_colour = state.icc is not None


# --- LZW: where each image's data ends, and which colours its pixels use ------------------------------------


@dataclass(frozen=True)
class Lzw:
    """What the code walk found: the bit offset after the code that completes the pixels (-1: they never are),
    the code width the end code takes there, whether only an end code and zero bits follow, pixels decoded."""

    cut: int
    end_width: int
    clean: bool
    pixels: int


def _codes(bits: np.ndarray, start: int, widths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The codes of the given widths read LSB-first from bit offset `start`; their offsets."""
    offsets = start + np.concatenate(([0], np.cumsum(widths[:-1])))
    fits = offsets + widths <= bits.size * 8 - 24  # bits is padded with three zero bytes
    offsets, widths = offsets[fits], widths[fits]
    byte = offsets >> 3
    word = bits[byte].astype(np.int64) | (bits[byte + 1].astype(np.int64) << 8)
    word |= bits[byte + 2].astype(np.int64) << 16
    return (word >> (offsets & 7)) & ((1 << widths) - 1), offsets


def _lengths(codes: np.ndarray, eoi: int) -> np.ndarray:
    """How many pixels each code of one segment (between clear codes) outputs; CorruptImageError on a code
    that names an entry not yet defined."""
    k = np.arange(codes.size)
    literal = codes < eoi - 1
    entry = codes - eoi  # code eoi + j is the entry made after code j: the string of code j - 1 and one more
    parent = np.where(literal, k, entry - 1)
    if codes.size and (not literal[0] or np.any(~literal & ((entry < 1) | (entry > k) | (codes > 4095)))):
        raise CorruptImageError("GIF LZW data names a code that is not defined yet")
    depth = (~literal).astype(np.int64)
    for _ in range(13):  # chains are at most 4096 long: 2**12 covers them
        depth = depth + depth[parent]
        parent = parent[parent]
    return depth + 1


def _walk(stream: bytes, min_size: int, pixels: int) -> Lzw:
    clear, eoi = 1 << min_size, (1 << min_size) + 1
    bits = np.frombuffer(stream + b"\x00\x00\x00", np.uint8)
    pos, done = 0, 0
    while True:
        count = 4096
        while True:  # read enough codes to reach the segment's clear or end code, or the data's end
            k = np.arange(count)
            widths = np.minimum(12, np.floor(np.log2(eoi + np.maximum(k, 1))).astype(np.int64) + 1)
            codes, offsets = _codes(bits, pos, widths)
            stops = np.flatnonzero((codes == clear) | (codes == eoi))
            if stops.size or codes.size < count:
                break
            count *= 4
        stop = int(stops[0]) if stops.size else codes.size
        data_codes = codes[:stop]
        totals = done + np.cumsum(_lengths(data_codes, eoi))
        if totals.size and totals[-1] >= pixels:
            last = int(np.searchsorted(totals, pixels))
            cut = int(offsets[last] + widths[last])
            end_width = int(widths[last + 1]) if last + 1 < widths.size else int(min(12, (eoi + last + 1).bit_length()))
            tail_ok = last + 1 < codes.size and int(codes[last + 1]) == eoi
            clean = tail_ok and _zero_after(stream, cut + end_width)
            return Lzw(cut, end_width, clean, int(totals[last]))
        done = int(totals[-1]) if totals.size else done
        if not stops.size or int(codes[stop]) == eoi:
            return Lzw(-1, 0, False, done)
        pos = int(offsets[stop] + widths[stop])


def _zero_after(stream: bytes, bit: int) -> bool:
    """Whether nothing follows bit offset `bit` but the zero bits that fill its byte."""
    whole = (bit + 7) // 8
    return len(stream) == whole and (bit % 8 == 0 or stream[-1] >> (bit % 8) == 0)


def _closed(stream: bytes, lzw: Lzw, eoi: int) -> bytes:
    """The stream up to the code that completes the pixels, then the end code, then zero bits."""
    if lzw.clean:
        return stream
    head, shift = divmod(lzw.cut, 8)
    low = stream[head] & ((1 << shift) - 1) if shift else 0
    return stream[:head] + (low | (eoi << shift)).to_bytes((shift + lzw.end_width + 7) // 8, "little")


def _indices(image: Image_, stream: bytes) -> np.ndarray:
    """The colour-table indices of the image's pixels, as Pillow decodes them."""
    size = image.descriptor[4:8]
    gif = b"GIF89a" + size + b"\x87\x00\x00" + INDEX_PALETTE + b"\x2c\x00\x00\x00\x00" + size
    gif += bytes([image.descriptor[8] & 0x40, image.min_size]) + _reblock(stream) + b"\x3b"
    try:
        with Image.open(io.BytesIO(gif)) as im:
            im.load()
            if im.mode != "P":
                raise CorruptImageError(f"{image.where}: decoded as {im.mode}, not as colour indices")
            return np.asarray(im)
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise CorruptImageError(f"{image.where}: the image data cannot be decoded ({exc})") from exc


def _zeroed(table: bytes, used: np.ndarray, where: str, parsed: Parsed) -> bytes:
    """The colour table with every entry no pixel uses set to black; reported when one was not."""
    colours = np.frombuffer(table, np.uint8).reshape(-1, 3)
    mask = used[: len(colours)]
    if (unused := int(colours[~mask].any(axis=1).sum())) > 0:
        parsed.add(where, f"{unused} colour table entries no pixel uses are not zero", Category.HIDDEN, 3 * unused)
    return np.where(mask[:, None], colours, 0).astype(np.uint8).tobytes()


WALKED = Memo()  # digest of an image's LZW data -> (its Lzw, the colour indices its pixels use)


def _frame(image: Image_, used_global: np.ndarray, parsed: Parsed) -> bytes:
    eoi = (1 << image.min_size) + 1
    key = Memo.key(image.descriptor[4:9] + bytes([image.min_size]), [memoryview(image.data)])
    known = WALKED.get(key)
    if isinstance(known, tuple):
        lzw, used = known
    else:
        lzw = _walk(image.data, image.min_size, image.width * image.height)
        if lzw.cut < 0:
            raise CorruptImageError(f"{image.where}: the image data ends before its pixels do")
        used = np.bincount(_indices(image, _closed(image.data, lzw, eoi)).ravel(), minlength=256) > 0
        WALKED.put(key, (lzw, used))
    if not lzw.clean:
        parsed.add(image.where, "data past the LZW code that completes the pixels", Category.HIDDEN,
                   max(0, len(image.data) - (lzw.cut + lzw.end_width) // 8))
    stream = _closed(image.data, lzw, eoi)
    head = b"\x21\xf9\x04" + image.control + b"\x00" if image.control is not None else b""
    if image.table is None:
        used_global |= used[:256]
        table = b""
    else:
        table = _zeroed(image.table, used, image.where, parsed)
    return head + b"\x2c" + image.descriptor + table + bytes([image.min_size]) + _reblock(stream)


def _write(state: State, parsed: Parsed) -> list[Piece]:
    used_global = np.zeros(256, bool)
    frames = [_frame(image, used_global, parsed) for image in state.images]
    table = b""
    if state.table is not None:
        used_global[state.background] = True  # decoders fill the canvas with it
        table = _zeroed(state.table, used_global, "GIF global colour table", parsed)
    extensions = b""
    if state.loop is not None:
        extensions += b"\x21\xff\x0bNETSCAPE2.0\x03\x01" + state.loop.to_bytes(2, "little") + b"\x00"
    if state.icc is not None:
        extensions += b"\x21\xff\x0b" + ICC_ID + _reblock(state.icc)
    modern = extensions or any(image.control is not None for image in state.images)
    version = b"89a" if modern else state.version
    screen = state.screen if state.table is not None else state.screen[:5] + b"\x00\x00"
    return [b"GIF" + version + screen + table + extensions, *frames, b"\x3b"]


def rebuild(data: bytes, parsed: Parsed) -> bytes:
    return parsed.assemble(data)
