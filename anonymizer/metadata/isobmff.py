"""ISOBMFF (HEIC, HEIF, AVIF): every top-level box, and the items of the `meta` box.

Items are read through `iloc`; what an item is comes from `iinf` (its type), `iref` (thumbnail of,
auxiliary of, tile of) and its properties (`ispe` size, `auxC` kind, `colr` profile). The primary image
and its tiles are structure; Exif and XMP items, thumbnails, depth and gain maps, embedded files, and
unknown top-level boxes such as Samsung's `mpvd` (motion-photo video) or `sefd` trailer are metadata.
Strip re-encodes from pixels: rewriting item locations without the metadata items is not done here.
The walk descends only into known boxes at fixed depth (meta > iprp > ipco > property), so nesting
is bounded by construction; every size is checked against its parent box.
"""

from __future__ import annotations

from ..errors import CorruptImageError, TooLargeError
from . import blobs, xmp
from .base import Parsed, check_item, cstring, human_size, need, tag_name, u8, u16, u32, unpack
from .isobmff_items import describe_items
from .isobmff_model import MAX_EXTENTS, MAX_ITEMS, Heif
from .report import Category, Risk

MAX_BOXES = 2 * MAX_ITEMS  # in any one box: items, properties and top-level boxes are each far fewer
STRUCTURE_PROPERTIES = {b"ispe", b"pixi", b"hvcC", b"av1C", b"irot", b"imir", b"clap", b"auxC", b"pasp", b"lsel",
                        b"a1op", b"a1lx", b"rloc", b"jpgC", b"vvcC", b"clli", b"mdcv", b"cclv", b"amve", b"colr"}
def _box(data: bytes, pos: int, end: int) -> tuple[bytes, int, int]:
    """(type, payload start, box end) of the box at pos, bounded by end."""
    need(data, pos, 8, "box header")
    size, kind = u32(data, pos, "box size"), data[pos + 4 : pos + 8]
    header = 8
    if size == 1:
        size, header = unpack(">Q", data, pos + 8, "box large size")[0], 16
    elif size == 0:
        size = end - pos
    if kind == b"uuid":
        header += 16
    if size < header or pos + size > end:
        raise CorruptImageError(f"box '{tag_name(kind)}' at offset {pos:#x} has a size that does not fit")
    return kind, pos + header, pos + size


def _children(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int, int]]:
    found: list[tuple[bytes, int, int, int]] = []
    pos = start
    while pos + 8 <= end:
        if len(found) >= MAX_BOXES:
            raise TooLargeError(f"a HEIF box holds more than {MAX_BOXES} boxes")
        kind, body, box_end = _box(data, pos, end)
        found.append((kind, pos, body, box_end))
        pos = box_end
    return found


def parse(data: bytes, parsed: Parsed) -> None:
    heif = Heif()
    for kind, start, body, end in _children(data, 0, len(data)):
        parsed.pos = start
        where = f"HEIF '{tag_name(kind)}' box @ {start:#x}"
        handler = TOP_LEVEL.get(kind)
        if handler is not None:
            handler(data, where, body, end, parsed, heif)
        else:
            _top_unknown(data, kind, where, body, end, parsed)
        if kind == b"ftyp":
            parsed.header_seen = True
    if not heif.items:
        raise CorruptImageError("HEIF file has no items (no meta box)")
    describe_items(data, heif, parsed)


def _ftyp(data: bytes, where: str, body: int, end: int, parsed: Parsed, heif: Heif) -> None:
    parsed.structure(where, f"file type '{tag_name(data[body : body + 4])}'", end - body)


def _mdat(data: bytes, where: str, body: int, end: int, parsed: Parsed, heif: Heif) -> None:
    parsed.structure(where, f"media data, {human_size(end - body)} (items are reported one by one)", end - body)


def _free(data: bytes, where: str, body: int, end: int, parsed: Parsed, heif: Heif) -> None:
    empty = not data[body:end].strip(b"\x00")
    parsed.add(where, f"free space, {human_size(end - body)}" + ("" if empty else " holding leftover data"),
               Category.UNKNOWN, end - body, Risk.LOW if empty else Risk.MEDIUM)


def _mpvd(data: bytes, where: str, body: int, end: int, parsed: Parsed, heif: Heif) -> None:
    parsed.add(where, f"motion photo video (Samsung 'mpvd' box), {human_size(end - body)}", Category.EMBEDDED,
               end - body)
    blobs.trailer_findings(data, body, where, parsed, end)


