"""User data (`udta`), QuickTime `meta` (`keys` + `ilst`, or iTunes-style `ilst`) and XMP: what each item says.

Every item is a finding whatever its type: known ones in their category with their text, unknown ones as
unknown data. Nesting is followed only through udta and meta, bounded by limits.max_depth.
"""

from __future__ import annotations

import struct

from ..metadata import xmp
from ..metadata.base import Parsed, human_size, printable, tag_name
from ..metadata.report import Category, Risk
from .boxes import Box, check_depth, children

_C = Category
_IDENTITY = (b"\xa9nam", b"titl", b"\xa9ART", b"auth", b"perf", b"\xa9des", b"dscp", b"desc", b"\xa9cmt", b"\xa9inf",
             b"kywd", b"\xa9aut", b"cprt", b"\xa9cpy", b"\xa9alb", b"albm", b"\xa9com", b"\xa9gen", b"gnre", b"\xa9wrt",
             b"\xa9dir", b"\xa9prd", b"\xa9ope", b"\xa9PRD", b"\xa9url", b"\xa9src", b"\xa9hst", b"\xa9ed1", b"clfn",
             b"aART", b"\xa9lyr", b"\xa9grp", b"\xa9key", b"\xa9dis", b"\xa9prf", b"rtng", b"\xa9req", b"\xa9wrn",
             b"MUID", b"GUMI")  # fmt: skip
ITEMS: dict[bytes, tuple[Category, str]] = {
    b"\xa9xyz": (_C.LOCATION, "GPS position"),
    b"loci": (_C.LOCATION, "3GPP location"),
    b"\xa9mak": (_C.DEVICE, "camera make"),
    b"\xa9mod": (_C.DEVICE, "camera model"),
    b"\xa9swr": (_C.SOFTWARE, "software"),
    b"\xa9too": (_C.SOFTWARE, "encoding tool"),
    b"\xa9enc": (_C.SOFTWARE, "encoder"),
    b"\xa9fmt": (_C.SOFTWARE, "format"),
    b"\xa9day": (_C.TIME, "date"),
    b"date": (_C.TIME, "date"),
    b"yrrc": (_C.TIME, "recording year"),
    b"covr": (_C.EMBEDDED, "cover art"),
    b"thmb": (_C.EMBEDDED, "thumbnail"),
    b"chpl": (_C.UNKNOWN, "chapter list"),
    b"GPMF": (_C.DEVICE, "GoPro GPMF data (camera serial, settings)"),
    b"FIRM": (_C.DEVICE, "camera firmware"),
    b"CAME": (_C.DEVICE, "camera serial number"),
    b"LENS": (_C.DEVICE, "lens"),
    b"SETT": (_C.DEVICE, "camera settings"),
    b"AMBA": (_C.DEVICE, "camera chip data"),
    b"HMMT": (_C.TIME, "highlight tags"),
    b"BCID": (_C.IDENTITY, "camera identifier"),
    b"TAGS": (_C.UNKNOWN, "vendor tags"),
    b"hnti": (_C.UNKNOWN, "hint information"),
    **{k: (_C.IDENTITY, "person or text") for k in _IDENTITY},
}
KEY_WORDS: tuple[tuple[str, Category], ...] = (
    ("location", _C.LOCATION), ("gps", _C.LOCATION), ("make", _C.DEVICE), ("model", _C.DEVICE),
    ("camera", _C.DEVICE), ("lens", _C.DEVICE), ("serial", _C.DEVICE), ("software", _C.SOFTWARE),
    ("encoder", _C.SOFTWARE), ("date", _C.TIME), ("time", _C.TIME), ("author", _C.IDENTITY),
    ("artist", _C.IDENTITY), ("title", _C.IDENTITY), ("description", _C.IDENTITY), ("comment", _C.IDENTITY),
    ("keyword", _C.IDENTITY), ("name", _C.IDENTITY), ("copyright", _C.IDENTITY),
)  # fmt: skip
XMP_UUID = bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC")


_KEY_PREFIXES = ("com.apple.quicktime.", "com.apple.photos.", "com.android.", "com.")


def key_category(name: str) -> Category:
    low = name.lower()
    for prefix in _KEY_PREFIXES:
        if low.startswith(prefix):
            low = low[len(prefix) :]
            break
    return next((cat for word, cat in KEY_WORDS if word in low), _C.UNKNOWN)


def text_of(payload: bytes) -> str:
    """A value for the report: a QuickTime string atom, an ilst 'data' box, a 3GPP full box, or raw text."""
    if len(payload) >= 4 and int.from_bytes(payload[:2], "big") == len(payload) - 4:
        return printable(payload[4:])
    if len(payload) >= 16 and payload[4:8] == b"data":
        return printable(payload[16:])
    if len(payload) >= 6 and payload[:4] == b"\x00\x00\x00\x00":
        return printable(payload[6:])
    return printable(payload)


