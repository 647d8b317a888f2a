"""The item model of a HEIF `meta` box, and reading an item's bytes through its `iloc` extents."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import CorruptImageError, TooLargeError
from .base import Parsed, check_item

MAX_ITEMS = 10_000
MAX_EXTENTS = 100_000  # over all items


@dataclass
class Item:
    id: int
    type: bytes = b""
    name: str = ""
    content_type: str = ""
    extents: list[tuple[int, int]] = field(default_factory=list)
    method: int = 0
    properties: list[int] = field(default_factory=list)


@dataclass
class Heif:
    items: dict[int, Item] = field(default_factory=dict)
    properties: list[tuple[bytes, int, int]] = field(default_factory=list)  # type, payload start, end
    refs: list[tuple[bytes, int, list[int]]] = field(default_factory=list)  # type, from, to
    primary: int = -1
    idat: tuple[int, int] = (0, 0)
    links: int = 0  # item references and property associations read so far, bounded by MAX_EXTENTS

    def item(self, item_id: int) -> Item:
        if item_id not in self.items:
            if len(self.items) >= MAX_ITEMS:
                raise TooLargeError(f"HEIF meta box declares more than {MAX_ITEMS} items")
            self.items[item_id] = Item(item_id)
        return self.items[item_id]


def item_bytes(data: bytes, heif: Heif, item: Item, parsed: Parsed) -> bytes:
    base = heif.idat[0] if item.method == 1 else 0
    limit = heif.idat[1] if item.method == 1 else len(data)
    if item.method not in (0, 1):
        raise CorruptImageError(f"HEIF item {item.id} uses construction method {item.method}")
    parts = []
    for offset, length in item.extents:
        length = length or limit - base - offset
        check_item(length, parsed.limits, f"HEIF item {item.id}")
        if base + offset + length > limit:
            raise CorruptImageError(f"HEIF item {item.id} lies outside the file")
        parts.append(data[base + offset : base + offset + length])
    return b"".join(parts)
