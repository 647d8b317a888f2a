"""WebP: the RIFF chunks, the VP8X feature flags, and anything after the RIFF end; strip writes a new RIFF.

Strip never copies a chunk: it writes VP8X (only when alpha in an ALPH chunk, animation or a kept profile needs
it; flags from what is kept, reserved bits zero), ANIM (6 bytes) and ANMF (16 bytes of fields, then only the
frame's ALPH and VP8/VP8L chunks) from their fields, and each bitstream cut at its own end. VP8, VP8L and
compressed ALPH do not record their length (the last VP8 partition runs to the chunk's end), so the end is
found by decoding: the shortest prefix that libwebp decodes completely (its incremental decoder, fed the chunk's
last bytes one at a time, says where: one decode), and the zero bytes right after it (libwebp's VP8 encoder
flushes a few bytes the decoder never needs, mostly zero). Raw ALPH is exactly
one byte per pixel. Padding bytes are zero. With keep_icc the ICCP chunk stays with a rebuilt profile.
Whatever no field explains is reported as hidden data.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import io
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import PIL
from PIL import Image

from ..errors import CorruptImageError
from . import blobs, exif, xmp
from .base import Memo, Parsed, Piece, check_item, human_size, need, tag_name, u32, unchecked
from .report import Category

KEEP = {b"VP8 ", b"VP8L", b"ALPH", b"ANIM", b"ANMF"}
BITSTREAMS = {b"VP8 ", b"VP8L"}
FLAG_ANIMATION, FLAG_XMP, FLAG_EXIF, FLAG_ALPHA, FLAG_ICC = 0x02, 0x04, 0x08, 0x10, 0x20
# libwebp's VP8 encoder flushes its arithmetic coder with up to a few bytes the decoder does not need (measured:
# 1 to 5); zero bytes right after the decodable end are kept (they carry nothing, and normal files stay
# bit-exact), other bytes are cut, and more than this many cut bytes are reported as hidden data
VP8_FLUSH_SLACK = 8
ENDS = Memo()  # digest of a frame's bitstreams -> (alpha end, bitstream end)


@dataclass
class Frame:
    """One image: a still WebP's bitstream, or one animation frame's."""

    where: str
    width: int = 0
    height: int = 0
    header: bytes = b""  # ANMF fields, rebuilt
    alpha: tuple[int, int] | None = None  # ALPH payload in the file
    alpha_where: str = ""
    kind: bytes = b""  # VP8 or VP8L
    stream: tuple[int, int] = (0, 0)  # the bitstream's payload in the file


@dataclass
class State:
    flags: int | None = None
    canvas: tuple[int, int] = (0, 0)
    anim: bytes | None = None
    icc: bytes | None = None
    frames: list[Frame] = field(default_factory=list)


def parse(data: bytes, parsed: Parsed) -> None:
    need(data, 0, 12, "RIFF header")
    total = u32(data, 4, "RIFF size", big=False) + 8
    if total > len(data):
        raise CorruptImageError(f"WebP says it is {total} bytes long but only {len(data)} are there (truncated)")
    state = State()
    pos = 12
    while pos < total:
        parsed.pos = pos
        parsed.part()
        pos = _chunk(data, pos, total, state, parsed)
    if not parsed.header_seen or not state.frames:
        raise CorruptImageError("WebP holds no image bitstream (VP8 or VP8L)")
    images = [(f.where, f.width, f.height) for f in state.frames]
    if state.anim is not None:
        images.append(("WebP VP8X chunk", *state.canvas))
    if not unchecked(parsed, images):
        parsed.keep[:] = _write(data, state, parsed)
    blobs.trailer_findings(data, total, f"WebP after RIFF end @ {total:#x}", parsed)


def _header(data: bytes, pos: int, end: int, parsed: Parsed, nested: bool = False) -> tuple[bytes, int, int, str]:
    """A chunk's kind, the offset after its payload, the offset after its padding, and where it is."""
    need(data, pos, 8, "WebP chunk header")
    kind, size = data[pos : pos + 4], u32(data, pos + 4, "WebP chunk size", big=False)
    if kind not in KEEP and not nested:  # image data is bounded by decoding; metadata items by the item limit
        check_item(size, parsed.limits, f"WebP chunk '{tag_name(kind)}'")
    if pos + 8 + size > end:
        raise CorruptImageError(f"WebP chunk '{tag_name(kind)}' at offset {pos:#x} runs past its container")
    where = f"WebP {tag_name(kind).strip()} chunk @ {pos:#x}"
    padded = min(pos + 8 + size + (size & 1), end)
    if padded > pos + 8 + size and data[pos + 8 + size]:
        parsed.add(where, "its padding byte is not zero", Category.HIDDEN, 1)
    return kind, pos + 8 + size, padded, where