def _sefd(data: bytes, where: str, body: int, end: int, parsed: Parsed, heif: Heif) -> None:
    parsed.add(where, f"Samsung trailer ('sefd' box), {human_size(end - body)}", Category.UNKNOWN, end - body)
    blobs.trailer_findings(data, body, where, parsed, end)


def _top_unknown(data: bytes, kind: bytes, where: str, body: int, end: int, parsed: Parsed) -> None:
    label = "movie box (video or image sequence)" if kind == b"moov" else "unknown box"
    parsed.add(where, f"{label}, {human_size(end - body)}", Category.UNKNOWN, end - body)
    if end - body > 64:
        blobs.trailer_findings(data, body, where, parsed, end)


def _meta(data: bytes, where: str, body: int, end: int, parsed: Parsed, heif: Heif) -> None:
    check_item(end - body, parsed.limits, "HEIF meta box")
    if heif.items or heif.properties:  # a second meta box would add to the first one's items
        raise CorruptImageError("HEIF file has more than one meta box")
    for kind, _start, child, child_end in _children(data, body + 4, end):
        here = f"{where} > '{tag_name(kind)}'"
        handler = META.get(kind)
        if handler is not None:
            handler(data, child, child_end, heif, parsed, here)
        elif kind in (b"xml ", b"bxml"):
            xmp.findings(data[child + 4 : child_end], here, parsed)
        elif kind in (b"hdlr", b"dinf", b"grpl"):
            parsed.structure(here, {b"hdlr": "handler", b"dinf": "data references"}.get(kind, "item groups"))
        else:
            parsed.add(here, f"unknown box, {human_size(child_end - child)}", Category.UNKNOWN, child_end - child)


def _pitm(data: bytes, body: int, end: int, heif: Heif, parsed: Parsed, where: str) -> None:
    heif.primary = u16(data, body + 4, "pitm") if data[body] == 0 else u32(data, body + 4, "pitm")
    parsed.structure(where, f"primary item {heif.primary}")


def _iinf(data: bytes, body: int, end: int, heif: Heif, parsed: Parsed, where: str) -> None:
    start = body + (6 if u8(data, body, "iinf version") == 0 else 8)
    for kind, _pos, child, child_end in _children(data, start, end):
        if kind != b"infe":
            continue
        version = u8(data, child, "infe version")
        if version < 2:
            continue  # version 0/1 entries predate item types; nothing in them to report
        wide = version >= 3
        item = heif.item(u32(data, child + 4, "infe id") if wide else u16(data, child + 4, "infe id"))
        pos = child + (10 if wide else 8)
        need(data, pos, 4, "infe item type")
        item.type = data[pos : pos + 4]
        item.name, pos = cstring(data, pos + 4, child_end, "infe name")
        if item.type == b"mime":
            item.content_type, _ = cstring(data, pos, child_end, "infe content type")
    parsed.structure(where, f"item information ({len(heif.items)} items)")


def _iloc(data: bytes, body: int, end: int, heif: Heif, parsed: Parsed, where: str) -> None:
    version = u8(data, body, "iloc version")
    sizes = u16(data, body + 4, "iloc sizes")
    off_size, len_size, base_size = sizes >> 12, (sizes >> 8) & 15, (sizes >> 4) & 15
    index_size = sizes & 15 if version in (1, 2) else 0
    pos = body + 6
    count = u16(data, pos, "iloc count") if version < 2 else u32(data, pos, "iloc count")
    pos += 2 if version < 2 else 4
    total = 0
    for _ in range(min(count, MAX_ITEMS + 1)):
        item_id = u16(data, pos, "iloc item") if version < 2 else u32(data, pos, "iloc item")
        pos += 2 if version < 2 else 4
        item = heif.item(item_id)
        if version in (1, 2):
            item.method = u16(data, pos, "iloc method") & 15
            pos += 2
        base, pos = _uint(data, pos + 2, base_size), pos + 2 + base_size
        extents = u16(data, pos, "iloc extents")
        total += extents
        if total > MAX_EXTENTS:
            raise TooLargeError(f"HEIF items have more than {MAX_EXTENTS} extents in all")
        pos += 2
        for _ in range(extents):
            pos += index_size
            offset, length = _uint(data, pos, off_size), _uint(data, pos + off_size, len_size)
            pos += off_size + len_size
            item.extents.append((base + offset, length))
    parsed.structure(where, "item locations")


