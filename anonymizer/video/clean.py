"""Clean a video: every face hidden in every frame, brushed regions over the clip, audio copied or dropped.

    decode upright ─► detect (full / light / none, by schedule) ─► track over the look-ahead window
        ─► (frame leaves the window) background ─► faces on their tracks' grids ─► regions ─► encode
    then verify: metadata (anonymizer.video.verify_video), and the output decodes to the same frames,
    timestamps and duration.

The source is a seekable binary stream and the output goes to a seekable sink the caller provides; no path is
touched. Memory holds the look-ahead window of frames (capped by WINDOW_BYTES), not the clip. On any error or
cancellation the sink is emptied before the exception propagates, so the caller never holds a partial video.

Detection plan (bench/bench_video.py measures it): the full detector (the photo ensemble by default) on the
first frame, every `FULL_EVERY` frames and on scene cuts; a light single-pass detector every `LIGHT_EVERY`
frames between; tracking carries every face over the frames between, forward and backward.
"""

from __future__ import annotations

import ctypes
import functools
import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, BinaryIO, cast

import av
import numpy as np

from .. import obscure, regions, segmentation
from ..errors import AnonymizerError, CancelledError, OptionsError, VerificationError
from ..faces import Detector, get_detector
from ..faces.ensemble import Ensemble, Pass, Plan
from ..metadata import Report
from ..options import Background, CleanOptions
from ..types import Box, Detection, Regions
from . import frames as fr
from .tracking import CameraMotion, SceneCuts, Schedule, Tracker

#: frames between two runs of the full detector (and the least look-ahead that still bridges them)
FULL_EVERY = 12
#: the light detector looks at every LIGHT_EVERY-th frame between (0: never)
LIGHT_EVERY = 2
#: default look-ahead, in frames
LOOKAHEAD = 24
#: the window of frames never holds more than this many bytes of pixels: 1080p gets 16 frames, 4K 4 (never less
#: than 2); with the models and the encoder, a 1080p clip of any length then peaks under 1 GB (bench_video)
WINDOW_BYTES = 100 * 1024 * 1024
#: the light detector: one CenterFace pass at LIGHT_SHARE of the frame's long side, within LIGHT_SIDE px, with a
#: lower threshold (tracks confirm it). A 1440 px pass for 1080p found no more small faces in bench_video (16-32 px
#: faces hidden: 94.3 % against 95.0 %) and took 60 % more time and ~150 MB more memory, so 1024 px it is.
LIGHT_SHARE = 0.75
LIGHT_SIDE = (1024, 1024)
#: a tracked face's box is grown this much before face_scale: motion blur and the detectors' jitter from frame to
#: frame (a face hidden in one frame and half shown in the next is not hidden)
TRACK_MARGIN = 1.1
#: ... and padded by this many pixels on every side, and above and below by this share of its height more: a small
#: face's box is off by a pixel or two more often than not, and detectors' boxes are squarer than heads
TRACK_PAD_PX = 3.0
TRACK_PAD_TALL = 0.1
#: an anchored face region is clipped to the frame grown by this share of its size on every side
ANCHOR_MARGIN = 0.5

ProgressFn = Callable[[int, int], None]

__all__ = ["AudioMode", "CancelledError", "VideoCleanOptions", "VideoCleanResult", "clean_video"]


class AudioMode(StrEnum):
    """What happens to the audio track: copied bit-exact, or left out."""

    KEEP = "keep"
    DROP = "drop"


@dataclass(frozen=True)
class VideoCleanOptions:
    """What `clean_video` does: the photo options for every frame, plus audio, quality and look-ahead.

    quality: x264's constant rate factor, 0 (lossless) to 51 (worst); 23 is x264's default.
    lookahead: frames held for tracking; faces missed for up to this many frames are still covered.
    """

    clean: CleanOptions = field(default_factory=CleanOptions)
    audio: AudioMode = AudioMode.KEEP
    quality: int = 23
    lookahead: int = LOOKAHEAD

    def __post_init__(self) -> None:
        if isinstance(self.quality, bool) or not 0 <= self.quality <= 51:
            raise OptionsError(f"video quality is x264's CRF from 0 (best) to 51 (worst), not {self.quality}")
        if isinstance(self.lookahead, bool) or not 2 <= self.lookahead <= 600:
            raise OptionsError(f"look-ahead must be between 2 and 600 frames, not {self.lookahead}")


