"""H.264 and HEVC samples: NAL units in length-prefixed form, and the SEI units that carry user data.

Encoders write their name and settings (x264's whole command line), and some cameras write serial numbers or
GPS, into SEI `user_data_unregistered` payloads (type 5). These change nothing in the pictures: the stripper
drops every SEI NAL unit holding one, and keeps every other NAL unit bit-exact.
"""

from __future__ import annotations

from ..errors import CorruptImageError

AVC_ENTRIES = frozenset({b"avc1", b"avc2", b"avc3", b"avc4"})
HEVC_ENTRIES = frozenset({b"hvc1", b"hev1"})
USER_DATA_UNREGISTERED = 5


def is_sei(nal: bytes, hevc: bool) -> bool:
    if not nal:
        return False
    if hevc:
        return (nal[0] >> 1) & 0x3F in (39, 40)
    return nal[0] & 0x1F == 6


def _rbsp(nal: bytes) -> bytes:
    """The payload without emulation-prevention bytes (00 00 03 -> 00 00)."""
    if b"\x00\x00\x03" not in nal:
        return nal
    out = bytearray()
    zeros = 0
    for byte in nal:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def sei_payloads(nal: bytes, hevc: bool) -> list[tuple[int, bytes]]:
    """(payload type, payload) of each SEI message in a SEI NAL unit; stops at the first malformed one."""
    data = _rbsp(nal[2 if hevc else 1 :])
    found: list[tuple[int, bytes]] = []
    pos = 0
    while pos < len(data) and data[pos] != 0x80 and len(found) < 64:
        kind, pos = _ff_coded(data, pos)
        size, pos = _ff_coded(data, pos)
        if pos + size > len(data):
            break
        found.append((kind, data[pos : pos + size]))
        pos += size
    return found


def _ff_coded(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    while pos < len(data) and data[pos] == 0xFF:
        value += 255
        pos += 1
    if pos < len(data):
        value += data[pos]
    return value, pos + 1


def has_user_data(nal: bytes, hevc: bool) -> bool:
    return is_sei(nal, hevc) and any(k == USER_DATA_UNREGISTERED for k, _ in sei_payloads(nal, hevc))


def nal_units(sample: bytes, length_size: int) -> list[tuple[int, int]]:
    """(start, end) of each NAL unit (its length prefix included) of a length-prefixed sample."""
    units: list[tuple[int, int]] = []
    pos = 0
    while pos < len(sample):
        if pos + length_size > len(sample):
            raise CorruptImageError("a video sample ends inside a NAL unit length")
        n = int.from_bytes(sample[pos : pos + length_size], "big")
        end = pos + length_size + n
        if end > len(sample):
            raise CorruptImageError("a NAL unit runs past the end of its video sample")
        units.append((pos, end))
        pos = end
    return units


def user_data(sample: bytes, length_size: int, hevc: bool) -> list[bytes]:
    """The user_data_unregistered payloads (16-byte UUID first) of a sample."""
    found: list[bytes] = []
    for start, end in nal_units(sample, length_size):
        nal = sample[start + length_size : end]
        if is_sei(nal, hevc):
            found.extend(p for k, p in sei_payloads(nal, hevc) if k == USER_DATA_UNREGISTERED)
    return found


def drop_user_data(sample: bytes, length_size: int, hevc: bool) -> bytes:
    """The sample without SEI NAL units that hold user data; the other NAL units are kept bit-exact."""
    units = nal_units(sample, length_size)
    kept = [(s, e) for s, e in units if not has_user_data(sample[s + length_size : e], hevc)]
    if len(kept) == len(units):
        return sample
    return b"".join(sample[s:e] for s, e in kept)


def length_size(entry_kind: bytes, config: bytes) -> int:
    """NAL length size from an avcC or hvcC payload."""
    if entry_kind in AVC_ENTRIES:
        if len(config) < 5:
            raise CorruptImageError("the avcC box is truncated")
        return (config[4] & 3) + 1
    if len(config) < 22:
        raise CorruptImageError("the hvcC box is truncated")
    return (config[21] & 3) + 1


MPEG4_USER_DATA = b"\x00\x00\x01\xb2"  # MPEG-4 Part 2 user_data_start_code: encoders write their names here


def mpeg4_user_data(data: bytes) -> list[bytes]:
    """The user data segments (text after the start code, up to the next start code) of MPEG-4 Part 2 data."""
    found: list[bytes] = []
    at = data.find(MPEG4_USER_DATA)
    while at >= 0 and len(found) < 64:
        end = data.find(b"\x00\x00\x01", at + 4)
        end = len(data) if end < 0 else end
        found.append(data[at + 4 : end])
        at = data.find(MPEG4_USER_DATA, end)
    return found


def drop_mpeg4_user_data(sample: bytes) -> bytes:
    """An MPEG-4 Part 2 sample without its user data segments (start code included); the rest bit-exact."""
    at = sample.find(MPEG4_USER_DATA)
    if at < 0:
        return sample
    kept, pos = [], 0
    while at >= 0:
        kept.append(sample[pos:at])
        end = sample.find(b"\x00\x00\x01", at + 4)
        pos = len(sample) if end < 0 else end
        at = sample.find(MPEG4_USER_DATA, pos)
    kept.append(sample[pos:])
    return b"".join(kept)


def hvcc_sei(config: bytes) -> list[bytes]:
    """The SEI NAL units kept in an hvcC's arrays (x265 puts its settings there)."""
    found: list[bytes] = []
    if len(config) < 23:
        return found
    pos = 23
    for _ in range(config[22]):
        if pos + 3 > len(config):
            break
        kind, count = config[pos] & 0x3F, int.from_bytes(config[pos + 1 : pos + 3], "big")
        pos += 3
        for _ in range(count):
            n = int.from_bytes(config[pos : pos + 2], "big")
            if kind in (39, 40):
                found.append(config[pos + 2 : pos + 2 + n])
            pos += 2 + n
    return found
