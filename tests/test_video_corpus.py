"""Video metadata over the real camera and phone videos in ../shared/corpus/video: inspect finds each file's
traps, strip leaves none (judged by our own inspect and, where installed, by `exiftool -ee -G1 -a`), the kept
streams are bit-exact (SEI user data aside) and decode to the same frames."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest

from anonymizer.errors import CorruptImageError, UnsupportedFormatError
from anonymizer.metadata import Category, Report
from anonymizer.video import inspect_video, strip_video
from anonymizer.video.sei import drop_user_data
from tests.conftest import shared_path
from tests.video_fixtures import frame_count, frame_digests, packets

# file -> (category, words) findings inspect must make
TRAPS: dict[str, list[tuple[Category, str]]] = {
    "mov_gps_keys_mebx_iphone6.mov": [
        (Category.LOCATION, "+32.0929+034.8620"), (Category.DEVICE, "iPhone 6"), (Category.DEVICE, "Apple"),
        (Category.TIME, "creationdate"), (Category.UNKNOWN, "timed metadata track"),
        (Category.TIME, "movie header: created 2019-07-24"), (Category.SOFTWARE, "Core Media Video"),
    ],
    "mp4_xmp_uuid_thumbnail_imovie.mp4": [
        (Category.EMBEDDED, "thumbnail"), (Category.IDENTITY, "My Movie"), (Category.SOFTWARE, "Adobe Bridge"),
        (Category.TIME, "xmp:CreateDate"), (Category.TIME, "media header: created 2020-01-05"),
    ],
    "3gp_sample.3gp": [
        (Category.TIME, "movie header: created 2005-10-28"), (Category.SOFTWARE, "encoder vendor 'appl'"),
        (Category.SOFTWARE, "Apple Video Media Handler"),
    ],
    "mp4_gopro_gpmd_gps_track_karma.mp4": [
        (Category.LOCATION, "GoPro telemetry track"), (Category.DEVICE, "camera serial number"),
        (Category.DEVICE, "camera firmware"), (Category.TIME, "timecode track"),
        (Category.SOFTWARE, "GoPro AVC encoder"),
    ],
    "mov_quicktime_tags_exiftool.mov": [
        (Category.IDENTITY, "Phil Harvey"), (Category.EMBEDDED, "cover art"), (Category.SOFTWARE, "Digital Camera"),
        (Category.IDENTITY, "These are lyrics"),
    ],
    "mkv_tags_exiftool.mkv": [
        (Category.TIME, "date: 2010-02-03"), (Category.SOFTWARE, "mkvmerge"), (Category.SOFTWARE, "libmatroska"),
    ],
    "avi_riff_info_exiftool.avi": [
        (Category.SOFTWARE, "CanonMVI01"), (Category.TIME, "recording date"), (Category.IDENTITY, "Phil Harvey"),
    ],
}
STRIPPABLE = ["mov_gps_keys_mebx_iphone6.mov", "mp4_xmp_uuid_thumbnail_imovie.mp4", "3gp_sample.3gp",
              "mp4_gopro_gpmd_gps_track_karma.mp4"]
# What exiftool may still show of a stripped file: container structure, codec parameters and zeroed dates.
EXIFTOOL_STRUCTURE = {
    "MajorBrand", "MinorVersion", "CompatibleBrands", "MediaDataSize", "MediaDataOffset", "MovieHeaderVersion",
    "CreateDate", "ModifyDate", "TimeScale", "Duration", "PreferredRate", "PreferredVolume", "MatrixStructure",
    "PreviewTime", "PreviewDuration", "PosterTime", "SelectionTime", "SelectionDuration", "CurrentTime",
    "NextTrackID", "TrackHeaderVersion", "TrackCreateDate", "TrackModifyDate", "TrackID", "TrackDuration",
    "TrackLayer", "TrackVolume", "ImageWidth", "ImageHeight", "MediaHeaderVersion", "MediaCreateDate",
    "MediaModifyDate", "MediaTimeScale", "MediaDuration", "MediaLanguageCode", "HandlerType", "HandlerDescription",
    "Balance", "AudioFormat", "AudioChannels", "AudioBitsPerSample", "AudioSampleRate", "GraphicsMode", "OpColor",
    "CompressorID", "SourceImageWidth", "SourceImageHeight", "XResolution", "YResolution", "BitDepth",
    "VideoFrameRate", "ColorProfiles", "ColorPrimaries", "TransferCharacteristics", "MatrixCoefficients",
    "PixelAspectRatio", "VideoFieldOrder", "PurchaseFileFormat", "Rotation", "VideoFullRangeFlag",
    "LayoutFlags", "AudioChannelLayout", "ChannelBitmap", "NumChannelDescriptions",
}  # fmt: skip
HANDLERS = {"VideoHandler", "SoundHandler"}
BLANKED = {"EncoderVendor", "EncoderVersion"}  # AMR's damr: kept as a field, emptied


def corpus(name: str) -> Path:
    return shared_path("corpus", "video", name)


def found(report: Report, category: Category, words: str) -> bool:
    return any(f.category is category and words in f"{f.where} {f.what}" for f in report.findings)


@pytest.mark.parametrize("name", sorted(TRAPS))
def test_inspect_finds_every_trap(name: str) -> None:
    with open(corpus(name), "rb") as src:
        report = inspect_video(src)
    missing = [(c.value, w) for c, w in TRAPS[name] if not found(report, c, w)]
    assert not missing
    assert not report.is_clean


@pytest.fixture(scope="module")
def stripped() -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for name in STRIPPABLE:
        sink = io.BytesIO()
        with open(corpus(name), "rb") as src:
            strip_video(src, sink)
        out[name] = sink.getvalue()
    return out


@pytest.mark.parametrize("name", STRIPPABLE)
def test_strip_leaves_nothing(name: str, stripped: dict[str, bytes]) -> None:
    out = stripped[name]
    report = inspect_video(io.BytesIO(out))
    assert report.is_clean, report.identifying[:3]
    for text in (b"iPhone", b"GoPro", b"Adobe", b"My Movie", b"com.apple", b"GPS5", b"appl", b"Core Media"):
        assert text not in out


@pytest.mark.parametrize("name", STRIPPABLE)
def test_streams_bit_exact_and_frames_equal(name: str, stripped: dict[str, bytes]) -> None:
    before, after = corpus(name).read_bytes(), stripped[name]
    a, b = packets(before), packets(after)
    assert a.keys() == b.keys()
    for stream, items in a.items():
        expected = [(pts, drop_user_data(p, 4, False)) for pts, p in items] if stream.startswith("video") and \
            name.endswith((".mov", "imovie.mp4")) else items
        assert b[stream] == expected, stream
    assert frame_count(after) == frame_count(before)
    assert frame_digests(after) == frame_digests(before)


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool is not installed")
@pytest.mark.parametrize("name", STRIPPABLE)
def test_exiftool_finds_only_structure(name: str, stripped: dict[str, bytes], tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(stripped[name])
    lines = subprocess.run(["exiftool", "-ee", "-G1", "-a", "-s", str(path)], capture_output=True, text=True,
                           check=True, timeout=60).stdout.splitlines()
    left = []
    for line in lines:
        group, rest = line.split("]", 1)
        tag, _, value = rest.strip().partition(":")
        tag, value = tag.strip(), value.strip()
        if group.strip("[") in ("File", "System", "Composite", "ExifTool"):
            continue
        if tag in BLANKED and value in ("", "0"):
            continue
        if tag not in EXIFTOOL_STRUCTURE or ("Date" in tag and value != "0000:00:00 00:00:00") or (
                tag == "HandlerDescription" and value not in HANDLERS):
            left.append(line)
    assert not left


def test_unplayable_quicktime_is_refused_with_one_line() -> None:
    with open(corpus("mov_quicktime_tags_exiftool.mov"), "rb") as src, pytest.raises(CorruptImageError) as err:
        strip_video(src, io.BytesIO())
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(("name", "error"), [("mkv_tags_exiftool.mkv", CorruptImageError),
                                             ("avi_riff_info_exiftool.avi", UnsupportedFormatError)])
def test_truncated_matroska_and_avi_strip_refused(name: str, error: type[Exception]) -> None:
    with open(corpus(name), "rb") as src, pytest.raises(error) as err:
        strip_video(src, io.BytesIO())
    assert "\n" not in str(err.value)
