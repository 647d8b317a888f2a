"""Cleaning videos (anonymizer.video.clean.clean_video) on clips made in code.

The face test uses the real detectors: the sample portrait enters a small frame, crosses it, leaves, and after a
cut sits in a new shot; with faces filled in a pure colour, every frame's face box must be that colour.
"""

from __future__ import annotations

import io
import threading
from fractions import Fraction
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from anonymizer.errors import CorruptImageError, InputError, OptionsError, UnsupportedFormatError
from anonymizer.faces import get_detector
from anonymizer.options import CleanOptions, Method
from anonymizer.types import Box, Detection, Regions
from anonymizer.video.clean import AudioMode, CancelledError, VideoCleanOptions, clean_video
from tests.conftest import SAMPLE
from tests.video_fixtures import make_clip, packets

MAGENTA = (255, 0, 255)
SIZE = (320, 240)
PORTRAIT = 160  # the sample portrait is pasted at this size
CUT = 28  # the frame where the second shot begins
FRAMES = 40


def decode(data: bytes) -> tuple[list[np.ndarray], list[float]]:
    """Every frame (RGB, as stored: no rotation applied) and its time in seconds."""
    images, times = [], []
    with av.open(io.BytesIO(data)) as container:
        for frame in container.decode(video=0):
            images.append(frame.to_ndarray(format="rgb24"))
            times.append(float(frame.pts * frame.time_base))
    return images, times


def clean(data: bytes, options: VideoCleanOptions | None = None, **kwargs: Any) -> tuple[bytes, Any]:
    sink = io.BytesIO()
    result = clean_video(io.BytesIO(data), sink, options, **kwargs)
    return sink.getvalue(), result


def still(clean_options: CleanOptions | None = None, **kwargs: Any) -> VideoCleanOptions:
    """Options without face detection (fast), for the tests that are about something else."""
    return VideoCleanOptions(clean=clean_options or CleanOptions(detect_faces=False), **kwargs)


# ---------------------------------------------------------------- the walking portrait


@pytest.fixture(scope="module")
def portrait() -> tuple[np.ndarray, Box]:
    """The sample portrait at PORTRAIT px and its face box there (found once by the photo detector)."""
    image = np.asarray(Image.open(SAMPLE).convert("RGB").resize((PORTRAIT, PORTRAIT)))
    faces = get_detector().detect(image)
    assert faces, "the sample portrait must show a face"
    return image, max(faces, key=lambda d: d.score).box


def placement(index: int) -> tuple[int, int]:
    """Where the portrait's top-left is in frame `index`: entering from the left and leaving on the right
    (about 17 px a frame), then, after the cut, drifting slowly in a new shot."""
    if index < CUT:
        return -150 + 17 * index, 40
    return 60 + 2 * (index - CUT), 50


def paste(canvas: np.ndarray, image: np.ndarray, x: int, y: int) -> None:
    h, w = image.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(canvas.shape[1], x + w), min(canvas.shape[0], y + h)
    if x0 < x1 and y0 < y1:
        canvas[y0:y1, x0:x1] = image[y0 - y : y1 - y, x0 - x : x1 - x]


@pytest.fixture(scope="module")
def walking(portrait: tuple[np.ndarray, Box]) -> tuple[bytes, list[Box]]:
    """The clip, and the face's box in each frame."""
    image, face = portrait

    def frame(index: int, width: int, height: int) -> np.ndarray:
        canvas = np.zeros((height, width, 3), np.uint8)
        canvas[:] = (70, 90, 80) if index < CUT else (30, 40, 140)
        paste(canvas, image, *placement(index))
        return canvas

    data = make_clip(FRAMES / 10, 10, SIZE, audio=True, frame_fn=frame)
    boxes = [Box(face.x + placement(i)[0], face.y + placement(i)[1], face.w, face.h) for i in range(FRAMES)]
    return data, boxes


def visible(box: Box) -> tuple[slice, slice] | None:
    """The part of `box` inside the frame, when enough of the face shows to be recognisable at all."""
    x0, y0 = max(0, round(box.x)), max(0, round(box.y))
    x1, y1 = min(SIZE[0], round(box.x + box.w)), min(SIZE[1], round(box.y + box.h))
    if x1 - x0 < max(6, 0.25 * box.w) or y1 - y0 < 6:
        return None
    return slice(y0, y1), slice(x0, x1)


def test_the_face_is_covered_in_every_frame_it_shows_in(walking: tuple[bytes, list[Box]]) -> None:
    data, boxes = walking
    options = VideoCleanOptions(clean=CleanOptions(method=Method.FILL, fill_color=MAGENTA))
    out, result = clean(data, options)
    frames, _ = decode(out)
    assert len(frames) == FRAMES
    checked = 0
    for index, (frame, box) in enumerate(zip(frames, boxes, strict=True)):
        part = visible(box)
        if part is None:
            continue
        checked += 1
        pixels = frame[part].astype(int)
        filled = (pixels[..., 0] > 190) & (pixels[..., 1] < 70) & (pixels[..., 2] > 190)
        assert filled.mean() >= 0.97, f"frame {index}: only {filled.mean():.0%} of the face is covered"
    assert checked >= 30  # entering, crossing, leaving and the second shot were all checked
    assert result.face_frames >= checked and result.faces_tracked >= 2  # one track per shot at least


