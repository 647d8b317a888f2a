"""TIFF files: every IFD (the page chain, sub-IFDs, EXIF, GPS and Interop IFDs), GeoTIFF keys included.

Strip re-encodes the first page from pixels (as PNG): a TIFF keeps its image data at offsets that every
IFD points to, so dropping tags safely means rewriting the file, which is not done here.
"""

from __future__ import annotations

from ..errors import CorruptImageError
from . import exif, tiffwalk
from .base import Parsed

WHY = "TIFF cannot be written here, and its tags cannot be removed without rewriting every offset"


def parse(data: bytes, parsed: Parsed) -> None:
    tiff = tiffwalk.read(data, parsed.limits)
    first = tiff.find("IFD0")
    if first is None or 0x0100 not in first.entries or 0x0101 not in first.entries:
        raise CorruptImageError("TIFF has no image in its first IFD")
    parsed.header_seen = True
    exif.file_findings(tiff, parsed)
