"""Video metadata on clips made in code: inspect finds each trap, strip leaves none, streams stay bit-exact
(SEI user data aside), frame counts and pictures are equal, and bad videos end in typed one-line errors."""

from __future__ import annotations

import io
import struct

import av
import pytest

from anonymizer.errors import CorruptImageError, TooLargeError, UnsupportedFormatError, VerificationError
from anonymizer.metadata import Category, Report
from anonymizer.options import Limits
from anonymizer.video import VIDEO_FORMATS, inspect_video, sniff_video, strip_video, verify_video
from anonymizer.video.sei import drop_user_data
from anonymizer.video.tags import XMP_UUID
from tests.video_fixtures import frame_count, frame_digests, make_clip, packets, top_box

APPLE = {
    "com.apple.quicktime.location.ISO6709": "+50.8503+004.3517+056.000/",
    "com.apple.quicktime.make": "Apple",
    "com.apple.quicktime.model": "iPhone 15 Pro",
    "com.apple.quicktime.software": "17.4.1",
    "com.apple.quicktime.creationdate": "2024-05-01T10:00:00+0200",
}


def strip_bytes(data: bytes) -> tuple[bytes, tuple[str, ...], Report]:
    sink = io.BytesIO()
    result = strip_video(io.BytesIO(data), sink)
    assert result.data == b"" and result.lossless
    return sink.getvalue(), result.notes, result.removed


def inspect_bytes(data: bytes) -> Report:
    return inspect_video(io.BytesIO(data))


def found(report: Report, category: Category, words: str) -> bool:
    return any(f.category is category and words in f.what for f in report.findings)


def assert_same_streams(before: bytes, after: bytes) -> None:
    """Audio packets bit-exact; video packets bit-exact once the SEI user data is left out; same pictures."""
    a, b = packets(before), packets(after)
    assert a.keys() == b.keys()
    h264 = av.open(io.BytesIO(before)).streams.video[0].codec_context.name == "h264"
    for name, items in a.items():
        expected = [(pts, drop_user_data(p, 4, False) if name.startswith("video") and h264 else p)
                    for pts, p in items]
        assert b[name] == expected, name
    assert frame_count(after) == frame_count(before)
    assert frame_digests(after) == frame_digests(before)


@pytest.fixture(scope="module")
def apple_mov() -> bytes:
    return make_clip(2, 10, metadata=APPLE, container="mov", rotation=90)


