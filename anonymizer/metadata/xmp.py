"""XMP packets: what they say, in plain words.

XMP is XML, but packets in the wild are often broken or split across segments, so properties are found
with two bounded regular expressions (attributes and simple elements) instead of an XML parser, which
also keeps entity expansion out of the picture.
"""

from __future__ import annotations

import re
from itertools import islice

from .base import Parsed, human_size, printable
from .report import Category, Risk

_C = Category
_PROPS: dict[str, tuple[Category, str, Risk | None]] = {
    **{k: (_C.LOCATION, "GPS", None) for k in ("GPSLatitude", "GPSLongitude", "GpsLatitude", "GpsLongitude")},
    **{k: (_C.LOCATION, "GPS", Risk.MEDIUM) for k in ("GPSAltitude", "AbsoluteAltitude", "RelativeAltitude")},
    **{
        k: (_C.LOCATION, "place", None)
        for k in ("City", "State", "Country", "CountryCode", "Location", "Sublocation", "ProvinceState",
                  "CountryName", "LocationCreated", "LocationShown", "WorldRegion")
    },
    **{
        k: (_C.IDENTITY, "person or text", None)
        for k in ("creator", "rights", "Owner", "OwnerName", "CameraOwnerName", "Artist", "Author", "description",
                  "title", "subject", "Credit", "CreatorContactInfo", "AuthorsPosition", "CaptionWriter",
                  "PersonInImage", "UsageTerms", "WebStatement", "Headline", "Instructions", "Source",
                  "UserComment", "ImageDescription", "Copyright", "Keywords")
    },
    **{
        k: (_C.IDENTITY, "unique ID", Risk.MEDIUM)
        for k in ("DocumentID", "InstanceID", "OriginalDocumentID", "ImageUniqueID", "Identifier")
    },
    **{k: (_C.DEVICE, "device", None) for k in ("Make", "Model", "Lens", "LensModel", "LensID", "LensInfo")},
    **{
        k: (_C.DEVICE, "serial number", Risk.HIGH)
        for k in ("SerialNumber", "BodySerialNumber", "LensSerialNumber", "CameraSerialNumber")
    },
    "HdrPlusMakernote": (_C.DEVICE, "Google HDR+ maker note", Risk.HIGH),
    **{
        k: (_C.TIME, "date", None)
        for k in ("CreateDate", "ModifyDate", "MetadataDate", "DateCreated", "DateTimeOriginal",
                  "DateTimeDigitized", "DateTime", "when", "DateAcquired")
    },
    **{k: (_C.SOFTWARE, "software", None) for k in ("CreatorTool", "softwareAgent", "xmptk", "History")},
    **{
        k: (_C.EMBEDDED, "embedded media", None)
        for k in ("MicroVideo", "MicroVideoOffset", "MotionPhoto", "MotionPhotoVersion", "Directory", "Semantic",
                  "image", "Thumbnails", "GainMapMax")
    },
}
_QUALIFIED: dict[str, tuple[Category, str, Risk | None]] = {
    "hdrgm:Version": (_C.EMBEDDED, "HDR gain map (Ultra HDR): a second image is stored with this one", None),
    "GImage:Data": (_C.EMBEDDED, "embedded image (GImage)", None),
    "GDepth:Data": (_C.EMBEDDED, "embedded depth map (GDepth)", None),
    "xmpNote:HasExtendedXMP": (_C.UNKNOWN, "more XMP is stored in extended XMP segments", Risk.LOW),
}
_SKIP_PREFIXES = {"rdf", "xmlns", "xml", "x", "stRef", "stDim", "stFnt", "xmpG"}
# Name parts are bounded ({0,64}) so that a long run of word characters cannot make the search quadratic.
_ATTR = re.compile(rb'(?<![\w.-])([A-Za-z][\w.-]{0,64}):([A-Za-z][\w.-]{0,64})\s{0,8}=\s{0,8}"([^"]{0,200000})"')
_ELEM = re.compile(rb"<([A-Za-z][\w.-]{0,64}):([A-Za-z][\w.-]{0,64})(?:\s[^>]{0,2000})?>([^<]{0,200000})(?=<)")
_LI = re.compile(rb"<rdf:li[^>]{0,2000}>([^<]{1,2000})<")
MAX_FINDINGS = 40
SCAN_LIMIT = 8 * 1024 * 1024  # properties are looked for in the first 8 MB of a packet
MAX_MATCHES = 20_000  # attributes, and elements, looked at per packet: a large edit history has a few thousand


def _properties(packet: bytes) -> list[tuple[str, str, bytes]]:
    """(prefix, name, value) for every attribute and simple element, in packet order, first of each name."""
    found: dict[str, tuple[int, str, str, bytes]] = {}
    for m in islice(_ATTR.finditer(packet), MAX_MATCHES):
        prefix, name = m.group(1).decode("ascii", "replace"), m.group(2).decode("ascii", "replace")
        found.setdefault(f"{prefix}:{name}", (m.start(), prefix, name, m.group(3)))
    for m in islice(_ELEM.finditer(packet), MAX_MATCHES):
        prefix, name = m.group(1).decode("ascii", "replace"), m.group(2).decode("ascii", "replace")
        key, value = f"{prefix}:{name}", m.group(3)
        if key in found:
            continue
        if not value.strip():  # a container such as <dc:creator><rdf:Seq><rdf:li>: take the first item
            li = _LI.search(packet, m.end(), m.end() + 4000)
            value = li.group(1) if li else b""
        found[key] = (m.start(), prefix, name, value)
    ordered = sorted(found.values())
    return [(p, n, v) for _, p, n, v in ordered if p not in _SKIP_PREFIXES or n == "xmptk"]


def _describe(prefix: str, name: str, value: bytes) -> str:
    qualified = f"{prefix}:{name}"
    if qualified in _QUALIFIED:
        return _QUALIFIED[qualified][1]
    if len(value) > 200:
        return f"{qualified}: {human_size(len(value))} of encoded data"
    text = printable(value)
    return f"{qualified}: {text}" if text else qualified


def findings(packet: bytes, where: str, parsed: Parsed) -> None:
    """Add one finding per telling property and one for the rest."""
    parsed.extra["xmp"] = 1  # Pillow reads tiff:Orientation from XMP when EXIF has none
    if not parsed.detailed(where, "XMP packet", len(packet)):
        return
    props = _properties(packet[:SCAN_LIMIT])
    other: list[str] = []
    shown = 0
    for prefix, name, value in props:
        entry = _QUALIFIED.get(f"{prefix}:{name}") or _PROPS.get(name)
        if entry is None or shown >= MAX_FINDINGS:
            other.append(f"{prefix}:{name}")
            continue
        category, _label, risk = entry
        parsed.add(f"{where} > {prefix}:{name}", _describe(prefix, name, value), category, len(value), risk)
        shown += 1
    if other:
        names = ", ".join(other[:8]) + (f" and {len(other) - 8} more" if len(other) > 8 else "")
        parsed.add(where, f"other XMP properties ({len(other)}): {names}", Category.UNKNOWN, 0)
    if not props:
        parsed.add(where, f"XMP packet, {human_size(len(packet))}, no readable properties", Category.UNKNOWN,
                   len(packet))