def _chunk(data: bytes, pos: int, total: int, state: State, parsed: Parsed) -> int:
    kind, end, padded, where = _header(data, pos, total, parsed)
    body_at = pos + 8
    if kind in (b"VP8 ", b"VP8L", b"ALPH"):
        if state.anim is not None or (state.frames and state.frames[-1].kind):
            parsed.add(where, "image data outside an animation frame, or a second image", Category.HIDDEN,
                       end - pos)
            return padded
        if not state.frames:
            state.frames.append(Frame(where))
        _frame_chunk(data, kind, body_at, end, where, state.frames[-1], parsed)
    elif kind == b"ANMF":
        _anmf(data, body_at, end, where, state, parsed)
    elif kind == b"ANIM":
        _anim(data[body_at:end], where, state, parsed)
    elif kind == b"VP8X":
        _vp8x(data[body_at:end], where, state, parsed)
    elif kind == b"ICCP":
        _iccp(data[body_at:end], where, state, parsed)
    elif kind == b"EXIF":
        exif.findings(exif.tiff_start(data[body_at:end]), where, parsed)
    elif kind in (b"XMP ", b"XMP\x00"):
        xmp.findings(data[body_at:end], where, parsed)
    else:
        parsed.add(where, f"unknown chunk ({human_size(end - body_at)})", Category.UNKNOWN, end - body_at)
    return padded


def _slack(where: str, size: int, fields: int, parsed: Parsed) -> None:
    if size > fields:
        parsed.add(where, f"{size - fields} bytes after the chunk's {fields} bytes of fields", Category.HIDDEN,
                   size - fields)
    elif size < fields:
        raise CorruptImageError(f"{where} is {size} bytes long; it needs {fields}")


def _vp8x(body: bytes, where: str, state: State, parsed: Parsed) -> None:
    _slack(where, len(body), 10, parsed)
    if state.flags is not None:
        parsed.add(where, "a second extended header", Category.HIDDEN, len(body))
        return
    if body[0] & 0xC1 or any(body[1:4]):
        parsed.add(where, "reserved bits of the extended header are set", Category.HIDDEN, 4)
    state.flags = body[0]
    state.canvas = (int.from_bytes(body[4:7], "little") + 1, int.from_bytes(body[7:10], "little") + 1)
    parsed.structure(where, "extended header (rebuilt without metadata flags)", 18)


def _anim(body: bytes, where: str, state: State, parsed: Parsed) -> None:
    _slack(where, len(body), 6, parsed)
    if state.anim is not None or state.frames:
        parsed.add(where, "animation parameters after the frames, or twice", Category.HIDDEN, len(body))
        return
    state.anim = body[:6]
    parsed.structure(where, "animation parameters", 14)


def _iccp(body: bytes, where: str, state: State, parsed: Parsed) -> None:
    since = len(parsed.findings)
    blobs.icc_findings(body, where, parsed)
    placed = state.flags is not None and state.anim is None and not state.frames and state.icc is None
    if not parsed.keep_icc or not placed:
        return
    if any(f.category is not Category.COLOUR_PROFILE for f in parsed.findings[since:]):
        return
    state.icc = parsed.kept_profile(body, "WebP ICCP chunk")
    parsed.kept_colour = state.icc is not None


def _anmf(data: bytes, start: int, end: int, where: str, state: State, parsed: Parsed) -> None:
    if end - start < 16:
        raise CorruptImageError(f"{where} is too short for a frame header")
    if state.anim is None:
        parsed.add(where, "animation frame without animation parameters", Category.HIDDEN, end - start)
        return
    head = data[start : start + 16]
    if head[15] & 0xFC:
        parsed.add(where, "reserved bits of the frame header are set", Category.HIDDEN, 1)
    frame = Frame(where, int.from_bytes(head[6:9], "little") + 1, int.from_bytes(head[9:12], "little") + 1,
                  head[:15] + bytes([head[15] & 0x03]))
    parsed.structure(where, f"animation frame {frame.width}x{frame.height}", 24)
    pos = start + 16
    while pos < end:
        parsed.part()
        if pos + 8 > end or pos + 8 + u32(data, pos + 4, "WebP chunk size", big=False) > end:
            parsed.add(f"{where} @ {pos:#x}", f"{end - pos} bytes no chunk explains", Category.HIDDEN, end - pos)
            break
        kind, inner_end, padded, inner_where = _header(data, pos, end, parsed, nested=True)
        if kind in (b"ALPH", b"VP8 ", b"VP8L") and not frame.kind:
            _frame_chunk(data, kind, pos + 8, inner_end, inner_where, frame, parsed)
        else:
            parsed.add(inner_where, f"chunk '{tag_name(kind)}' inside an animation frame, "
                       f"{human_size(inner_end - pos)}", Category.HIDDEN, inner_end - pos)
        pos = padded
    if not frame.kind:
        raise CorruptImageError(f"{where} holds no image bitstream")
    state.frames.append(frame)
    parsed.header_seen = True