def test_blur_changes_the_face_strongly_and_keeps_the_rest(walking: tuple[bytes, list[Box]]) -> None:
    data, boxes = walking
    out, _ = clean(data)
    before, _ = decode(data)
    after, _ = decode(out)
    for index in (12, 34):  # face fully in view, in each shot
        part = visible(boxes[index])
        assert part is not None
        original, cleaned = before[index][part].astype(float), after[index][part].astype(float)
        detail = lambda img: float(np.abs(np.diff(img, axis=0)).mean() + np.abs(np.diff(img, axis=1)).mean())  # noqa: E731
        assert detail(cleaned) < 0.35 * detail(original), f"frame {index}: face detail survived"
        corner = (slice(200, 240), slice(0, 30)) if index >= CUT else (slice(0, 30), slice(290, 320))
        assert np.abs(after[index][corner].astype(int) - before[index][corner].astype(int)).mean() < 6


# ---------------------------------------------------------------- audio, timing, rotation, metadata


def test_audio_is_copied_bit_exact_or_dropped() -> None:
    data = make_clip(1.0, 10, (64, 48), audio=True)
    kept, result = clean(data, still())
    assert [p for _, p in packets(kept)["audio0"]] == [p for _, p in packets(data)["audio0"]]
    assert result.audio_kept
    dropped, result = clean(data, still(audio=AudioMode.DROP))
    assert "audio0" not in packets(dropped) and not result.audio_kept
    assert "audio dropped" in result.notes