@dataclass(frozen=True)
class VideoCleanResult:
    """What was done to make the clean video (which is in the caller's sink)."""

    format: str
    frames: int
    duration: float
    width: int
    height: int
    faces_tracked: int
    face_frames: int
    regions_obscured: bool
    audio_kept: bool
    rotation_applied: int
    removed: Report | None
    notes: tuple[str, ...]


_light: dict[int, Detector] = {}
_light_lock = threading.Lock()


def light_detector(width: int, height: int) -> Detector:
    """The light detector for frames of this size, built once per process (all share the CenterFace model)."""
    low, high = LIGHT_SIDE
    side = min(high, max(low, round(LIGHT_SHARE * max(width, height))))
    with _light_lock:
        if side not in _light:
            _light[side] = Ensemble("video-light", Plan((Pass(side),), threshold=0.3, candidates=0.2))
        return _light[side]


def _regions_at(all_regions: Regions, seconds: float) -> Regions:
    """The shapes active at `seconds` (anonymizer.regions.regions_at, where regions carry time ranges)."""
    at = getattr(regions, "regions_at", None)
    return all_regions if at is None else cast(Regions, at(all_regions, seconds))


def face_anchor(box: Box, options: CleanOptions, noise: obscure.NoiseSource, size: tuple[int, int]) -> obscure.Anchor:
    """A tracked face as an anchored region: its box grown `face_scale` times (box or ellipse), the grid laid on
    that grown box (clipped to the frame widened by ANCHOR_MARGIN of the box, which bounds its memory)."""
    width, height = size
    grown = box.scaled(options.face_scale)
    mx, my = ANCHOR_MARGIN * grown.w, ANCHOR_MARGIN * grown.h
    x0 = max(math.floor(grown.x), math.floor(-mx))
    y0 = max(math.floor(grown.y), math.floor(-my))
    x1 = min(math.ceil(grown.x + grown.w), math.ceil(width + mx))
    y1 = min(math.ceil(grown.y + grown.h), math.ceil(height + my))
    canvas = np.zeros((max(1, y1 - y0), max(1, x1 - x0)), np.uint8)
    local = Box(box.x - x0, box.y - y0, box.w, box.h)
    regions.draw_face(canvas, local, options.face_scale, options.face_shape)
    return obscure.Anchor(x0, y0, canvas.view(np.bool_), noise)


