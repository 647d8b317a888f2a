"""What every container reader shares: the parse record, bounded reads and the reader registry entry.

A reader walks its container once and fills a `Parsed`: the findings in file order, the byte ranges
(or rebuilt bytes) that decoding needs, and the EXIF orientation. Every length read from the file is
checked against the data before use; a lie ends in CorruptImageError or TooLargeError, never in an
IndexError or struct.error.
"""

from __future__ import annotations

import hashlib
import struct
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import CorruptImageError, TooLargeError
from ..options import Limits
from .report import Category, Finding, Risk

Piece = tuple[int, int] | bytes

# Counts no honest photo comes near, so that a file made of thousands of tiny segments, chunks or boxes ends
# in TooLargeError instead of millions of findings: a 200 MB PNG in 8 kB IDAT chunks has 25 000 parts, an
# animated GIF of 10 000 frames 20 000.
MAX_PARTS = 50_000
MAX_FINDINGS = 50_000
# Payloads (EXIF blocks, XMP packets, IPTC, Photoshop and C2PA blocks, trailers) read in detail per file; the
# rest are listed with their size only. Real photos carry a handful; a file of 2000 copies of one EXIF block
# would otherwise cost a millisecond of parsing each, in inspect and again in strip and clean.
MAX_DETAILED = 64


@dataclass
class Parsed:
    """The result of one walk over a container."""

    format: str
    limits: Limits
    keep_icc: bool = False  # strip keeps the colour profile's parts too: the user asked to
    kept_colour: bool = False  # a colour-profile part was kept (keep_icc)
    findings: list[Finding] = field(default_factory=list)
    keep: list[Piece] = field(default_factory=list)
    orientation: int = 1
    exif_blocks: int = 0
    header_seen: bool = False
    notes: list[str] = field(default_factory=list)
    extra: dict[str, int] = field(default_factory=dict)  # reader-specific facts needed to rebuild
    # Set by a reader whose lossless rebuild cannot be trusted for this file (e.g. surplus bytes inside a JPEG
    # entropy-coded stream): why strip must re-encode from pixels instead; '' when the rebuild is lossless.
    reencode_why: str = ""
    pos: int = 0
    parts: int = 0
    payloads: int = 0

    def add(self, where: str, what: str, category: Category, size: int = 0, risk: Risk | None = None) -> None:
        if len(self.findings) >= MAX_FINDINGS:
            raise TooLargeError(f"{self.format.upper()} carries more than {MAX_FINDINGS} metadata items")
        self.findings.append(Finding(where=where, what=what, category=category, size=size, risk=risk))

    def part(self) -> None:
        """Count one segment, chunk, block or box of the container; TooLargeError past MAX_PARTS."""
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise TooLargeError(f"{self.format.upper()} is made of more than {MAX_PARTS} parts")

    def detailed(self, where: str, kind: str, size: int) -> bool:
        """Whether to read one more payload in detail; past MAX_DETAILED it is listed (never clean) instead."""
        self.payloads += 1
        if self.payloads <= MAX_DETAILED:
            return True
        self.add(
            where,
            f"{kind}, {human_size(size)} (not read: over {MAX_DETAILED} metadata blocks in this file)",
            Category.UNKNOWN,
            size,
            Risk.HIGH,
        )
        return False

    def keep_colour(self, piece: Piece, since: int) -> bool:
        """With keep_icc, keep a colour-profile part (ICC profile, PNG colour chunk) bit-exact, provided all it
        was reported as (the findings from index `since` on) is colour profile. Returns whether it was kept."""
        if self.keep_icc and all(f.category is Category.COLOUR_PROFILE for f in self.findings[since:]):
            self.keep.append(piece)
            self.kept_colour = True
            return True
        return False

    def note(self, text: str) -> None:
        """A note for the strip's result, once."""
        if text not in self.notes:
            self.notes.append(text)

    def kept_profile(self, profile: bytes, label: str) -> bytes | None:
        """With keep_icc, the colour profile rebuilt with its colour tags only; None (and a note saying why) when
        it is not a valid profile, so nothing labelled a profile is kept unless it is one. The caller sets
        kept_colour once the profile is really placed in the output."""
        from . import icc

        rebuilt = icc.rebuild_profile(profile)
        if rebuilt is None:
            self.note(f"{label} is not a colour profile we keep ({icc.describe_problem(profile)}); removed")
        return rebuilt

    def structure(self, where: str, what: str, size: int = 0) -> None:
        self.add(where, what, Category.STRUCTURE, size)

    def unparseable(self, where: str, exc: Exception, size: int = 0) -> None:
        self.add(where, f"unparseable data ({exc})", Category.UNKNOWN, size, Risk.HIGH)

    def assemble(self, data: bytes) -> bytes:
        view = memoryview(data)  # slices of a view are not copied before the join
        return b"".join([p if isinstance(p, bytes) else view[p[0] : p[1]] for p in self.keep])


