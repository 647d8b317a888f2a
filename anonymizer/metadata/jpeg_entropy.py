"""Does decoding read every byte of a JPEG's entropy-coded data? Bytes it does not read can carry anything.

Where a scan's data ends can only be known by decoding its Huffman codes, so this asks libjpeg-turbo (through
simplejpeg, in memory, at 1/8 scale and in grey so that little more than the Huffman decoding runs). libjpeg
counts the whole bytes it skips before a restart marker, and before any other marker past the few bytes its
bit buffer has already read ahead; it warns of both ("N extraneous bytes before marker"). To close that gap at
the end of each scan, the check decodes a copy of the stream with the last byte of that scan's data cut off:
an honest encoder's last byte holds code bits (at most 7 padding bits follow the last code), so libjpeg must
then warn that the data ended early. If it does not, the byte was surplus. With simplejpeg's strict mode the
first warning stops the decode, so scans are checked in order and the first finding is returned.

One decode per scan: a baseline JPEG costs one 1/8-scale decode. Where data could end early before the cut (at
a restart marker, or in another scan), a decode of the whole stream first makes sure it never does, so that
the end libjpeg warns of is the cut's. For a progressive one, the copy that checks
scan k ends right after it and leaves out the earlier scans of other components (they cannot change how scan k
decodes), so the n decodes cost a few full ones, not n. The verdicts on the last few streams are remembered
(by a hash of the bytes, in memory only), so verifying a lossless strip's output, which is the very stream the
input's walk checked, costs a hash instead of a second decode.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

import simplejpeg  # type: ignore[import-untyped]  # no py.typed marker

PREMATURE = "premature end of data segment"
_EXTRANEOUS = re.compile(r"(\d+) extraneous bytes before marker 0x([0-9a-f]{2})")
MARKER_WORDS = {0xD9: "the end of the scan"}  # each checked copy ends its scan with EOI
REMEMBERED = 16
_verdicts: OrderedDict[bytes, tuple[int, str] | None] = OrderedDict()
_lock = threading.Lock()


@dataclass(frozen=True)
class Scan:
    """Where one scan lies in a stream: its header starts at `start`, its entropy-coded data ends at `end`."""

    start: int
    end: int
    components: frozenset[int]
    restarts: int = 0


def unread(stream: bytes, scans: list[Scan]) -> tuple[int, str] | None:
    """The first scan (its index in `scans`, -1 when libjpeg does not say which) whose entropy-coded data holds
    bytes decoding does not read or does not decode cleanly, with plain words; None when decoding reads every
    byte of it.

    scans: every scan with entropy-coded data, in file order.
    `stream` is a whole JPEG (SOI to EOI) holding nothing but image structure.
    """
    key = hashlib.sha256(stream).digest()  # collision-resistant: a crafted stream cannot borrow a verdict
    with _lock:
        if key in _verdicts:
            _verdicts.move_to_end(key)
            return _verdicts[key]
    verdict = _check(stream, scans)
    with _lock:
        _verdicts[key] = verdict
        while len(_verdicts) > REMEMBERED:
            _verdicts.popitem(last=False)
    return verdict


def _check(stream: bytes, scans: list[Scan]) -> tuple[int, str] | None:
    space = _colour_space(stream)
    if space is None:
        return -1, "libjpeg cannot read the frame header"
    if len(scans) > 1 or scans[0].restarts:
        # Every copy below must warn of the end of its data at the cut, not earlier: a stream whose data already
        # ends early somewhere (before a restart marker, or in an earlier scan) would hide that.
        warning = _first_warning(stream, space)
        if warning:
            return -1, _words(warning)
    for k in range(len(scans)):
        warning = _first_warning(_cut(stream, scans, k), space)
        if PREMATURE not in warning:
            return k, _words(warning)
    return None


def _cut(stream: bytes, scans: list[Scan], k: int) -> bytes:
    """The stream up to scan k's data less its last byte, then EOI; earlier scans of other components left out."""
    target = scans[k]
    parts = [stream[: scans[0].start]]
    for scan, after in itertools.pairwise(scans[: k + 1]):
        parts.append(stream[scan.start : after.start] if scan.components & target.components
                     else stream[scan.end : after.start])  # fmt: skip
    cut = 2 if stream[target.end - 2 : target.end] == b"\xff\x00" else 1  # a stuffed 0xFF is one byte of data
    parts += [stream[target.start : target.end - cut], b"\xff\xd9"]
    return b"".join(parts)


def _words(warning: str) -> str:
    if not warning:
        return "bytes after the end of the entropy-coded data that decoding never reads"
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
