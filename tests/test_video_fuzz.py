"""Video fuzzing: box and EBML element sizes, chunk offsets, sample tables, nesting depth and random bytes of
small MP4/MOV/3GP/MKV/WebM clips made in code are mutated; inspect and strip must end in a typed error or
succeed, within bounded time, and whatever strip writes must verify clean. (Kept apart from tests/fuzz, the
photo harness.)"""

from __future__ import annotations

import io
import random
import struct
import time
from collections.abc import Callable

import pytest

from anonymizer.errors import AnonymizerError
from anonymizer.video import inspect_video, strip_video, verify_video
from tests.video_fixtures import make_clip

CASES = 240
SECONDS_PER_CALL = 5.0
BOXES = (b"moov", b"mvhd", b"trak", b"tkhd", b"mdia", b"mdhd", b"hdlr", b"minf", b"stbl", b"stsd", b"avc1",
         b"avcC", b"mp4a", b"esds", b"stts", b"stsc", b"stsz", b"stco", b"ctts", b"stss", b"udta", b"meta", b"keys",
         b"ilst", b"mdat", b"edts", b"elst", b"ftyp")  # fmt: skip
TABLES = (b"stts", b"stsc", b"stsz", b"stco", b"ctts", b"stss", b"elst", b"keys")

Mutation = Callable[[bytes, random.Random], bytes]


def _positions(data: bytes, kinds: tuple[bytes, ...]) -> list[int]:
    found = []
    for kind in kinds:
        at = data.find(kind)
        while at >= 4:
            found.append(at)
            at = data.find(kind, at + 1)
    return found


def box_size(data: bytes, rng: random.Random) -> bytes:
    if not _positions(data, BOXES):
        return ebml_size(data, rng)
    at = rng.choice(_positions(data, BOXES)) - 4
    value = rng.choice([0, 1, 7, 8, 9, 0xFFFFFFFF, 0x7FFFFFFF, len(data), rng.randrange(1 << 32)])
    return data[:at] + struct.pack(">I", value) + data[at + 4 :]


def table_entry(data: bytes, rng: random.Random) -> bytes:
    """A count or an entry of a sample table (or a chunk offset) set to something else."""
    if not _positions(data, TABLES):
        return ebml_size(data, rng)
    at = rng.choice(_positions(data, TABLES)) + 4 + 4 * rng.randrange(0, 6)
    value = rng.choice([0, 1, 0xFFFFFFFF, len(data), rng.randrange(1 << 32), rng.randrange(64)])
    return data[:at] + struct.pack(">I", value) + data[at + 4 :]


EBML_IDS = (b"\x1f\x43\xb6\x75", b"\x15\x49\xa9\x66", b"\x16\x54\xae\x6b", b"\xae", b"\xa3", b"\x18\x53\x80\x67",
            b"\x63\xa2", b"\x12\x54\xc3\x67", b"\x1c\x53\xbb\x6b", b"\xe7")


def ebml_size(data: bytes, rng: random.Random) -> bytes:
    """The first size byte after a Matroska element ID set to something else (a lie, unknown, or invalid)."""
    ident = rng.choice([i for i in EBML_IDS if i in data])
    at = data.find(ident) + len(ident)
    return data[:at] + bytes([rng.choice([0, 0x01, 0x40, 0x7F, 0xFF, rng.randrange(256)])]) + data[at + 1 :]


def flip_bytes(data: bytes, rng: random.Random) -> bytes:
    moov = max(data.find(b"moov"), data.find(b"\x16\x54\xae\x6b"))
    out = bytearray(data)
    for _ in range(rng.randrange(1, 8)):
        at = rng.randrange(max(0, moov), len(out))
        out[at] = rng.randrange(256)
    return bytes(out)


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(0, len(data))]


def nest(data: bytes, rng: random.Random) -> bytes:
    """Wrap the moov's last child in udta boxes, 1 to 60 deep."""
    moov = data.find(b"moov") - 4
    if moov < 0:
        return ebml_size(data, rng)
    size = struct.unpack(">I", data[moov : moov + 4])[0]
    inner = b"\x00\x00\x00\x10\xa9nam\x00\x04\x00\x00test"
    for _ in range(rng.randrange(1, 60)):
        inner = struct.pack(">I4s", 8 + len(inner), b"udta") + inner
    body = data[moov + 8 : moov + size] + inner
    return data[:moov] + struct.pack(">I4s", 8 + len(body), b"moov") + body + data[moov + size :]


MUTATIONS: tuple[Mutation, ...] = (box_size, table_entry, flip_bytes, truncate, nest, ebml_size)


@pytest.fixture(scope="module")
def seeds() -> list[bytes]:
    return [
        make_clip(0.5, 10, metadata={"com.apple.quicktime.make": "Apple"}, container="mov"),
        make_clip(0.5, 10, data_track=True, timecode="01:00:00:00"),
        make_clip(0.5, 10, metadata={"location": "+01.0000+002.0000/"}, container="3gp", audio=False),
        make_clip(0.5, 10, metadata={"title": "Jane"}, container="matroska"),
        make_clip(0.5, 10, metadata={"title": "Jane"}, container="webm", audio=False),
    ]


def _timed(call: Callable[[], object]) -> object:
    start = time.perf_counter()
    try:
        return call()
    finally:
        assert time.perf_counter() - start < SECONDS_PER_CALL


@pytest.mark.parametrize("case", range(CASES))
def test_mutated_videos_fail_typed_or_strip_clean(case: int, seeds: list[bytes]) -> None:
    rng = random.Random(case)
    mutation = MUTATIONS[case % len(MUTATIONS)]
    data = mutation(rng.choice(seeds), rng)
    try:
        _timed(lambda: inspect_video(io.BytesIO(data)))
    except AnonymizerError as exc:
        assert "\n" not in str(exc)
    sink = io.BytesIO()
    try:
        _timed(lambda: strip_video(io.BytesIO(data), sink))
    except AnonymizerError as exc:
        assert "\n" not in str(exc)
        assert sink.getvalue() == b""
        return
    assert verify_video(io.BytesIO(sink.getvalue())).is_clean