def _frame_chunk(data: bytes, kind: bytes, start: int, end: int, where: str, frame: Frame, parsed: Parsed) -> None:
    if kind == b"ALPH":
        if frame.alpha is not None or end == start:
            parsed.add(where, "a second or empty alpha chunk", Category.HIDDEN, end - start)
            return
        frame.alpha, frame.alpha_where = (start, end), where
        parsed.structure(where, "alpha channel", end - start + 8)
        return
    frame.kind, frame.stream = kind, (start, end)
    if kind == b"VP8L" and frame.alpha is not None:  # a lossless bitstream carries its own alpha
        parsed.add(frame.alpha_where, "alpha chunk beside a lossless bitstream", Category.HIDDEN,
                   frame.alpha[1] - frame.alpha[0])
        frame.alpha = None
    width, height = _dimensions(kind, data[start : min(end, start + 10)], where)
    if frame.header and (width, height) != (frame.width, frame.height):
        raise CorruptImageError(f"{where}: bitstream is {width}x{height}, its frame {frame.width}x{frame.height}")
    frame.width, frame.height = width, height
    parsed.header_seen = True
    label = "lossy image data (VP8)" if kind == b"VP8 " else "lossless image data (VP8L)"
    parsed.structure(where, f"{label} {width}x{height}", end - start + 8)