def _uint(data: bytes, pos: int, size: int) -> int:
    if size not in (0, 4, 8):
        raise CorruptImageError(f"HEIF iloc field size {size} is not allowed")
    need(data, pos, size, "iloc field")
    return int.from_bytes(data[pos : pos + size], "big")


def _iref(data: bytes, body: int, end: int, heif: Heif, parsed: Parsed, where: str) -> None:
    wide = u8(data, body, "iref version") != 0
    for kind, _pos, child, child_end in _children(data, body + 4, end):
        read = u32 if wide else u16
        step = 4 if wide else 2
        source = read(data, child, "iref from")
        count = u16(data, child + step, "iref count")
        if child + step + 2 + count * step > child_end:
            raise CorruptImageError(f"HEIF reference '{tag_name(kind)}' lists more items than its box holds")
        heif.links += count
        if heif.links > MAX_EXTENTS:
            raise TooLargeError(f"HEIF items have more than {MAX_EXTENTS} references and properties in all")
        targets = [read(data, child + step + 2 + i * step, "iref to") for i in range(count)]
        heif.refs.append((kind, source, targets))
    parsed.structure(where, f"item references ({len(heif.refs)})")


def _iprp(data: bytes, body: int, end: int, heif: Heif, parsed: Parsed, where: str) -> None:
    for kind, pos, child, child_end in _children(data, body, end):
        if kind == b"ipco":
            first = len(heif.properties)
            heif.properties.extend((k, b, e) for k, _p, b, e in _children(data, child, child_end))
            if len(heif.properties) > MAX_BOXES:
                raise TooLargeError(f"HEIF declares more than {MAX_BOXES} item properties")
            _properties(data, heif, parsed, f"{where} > 'ipco' @ {pos:#x}", first)
        elif kind == b"ipma":
            _ipma(data, child, child_end, heif)
    parsed.structure(where, f"item properties ({len(heif.properties)})")


def _properties(data: bytes, heif: Heif, parsed: Parsed, where: str, first: int) -> None:
    """Findings for the properties from number `first` on (those of one ipco box)."""
    for index, (kind, body, end) in enumerate(heif.properties[first:], start=first + 1):
        here = f"{where} > property {index} '{tag_name(kind)}'"
        if kind == b"colr" and data[body : body + 4] in (b"prof", b"rICC"):
            blobs.icc_findings(data[body + 4 : end], here, parsed)
        elif kind == b"udes":
            parsed.add(here, "user description (name, title, tags)", Category.IDENTITY, end - body)
        elif kind in (b"cmin", b"cmex"):
            parsed.add(here, "camera intrinsics or position", Category.DEVICE, end - body)
        elif kind not in STRUCTURE_PROPERTIES:
            parsed.add(here, f"unknown property ({human_size(end - body)})", Category.UNKNOWN, end - body)


def _ipma(data: bytes, body: int, end: int, heif: Heif) -> None:
    version, flags = u8(data, body, "ipma version"), u32(data, body, "ipma flags") & 0xFFFFFF
    count, pos = u32(data, body + 4, "ipma count"), body + 8
    for _ in range(min(count, MAX_ITEMS + 1)):
        item_id = u16(data, pos, "ipma item") if version < 1 else u32(data, pos, "ipma item")
        pos += 2 if version < 1 else 4
        n = u8(data, pos, "ipma associations")
        pos += 1
        heif.links += n
        if heif.links > MAX_EXTENTS:
            raise TooLargeError(f"HEIF items have more than {MAX_EXTENTS} references and properties in all")
        for _ in range(n):
            value = u16(data, pos, "ipma entry") & 0x7FFF if flags & 1 else u8(data, pos, "ipma entry") & 0x7F
            pos += 2 if flags & 1 else 1
            heif.item(item_id).properties.append(value)


def _idat(data: bytes, body: int, end: int, heif: Heif, parsed: Parsed, where: str) -> None:
    heif.idat = (body, end)
    parsed.structure(where, f"item data, {human_size(end - body)}")


TOP_LEVEL = {b"ftyp": _ftyp, b"meta": _meta, b"mdat": _mdat, b"free": _free, b"skip": _free, b"mpvd": _mpvd,
             b"sefd": _sefd}
META = {b"pitm": _pitm, b"iinf": _iinf, b"iloc": _iloc, b"iref": _iref, b"iprp": _iprp, b"idat": _idat}
