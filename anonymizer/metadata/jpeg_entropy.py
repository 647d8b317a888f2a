"""Does decoding read every byte of a JPEG's entropy-coded data? Bytes it does not read can carry anything.

Where a scan's data ends can only be known by decoding its Huffman codes, so this asks libjpeg-turbo (through
simplejpeg, in memory, at 1/8 scale and in grey so that little more than the Huffman decoding runs). libjpeg
counts the whole bytes it skips before a restart marker, and before any other marker past the few bytes its
bit buffer has already read ahead; it warns of both ("N extraneous bytes before marker"). To close that gap at
the end of each scan, the check decodes a copy of the stream with the last byte of that scan's data cut off:
an honest encoder's last byte holds code bits (at most 7 padding bits follow the last code), so libjpeg must
then warn that the data ended early. If it does not, the byte was surplus. With simplejpeg's strict mode the
first warning stops the decode, so scans are checked in order and the first finding is returned.

One decode per scan: a baseline JPEG costs one 1/8-scale decode; a progressive one with n scans stops at its
k-th scan on the k-th decode, about n/2 decodes in all. The verdicts on the last few streams are remembered
(by a hash of the bytes, in memory only), so verifying a lossless strip's output, which is the very stream the
input's walk checked, costs a hash instead of a second decode.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict

import simplejpeg  # type: ignore[import-untyped]  # no py.typed marker

PREMATURE = "premature end of data segment"
_EXTRANEOUS = re.compile(r"(\d+) extraneous bytes before marker 0x([0-9a-f]{2})")
MARKER_WORDS = {0xD9: "the end of the image", 0xDA: "the next scan", 0xC4: "the next Huffman tables"}
REMEMBERED = 16
_verdicts: OrderedDict[bytes, str] = OrderedDict()
_lock = threading.Lock()


def unread(stream: bytes, scan_ends: list[int]) -> str:
    """Plain words for the first stretch of entropy-coded data in `stream` that decoding does not read, or ''.

    scan_ends: for each scan with any entropy-coded data, the offset in `stream` where that data ends.
    `stream` is a whole JPEG (SOI to EOI) holding nothing but image structure.
    """
    key = hashlib.sha256(stream).digest()  # collision-resistant: a crafted stream cannot borrow a verdict
    with _lock:
        if key in _verdicts:
            _verdicts.move_to_end(key)
            return _verdicts[key]
    verdict = _check(stream, scan_ends)
    with _lock:
        _verdicts[key] = verdict
        while len(_verdicts) > REMEMBERED:
            _verdicts.popitem(last=False)
    return verdict


def _check(stream: bytes, scan_ends: list[int]) -> str:
    space = _colour_space(stream)
    if space is None:
        return "libjpeg cannot read the frame header"
    for number, end in enumerate(scan_ends, 1):
        cut = 2 if stream[end - 2 : end] == b"\xff\x00" else 1  # a stuffed 0xFF is one byte of data
        warning = _first_warning(stream[: end - cut] + stream[end:], space)
        if PREMATURE not in warning:
            return _words(number, warning)
    return ""


def _words(number: int, warning: str) -> str:
    if not warning:
        return f"scan {number}: bytes after the end of its entropy-coded data that decoding never reads"
    match = _EXTRANEOUS.search(warning)
    if match:
        marker = int(match.group(2), 16)
        before = f"restart marker {marker - 0xD0}" if 0xD0 <= marker <= 0xD7 else MARKER_WORDS.get(marker, "")
        where = before or f"marker {marker:#04x}"
        return f"{match.group(1)} bytes in the entropy-coded data that decoding never reads, before {where}"
    return f"the entropy-coded data does not decode cleanly (libjpeg: {warning.removeprefix('Corrupt JPEG data: ')})"


def _colour_space(stream: bytes) -> str | None:
    try:
        space = simplejpeg.decode_jpeg_header(stream)[2]
    except ValueError:
        return None
    return "CMYK" if space in ("CMYK", "YCCK") else "GRAY"


def _first_warning(stream: bytes, space: str) -> str:
    """libjpeg's first warning or error decoding `stream`, '' when there is none."""
    try:
        simplejpeg.decode_jpeg(stream, colorspace=space, min_height=1, min_width=1, strict=True)
    except ValueError as exc:  # simplejpeg's one exception type for libjpeg warnings and errors
        return str(exc) or "unknown error"
    return ""