def _dimensions(kind: bytes, head: bytes, where: str) -> tuple[int, int]:
    if kind == b"VP8 " and len(head) >= 10 and head[3:6] == b"\x9d\x01\x2a" and not head[0] & 1:
        width, height = struct.unpack_from("<HH", head, 6)
        return width & 0x3FFF, height & 0x3FFF
    if kind == b"VP8L" and len(head) >= 5 and head[0] == 0x2F and not head[4] & 0xE0:
        bits = int.from_bytes(head[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    raise CorruptImageError(f"{where} does not start like a {tag_name(kind).strip()} key frame")


# --- where each bitstream ends ---------------------------------------------------------------------------------


def _riff(chunks: list[bytes]) -> bytes:
    body = b"".join(chunks)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def _raw_chunk(kind: bytes, payload: bytes | memoryview) -> bytes:
    return kind + struct.pack("<I", len(payload)) + bytes(payload) + (b"\x00" if len(payload) & 1 else b"")


def _still(frame: Frame, alpha: bytes | None, stream: bytes) -> bytes:
    """A still WebP of one frame's bitstreams, for decoding."""
    if alpha is None:
        return _riff([_raw_chunk(frame.kind, stream)])
    canvas = (frame.width - 1).to_bytes(3, "little") + (frame.height - 1).to_bytes(3, "little")
    vp8x = _raw_chunk(b"VP8X", bytes([FLAG_ALPHA, 0, 0, 0]) + canvas)
    return _riff([vp8x, _raw_chunk(b"ALPH", alpha), _raw_chunk(frame.kind, stream)])


def _decode(webp: bytes) -> np.ndarray | None:
    try:
        with Image.open(io.BytesIO(webp)) as im:
            im.load()
            return np.asarray(im)
    except (OSError, ValueError, SyntaxError, EOFError):
        return None


def _decodes_to(full: np.ndarray | None, build: Callable[[int], bytes]) -> Callable[[int], bool]:
    """Whether build(n) decodes: completely, by libwebp's incremental decoder (the same test that finds where a
    bitstream ends, so that strip's output passes its own verification); without it, to `full`, by Pillow."""

    def decodes(n: int) -> bool:
        if LIBWEBP is not None:
            return _complete(build(n))
        out = _decode(build(n))
        return out is not None and full is not None and np.array_equal(out, full)

    return decodes


def _shortest(size: int, same: Callable[[int], bool]) -> int:
    """The shortest length n <= size for which same(n) holds (it holds for size, and for every n past the
    shortest); size when nothing shorter does."""
    good, step = size, 1
    while good - step >= 0 and same(good - step):  # normal streams end at or next to the chunk's end
        good -= step
        step *= 2
    bad = max(good - step, -1)
    while good - bad > 1:  # same(good) holds, same(bad) does not (or bad is -1)
        middle = (good + bad) // 2
        if same(middle):
            good = middle
        else:
            bad = middle
    return good


def _ends(data: bytes, frame: Frame) -> tuple[int, int]:
    """The decodable length of the frame's alpha payload and bitstream payload."""
    stream = data[frame.stream[0] : frame.stream[1]]
    alpha = data[frame.alpha[0] : frame.alpha[1]] if frame.alpha else None
    head = frame.kind + len(alpha or b"").to_bytes(8, "little") + bytes([alpha is not None])
    key = Memo.key(head, [memoryview(alpha or b""), memoryview(stream)])
    known = ENDS.get(key)
    if isinstance(known, tuple):
        return known
    compressed_alpha = alpha is not None and alpha[0] & 0x03 != 0
    full = _full(frame, alpha, stream) if LIBWEBP is None or compressed_alpha else None
    stream_end = _incremental_end(frame, alpha, stream)
    if stream_end is None:  # libwebp not reachable, or more than a few bytes after the end: search by decoding
        decodes = _decodes_to(full, lambda n: _still(frame, alpha, stream[:n]))
        if not decodes(len(stream)):
            raise CorruptImageError(f"{frame.where}: the image bitstream does not decode")
        stream_end = _shortest(len(stream), decodes)
    decodable = stream_end
    while stream_end < len(stream) and stream[stream_end] == 0 and stream_end - decodable < VP8_FLUSH_SLACK:
        stream_end += 1
    alpha_end = 0
    if alpha is not None:
        alpha_end = _alpha_end(frame, alpha, stream[:stream_end], full)
    ENDS.put(key, (alpha_end, stream_end))
    return alpha_end, stream_end


def _full(frame: Frame, alpha: bytes | None, stream: bytes) -> np.ndarray:
    full = _decode(_still(frame, alpha, stream))
    if full is None:
        raise CorruptImageError(f"{frame.where}: the image bitstream does not decode")
    return full


def _alpha_end(frame: Frame, alpha: bytes, stream: bytes, full: np.ndarray | None) -> int:
    """Where the alpha data ends: raw, one byte per pixel; compressed, the shortest prefix that still decodes to
    the same pixels (a cut alpha stream may decode, to other alpha values)."""
    if alpha[0] & 0x03 == 0:  # uncompressed: one byte per pixel after the header byte
        return min(len(alpha), 1 + frame.width * frame.height)
    reference = full if full is not None else _full(frame, alpha, stream)

    def same(n: int) -> bool:
        out = _decode(_still(frame, alpha[:n], stream))
        return out is not None and np.array_equal(out, reference)

    return max(1, _shortest(len(alpha), same))


# --- libwebp's incremental decoder: one decode finds where a bitstream ends ------------------------------------

INCREMENTAL_TAIL = 16  # bytes before the chunk's end from which the incremental decoder is fed one at a time
STATUS_OK, STATUS_SUSPENDED = 0, 5


def _libwebp() -> ctypes.CDLL | None:
    """The libwebp Pillow decodes with (bundled in its wheel), else the system's; None when neither loads."""
    here = Path(PIL.__file__).resolve().parent
    names = [*here.parent.glob("pillow.libs/libwebp-*"), *here.glob(".dylibs/libwebp*"), *here.glob("libwebp*.dll")]
    system = ctypes.util.find_library("webp")
    for name in [*(str(n) for n in names if "demux" not in n.name and "mux" not in n.name), system]:
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
            lib.WebPINewDecoder.restype, lib.WebPINewDecoder.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
            lib.WebPIUpdate.restype = ctypes.c_int
            lib.WebPIUpdate.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
            lib.WebPIDelete.restype, lib.WebPIDelete.argtypes = None, [ctypes.c_void_p]
        except (OSError, AttributeError):
            continue
        return lib
    return None


LIBWEBP = _libwebp()


def _incremental_end(frame: Frame, alpha: bytes | None, stream: bytes) -> int | None:
    """The shortest length of `stream` libwebp decodes completely, found by feeding its incremental decoder the
    last INCREMENTAL_TAIL bytes one at a time; None when the decoder is not available, when the stream decodes
    without them (more surplus than that) or not at all: the caller searches then, with the same test on every
    prefix, so that a stream cut where it ends is found to end there again."""
    if LIBWEBP is None:
        return None
    still = _still(frame, alpha, stream)
    start = len(still) - len(stream) - (len(stream) & 1)
    stop = start + len(stream)
    decoder = LIBWEBP.WebPINewDecoder(None)
    if not decoder:
        return None
    try:
        first = max(start + 1, stop - INCREMENTAL_TAIL)
        for size in range(first, stop + 1):
            status = LIBWEBP.WebPIUpdate(decoder, still, size)
            if status == STATUS_OK:
                return None if size == first and first > start + 1 else size - start
            if status != STATUS_SUSPENDED:
                return None
    finally:
        LIBWEBP.WebPIDelete(decoder)
    return None


def _complete(webp: bytes) -> bool:
    """Whether libwebp's incremental decoder, given all of `webp`, decodes it completely."""
    assert LIBWEBP is not None
    decoder = LIBWEBP.WebPINewDecoder(None)
    if not decoder:
        return False
    try:
        return bool(LIBWEBP.WebPIUpdate(decoder, webp, len(webp)) == STATUS_OK)
    finally:
        LIBWEBP.WebPIDelete(decoder)


# --- writing ------------------------------------------------------------------------------------------------------


def _payload(kind: bytes, start: int, length: int) -> list[Piece]:
    pieces: list[Piece] = [kind + struct.pack("<I", length), (start, start + length)]
    return pieces + ([b"\x00"] if length & 1 else [])


def _frame_pieces(data: bytes, frame: Frame, parsed: Parsed) -> list[Piece]:
    alpha_end, stream_end = _ends(data, frame)
    surplus = frame.stream[1] - frame.stream[0] - stream_end
    if surplus > (VP8_FLUSH_SLACK if frame.kind == b"VP8 " else 0):
        parsed.add(frame.where, f"{surplus} bytes after the end of the image bitstream", Category.HIDDEN, surplus)
    pieces: list[Piece] = []
    if frame.alpha is not None:
        alpha = data[frame.alpha[0]]
        if alpha & 0xC0:
            parsed.add(frame.alpha_where, "reserved bits of the alpha header are set", Category.HIDDEN, 1)
        if (extra := frame.alpha[1] - frame.alpha[0] - alpha_end) > 0:
            parsed.add(frame.alpha_where, f"{extra} bytes after the end of the alpha data", Category.HIDDEN, extra)
        pieces += [b"ALPH" + struct.pack("<I", alpha_end), bytes([alpha & 0x3F])]
        pieces += [(frame.alpha[0] + 1, frame.alpha[0] + alpha_end)] + ([b"\x00"] if alpha_end & 1 else [])
    return pieces + _payload(frame.kind, frame.stream[0], stream_end)


def _write(data: bytes, state: State, parsed: Parsed) -> list[Piece]:
    animated = state.anim is not None
    frames = state.frames if animated else state.frames[:1]
    out: list[Piece] = []
    for frame in frames:
        pieces = _frame_pieces(data, frame, parsed)
        if animated:
            size = 16 + sum(p[1] - p[0] if isinstance(p, tuple) else len(p) for p in pieces)
            pieces = [b"ANMF" + struct.pack("<I", size) + frame.header, *pieces]
        out += pieces
    alpha = any(f.alpha is not None for f in frames)
    if not (animated or alpha or state.icc):
        return out
    if state.flags is None:
        raise CorruptImageError("WebP has animation or alpha chunks but no VP8X header")
    flags = (FLAG_ANIMATION if animated else 0) | (state.flags & FLAG_ALPHA) | (FLAG_ALPHA if alpha else 0)
    flags |= FLAG_ICC if state.icc else 0
    width, height = state.canvas if animated else (frames[0].width, frames[0].height)  # a still: its bitstream's
    if (width, height) != state.canvas:
        parsed.add("WebP VP8X chunk", f"canvas {state.canvas[0]}x{state.canvas[1]} is not the image's {width}x{height}",
                   Category.HIDDEN, 6)
    canvas = (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    head = [_raw_chunk(b"VP8X", bytes([flags, 0, 0, 0]) + canvas)]
    head += [_raw_chunk(b"ICCP", state.icc)] if state.icc else []
    head += [_raw_chunk(b"ANIM", state.anim)] if state.anim is not None else []
    return [*head, *out]


def rebuild(data: bytes, parsed: Parsed) -> bytes:
    chunks = parsed.assemble(data)
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + chunks