@dataclass(frozen=True)
class Reader:
    """One container format: how to walk it and, where we can, how to rebuild it without metadata.

    rebuild None means the format is stripped by re-encoding its pixels.
    """

    parse: Callable[[bytes, Parsed], None]
    rebuild: Callable[[bytes, Parsed], bytes] | None = None
    reencode_why: str = ""


def need(data: bytes, off: int, n: int, what: str) -> None:
    """Raise unless data[off:off+n] lies inside the data."""
    if off < 0 or n < 0 or off + n > len(data):
        raise CorruptImageError(f"{what} at offset {off:#x} runs past the end of the data (truncated or corrupt)")


def check_item(n: int, limits: Limits, what: str) -> None:
    if n > limits.max_item_bytes:
        raise TooLargeError(f"{what} claims {n} bytes; the limit for one item is {limits.max_item_bytes} bytes")


def unpack(fmt: str, data: bytes, off: int, what: str) -> tuple[int, ...]:
    """struct.unpack_from with a bounds check first; integers only."""
    need(data, off, struct.calcsize(fmt), what)
    return struct.unpack_from(fmt, data, off)


def u8(data: bytes, off: int, what: str) -> int:
    need(data, off, 1, what)
    return data[off]


def u16(data: bytes, off: int, what: str, big: bool = True) -> int:
    return unpack(">H" if big else "<H", data, off, what)[0]


def u32(data: bytes, off: int, what: str, big: bool = True) -> int:
    return unpack(">I" if big else "<I", data, off, what)[0]


def cstring(data: bytes, off: int, end: int, what: str) -> tuple[str, int]:
    """A NUL-terminated string starting at off, ending before end; returns (text, offset after the NUL)."""
    nul = data.find(b"\x00", off, end)
    if nul < 0:
        nul = end
        after = end
    else:
        after = nul + 1
    if off > end:
        raise CorruptImageError(f"{what} at offset {off:#x} runs past its box")
    return data[off:nul].decode("utf-8", "replace"), after


def human_size(n: int) -> str:
    if n < 1000:
        return f"{n} bytes"
    if n < 1_000_000:
        return f"{n / 1000:.1f} kB"
    return f"{n / 1e6:.1f} MB"


def printable(raw: bytes, limit: int = 60) -> str:
    """Text for a report: decoded leniently, control characters dropped, shortened."""
    text = raw[: limit * 4].decode("utf-8", "replace").replace("\x00", " ").strip()
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def tag_name(raw: bytes) -> str:
    """A four-character code or APP identifier shown in a report."""
    return "".join(chr(b) if 32 <= b < 127 else "?" for b in raw)


SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


def jpeg_dimensions(data: bytes, start: int = 0, end: int | None = None) -> tuple[int, int] | None:
    """Width and height of a JPEG stream starting at `start`, or None when it cannot be read."""
    end = len(data) if end is None else min(end, len(data))
    pos = start + 2
    if data[start : start + 2] != b"\xff\xd8":
        return None
    for _ in range(512):  # a SOF comes within a few segments; give up on anything stranger
        if pos + 4 > end or data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker in SOF_MARKERS and pos + 9 <= end:
            return int.from_bytes(data[pos + 7 : pos + 9], "big"), int.from_bytes(data[pos + 5 : pos + 7], "big")
        if marker in (0xD9, 0xDA) or length < 2:
            return None
        pos += 2 + length
    return None


class Memo:
    """What was found in image data already checked, by digest, for the last `size` pieces of image data: strip
    inspects its own output to verify it, and that output holds the same image data it just checked."""

    def __init__(self, size: int = 64) -> None:
        self._items: OrderedDict[bytes, object] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    @staticmethod
    def key(head: bytes, parts: list[memoryview]) -> bytes:
        digest = hashlib.sha256(head)
        for part in parts:
            digest.update(part)
        return digest.digest()[:16]

    def get(self, key: bytes) -> object | None:
        with self._lock:
            return self._items.get(key)

    def put(self, key: bytes, value: object) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        """Forget everything (a benchmark's repeats then cost what a first call costs)."""
        with self._lock:
            self._items.clear()


def unchecked(parsed: Parsed, images: list[tuple[str, int, int]]) -> bool:
    """Whether an image (where, width, height) is over the pixel limit: then its data is not decoded to be
    checked, that is reported, and strip re-encodes from pixels (where decoding refuses it as too large)."""
    for where, width, height in images:
        if width * height > parsed.limits.max_pixels:
            why = f"{width}x{height} is over the pixel limit"
            parsed.add(where, f"image data not checked for hidden bytes: {why}", Category.UNKNOWN, risk=Risk.HIGH)
            parsed.reencode_why = f"its image data cannot be checked for hidden bytes ({why})"
            return True
    return False