def vfr_clip(gaps_ms: list[int]) -> bytes:
    """An H.264 clip whose frames are `gaps_ms` apart (variable frame rate), time base 1/1000."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=30, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
        pts = 0
        for i, gap in enumerate([*gaps_ms, 40]):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 20 * i % 256, np.uint8), format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            out.mux(stream.encode(frame))
            pts += gap
        out.mux(stream.encode(None))
    return buf.getvalue()


def test_frame_count_and_variable_timestamps_are_kept() -> None:
    data = vfr_clip([33, 33, 100, 17, 250, 40, 40, 66])
    out, result = clean(data, still())
    _, times_in = decode(data)
    _, times_out = decode(out)
    assert len(times_out) == len(times_in) == result.frames == 9
    assert times_out == pytest.approx(times_in, abs=1e-3)
    assert result.duration == pytest.approx(times_in[-1] - times_in[0] + 0.04, abs=0.01)


def test_rotation_is_applied_to_the_pixels() -> None:
    def corner(index: int, width: int, height: int) -> np.ndarray:
        image = np.full((height, width, 3), 40, np.uint8)
        image[:12, :16] = (250, 250, 250)  # a white block top-left of the stored frame
        return image

    data = make_clip(0.5, 10, (64, 48), audio=False, rotation=-90, frame_fn=corner)
    out, result = clean(data, still())
    stored, _ = decode(data)
    frames, _ = decode(out)
    assert result.rotation_applied == 90 and (result.width, result.height) == (48, 64)
    assert frames[0].shape == (64, 48, 3)
    expected = np.rot90(stored[0], -1)  # shown turned 90 degrees clockwise: the block is now top-right
    assert np.abs(frames[0].astype(int) - expected.astype(int)).mean() < 6
    assert frames[0][:10, -10:].mean() > 200
    with av.open(io.BytesIO(out)) as container:
        assert next(container.decode(video=0)).rotation == 0  # no display matrix left


def test_metadata_is_removed_and_verified() -> None:
    tags = {"com.apple.quicktime.location.ISO6709": "+48.8577+002.2950/", "com.apple.quicktime.make": "Pear"}
    data = make_clip(0.5, 10, (64, 48), metadata=tags, rotation=0)
    out, result = clean(data, still())
    assert b"48.8577" not in out and b"Pear" not in out and b"Lavf" not in out and b"x264" not in out
    from anonymizer.video import inspect_video

    assert not inspect_video(io.BytesIO(out)).identifying
    if result.removed is not None:
        assert result.removed.identifying


# ---------------------------------------------------------------- regions, given faces, options


def test_regions_and_given_faces_are_obscured_in_every_frame() -> None:
    data = make_clip(1.0, 10, (96, 64), audio=False)
    box = Box(4, 4, 20, 20)
    options = CleanOptions(
        detect_faces=True, faces=(Box(60, 20, 16, 16),), regions=Regions(boxes=(box,)), method=Method.FILL,
        fill_color=MAGENTA,
    )  # fmt: skip
    out, result = clean(data, VideoCleanOptions(clean=options))
    assert result.regions_obscured and result.face_frames == 10
    for frame in decode(out)[0]:
        for area in ((slice(6, 22), slice(6, 22)), (slice(22, 34), slice(62, 74))):
            pixels = frame[area].astype(int)
            assert (pixels[..., 1] < 70).all() and (pixels[..., 0] > 190).all()


def test_a_region_with_a_time_range_applies_to_that_part_of_the_clip_only() -> None:
    if "start" not in Box.__dataclass_fields__:
        pytest.skip("regions have no time ranges in this tree")
    data = make_clip(1.0, 10, (96, 64), audio=False)
    timed = Box(4, 4, 20, 20, start=0.3, end=0.6)  # type: ignore[call-arg]
    options = CleanOptions(detect_faces=False, regions=Regions(boxes=(timed,)), method=Method.FILL, fill_color=MAGENTA)
    out, _ = clean(data, VideoCleanOptions(clean=options))
    frames, times = decode(out)
    for frame, t in zip(frames, times, strict=True):
        filled = frame[8:20, 8:20, 1].max() < 70
        assert filled == (0.3 <= t <= 0.6), f"at {t:.1f} s"


def test_options_are_validated() -> None:
    with pytest.raises(OptionsError):
        VideoCleanOptions(quality=52)
    with pytest.raises(OptionsError):
        VideoCleanOptions(lookahead=1)
    with pytest.raises(OptionsError):
        clean_video(io.BytesIO(b""), io.BytesIO(), VideoCleanOptions(clean=CleanOptions(strength=99)))


# ---------------------------------------------------------------- progress, cancel, bad input


def test_progress_is_reported_and_cancel_leaves_an_empty_sink() -> None:
    data = make_clip(3.0, 10, (64, 48), audio=True)
    calls: list[tuple[int, int]] = []
    clean(data, still(), progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (30, 30) and [c[0] for c in calls] == sorted(c[0] for c in calls)
    cancel = threading.Event()
    sink = io.BytesIO(b"stale bytes")

    def stop_early(done: int, total: int) -> None:
        if done >= 3:
            cancel.set()

    with pytest.raises(CancelledError):
        clean_video(io.BytesIO(data), sink, still(lookahead=2), progress=stop_early, cancel=cancel)
    assert sink.getvalue() == b""


def audio_only() -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=8000, layout="mono")
        for start in range(0, 8000, 1024):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 8000, start
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buf.getvalue()


@pytest.mark.parametrize(
    ("make", "error", "words"),
    [
        (lambda: make_clip(1.0, 10, (64, 48))[:1500], CorruptImageError, "truncated"),
        (lambda: SAMPLE.read_bytes(), UnsupportedFormatError, "not a video"),
        (audio_only, UnsupportedFormatError, "no video track"),
        (lambda: b"\x00\x00\x00\x18ftypisom" + bytes(64), InputError, ""),
    ],
    ids=["truncated", "photo", "no-video-track", "empty-mp4"],
)
def test_bad_videos_get_one_line_typed_errors(make: Any, error: type[Exception], words: str) -> None:
    sink = io.BytesIO()
    with pytest.raises(error) as caught:
        clean_video(io.BytesIO(make()), sink, still())
    assert words in str(caught.value) and "\n" not in str(caught.value)
    assert sink.getvalue() == b""


def test_a_truncated_faststart_video_is_refused(tmp_path: Any) -> None:
    """moov first, media data cut short (a download that stopped): every sample the index lists must be read."""
    path = tmp_path / "fast.mp4"  # the muxer's faststart pass needs a real file
    clip = io.BytesIO(make_clip(2.0, 10, (64, 48)))
    with av.open(clip) as src, av.open(str(path), "w", format="mp4", options={"movflags": "faststart"}) as out:
        stream = out.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.size:
                packet.stream = stream
                out.mux(packet)
    whole = path.read_bytes()
    assert clean(whole, still())[1].frames == 20
    for cut in (len(whole) - 100, len(whole) // 2):
        sink = io.BytesIO()
        with pytest.raises(CorruptImageError, match="truncated"):
            clean_video(io.BytesIO(whole[:cut]), sink, still())
        assert sink.getvalue() == b""


def test_a_given_detector_looks_at_the_scheduled_frames_and_its_faces_are_hidden() -> None:
    class Fake:
        name = "fake"

        def __init__(self) -> None:
            self.calls = 0

        def detect(self, rgb: np.ndarray) -> list[Detection]:
            self.calls += 1
            return [Detection(Box(30, 20, 16, 16), 0.9, "fake")]

    fake = Fake()
    data = make_clip(3.0, 10, (96, 64), audio=False)
    options = VideoCleanOptions(clean=CleanOptions(method=Method.FILL, fill_color=MAGENTA))
    out, result = clean(data, options, detector=fake)
    assert 0 < fake.calls < 30  # the schedule leaves frames to tracking
    assert result.face_frames == 30 and result.faces_tracked == 1
    for frame in decode(out)[0]:
        assert (frame[22:34, 32:44, 1] < 70).all()
