"""Canaries: a marker string hidden in a file, and a search for it in an output's bytes.

`leaks` looks for the marker as ASCII, as UTF-16 (both byte orders) and inside every zlib, gzip or raw
deflate stream it can find (nested ones too, a few levels deep), so a marker that a writer re-compressed or
re-encoded as text is still found. Shared by the canary tests of every format.
"""

from __future__ import annotations

import contextlib
import io
import struct
import zlib

import numpy as np
from PIL import Image, ImageCms, ImageSequence

import anonymizer
from anonymizer import CleanOptions, InputError

MARKER = b"CANARY-7f3a9e-smuggled-through"
MAX_INFLATE = 64 * 1024 * 1024  # bytes inflated from one stream
RAW_DEFLATE_SCAN = 256 * 1024  # raw deflate has no header: try every offset only in data this small
STEP = 4096  # fed to the inflater at a time, so what inflated before a corrupt spot still counts
DEPTH = 3


def forms(marker: bytes) -> tuple[bytes, ...]:
    text = marker.decode("ascii")
    return marker, text.encode("utf-16-le"), text.encode("utf-16-be")


def leaks(data: bytes, marker: bytes = MARKER) -> bool:
    """Whether `data` carries `marker` in plain sight or inside any compressed stream in it."""
    return _leaks(bytes(data), forms(marker), DEPTH, raw=True)


def _leaks(data: bytes, needles: tuple[bytes, ...], depth: int, raw: bool = False) -> bool:
    if any(n in data for n in needles):
        return True
    if depth == 0:
        return False
    return any(_leaks(inner, needles, depth - 1) for inner in inflated(data, raw))


def inflated(data: bytes, raw: bool = False) -> list[bytes]:
    """Everything that inflates (to more than a few bytes) from some offset of `data`: streams with a zlib or
    gzip header, and with raw=True (and small data) raw deflate streams starting at any offset."""
    found = []
    raw = raw and len(data) <= RAW_DEFLATE_SCAN
    for pos in range(len(data) - 1):
        for wbits in _wbits(data, pos, raw):
            out = _inflate(data, pos, wbits)
            if len(out) >= 8:
                found.append(out)
    return found


def _wbits(data: bytes, pos: int, raw: bool) -> list[int]:
    cmf, flg = data[pos], data[pos + 1]
    options = []
    if cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf << 8 | flg) % 31 == 0:
        options.append(15)  # a zlib header
    if cmf == 0x1F and flg == 0x8B:
        options.append(31)  # a gzip header
    if raw and cmf & 0x06 != 0x06:  # BTYPE 11 is invalid: no raw deflate block starts so
        options.append(-15)
    return options


def _inflate(data: bytes, pos: int, wbits: int) -> bytes:
    inflater, view, out = zlib.decompressobj(wbits), memoryview(data), bytearray()
    for start in range(pos, len(data), STEP):
        try:
            out += inflater.decompress(view[start : start + STEP], MAX_INFLATE - len(out))
        except zlib.error:
            break
        if inflater.eof or len(out) >= MAX_INFLATE:
            break
    return bytes(out)


def profile_with_tag(signature: bytes, value: bytes) -> bytes:
    """A valid sRGB profile with one tag set to a 'text'-type tag holding `value` (added, or replacing one)."""
    base = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    count = int.from_bytes(base[128:132], "big")
    tags = {}
    for i in range(count):
        sig, offset, size = struct.unpack_from(">4sII", base, 132 + 12 * i)
        tags[sig] = base[offset : offset + size]
    tags[signature] = b"text" + bytes(4) + value + b"\x00"
    offset = 132 + 12 * len(tags)
    table, body = b"", b""
    for sig, tag in tags.items():
        table += sig + struct.pack(">II", offset + len(body), len(tag))
        body += tag + bytes(-len(tag) % 4)
    out = base[4:128] + struct.pack(">I", len(tags)) + table + body
    return struct.pack(">I", 4 + len(out)) + out


def outputs(data: bytes) -> dict[str, bytes]:
    """strip's outputs (it must succeed), and clean's where Pillow can decode the canary at all."""
    out = {"strip": anonymizer.strip(data).data, "strip --keep-icc": anonymizer.strip(data, keep_icc=True).data}
    with contextlib.suppress(InputError):
        out["clean"] = anonymizer.clean(data, CleanOptions(detect_faces=False)).data
    return out


def frames(data: bytes) -> list[np.ndarray]:
    with Image.open(io.BytesIO(data)) as im:
        return [np.asarray(frame.convert("RGBA")) for frame in ImageSequence.Iterator(im)]
