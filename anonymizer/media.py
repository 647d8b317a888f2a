"""Photos and videos behind one door, for callers that hold files: a seekable stream in, a sink out.

Photos are read whole (they are bounded by Limits.max_bytes) and go through the bytes-in, bytes-out pipeline;
videos are streamed through anonymizer.video, never held in memory. Every function returns the one `Summary`
that front-ends show, so the CLI and the batch engine need not know which kind of file they hold.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from .errors import TooLargeError, translated
from .formats import SNIFF_BYTES, Format, Kind, sniff
from .metadata import Report
from .options import DEFAULT_LIMITS, CleanOptions, Limits
from .summary import Summary, VideoFacts

if TYPE_CHECKING:
    from .faces import Detector

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class VideoSettings:
    """What only videos need besides CleanOptions: the audio track, the encoder's quality, progress, cancel."""

    keep_audio: bool = True
    quality: int = 23  # x264 constant rate factor: 0 lossless .. 51 worst
    progress: ProgressFn | None = None
    cancel: threading.Event | None = None


def kind_of(src: BinaryIO) -> Format:
    """The format of the stream, from its first bytes; the stream is left at its start."""
    src.seek(0)
    head = src.read(SNIFF_BYTES)
    src.seek(0)
    return sniff(head)


def _read_photo(src: BinaryIO, limits: Limits) -> bytes:
    data = src.read(limits.max_bytes + 1)
    if len(data) > limits.max_bytes:
        raise TooLargeError(f"file is over the limit of {limits.max_bytes / 1e6:.0f} MB")
    return data


@translated
def inspect_stream(src: BinaryIO, limits: Limits = DEFAULT_LIMITS) -> Report:
    """What a photo or video carries besides its pixels."""
    if kind_of(src).kind is Kind.VIDEO:
        from .video import inspect_video

        return inspect_video(src, limits)
    from .verify import inspect

    return inspect(_read_photo(src, limits), limits)


@translated
def strip_stream(src: BinaryIO, sink: BinaryIO, limits: Limits = DEFAULT_LIMITS, keep_icc: bool = False) -> Summary:
    """Write `src` without its metadata to `sink` (verified first); what was done."""
    if kind_of(src).kind is Kind.VIDEO:
        from .video import strip_video

        result = strip_video(src, sink, limits)
        from .verify import strip_summary

        return _sized(strip_summary(result), sink)
    from .verify import strip, strip_summary

    stripped = strip(_read_photo(src, limits), limits, keep_icc)
    sink.write(stripped.data)
    return strip_summary(stripped)


@translated
def clean_stream(
    src: BinaryIO,
    sink: BinaryIO,
    options: CleanOptions | None = None,
    video: VideoSettings | None = None,
    detector: Detector | None = None,
) -> Summary:
    """Obscure faces and regions and drop all metadata, `src` to `sink` (verified first); what was done.

    detector: the face detector to use (a service shares one); by default the options' detector."""
    options = options or CleanOptions()
    if kind_of(src).kind is Kind.VIDEO:
        return _clean_video(src, sink, options, video or VideoSettings(), detector)
    from .pipeline import clean

    result = clean(_read_photo(src, options.limits), options, detector)
    sink.write(result.data)
    return result.summary()


def _clean_video(
    src: BinaryIO, sink: BinaryIO, options: CleanOptions, video: VideoSettings, detector: Detector | None
) -> Summary:
    from .video.clean import AudioMode, VideoCleanOptions, clean_video

    audio = AudioMode.KEEP if video.keep_audio else AudioMode.DROP
    settings = VideoCleanOptions(clean=options, audio=audio, quality=video.quality)
    result = clean_video(src, sink, settings, detector, progress=video.progress, cancel=video.cancel)
    facts = VideoFacts(
        result.frames, result.duration, result.faces_tracked, result.face_frames, result.audio_kept,
        result.rotation_applied,
    )
    summary = Summary(
        operation="clean", format=result.format, width=result.width, height=result.height, faces=(),
        regions_obscured=result.regions_obscured, removed=result.removed, lossless=False,
        orientation_applied=1, notes=result.notes, size=0, video=facts,
    )  # fmt: skip
    return _sized(summary, sink)


def _sized(summary: Summary, sink: BinaryIO) -> Summary:
    from dataclasses import replace

    sink.seek(0, 2)
    return replace(summary, size=sink.tell())