def udta(data: bytes, parent: Box, where: str, base: int, parsed: Parsed, depth: int = 0) -> None:
    """Every item of a udta box (or of an ilst)."""
    check_depth(depth, parsed.limits)
    for box in children(data, parent.body, parent.end):
        parsed.part()
        here = f"{where} > {box.name} @ {base + box.start:#x}"
        payload = data[box.body : box.end]
        if box.kind == b"meta":
            meta(data, box, here, base, parsed, depth + 1)
        elif box.kind == b"udta":
            udta(data, box, here, base, parsed, depth + 1)
        elif box.kind == b"XMP_":
            xmp.findings(payload, here, parsed)
        elif box.kind in (b"free", b"skip") and not payload.strip(b"\x00"):
            parsed.structure(here, f"padding, {human_size(box.size)}", box.size)
        else:
            item(box.kind, payload, here, parsed)


def loci_text(payload: bytes) -> str:
    """A 3GPP `loci` box in words: its place name and position (TS 26.244: full box, language, name, role,
    longitude, latitude and altitude in 16.16 fixed point, body, notes); '' when it cannot be read."""
    end = payload.find(b"\x00", 6)
    if len(payload) < 6 or end < 0 or end + 14 > len(payload):
        return ""
    name = payload[6:end].decode("utf-8", "replace")
    if name.startswith("\ufeff") or payload[6:8] in (b"\xfe\xff", b"\xff\xfe"):
        name = payload[6:end].decode("utf-16", "replace")
    at = end + 2  # the NUL, then the role byte
    lon, lat = (int.from_bytes(payload[at + i : at + i + 4], "big", signed=True) / 65536 for i in (0, 4))
    place = f"{abs(lat):.4f} {'N' if lat >= 0 else 'S'}, {abs(lon):.4f} {'E' if lon >= 0 else 'W'}"
    return f"{printable(name.encode())} {place}".strip()


def item(kind: bytes, payload: bytes, where: str, parsed: Parsed) -> None:
    category, words = ITEMS.get(kind, (_C.UNKNOWN, f"user data '{tag_name(kind)}'"))
    if kind == b"loci" and (text := loci_text(payload)):
        parsed.add(where, f"{words}: {text}", category, len(payload))
    elif category in (_C.EMBEDDED, _C.DEVICE) or kind in (b"TAGS", b"hnti"):
        parsed.add(where, f"{words}, {human_size(len(payload))}", category, len(payload))
    else:
        parsed.add(where, f"{words}: {text_of(payload)}", category, len(payload))


def meta(data: bytes, box: Box, where: str, base: int, parsed: Parsed, depth: int) -> None:
    """A meta box: QuickTime's (no version field) or ISO's (a full box); keys + ilst, or an iTunes ilst."""
    check_depth(depth, parsed.limits)
    skip = 4 if data[box.body + 4 : box.body + 8] != b"hdlr" else 0
    parts = children(data, box.body + skip, box.end)
    keys = next((b for b in parts if b.kind == b"keys"), None)
    names = _keys(data, keys) if keys is not None else []
    for part in parts:
        parsed.part()
        here = f"{where} > {part.name} @ {base + part.start:#x}"
        if part.kind == b"ilst":
            _ilst(data, part, here, base, parsed, names)
        elif part.kind == b"keys":
            parsed.add(here, f"metadata key names: {printable(', '.join(names).encode(), 120)}", _C.UNKNOWN,
                       part.size, Risk.LOW)
        elif part.kind == b"hdlr":
            parsed.add(here, "metadata handler", _C.UNKNOWN, part.size, Risk.LOW)
        elif part.kind == b"xml ":
            xmp.findings(data[part.body + 4 : part.end], here, parsed)
        else:
            item(part.kind, data[part.body : part.end], here, parsed)


def _keys(data: bytes, keys: Box) -> list[str]:
    names: list[str] = []
    for entry in children(data, keys.body + 8, keys.end):  # version/flags and count first
        names.append(data[entry.body : entry.end].decode("utf-8", "replace"))
    return names


def _ilst(data: bytes, ilst: Box, where: str, base: int, parsed: Parsed, names: list[str]) -> None:
    for entry in children(data, ilst.body, ilst.end):
        parsed.part()
        here = f"{where} > {entry.name} @ {base + entry.start:#x}"
        index = struct.unpack(">I", entry.kind)[0]
        if names and 1 <= index <= len(names):
            name = names[index - 1]
            value = text_of(data[entry.body : entry.end])
            parsed.add(f"{where} > {name}", f"{name.rsplit('.', 1)[-1]}: {value}", key_category(name),
                       entry.size, Risk.HIGH if key_category(name) is _C.UNKNOWN else None)
        else:
            item(entry.kind, data[entry.body : entry.end], here, parsed)


def uuid_box(data: bytes, where: str, parsed: Parsed) -> None:
    """A uuid box's payload (UUID first): XMP is read; any other is unknown data."""
    if data[:16] == XMP_UUID:
        xmp.findings(data[16:], where, parsed)
        if not any(f.where.startswith(where) for f in parsed.findings):
            parsed.add(where, f"XMP packet, {human_size(len(data) - 16)}", _C.UNKNOWN, len(data), Risk.HIGH)
    else:
        parsed.add(where, f"vendor box {data[:16].hex()}, {human_size(len(data))}", _C.UNKNOWN, len(data),
                   Risk.HIGH)