def _trim_heap() -> None:
    """Give freed heap memory back to the system (glibc's malloc_trim, where there is one): per-frame buffers of
    changing sizes otherwise let a long clip's resident memory creep up."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def _padded(box: Box) -> Box:
    pad, tall = TRACK_PAD_PX, TRACK_PAD_PX + TRACK_PAD_TALL * box.h
    return Box(box.x - pad, box.y - tall, box.w + 2 * pad, box.h + 2 * tall)


@dataclass
class _Stats:
    frames: int = 0
    face_frames: int = 0
    regions: bool = False
    audio_packets: int = 0
    times: list[float] = field(default_factory=list)
    end: float = 0.0


class _Cleaner:
    """One run: the window of frames, the tracker, the detectors and the encoder."""

    def __init__(self, source: fr.Source, sink: BinaryIO, options: VideoCleanOptions, detector: Detector | None):
        self.source, self.sink_io, self.options = source, sink, options
        self.progress: ProgressFn | None = None
        self.cancel: threading.Event | None = None
        self.detect_faces = options.clean.faces is None and options.clean.detect_faces
        self.full = (detector or get_detector(options.clean.detector)) if self.detect_faces else None
        # a shared photo detector (an Ensemble, as a service passes) still leaves the frames between to the light
        # pass; any other detector given (a test's, a custom one) looks at every scheduled frame itself
        self.given = None if isinstance(detector, Ensemble) else detector
        self.light: Detector | None = self.given if self.detect_faces else None  # by frame size when None
        self.window: deque[fr.Frame] = deque()
        self.pending_audio: list[av.Packet[Any]] = []
        self.encoder: fr.Sink | None = None
        self.tracker: Tracker | None = None
        self.schedule = Schedule(FULL_EVERY, LIGHT_EVERY)
        self.cuts = SceneCuts()
        self.camera = CameraMotion()
        self.since_full = 0
        self.noise: dict[object, obscure.FixedNoise] = {}
        self.mask_cache: tuple[Regions, np.ndarray] | None = None
        self.stats = _Stats()
        self.lookahead = options.lookahead

    # -------------------------------------------------------------- input

    def audio(self, packet: av.Packet[Any]) -> None:
        if self.encoder is None:
            self.pending_audio.append(packet)
        else:
            self.encoder.copy_audio(packet)
        self.stats.audio_packets += 1

    def frame(self, frame: fr.Frame) -> None:
        """Take one decoded frame; the oldest one leaves the window when it is full."""
        if self.encoder is None:
            self._open(frame)
        assert self.tracker is not None
        cut, motion = self.cuts(frame.rgb), self.camera(frame.rgb)
        self.tracker.update(frame.index, self._detect(frame, cut), cut, motion)
        self.window.append(frame)
        while len(self.window) > self.lookahead:
            self._emit(self.window.popleft())

    def _open(self, first: fr.Frame) -> None:
        height, width = first.rgb.shape[:2]
        info = self.source.info
        self.lookahead = max(2, min(self.options.lookahead, WINDOW_BYTES // (width * height * 3)))
        full_every = min(FULL_EVERY, self.lookahead)
        self.schedule = Schedule(full_every, LIGHT_EVERY)
        self.tracker = Tracker(width, height, coast=max(self.lookahead, 2 * full_every), back=self.lookahead)
        if self.detect_faces and self.given is None:
            self.light = light_detector(width, height)
        settings = fr.EncodeSettings(width, height, info.time_base, info.rate, self.options.quality)
        keep = self.options.audio is AudioMode.KEEP
        self.encoder = fr.Sink(self.sink_io, settings, self.source.audio_stream if keep else None)
        for packet in self.pending_audio:
            self.encoder.copy_audio(packet)
        self.pending_audio.clear()

    def _detect(self, frame: fr.Frame, cut: bool) -> list[Detection] | None:
        if self.full is None or self.light is None:
            return None
        which = self.schedule.choose(frame.index, self.since_full, cut)
        self.since_full = 1 if which == "full" else self.since_full + 1
        if which is None:
            return None
        return (self.full if which == "full" else self.light).detect(frame.rgb)

    # -------------------------------------------------------------- output

    def _emit(self, frame: fr.Frame) -> None:
        assert self.encoder is not None and self.tracker is not None
        if self.cancel is not None and self.cancel.is_set():
            raise CancelledError("cancelled; nothing was written")
        seconds = frame.seconds(self.source.info.time_base)
        pixels = segmentation.obscure_background(frame.rgb, self.options.clean)
        anchors = self._anchors(frame, (pixels.shape[1], pixels.shape[0]))
        if anchors:
            pixels = obscure.apply_anchored(pixels, anchors, self.options.clean)
        mask = self._mask(_regions_at(self.options.clean.regions, seconds), pixels.shape[0], pixels.shape[1])
        if mask is not None:
            pixels = obscure.apply(pixels, mask, self.options.clean, self._rect_noise)
        self.encoder.write(pixels, frame.pts, frame.duration)
        self.tracker.release(frame.index)
        self._count(frame, seconds, bool(anchors), mask is not None)

    def _count(self, frame: fr.Frame, seconds: float, faces: bool, masked: bool) -> None:
        stats = self.stats
        stats.frames += 1
        stats.face_frames += faces
        stats.regions |= masked
        stats.times.append(seconds)
        stats.end = max(stats.end, float((frame.pts + frame.duration) * self.source.info.time_base))
        if stats.frames % 256 == 0:
            self._forget_noise()
            _trim_heap()
        if self.progress is not None:
            self.progress(stats.frames, self.source.info.frames)

    def _anchors(self, frame: fr.Frame, size: tuple[int, int]) -> list[obscure.Anchor]:
        assert self.tracker is not None
        covers = self.tracker.covers(frame.index).items()
        boxes: dict[object, Box] = {("track", k): _padded(v.scaled(TRACK_MARGIN)) for k, v in covers}
        boxes.update({("user", i): b for i, b in enumerate(self.options.clean.faces or ())})
        return [face_anchor(box, self.options.clean, self._noise(key), size) for key, box in boxes.items()]

    def _noise(self, key: object) -> obscure.FixedNoise:
        if key not in self.noise:
            self.noise[key] = obscure.FixedNoise()
        return self.noise[key]

    def _rect_noise(self, rect: tuple[int, int, int, int]) -> obscure.NoiseSource:
        return self._noise(("rect", rect))

    def _forget_noise(self) -> None:
        """Drop the draws of tracks that have ended and left the window."""
        assert self.tracker is not None
        live = self.tracker.active_ids() | {k for f in self.window for k in self.tracker.covers(f.index)}
        for key in [k for k in self.noise if isinstance(k, tuple) and k[0] == "track" and k[1] not in live]:
            del self.noise[key]

    def _mask(self, active: Regions, height: int, width: int) -> np.ndarray | None:
        if active.is_empty():
            return None
        if self.mask_cache is None or self.mask_cache[0] != active:
            self.mask_cache = (active, regions.build_mask(height, width, active, (), self.options.clean))
        mask = self.mask_cache[1]
        return mask if mask.any() else None

    def finish(self) -> None:
        while self.window:
            self._emit(self.window.popleft())
        if self.encoder is None:
            raise VerificationError("no frame was decoded; nothing was written")
        self.encoder.finish()

    def abort(self) -> None:
        if self.encoder is not None:
            self.encoder.abort()


def _empty(sink: BinaryIO) -> None:
    """Leave nothing in the sink: a partial video must not reach anyone."""
    try:
        sink.seek(0)
        sink.truncate()
    except (OSError, ValueError):
        pass  # a closed sink holds nothing the caller can hand on either


def clean_video(
    src: BinaryIO,
    sink: BinaryIO,
    options: VideoCleanOptions | None = None,
    detector: Detector | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> VideoCleanResult:
    """Obscure faces (tracked over frames) and regions in every frame of `src`, write a verified MP4 to `sink`.

    detector: runs on the full frames instead of the options' detector (a service shares one); the frames between
    get the light single-pass detector, unless `detector` is not one of the library's ensembles (a test's fake),
    which then looks at every scheduled frame. progress: (frames written, total frames or
    0 when unknown). cancel: set it to stop; CancelledError is raised and the sink is emptied.
    """
    options = options or VideoCleanOptions()
    obscure.check_options(options.clean)
    regions.validate(options.clean.regions)
    try:
        return _run(src, sink, options, detector, progress, cancel)
    except BaseException:
        _empty(sink)
        raise


def _run(
    src: BinaryIO,
    sink: BinaryIO,
    options: VideoCleanOptions,
    detector: Detector | None,
    progress: ProgressFn | None,
    cancel: threading.Event | None,
) -> VideoCleanResult:
    keep = options.audio is AudioMode.KEEP
    with fr.Source(src, options.clean.limits) as source:
        cleaner = _Cleaner(source, sink, options, detector)
        cleaner.progress, cleaner.cancel = progress, cancel
        try:
            _feed(source, cleaner, keep, cancel)
            cleaner.finish()
            fr.drop_user_data(sink)
        except av.FFmpegError as exc:
            cleaner.abort()
            raise VerificationError(f"the clean video could not be written ({type(exc).__name__})") from exc
        except BaseException:
            cleaner.abort()
            raise
        info, rotation = source.info, source.rotation
    carried = _verify(sink, cleaner, options)
    return _result(src, cleaner, info, rotation, carried, options)


def _feed(source: fr.Source, cleaner: _Cleaner, keep: bool, cancel: threading.Event | None) -> None:
    for event in source.events(with_audio=keep):
        if cancel is not None and cancel.is_set():
            raise CancelledError("cancelled; nothing was written")
        if isinstance(event, fr.Frame):
            cleaner.frame(event)
        else:
            cleaner.audio(event)
    if cancel is not None and cancel.is_set():
        raise CancelledError("cancelled; nothing was written")


def _verify(sink: BinaryIO, cleaner: _Cleaner, options: VideoCleanOptions) -> Report | None:
    """Fail closed: metadata left, or frames, timestamps, duration or audio not as written, raise."""
    carried = _verify_metadata(sink, options)
    try:
        back = fr.read_back(sink)
    except (av.FFmpegError, AnonymizerError, IndexError) as exc:
        raise VerificationError("the clean video does not decode; nothing was written") from exc
    stats, tb = cleaner.stats, cleaner.source.info.time_base
    if back.frames != stats.frames:
        raise VerificationError(f"the clean video has {back.frames} frames, not {stats.frames}")
    if not all(fr.close_enough(a, b, tb) for a, b in zip(sorted(back.times), stats.times, strict=True)):
        raise VerificationError("the clean video's timestamps differ from the original's")
    if not fr.close_enough(back.end, stats.end, tb):
        raise VerificationError(f"the clean video lasts {back.end:.3f} s, not {stats.end:.3f} s")
    expected_audio = stats.audio_packets if options.audio is AudioMode.KEEP else 0
    if back.audio_packets != expected_audio:
        raise VerificationError(f"the clean video has {back.audio_packets} audio packets, not {expected_audio}")
    return carried


def _verify_metadata(sink: BinaryIO, options: VideoCleanOptions) -> Report | None:
    """The output's metadata report via anonymizer.video.verify_video (raises if anything identifying is left);
    where that is not available, frames.check_tags: only the muxer's neutral tags may be present."""
    from .. import video

    verify = getattr(video, "verify_video", None)
    sink.seek(0)
    try:
        if verify is not None:
            return cast(Report, verify(sink, options.clean.limits))
    except ImportError:
        pass  # the metadata reader for some container is missing: check what PyAV sees instead
    finally:
        sink.seek(0)
    fr.check_tags(sink)
    return None


