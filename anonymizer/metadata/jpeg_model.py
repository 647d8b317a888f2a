"""What the JPEG walk collects: the frame, table definitions and which of them scans use, restart counts,
ICC chunks, and the pieces of the output in file order; and how the output is written from them."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ..errors import CorruptImageError
from .base import Parsed, Piece, human_size
from .jpeg_entropy import Scan
from .report import Category

HUFFMAN_DCT = frozenset({0xC0, 0xC1, 0xC2})  # the processes whose entropy-coded data is checked and kept
PROGRESSIVE = 0xC2


@dataclass(frozen=True)
class Chunk:
    """One ICC_PROFILE APP2 segment."""

    seq: int
    count: int
    payload: bytes
    where: str


@dataclass
class Frame:
    marker: int
    start: int
    height: int
    width: int
    components: dict[int, tuple[int, int, int]]  # component id -> (h, v, quantisation table id)
    latched: set[int] = field(default_factory=set)  # components whose quantisation table a scan has fixed

    def units(self, ids: list[int]) -> int:
        """MCUs in a scan of these components."""
        hmax = max(h for h, _, _ in self.components.values())
        vmax = max(v for _, v, _ in self.components.values())
        if len(ids) > 1:
            return _ceil(self.width, 8 * hmax) * _ceil(self.height, 8 * vmax)
        h, v, _ = self.components[ids[0]]
        return _ceil(_ceil(self.width * h, hmax), 8) * _ceil(_ceil(self.height * v, vmax), 8)


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


@dataclass
class Table:
    where: str
    kind: str
    ident: int
    body: bytes
    used: bool = False
    symbols: bytes = b""  # a Huffman table's symbol list


@dataclass
class Tables:
    """One DQT or DHT segment: written at the end with only the tables a frame or scan used."""

    marker: int
    walk: Walk
    items: list[Table] = field(default_factory=list)

    def add(self, where: str, kind: str, ident: int, body: bytes, symbols: bytes = b"") -> None:
        table = Table(where, kind, ident, body, symbols=symbols)
        self.items.append(table)
        (self.walk.quant if self.marker == 0xDB else self.walk.huffman)[ident] = table

    def render(self) -> bytes:
        body = b"".join(t.body for t in self.items if t.used)
        return struct.pack(">BBH", 0xFF, self.marker, len(body) + 2) + body if body else b""


@dataclass
class Walk:
    """State of one walk over a JPEG."""

    parsed: Parsed
    body: list[Piece | Tables] = field(default_factory=list)
    jfif: bytes | None = None
    adobe: bytes | None = None
    frame: Frame | None = None
    icc: list[Chunk] = field(default_factory=list)
    quant: dict[int, Table] = field(default_factory=dict)
    huffman: dict[int, Table] = field(default_factory=dict)  # (class << 4 | id) -> latest definition
    interval: int = 0
    # per scan: len(body) at its header, len(body) where its entropy-coded data ends (0: it has none), components,
    # restart markers kept
    scans: list[tuple[int, int, frozenset[int], int]] = field(default_factory=list)
    scan_offsets: list[int] = field(default_factory=list)  # where each scan header is in the input
    restarts: list[int] = field(default_factory=list)  # body indexes of the current scan's restart markers
    expected_restarts: int = 0
    last_data: int = 0  # len(body) after the current scan's last stretch of entropy-coded data; 0: none yet

    def hidden(self, where: str, what: str, size: int) -> None:
        self.parsed.add(where, what, Category.HIDDEN, size)

    def tables(self, marker: int) -> Tables:
        segment = Tables(marker, self)
        self.body.append(segment)
        return segment

    def scan(self, at: int, components: list[tuple[int, int]], start: int, approx_high: int) -> None:
        """A scan header: mark the tables it uses, and count the restart markers it should have."""
        frame = self.frame
        assert frame is not None  # the caller checked
        for ident, tables in components:
            if ident not in frame.components:
                raise CorruptImageError(f"a JPEG scan names component {ident}, which the frame does not have")
            if ident not in frame.latched:
                frame.latched.add(ident)
                self._use(self.quant.get(frame.components[ident][2]))
            progressive = frame.marker == PROGRESSIVE
            if not progressive or (start == 0 and approx_high == 0):
                self._use(self.huffman.get(tables >> 4))
            if not progressive or start > 0:
                self._use(self.huffman.get(0x10 | (tables & 15)))
        units = frame.units([ident for ident, _ in components])
        self.expected_restarts = _ceil(units, self.interval) - 1 if self.interval else 0
        self.restarts, self.last_data = [], 0
        self.scans.append((len(self.body), 0, frozenset(ident for ident, _ in components), 0))
        self.scan_offsets.append(at)

    def data(self, start: int, end: int, restart: int | None = None) -> None:
        """A stretch of entropy-coded data, then a restart marker or (restart None) the end of the scan."""
        if end > start:
            self.body.append((start, end))
            self.last_data = len(self.body)
        if restart is not None:
            self.restarts.append(len(self.body))
            self.body.append(bytes([0xFF, restart]))
            return
        extra = self.restarts[self.expected_restarts :]
        if extra:
            self.hidden("JPEG image data", f"{len(extra)} restart markers more than the scan has intervals for",
                        2 * len(extra))
            for index in extra:
                self.body[index] = b""
        start, _, components, _ = self.scans[-1]
        self.scans[-1] = (start, self.last_data, components, len(self.restarts) - len(extra))

    def _use(self, table: Table | None) -> None:
        if table is not None:
            table.used = True

    def _odd(self, table: Table) -> int:
        """Symbols a Huffman table lists that no scan can decode: repeats, DC sizes over 16, and in sequential
        JPEGs AC symbols of size 0 but end-of-block (0x00) and the zero run (0xF0) (progressive ones use them
        for end-of-band runs)."""
        if table.ident < 0x10:
            impossible = {s for s in range(256) if s > 16}
        elif self.frame is not None and self.frame.marker != PROGRESSIVE:
            impossible = {s for s in range(256) if s & 15 == 0 and s not in (0x00, 0xF0)}
        else:
            impossible = set()
        seen: set[int] = set()
        bad = 0
        for symbol in table.symbols:
            bad += symbol in impossible or symbol in seen
            seen.add(symbol)
        return bad

    def report_tables(self) -> None:
        """Unused tables are hidden data (strip drops them); a used Huffman table listing symbols no scan can
        decode is too, and cannot be trimmed without re-encoding the scans that use it."""
        for segment in self.body:
            if isinstance(segment, Tables):
                for t in segment.items:
                    name = f"{t.kind} table {t.ident & 15}"
                    if not t.used:
                        self.hidden(t.where, f"{name} that no frame or scan uses, {human_size(len(t.body))}",
                                    len(t.body))
                    elif odd := self._odd(t):
                        what = f"{name} lists {odd} symbols that no scan can decode"
                        self.hidden(t.where, what, odd)
                        self.parsed.reencode_why = f"a {what}"


def rendered(walk: Walk, profile_segments: list[bytes]) -> tuple[list[Piece], list[Scan]]:
    """The output's pieces, and where in it each scan with entropy-coded data starts and ends."""
    head: list[Piece] = [b"\xff\xd8", *(p for p in (walk.jfif, walk.adobe) if p), *profile_segments]
    pieces, offsets, offset = list(head), [], sum(_size(p) for p in head)
    for item in walk.body:
        offsets.append(offset)
        piece = item.render() if isinstance(item, Tables) else item
        pieces.append(piece)
        offset += _size(piece)
    offsets.append(offset)
    pieces.append(b"\xff\xd9")
    return pieces, [Scan(offsets[start], offsets[end], ids, rst) for start, end, ids, rst in walk.scans]


def _size(piece: Piece) -> int:
    return len(piece) if isinstance(piece, bytes) else piece[1] - piece[0]


def assemble(data: bytes, pieces: list[Piece]) -> bytes:
    view = memoryview(data)
    return b"".join([p if isinstance(p, bytes) else view[p[0] : p[1]] for p in pieces])
