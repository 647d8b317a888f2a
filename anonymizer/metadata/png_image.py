"""PNG image data: the structure chunks (IHDR, PLTE, tRNS, APNG acTL/fcTL/fdAT, IDAT, IEND) checked and written
anew, and the zlib stream checked to hold exactly the rows IHDR implies (kept as it is when it does, deflated
anew when it does not); unused palette entries and padding bits found. png.py walks the file and calls in here.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import numpy as np
from isal import isal_zlib
from PIL import Image

from ..errors import CorruptImageError, TooLargeError
from .base import Memo, Parsed, Piece, need, tag_name, u32, unchecked
from .report import Category

SIGNATURE = b"\x89PNG\r\n\x1a\n"
INFLATE_ERROR = cast(type[Exception], isal_zlib.error)  # its stub calls the class an instance


CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
FIELD_SIZES = {b"IHDR": 13, b"acTL": 8, b"fcTL": 26, b"IEND": 0}


@dataclass
class Frame:
    """One image: the default image (IDAT) or an APNG frame (fdAT), with its frame control fields if any."""

    where: str
    width: int
    height: int
    control: tuple[int, ...] | None = None  # fcTL fields after the sequence number
    ranges: list[tuple[int, int]] = field(default_factory=list)  # its compressed data in the file
    default: bool = False


@dataclass
class State:
    header: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)  # width, height, depth, colour type, interlace
    palette: bytes | None = None
    palette_where: str = ""
    trns: bytes | None = None
    trns_where: str = ""
    colour: list[bytes] = field(default_factory=list)  # rebuilt colour chunks kept with keep_icc
    actl: tuple[int, int] | None = None
    frames: list[Frame] = field(default_factory=list)
    pending: tuple[int, ...] | None = None  # an fcTL seen before the first IDAT
    image_seen: bool = False  # PLTE or IDAT seen: colour chunks may no longer come
    sequence: int = 0


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _fields(kind: bytes, body: bytes, where: str, parsed: Parsed) -> bytes:
    """The chunk's fields at their exact size; bytes after them are hidden data, fewer is corrupt."""
    size = FIELD_SIZES.get(kind, len(body))
    if len(body) < size:
        raise CorruptImageError(f"PNG {tag_name(kind)} chunk is {len(body)} bytes long; it needs {size}")
    slack(body, size, where, parsed)
    return body[:size]


def slack(body: bytes, size: int, where: str, parsed: Parsed) -> None:
    """Bytes after a chunk's `size` bytes of fields are hidden data."""
    if len(body) > size:
        parsed.add(where, f"{len(body) - size} bytes after the chunk's {size} bytes of fields", Category.HIDDEN,
                   len(body) - size)  # fmt: skip


def _image_chunk(
    data: bytes, kind: bytes, start: int, end: int, body: bytes, where: str, state: State, parsed: Parsed
) -> None:
    if kind == b"IDAT":
        _idat(start, end, where, state, parsed)
    elif kind == b"fdAT":
        _fdat(data, start, end, where, state, parsed)
    else:
        IMAGE_HANDLERS[kind](_fields(kind, body, where, parsed), where, state, parsed)


def _ihdr(body: bytes, where: str, state: State, parsed: Parsed) -> None:
    if parsed.header_seen:
        parsed.add(where, "a second image header", Category.HIDDEN, len(body))
        return
    width, height, depth, colour, method, filtering, interlace = struct.unpack(">IIBBBBB", body)
    if not (0 < width < 1 << 31 and 0 < height < 1 << 31) or depth not in DEPTHS.get(colour, ()):
        raise CorruptImageError(f"PNG header is invalid ({width}x{height}, depth {depth}, colour type {colour})")
    if method or filtering or interlace > 1:
        raise CorruptImageError("PNG header names an unknown compression, filter or interlace method")
    state.header = (width, height, depth, colour, interlace)
    parsed.header_seen = True
    parsed.structure(where, f"image header {width}x{height}", 25)


