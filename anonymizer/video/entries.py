"""Sample descriptions (stsd entries): read their fields, and rebuild them from those fields.

A rebuilt entry keeps what decoding needs: the fixed fields (compressor name blanked, vendor and quality
zeroed) and an allowlist of configuration boxes. avcC and hvcC are rebuilt from their parsed fields, keeping
only parameter sets (an hvcC may also carry SEI); the other configuration boxes (esds, av1C, colr, pasp ...)
are small fixed-layout records and are copied whole after their type is checked.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ..errors import CorruptImageError, UnsupportedFormatError
from ..metadata.base import need, printable, tag_name
from .boxes import children

VISUAL_FIXED = 78
AUDIO_FIXED = 28
AUDIO_EXTRA = {0: 0, 1: 16, 2: 36}  # QuickTime sound description versions 1 and 2 add fields

VIDEO_CODECS = frozenset({b"avc1", b"avc3", b"hvc1", b"hev1", b"av01", b"vp08", b"vp09", b"mp4v", b"s263",
                          b"h263", b"jpeg", b"mjpa", b"mjpb", b"apcn", b"apch", b"apcs", b"apco", b"ap4h",
                          b"ap4x", b"dvh1", b"dvhe", b"dva1", b"dvav"})
AUDIO_CODECS = frozenset({b"mp4a", b"samr", b"sawb", b"ac-3", b"ec-3", b"Opus", b"fLaC", b"alac", b"sowt",
                          b"twos", b"lpcm", b"raw ", b"ipcm", b"fpcm", b"ulaw", b"alaw", b".mp3"})
VISUAL_KEEP = frozenset({b"avcC", b"hvcC", b"av1C", b"vpcC", b"esds", b"d263", b"colr", b"pasp", b"fiel",
                         b"clli", b"mdcv", b"dvcC", b"dvvC"})
AUDIO_KEEP = frozenset({b"esds", b"damr", b"dOps", b"dfLa", b"dac3", b"dec3", b"alac", b"wave", b"chan"})
WAVE_KEEP = frozenset({b"frma", b"mp4a", b"esds", b"enda", b"alac", b"\x00\x00\x00\x00"})
PARAMETER_SETS_HEVC = frozenset({32, 33, 34})  # VPS, SPS, PPS


@dataclass
class Entry:
    kind: bytes
    fixed: bytes  # the fixed fields, as read
    boxes: list[tuple[bytes, bytes]] = field(default_factory=list)  # (type, payload) of the child boxes
    compressor: str = ""
    vendor: bytes = b"\x00\x00\x00\x00"
    visual: bool = True


def read_entry(kind: bytes, payload: bytes, handler: bytes) -> Entry:
    """The fields of a video ('vide') or audio ('soun') sample entry."""
    visual = handler == b"vide"
    if visual:
        fixed_len = VISUAL_FIXED
    else:
        need(payload, 0, AUDIO_FIXED, f"'{tag_name(kind)}' sound description")
        version = int.from_bytes(payload[8:10], "big")
        if version not in AUDIO_EXTRA:
            raise CorruptImageError(f"'{tag_name(kind)}' has an unknown sound description version {version}")
        fixed_len = AUDIO_FIXED + AUDIO_EXTRA[version]
    need(payload, 0, fixed_len, f"'{tag_name(kind)}' sample description")
    entry = Entry(kind, payload[:fixed_len], vendor=payload[12:16], visual=visual)
    if visual:
        n = min(payload[42], 31)
        entry.compressor = printable(payload[43 : 43 + n])
    entry.boxes = [(b.kind, payload[b.body : b.end]) for b in children(payload, fixed_len, len(payload))]
    return entry


def rebuild_entry(entry: Entry) -> bytes:
    """The sample entry box written from its fields and its allowed configuration boxes only."""
    fixed = bytearray(entry.fixed)
    fixed[0:6] = bytes(6)
    fixed[12:16] = bytes(4)  # vendor
    if entry.visual:
        fixed[16:24] = bytes(8)  # temporal and spatial quality
        fixed[42:74] = bytes(32)  # compressor name
    keep = VISUAL_KEEP if entry.visual else AUDIO_KEEP
    body = bytes(fixed) + b"".join(_config(kind, payload, entry.visual) for kind, payload in entry.boxes
                                   if kind in keep)
    return box(entry.kind, body)


def _config(kind: bytes, payload: bytes, visual: bool) -> bytes:
    if kind == b"avcC":
        return box(kind, rebuild_avcc(payload))
    if kind == b"hvcC":
        return box(kind, rebuild_hvcc(payload))
    if kind == b"colr" and payload[:4] not in (b"nclx", b"nclc"):
        return b""  # an embedded ICC profile: not needed to decode, and it can name software and dates
    if kind == b"esds":
        return box(kind, rebuild_esds(payload, visual))
    if kind == b"damr" and len(payload) >= 9:  # AMR: encoder vendor and version blanked, decoder fields kept
        return box(kind, bytes(5) + payload[5:9])
    if kind == b"wave":
        inner = [(b.kind, payload[b.body : b.end]) for b in children(payload, 0, len(payload))]
        return box(kind, b"".join(box(k, rebuild_esds(p, False) if k == b"esds" else p) for k, p in inner
                                  if k in WAVE_KEEP))
    return box(kind, payload)


def box(kind: bytes, payload: bytes) -> bytes:
    size = 8 + len(payload)
    if size >= 1 << 32:
        return struct.pack(">I4sQ", 1, kind, size + 8) + payload
    return struct.pack(">I4s", size, kind) + payload


def full(kind: bytes, version: int, flags: int, payload: bytes) -> bytes:
    return box(kind, struct.pack(">I", (version << 24) | flags) + payload)


def _length_prefixed(data: bytes, pos: int, count: int, what: str) -> tuple[list[bytes], int]:
    units = []
    for _ in range(count):
        need(data, pos, 2, what)
        n = int.from_bytes(data[pos : pos + 2], "big")
        need(data, pos + 2, n, what)
        units.append(data[pos + 2 : pos + 2 + n])
        pos += 2 + n
    return units, pos


def _prefix(units: list[bytes]) -> bytes:
    return b"".join(len(u).to_bytes(2, "big") + u for u in units)


def rebuild_avcc(data: bytes) -> bytes:
    """AVCDecoderConfigurationRecord with its SPS, PPS and (high profiles) SPS extensions, nothing after."""
    need(data, 0, 6, "avcC")
    sps, pos = _length_prefixed(data, 6, data[5] & 0x1F, "avcC SPS")
    need(data, pos, 1, "avcC")
    pps, pos = _length_prefixed(data, pos + 1, data[pos], "avcC PPS")
    out = bytes([1, data[1], data[2], data[3], 0xFC | (data[4] & 3), 0xE0 | len(sps)]) + _prefix(sps)
    out += bytes([len(pps)]) + _prefix(pps)
    if data[1] in (100, 110, 122, 144) and pos + 4 <= len(data):
        ext, _ = _length_prefixed(data, pos + 4, data[pos + 3], "avcC SPS extension")
        out += bytes([0xFC | (data[pos] & 3), 0xF8 | (data[pos + 1] & 7), 0xF8 | (data[pos + 2] & 7), len(ext)])
        out += _prefix(ext)
    return out


def rebuild_hvcc(data: bytes) -> bytes:
    """HEVCDecoderConfigurationRecord keeping only the VPS, SPS and PPS arrays."""
    need(data, 0, 23, "hvcC")
    arrays, pos = [], 23
    for _ in range(data[22]):
        need(data, pos, 3, "hvcC array")
        head, count = data[pos], int.from_bytes(data[pos + 1 : pos + 3], "big")
        units, pos = _length_prefixed(data, pos + 3, count, "hvcC NAL unit")
        if head & 0x3F in PARAMETER_SETS_HEVC:
            arrays.append(bytes([head]) + len(units).to_bytes(2, "big") + _prefix(units))
    return data[:22] + bytes([len(arrays)]) + b"".join(arrays)


def _descriptor(data: bytes, pos: int, tag: int) -> tuple[int, int]:
    """(payload start, payload end) of the MPEG-4 descriptor with `tag` at pos."""
    need(data, pos, 2, "esds descriptor")
    if data[pos] != tag:
        raise CorruptImageError(f"esds: expected descriptor {tag}, found {data[pos]}")
    size, at = 0, pos + 1
    for _ in range(4):
        need(data, at, 1, "esds descriptor length")
        size = (size << 7) | (data[at] & 0x7F)
        at += 1
        if not data[at - 1] & 0x80:
            break
    need(data, at, size, "esds descriptor")
    return at, at + size


def _write_descriptor(tag: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 0x80:
        return bytes([tag, n]) + payload
    return bytes([tag, 0x80 | (n >> 21) & 0x7F, 0x80 | (n >> 14) & 0x7F, 0x80 | (n >> 7) & 0x7F, n & 0x7F]) + payload


def rebuild_esds(data: bytes, video: bool) -> bytes:
    """An esds box payload written from its fields: ES ID, decoder configuration and its decoder-specific info
    (for video, MPEG-4 Part 2 user data removed from it), and a predefined SL configuration. Nothing else is
    kept."""
    start, _end = _descriptor(data, 4, 3)
    need(data, start, 3, "esds")
    flags, at = data[start + 2], start + 3
    if flags & 0x40:
        raise UnsupportedFormatError("the stream's data is referenced by URL; only self-contained videos are handled")
    at += 2 if flags & 0x80 else 0
    at += 2 if flags & 0x20 else 0
    config_start, config_end = _descriptor(data, at, 4)
    need(data, config_start, 13, "esds decoder configuration")
    fields, dsi = data[config_start : config_start + 13], b""
    if config_start + 13 < config_end and data[config_start + 13] == 5:
        dsi_start, dsi_end = _descriptor(data, config_start + 13, 5)
        info = data[dsi_start:dsi_end]
        dsi = _write_descriptor(5, _without_user_data(info) if video else info)
    es = data[start : start + 2] + bytes([flags & 0x1F]) + _write_descriptor(4, fields + dsi)
    return bytes(4) + _write_descriptor(3, es + _write_descriptor(6, b"\x02"))


def _without_user_data(dsi: bytes) -> bytes:
    from .sei import drop_mpeg4_user_data

    return drop_mpeg4_user_data(dsi)


def check_codec(entry_kind: bytes, handler: bytes, where: str) -> None:
    allowed = VIDEO_CODECS if handler == b"vide" else AUDIO_CODECS
    if entry_kind not in allowed:
        raise UnsupportedFormatError(f"{where}: the codec '{tag_name(entry_kind)}' is not one the stripper knows")