def _input_report(src: BinaryIO, options: VideoCleanOptions) -> Report | None:
    from .. import video

    inspect = getattr(video, "inspect_video", None)
    if inspect is None:
        return None
    try:
        src.seek(0)
        return cast(Report, inspect(src, options.clean.limits))
    except (AnonymizerError, ImportError):
        return None  # informational; the output was rebuilt from pixels and verified anyway
    finally:
        src.seek(0)


def _result(
    src: BinaryIO,
    cleaner: _Cleaner,
    info: fr.SourceInfo,
    rotation: int,
    carried: Report | None,
    options: VideoCleanOptions,
) -> VideoCleanResult:
    stats = cleaner.stats
    assert cleaner.tracker is not None
    removed = _input_report(src, options)
    if removed is not None and carried is not None:
        from ..metadata import not_carried

        removed = not_carried(removed, carried)
    return VideoCleanResult(
        format="mp4",
        frames=stats.frames,
        duration=stats.end - (stats.times[0] if stats.times else 0.0),
        width=cleaner.tracker.width,
        height=cleaner.tracker.height,
        faces_tracked=len(cleaner.tracker.seen),
        face_frames=stats.face_frames,
        regions_obscured=stats.regions,
        audio_kept=options.audio is AudioMode.KEEP and stats.audio_packets > 0,
        rotation_applied=rotation,
        removed=removed,
        notes=_notes(cleaner, info, rotation, options),
    )


def _notes(cleaner: _Cleaner, info: fr.SourceInfo, rotation: int, options: VideoCleanOptions) -> tuple[str, ...]:
    notes: list[str] = []
    if rotation:
        notes.append(f"turned {rotation} degrees clockwise to upright")
    if options.audio is AudioMode.DROP and info.audio_codec:
        notes.append("audio dropped")
    elif info.audio_codec is None:
        notes.append("the video has no audio track")
    if options.clean.background is not Background.KEEP:
        notes.append(f"obscured everything but the people ({options.clean.background.value})")
    if cleaner.lookahead < options.lookahead:
        notes.append(f"look-ahead shortened to {cleaner.lookahead} frames for the frame size")
    return tuple(notes)