def test_formats_registry_and_sniff(apple_mov: bytes) -> None:
    names = [f.name for f in VIDEO_FORMATS]
    assert names == ["mp4", "mov", "3gp", "m4v", "mkv", "webm", "avi"]
    assert all(f.suffixes[0].startswith(".") and "/" in f.mime for f in VIDEO_FORMATS)
    assert {f.name for f in VIDEO_FORMATS if f.strippable} == {"mp4", "mov", "3gp", "m4v", "mkv", "webm"}
    sniffed = {c: sniff_video(make_clip(0.2, 10, container=c, audio=c != "webm")) for c in
               ("mp4", "mov", "3gp", "matroska", "webm", "avi")}
    assert {c: f.name if f else None for c, f in sniffed.items()} == {
        "mp4": "mp4", "mov": "mov", "3gp": "3gp", "matroska": "mkv", "webm": "webm", "avi": "avi"}
    assert sniff_video(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic") is None
    assert sniff_video(b"\x00\x00\x00\x14ftypM4V \x00\x00\x00\x00isom")
    assert sniff_video(b"\xff\xd8\xff\xe0" + bytes(60)) is None


def test_apple_keys_found_and_stripped(apple_mov: bytes) -> None:
    report = inspect_bytes(apple_mov)
    assert found(report, Category.LOCATION, "+50.8503+004.3517")
    assert found(report, Category.DEVICE, "iPhone 15 Pro") and found(report, Category.DEVICE, "Apple")
    assert found(report, Category.SOFTWARE, "17.4.1") and found(report, Category.TIME, "2024-05-01")
    assert found(report, Category.SOFTWARE, "x264")  # libx264's settings in the first frame's SEI
    out, notes, removed = strip_bytes(apple_mov)
    assert inspect_bytes(out).is_clean
    assert b"com.apple" not in out and b"iPhone" not in out and b"x264" not in out and b"Lavf" not in out
    assert any("SEI" in n for n in notes)
    assert found(removed, Category.LOCATION, "+50.8503")
    assert_same_streams(apple_mov, out)


def test_rotation_is_kept(apple_mov: bytes) -> None:
    out, _, _ = strip_bytes(apple_mov)
    with av.open(io.BytesIO(out)) as clip:
        assert next(clip.decode(video=0)).rotation == 90


def test_3gpp_location_found_and_stripped() -> None:
    clip = make_clip(1, 10, metadata={"location": "+48.8584+002.2945/", "title": "our holiday"}, container="3gp")
    report = inspect_bytes(clip)
    assert found(report, Category.LOCATION, "3GPP location")
    assert found(report, Category.IDENTITY, "our holiday")
    out, _, _ = strip_bytes(clip)
    assert inspect_bytes(out).is_clean and b"loci" not in out and b"holiday" not in out
    assert sniff_video(out) is not None and sniff_video(out).name == "3gp"  # type: ignore[union-attr]
    assert_same_streams(clip, out)


def test_quicktime_udta_location_and_dates() -> None:
    clip = make_clip(1, 10, metadata={"location": "+35.6586+139.7454/", "creation_time": "2023-08-01T09:30:00Z"},
                     container="mov")
    report = inspect_bytes(clip)
    assert found(report, Category.LOCATION, "+35.6586+139.7454")
    assert found(report, Category.TIME, "created 2023-08-01 09:30:00 UTC")
    out, _, _ = strip_bytes(clip)
    assert inspect_bytes(out).is_clean and b"\xa9xyz" not in out
    assert_same_streams(clip, out)


def test_data_and_timecode_tracks_dropped() -> None:
    clip = make_clip(1, 10, data_track=True, timecode="10:00:00:00")
    report = inspect_bytes(clip)
    assert found(report, Category.LOCATION, "GoPro telemetry track")
    assert found(report, Category.TIME, "timecode track")
    out, notes, _ = strip_bytes(clip)
    assert inspect_bytes(out).is_clean
    assert any("gpmd" in n and "tmcd" in n for n in notes)
    with av.open(io.BytesIO(out)) as stripped:
        assert sorted(s.type for s in stripped.streams) == ["audio", "video"]
    assert b"GPS5" not in out
    assert_same_streams(clip, out)


def test_free_space_uuid_xmp_and_trailing_data() -> None:
    clip = make_clip(1, 10, audio=False)
    xmp = b'<x:xmpmeta><rdf:Description dc:creator="Jane Doe" xmp:CreateDate="2022-01-01"/></x:xmpmeta>'
    dirty = clip + top_box(b"free", b"old caption: Jane at home") + top_box(b"uuid", XMP_UUID + xmp) + b"TAIL"
    report = inspect_bytes(dirty)
    assert found(report, Category.HIDDEN, "free space holding leftover data")
    assert found(report, Category.IDENTITY, "Jane Doe")
    assert found(report, Category.HIDDEN, "after the last box")
    out, _, _ = strip_bytes(dirty)
    assert inspect_bytes(out).is_clean and b"Jane" not in out and not out.endswith(b"TAIL")
    assert_same_streams(clip, out)


def test_empty_free_space_is_structure() -> None:
    clip = make_clip(0.5, 10, audio=False) + top_box(b"free", bytes(64))
    assert not [f for f in inspect_bytes(clip).identifying if "free" in f.where]


def test_stripped_output_verifies_and_dirty_input_does_not(apple_mov: bytes) -> None:
    out, _, _ = strip_bytes(apple_mov)
    assert verify_video(io.BytesIO(out), Limits()).is_clean
    with pytest.raises(VerificationError) as err:
        verify_video(io.BytesIO(apple_mov), Limits())
    assert "\n" not in str(err.value)


def test_strip_to_a_real_file(tmp_path: pytest.TempPathFactory, apple_mov: bytes) -> None:
    path = tmp_path / "out.mov"  # type: ignore[operator]
    with open(path, "w+b") as sink:
        strip_video(io.BytesIO(apple_mov), sink)
    assert inspect_bytes(path.read_bytes()).is_clean


def _patch_size(data: bytes, kind: bytes, size: int) -> bytes:
    at = data.index(kind) - 4
    return data[:at] + struct.pack(">I", size) + data[at + 4 :]


BAD = {
    "truncated": (lambda c: c[: len(c) // 2], CorruptImageError),
    "box size lies": (lambda c: _patch_size(c, b"mvhd", 0x7FFFFFFF), CorruptImageError),
    "sample table lies": (lambda c: _patch_size(c, b"stsz", 12), CorruptImageError),
    "not a video": (lambda c: b"hello world, not a video at all" * 4, UnsupportedFormatError),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_videos_raise_typed_one_line_errors(case: str) -> None:
    mutate, error = BAD[case]
    bad = mutate(make_clip(1, 10))
    sink = io.BytesIO(b"left over from before")
    with pytest.raises(error) as err:
        strip_video(io.BytesIO(bad), sink)
    assert "\n" not in str(err.value)
    assert sink.getvalue() in (b"", b"left over from before")  # nothing of the input was written


def test_failed_strip_leaves_an_empty_sink() -> None:
    clip = make_clip(1, 10)
    at = clip.index(b"mdat") + 8  # frames damaged: the file still parses but the samples no longer decode
    damaged = clip[:at] + b"\x00\x00\x00\x00" + clip[at + 4 :]
    sink = io.BytesIO()
    try:
        strip_video(io.BytesIO(damaged), sink)
    except (CorruptImageError, VerificationError) as exc:
        assert "\n" not in str(exc)
        assert sink.getvalue() == b""
    else:
        assert inspect_bytes(sink.getvalue()).is_clean


def test_deep_nesting_is_refused() -> None:
    clip = make_clip(0.5, 10, audio=False)
    nested = top_box(b"\xa9nam", b"\x00\x05\x00\x00hello")
    for _ in range(40):
        nested = top_box(b"udta", nested)
    moov = clip.index(b"moov") - 4
    size = struct.unpack(">I", clip[moov : moov + 4])[0]
    dirty = clip[:moov] + top_box(b"moov", clip[moov + 8 : moov + size] + nested) + clip[moov + size :]
    for call in (lambda: inspect_bytes(dirty), lambda: strip_video(io.BytesIO(dirty), io.BytesIO())):
        with pytest.raises(TooLargeError, match="nested more than 16 deep"):
            call()
    shallow = top_box(b"udta", top_box(b"udta", top_box(b"\xa9nam", b"\x00\x05\x00\x00hello")))
    ok = clip[:moov] + top_box(b"moov", clip[moov + 8 : moov + size] + shallow) + clip[moov + size :]
    assert found(inspect_bytes(ok), Category.IDENTITY, "hello")
    assert inspect_bytes(strip_bytes(ok)[0]).is_clean


def test_no_video_track_is_refused() -> None:
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=8000, layout="mono")
        import numpy as np

        for start in range(0, 8000, 1024):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 8000, start
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    with pytest.raises(UnsupportedFormatError, match="no video track"):
        strip_video(io.BytesIO(buf.getvalue()), io.BytesIO())


def test_avi_inspected_and_refused() -> None:
    clip = make_clip(0.5, 10, container="avi", metadata={"title": "Jane's birthday"})
    report = inspect_bytes(clip)
    assert found(report, Category.IDENTITY, "Jane's birthday")
    assert found(report, Category.SOFTWARE, "Lavf")
    with pytest.raises(UnsupportedFormatError, match="AVI") as err:
        strip_video(io.BytesIO(clip), io.BytesIO())
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("container", ["matroska", "webm"])
def test_matroska_and_webm_found_and_stripped(container: str) -> None:
    clip = make_clip(1, 10, container=container, metadata={"title": "Jane's birthday"}, audio=container != "webm")
    report = inspect_bytes(clip)
    assert found(report, Category.IDENTITY, "Jane's birthday")
    assert found(report, Category.SOFTWARE, "Lavf")
    if container == "matroska":
        assert found(report, Category.SOFTWARE, "x264")  # SEI of the first H.264 block
    out, notes, _ = strip_bytes(clip)
    assert inspect_bytes(out).is_clean
    assert b"Jane" not in out and b"Lavf" not in out and b"x264" not in out
    assert sniff_video(out) == sniff_video(clip)
    assert any("Cues" in n for n in notes)
    assert_same_streams(clip, out)


def test_matroska_clusters_of_unknown_size() -> None:
    clip = make_clip(1, 10, container="webm", audio=False, metadata={"title": "live"})
    cluster = b"\x1f\x43\xb6\x75"
    assert clip.count(cluster) >= 1 and all(clip[i + 4] & 0xC0 == 0x40 for i in _find_all(clip, cluster))
    live = clip
    for at in _find_all(clip, cluster):  # 2-byte sizes: all value bits set means "unknown size"
        live = live[: at + 4] + b"\x7f\xff" + live[at + 6 :]
    assert found(inspect_bytes(live), Category.IDENTITY, "live")
    out, _, _ = strip_bytes(live)
    assert inspect_bytes(out).is_clean
    assert packets(out) == packets(clip)


def _find_all(data: bytes, needle: bytes) -> list[int]:
    found_at, at = [], data.find(needle)
    while at >= 0:
        found_at.append(at)
        at = data.find(needle, at + 1)
    return found_at


def test_hevc_encoder_settings_found_and_stripped() -> None:
    clip = make_clip(1, 10, codec="libx265", audio=False)
    assert found(inspect_bytes(clip), Category.SOFTWARE, "x265")  # x265 keeps its settings in hvcC's SEI array
    out, _, _ = strip_bytes(clip)
    assert inspect_bytes(out).is_clean and b"x265" not in out
    assert packets(out) == packets(clip)  # hvcC rebuilt without its SEI; the samples themselves untouched
    assert frame_digests(out) == frame_digests(clip)


def test_mpeg4_part2_user_data() -> None:
    from anonymizer.video.sei import drop_mpeg4_user_data, mpeg4_user_data

    sample = b"\x00\x00\x01\xb0\x01\x00\x00\x01\xb2DivX503b1393p\x00\x00\x01\xb6\x12\x34"
    assert mpeg4_user_data(sample) == [b"DivX503b1393p"]
    assert drop_mpeg4_user_data(sample) == b"\x00\x00\x01\xb0\x01\x00\x00\x01\xb6\x12\x34"
    clip = make_clip(1, 10, codec="mpeg4", container="3gp")
    out, _, _ = strip_bytes(clip)
    assert inspect_bytes(out).is_clean
    assert_same_streams_exact(clip, out)


def assert_same_streams_exact(before: bytes, after: bytes) -> None:
    assert packets(after) == packets(before)
    assert frame_digests(after) == frame_digests(before)


def test_offsets_past_4_gb_use_co64() -> None:
    from anonymizer.video import remux
    from anonymizer.video.boxes import children, top_level
    from anonymizer.video.model import read_track

    clip = make_clip(0.5, 10)
    src = io.BytesIO(clip)
    plan = remux.plan(src, top_level(src), Limits())
    copied = [remux.Copied(list(t.tables.sizes), [o + (5 << 30) for o, _, _ in t.tables.chunks]) for t in plan.tracks]
    moov = remux.moov_box(plan, copied)
    traks = [b for b in children(moov, 8, len(moov)) if b.kind == b"trak"]
    for trak, want in zip(traks, copied, strict=True):
        track = read_track(moov, trak, "t")
        assert track.tables.offsets == want.offsets and min(track.tables.offsets) >= 1 << 32
    assert b"co64" in moov and b"stco" not in moov


def test_3gpp_location_is_shown_as_a_position() -> None:
    import io

    from anonymizer import inspect_stream

    clip = make_clip(0.5, 10, (64, 48), metadata={"location": "+48.8584+002.2945/"}, container="3gp", audio=False)
    found = [f.what for f in inspect_stream(io.BytesIO(clip)).findings if "3GPP location" in f.what]
    assert found == ["3GPP location: 48.8584 N, 2.2945 E"]
