"""What each HEIF item is: the primary image and its tiles (structure), or metadata in plain words."""

from __future__ import annotations

from ..errors import CorruptImageError
from . import exif, xmp
from .base import Parsed, cstring, human_size, printable, tag_name
from .isobmff_model import Heif, Item, item_bytes
from .report import Category

IMAGE_TYPES = {b"hvc1", b"av01", b"jpeg", b"grid", b"iden", b"iovl", b"unci", b"j2k1", b"vvc1", b"avc1"}
AUX_KINDS = (("alpha", "alpha plane", Category.STRUCTURE), ("depth", "depth map", Category.EMBEDDED),
             ("disparity", "depth map", Category.EMBEDDED), ("gainmap", "HDR gain map", Category.EMBEDDED),
             ("matte", "segmentation matte", Category.EMBEDDED))


def _property(data: bytes, heif: Heif, item: Item, kind: bytes) -> tuple[int, int] | None:
    for index in item.properties:
        if 1 <= index <= len(heif.properties) and heif.properties[index - 1][0] == kind:
            _, body, end = heif.properties[index - 1]
            return body, end
    return None


def _size(data: bytes, heif: Heif, item: Item) -> str:
    found = _property(data, heif, item, b"ispe")
    if found is None or found[1] - found[0] < 12:
        return ""
    body = found[0]
    return f" {int.from_bytes(data[body + 4 : body + 8], 'big')}x{int.from_bytes(data[body + 8 : body + 12], 'big')}"


def _aux_kind(data: bytes, heif: Heif, item: Item) -> tuple[str, Category]:
    found = _property(data, heif, item, b"auxC")
    urn = cstring(data, found[0] + 4, found[1], "auxC")[0] if found else ""
    for needle, label, category in AUX_KINDS:
        if needle in urn.lower() or (needle == "alpha" and urn.endswith("auxid:1")):
            return label, category
    if urn.endswith("auxid:2"):
        return "depth map", Category.EMBEDDED
    return f"auxiliary image ({printable(urn.encode(), 50) or 'unknown kind'})", Category.EMBEDDED


def _owner_is_primary(heif: Heif, parts_of: dict[int, int], item_id: int) -> bool:
    seen: set[int] = set()
    while item_id in parts_of and item_id not in seen:
        seen.add(item_id)
        item_id = parts_of[item_id]
        if item_id == heif.primary:
            return True
    return False


def describe_items(data: bytes, heif: Heif, parsed: Parsed) -> None:
    if heif.primary not in heif.items:
        raise CorruptImageError("HEIF primary item is missing")
    parts_of: dict[int, int] = {}
    role: dict[int, bytes] = {}
    for kind, source, targets in heif.refs:
        if kind in (b"dimg", b"base"):
            for target in targets:
                parts_of.setdefault(target, source)
        elif kind in (b"thmb", b"auxl", b"cdsc"):
            role.setdefault(source, kind)
    tiles = 0
    for item in heif.items.values():
        where = f"HEIF item {item.id} '{tag_name(item.type)}'"
        if item.id == heif.primary:
            parsed.structure(where, f"primary image{_size(data, heif, item)} ({tag_name(item.type)})")
        elif _owner_is_primary(heif, parts_of, item.id):
            tiles += 1
        elif item.id not in parts_of:
            _describe(data, heif, item, role.get(item.id, b""), where, parsed)
    if tiles:
        parsed.structure("HEIF items", f"{tiles} tiles of the primary image")


def _describe(data: bytes, heif: Heif, item: Item, role: bytes, where: str, parsed: Parsed) -> None:
    size = _size(data, heif, item)
    if role == b"thmb":
        parsed.add(where, f"embedded thumbnail{size} ({tag_name(item.type)})", Category.EMBEDDED)
    elif role == b"auxl":
        label, category = _aux_kind(data, heif, item)
        parsed.add(where, f"{label}{size}", category)
    elif item.type in (b"Exif", b"mime"):
        _payload(data, heif, item, where, parsed)
    elif item.type == b"tmap":
        parsed.add(where, f"HDR gain map image{size}", Category.EMBEDDED)
    elif item.type in IMAGE_TYPES:
        parsed.add(where, f"additional image{size} ({tag_name(item.type)})", Category.EMBEDDED)
    else:
        parsed.add(where, f"item of unknown type '{tag_name(item.type)}'", Category.UNKNOWN)


def _payload(data: bytes, heif: Heif, item: Item, where: str, parsed: Parsed) -> None:
    try:
        payload = item_bytes(data, heif, item, parsed)
    except CorruptImageError as exc:
        parsed.unparseable(where, exc)
        return
    if item.type == b"Exif":
        skip = int.from_bytes(payload[:4], "big") + 4 if len(payload) >= 4 else 0
        exif.findings(exif.tiff_start(payload[skip:] if skip < len(payload) else payload), where, parsed)
    elif "xml" in item.content_type or "rdf" in item.content_type:
        xmp.findings(payload, f"{where} XMP", parsed)
    else:
        label = printable(item.content_type.encode(), 40) or "unknown type"
        parsed.add(where, f"embedded file ({label}), {human_size(len(payload))}", Category.EMBEDDED, len(payload))