def _plte(body: bytes, where: str, state: State, parsed: Parsed) -> None:
    colour, depth = state.header[3], state.header[2]
    if colour != 3:
        parsed.add(where, "suggested palette", Category.SOFTWARE if colour in (2, 6) else Category.HIDDEN, len(body))
        return
    if state.palette is not None or state.image_seen:
        parsed.add(where, "a second or late palette", Category.HIDDEN, len(body))
        return
    count = min(len(body) // 3, 1 << depth)
    if count == 0:
        raise CorruptImageError("PNG palette is empty")
    if len(body) > 3 * count:
        parsed.add(
            where,
            f"{len(body) - 3 * count} bytes after the palette's {count} entries",
            Category.HIDDEN,
            len(body) - 3 * count,
        )
    state.palette, state.palette_where, state.image_seen = body[: 3 * count], where, True
    parsed.structure(where, "PLTE (decoding)", len(body))


def _trns(body: bytes, where: str, state: State, parsed: Parsed) -> None:
    if state.trns is not None:
        parsed.add(where, "a second transparency chunk", Category.HIDDEN, len(body))
        return
    state.trns, state.trns_where = body, where
    parsed.structure(where, "tRNS (decoding)", len(body))


def _actl(body: bytes, where: str, state: State, parsed: Parsed) -> None:
    if state.actl is not None or any(f.default for f in state.frames):
        parsed.add(where, "animation control after the image data, or a second one", Category.HIDDEN, len(body))
        return
    frames, plays = struct.unpack(">II", body)
    state.actl = (frames, plays)
    parsed.structure(where, f"animation of {frames} frames", len(body))


def _sequence(number: int, where: str, state: State, parsed: Parsed) -> None:
    if number != state.sequence:
        parsed.add(where, f"sequence number {number} where {state.sequence} was expected", Category.HIDDEN, 4)
    state.sequence += 1


def _fctl(body: bytes, where: str, state: State, parsed: Parsed) -> None:
    fields = struct.unpack(">IIIIIHHBB", body)
    _sequence(fields[0], where, state, parsed)
    width, height, x, y, _num, _den, dispose, blend = fields[1:]
    full_width, full_height = state.header[:2]
    if not (width > 0 and height > 0 and x + width <= full_width and y + height <= full_height):
        raise CorruptImageError(f"APNG frame {width}x{height} at {x},{y} lies outside the image")
    if dispose > 2 or blend > 1:
        raise CorruptImageError("APNG frame control names an unknown dispose or blend operation")
    if any(f.default for f in state.frames):
        state.frames.append(Frame(where, width, height, fields[1:]))
    else:
        state.pending = fields[1:]
    parsed.structure(where, f"animation frame {width}x{height}", len(body))


def _iend(body: bytes, where: str, state: State, parsed: Parsed) -> None:
    parsed.structure(where, "IEND (decoding)", 12)


def _idat(start: int, end: int, where: str, state: State, parsed: Parsed) -> None:
    default = [f for f in state.frames if f.default]
    if default and state.frames[-1] is not default[0]:
        parsed.add(where, "image data after an animation frame", Category.HIDDEN, end - start)
        return
    if not default:
        width, height = state.header[:2]
        control = state.pending
        if control is not None and (control[0], control[1], control[2], control[3]) != (width, height, 0, 0):
            raise CorruptImageError("APNG's first frame is the default image but not the size of it")
        state.frames.append(Frame(where, width, height, control, default=True))
        parsed.structure(where, "image data", end - start)
    state.frames[-1].ranges.append((start + 8, end - 4))
    state.image_seen = True


def _fdat(data: bytes, start: int, end: int, where: str, state: State, parsed: Parsed) -> None:
    need(data, start + 8, 4, "APNG frame data")
    if end - start < 16 or not state.frames or state.frames[-1].default or state.frames[-1].control is None:
        parsed.add(where, "frame data without a frame control chunk", Category.HIDDEN, end - start)
        return
    _sequence(u32(data, start + 8, "fdAT sequence"), where, state, parsed)
    state.frames[-1].ranges.append((start + 12, end - 4))


IMAGE_HANDLERS: dict[bytes, Callable[[bytes, str, State, Parsed], None]] = {
    b"IHDR": _ihdr,
    b"PLTE": _plte,
    b"tRNS": _trns,
    b"acTL": _actl,
    b"fcTL": _fctl,
    b"IEND": _iend,
}


def _row_segments(width: int, height: int, bits: int, interlace: int) -> list[tuple[int, int, int]]:
    """(offset, row size with its filter byte, rows) of each pass of the inflated image data."""
    sizes = (
        [(width, height)]
        if not interlace
        else [((width - x + dx - 1) // dx, (height - y + dy - 1) // dy) for x, y, dx, dy in ADAM7]
    )
    segments, offset = [], 0
    for w, h in sizes:
        if w > 0 and h > 0:
            stride = 1 + (w * bits + 7) // 8
            segments.append((offset, stride, h))
            offset += stride * h
    return segments


EXACT = Memo()  # digest of a frame's image data that is exactly its rows -> its palette use (or b"" unknown)


def _settle(data: bytes, frame: Frame, state: State, parsed: Parsed) -> tuple[list[Piece], bytes | None]:
    """The frame's compressed data as it may be kept, and its digest when it is kept as it is: the same bytes
    when the zlib stream inflates to exactly the rows and ends at the end of the data; the rows deflated anew
    otherwise."""
    depth, colour, interlace = state.header[2:]
    if frame.width * frame.height > parsed.limits.max_pixels:
        raise TooLargeError(f"PNG image of {frame.width}x{frame.height} is over the pixel limit")
    view = memoryview(data)
    key = Memo.key(
        struct.pack(">IIBBB", frame.width, frame.height, depth, colour, interlace), [view[a:b] for a, b in frame.ranges]
    )
    if EXACT.get(key) is not None:
        return [*frame.ranges], key
    segments = _row_segments(frame.width, frame.height, depth * CHANNELS[colour], interlace)
    expected = segments[-1][0] + segments[-1][1] * segments[-1][2]
    inflater = isal_zlib.decompressobj()  # ISA-L: the same results as zlib, five times faster
    try:
        joined = b"".join(view[a:b] for a, b in frame.ranges)
        rows = inflater.decompress(joined, expected + 1)
        more = b"" if inflater.eof or len(rows) > expected else inflater.decompress(inflater.unconsumed_tail, 1)
    except INFLATE_ERROR as exc:
        raise CorruptImageError(f"PNG image data cannot be inflated ({exc})") from exc
    if len(rows) < expected:
        raise CorruptImageError(f"PNG image data holds {len(rows)} bytes of rows; the header implies {expected}")
    exact = inflater.eof and not more and not inflater.unused_data and len(rows) == expected
    if len(rows) > expected or more:
        parsed.add(frame.where, "image data inflates to more than the rows the header implies", Category.HIDDEN)
    elif inflater.unused_data:
        n = len(inflater.unused_data)
        parsed.add(frame.where, f"{n} bytes after the end of the compressed image data", Category.HIDDEN, n)
    rows = rows[:expected]
    flat = np.frombuffer(rows, np.uint8)
    for offset, stride, count in segments:
        if count and int(flat[offset : offset + stride * count : stride].max()) > 4:
            raise CorruptImageError("PNG image data has a row with an unknown filter type")
    if depth < 8 and any(w * depth % 8 for w, _h in _pass_sizes(frame.width, frame.height, interlace)):
        fresh = _zero_padding(state, frame, rows, segments, joined if exact else zlib.compress(rows))
        if fresh is not None:
            parsed.add(frame.where, "padding bits after the last pixel of rows are not zero", Category.HIDDEN)
            return [zlib.compress(fresh)], None
    if not exact:
        return [zlib.compress(rows)], None
    EXACT.put(key, b"")
    return [*frame.ranges], key


def _pass_sizes(width: int, height: int, interlace: int) -> list[tuple[int, int]]:
    if not interlace:
        return [(width, height)]
    sizes = [((width - x + dx - 1) // dx, (height - y + dy - 1) // dy) for x, y, dx, dy in ADAM7]
    return [(w, h) for w, h in sizes if w > 0 and h > 0]


def _zero_padding(
    state: State, frame: Frame, rows: bytes, segments: list[tuple[int, int, int]], compressed: bytes
) -> bytes | None:
    """For 1, 2 and 4-bit rows that end inside a byte: None when the bits after the last pixel are zero (the
    rows, filtered again from the decoded samples with zero padding, are the same bytes); otherwise the rows
    anew, unfiltered, with zero padding."""
    depth, interlace = state.header[2], state.header[4]
    samples = _samples(state, frame, compressed)
    passes = (
        [samples]
        if not interlace
        else [samples[y::dy, x::dx] for x, y, dx, dy in ADAM7 if x < frame.width and y < frame.height]
    )
    flat, same, fresh = np.frombuffer(rows, np.uint8), True, []
    for (offset, stride, count), plane in zip(segments, passes, strict=True):
        packed = _pack(plane, depth, stride - 1)
        original = flat[offset : offset + stride * count].reshape(count, stride)
        same = same and np.array_equal(_filtered(packed, original[:, 0]), original[:, 1:])
        fresh.append(np.concatenate([np.zeros((count, 1), np.uint8), packed], axis=1).tobytes())
    return None if same else b"".join(fresh)


def _samples(state: State, frame: Frame, compressed: bytes) -> np.ndarray:
    """The frame's samples (palette indices or grey levels at the file's bit depth), as Pillow decodes them."""
    depth, colour = state.header[2:4]
    if colour == 3:
        return _indices(state, frame, compressed)
    header = struct.pack(">IIBBBBB", frame.width, frame.height, depth, colour, 0, 0, state.header[4])
    png = SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", compressed) + chunk(b"IEND", b"")
    try:
        with Image.open(io.BytesIO(png)) as im:
            im.load()
            values = np.asarray(im).astype(np.uint16)
    except (OSError, ValueError, SyntaxError) as exc:
        raise CorruptImageError(f"PNG greyscale image cannot be decoded ({exc})") from exc
    return (values if values.max(initial=0) <= 1 and depth == 1 else values * ((1 << depth) - 1) // 255).astype(
        np.uint8
    )


def _pack(plane: np.ndarray, depth: int, width_bytes: int) -> np.ndarray:
    """Samples of `depth` bits packed MSB first into rows of `width_bytes`, the last byte zero-padded."""
    per_byte = 8 // depth
    h, w = plane.shape
    padded = np.zeros((h, width_bytes * per_byte), np.uint16)
    padded[:, :w] = plane
    shifts = (8 - depth * (np.arange(per_byte) + 1)).astype(np.uint16)
    packed: np.ndarray = (padded.reshape(h, width_bytes, per_byte) << shifts).sum(axis=2).astype(np.uint8)
    return packed


def _filtered(raw: np.ndarray, kinds: np.ndarray) -> np.ndarray:
    """Rows of unfiltered bytes filtered with each row's filter type (PNG filters, one byte per pixel)."""
    x = raw.astype(np.int16)
    a = np.pad(x, ((0, 0), (1, 0)))[:, :-1]  # the byte to the left
    b = np.pad(x, ((1, 0), (0, 0)))[:-1]  # the byte above
    c = np.pad(b, ((0, 0), (1, 0)))[:, :-1]  # above and to the left
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    paeth = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
    options = np.stack([x, x - a, x - b, x - (a + b) // 2, x - paeth])
    choice = np.minimum(kinds, 4).astype(np.intp)
    filtered: np.ndarray = (options[choice, np.arange(len(kinds))] & 0xFF).astype(np.uint8)
    return filtered


def _indices(state: State, frame: Frame, compressed: bytes) -> np.ndarray:
    """The palette indices of one frame's pixels, as Pillow decodes them."""
    _w, _h, depth, colour, interlace = state.header
    header = struct.pack(">IIBBBBB", frame.width, frame.height, depth, colour, 0, 0, interlace)
    png = SIGNATURE + chunk(b"IHDR", header) + chunk(b"PLTE", state.palette or b"") + chunk(b"IDAT", compressed)
    try:
        with Image.open(io.BytesIO(png + chunk(b"IEND", b""))) as im:
            im.load()
            return np.asarray(im)
    except (OSError, ValueError, SyntaxError) as exc:
        raise CorruptImageError(f"PNG palette image cannot be decoded ({exc})") from exc


def _palette(used: np.ndarray, state: State, parsed: Parsed) -> tuple[bytes, bytes]:
    """PLTE up to the highest entry a pixel uses, the unused ones zeroed; tRNS likewise (255 where unused)."""
    palette, trns = state.palette or b"", state.trns or b""
    count = len(palette) // 3
    top = int(np.flatnonzero(used)[-1]) + 1 if used.any() else 1
    if top > count:
        raise CorruptImageError(f"PNG pixels use palette entry {top - 1}; the palette has {count}")
    colours = np.frombuffer(palette, np.uint8).reshape(count, 3)
    mask = used[:count]
    if (unused := int((colours[~mask].any(axis=1)).sum())) > 0:
        parsed.add(
            state.palette_where, f"{unused} palette entries no pixel uses are not zero", Category.HIDDEN, 3 * unused
        )
    alpha = np.frombuffer(trns[:count], np.uint8)
    if len(trns) > count:
        parsed.add(
            state.trns_where,
            f"{len(trns) - count} bytes after the transparency of every palette entry",
            Category.HIDDEN,
            len(trns) - count,
        )
    if (odd := int((alpha[~mask[: len(alpha)]] != 255).sum())) > 0:
        parsed.add(state.trns_where, f"{odd} transparency entries no pixel uses are not opaque", Category.HIDDEN, odd)
    new_alpha = np.where(mask[: len(alpha)], alpha, 255)[:top]
    kept = np.flatnonzero(new_alpha != 255)
    new_trns = new_alpha[: int(kept[-1]) + 1].tobytes() if kept.size else b""
    return np.where(mask[:top, None], colours[:top], 0).astype(np.uint8).tobytes(), new_trns


def _trns_plain(state: State, parsed: Parsed) -> bytes:
    """tRNS of a greyscale or RGB image: one sample per channel, each within the bit depth; else dropped."""
    depth, colour = state.header[2:4]
    trns = state.trns
    if trns is None:
        return b""
    size = {0: 2, 2: 6}.get(colour, 0)
    if len(trns) > size:
        parsed.add(
            state.trns_where,
            f"{len(trns) - size} bytes no field of this colour type explains",
            Category.HIDDEN,
            len(trns) - size,
        )
    samples = [int.from_bytes(trns[i : i + 2], "big") for i in range(0, size, 2)]
    if len(trns) < size or any(s >> depth for s in samples):
        if size:
            parsed.add(state.trns_where, "transparent colour outside the bit depth", Category.HIDDEN, size)
        return b""
    return trns[:size]


def _data_chunk(kind: bytes, prefix: bytes, pieces: list[Piece], data: bytes) -> list[Piece]:
    view = memoryview(data)
    parts = [view[p[0] : p[1]] if isinstance(p, tuple) else p for p in pieces]
    crc = isal_zlib.crc32(kind + prefix)
    for part in parts:
        crc = isal_zlib.crc32(part, crc)
    length = len(prefix) + sum(len(part) for part in parts)
    return [struct.pack(">I", length) + kind + prefix, *pieces, struct.pack(">I", crc)]


def _finish(data: bytes, state: State, parsed: Parsed) -> None:
    """Account for the image's bytes and write the PNG strip keeps into parsed.keep."""
    frames = state.frames
    if not frames or not frames[0].default:
        raise CorruptImageError("PNG holds no image data")
    if state.actl is None and len(frames) > 1:
        parsed.add(frames[1].where, "animation frames without an animation control chunk", Category.HIDDEN)
        frames = frames[:1]
    animated = state.actl is not None and any(f.control is not None for f in frames)
    if unchecked(parsed, [(f.where, f.width, f.height) for f in frames]):
        return
    settled = [_settle(data, frame, state, parsed) for frame in frames]
    head: list[Piece] = [SIGNATURE, chunk(b"IHDR", struct.pack(">IIBBBBB", *state.header[:4], 0, 0, state.header[4]))]
    head += state.colour
    if animated and state.actl is not None:
        count = sum(f.control is not None for f in frames)
        head.append(chunk(b"acTL", struct.pack(">II", count, state.actl[1])))
    if state.header[3] == 3:
        if state.palette is None:
            raise CorruptImageError("PNG palette image has no palette")
        head += _palette_chunks(data, frames, settled, state, parsed)
    elif trns := _trns_plain(state, parsed):
        head.append(chunk(b"tRNS", trns))
    parsed.keep[:] = head + _frame_chunks(data, frames, settled, animated) + [chunk(b"IEND", b"")]


def _palette_chunks(
    data: bytes, frames: list[Frame], settled: list[tuple[list[Piece], bytes | None]], state: State, parsed: Parsed
) -> list[Piece]:
    used = np.zeros(256, bool)
    view = memoryview(data)
    for frame, (pieces, key) in zip(frames, settled, strict=True):
        known = EXACT.get(key) if key is not None else None
        if not isinstance(known, np.ndarray):
            compressed = b"".join(view[p[0] : p[1]] if isinstance(p, tuple) else p for p in pieces)
            known = np.zeros(256, bool)
            known[np.unique(_indices(state, frame, compressed))] = True
            if key is not None:
                EXACT.put(key, known)
        used |= known
    palette, trns = _palette(used, state, parsed)
    out: list[Piece] = [chunk(b"PLTE", palette)]
    return out + ([chunk(b"tRNS", trns)] if trns else [])


def _frame_chunks(
    data: bytes, frames: list[Frame], settled: list[tuple[list[Piece], bytes | None]], animated: bool
) -> list[Piece]:
    out: list[Piece] = []
    sequence = 0
    for frame, (pieces, _key) in zip(frames, settled, strict=True):
        if animated and frame.control is not None:
            out.append(chunk(b"fcTL", struct.pack(">IIIIIHHBB", sequence, *frame.control)))
            sequence += 1
        if frame.default:
            out += _data_chunk(b"IDAT", b"", pieces, data)
        elif animated:
            out += _data_chunk(b"fdAT", struct.pack(">I", sequence), pieces, data)
            sequence += 1
    return out
