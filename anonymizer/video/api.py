"""The video entry points: sniff, then the container's inspector, stripper and verifier."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import BinaryIO

import av

from ..errors import CorruptImageError, InputError, TooLargeError, UnsupportedFormatError, VerificationError
from ..metadata import Report, StripResult, not_carried
from ..metadata.base import Parsed
from ..options import DEFAULT_LIMITS, Limits
from . import verify
from .boxes import MAX_VIDEO_BYTES, read_at, stream_size
from .formats import VideoFormat, sniff_video
from .inspect import inspect_isobmff
from .strippers import DEMUXERS, STRIPPERS

ISOBMFF = frozenset({"mp4", "mov", "m4v", "3gp"})


def _format(src: BinaryIO) -> VideoFormat:
    size = stream_size(src)
    if size > MAX_VIDEO_BYTES:
        raise TooLargeError(f"the video is {size} bytes; the limit is {MAX_VIDEO_BYTES} bytes")
    fmt = sniff_video(read_at(src, 0, 4096))
    if fmt is None:
        raise UnsupportedFormatError("not a video in a format we handle (MP4, MOV, M4V, 3GP, MKV, WebM, AVI)")
    return fmt


def _inspectors() -> dict[str, Callable[[BinaryIO, Parsed], object]]:
    from . import matroska, riff

    return {**{name: inspect_isobmff for name in ISOBMFF}, "mkv": matroska.inspect, "webm": matroska.inspect,
            "avi": riff.inspect}


def inspect_video(src: BinaryIO, limits: Limits = DEFAULT_LIMITS) -> Report:
    """Everything a video carries besides its pictures and sound, in file order.

    A file that breaks after its first box is reported with an 'unparseable data' finding (never clean); one
    that is not a video at all raises UnsupportedFormatError or CorruptImageError.
    """
    fmt = _format(src)
    parsed = Parsed(fmt.name, limits)
    try:
        with _reader_bugs(fmt):
            _inspectors()[fmt.name](src, parsed)
    except CorruptImageError as exc:
        if not parsed.header_seen:
            raise
        parsed.unparseable(f"{fmt.name.upper()} @ {parsed.pos:#x}", exc)
    return Report(fmt.name, tuple(parsed.findings))


@contextmanager
def _reader_bugs(fmt: VideoFormat) -> Iterator[None]:
    """Defence in depth: every read is bounded, so these would be reader bugs; still a typed error."""
    try:
        yield
    except (IndexError, struct.error, ValueError, UnicodeError, OverflowError) as exc:
        raise CorruptImageError(f"the {fmt.name} structure cannot be read ({type(exc).__name__})") from exc


def verify_video(src: BinaryIO, limits: Limits = DEFAULT_LIMITS) -> Report:
    """The report of a video that must be clean; VerificationError if anything identifying is left or the
    video does not decode. Fail closed: a video that cannot be read at all is a VerificationError too."""
    report = _verified_report(src, limits)
    _summaries(src, DEMUXERS[report.format], verify.FIRST_FRAMES, who="output")
    return report


def _verified_report(src: BinaryIO, limits: Limits) -> Report:
    try:
        report = inspect_video(src, limits)
    except InputError as exc:
        raise VerificationError(f"the video cannot be read back: {exc}") from exc
    verify.check_clean(report)
    return report


def strip_video(src: BinaryIO, sink: BinaryIO, limits: Limits = DEFAULT_LIMITS) -> StripResult:
    """Write `src` to `sink` without metadata, losslessly; return what was removed.

    src: a seekable binary stream (a file opened 'rb', or io.BytesIO); it is read piece by piece, never whole.
    sink: a readable, writable and seekable binary stream, empty or to be overwritten (open(path, 'w+b'), or
    io.BytesIO): the output is written from its start, then read back and verified (nothing identifying left,
    the same streams with the same packet counts and durations as the input, its first frames decode). On any
    error the sink is truncated to zero bytes and the error raised: the caller must then discard it (the CLI
    writes to a temporary file and renames it only when this returns). StripResult.data is b"" (the output is in
    the sink); StripResult.format is the input's (and output's) format name.
    """
    fmt = _format(src)
    stripper = STRIPPERS.get(fmt.name)
    if stripper is None:
        raise UnsupportedFormatError(f"stripping {fmt.name.upper()} videos is not supported: {NOT_STRIPPABLE}; "
                                     "'inspect' lists what the file carries")
    parsed = Parsed(fmt.name, limits)
    with _reader_bugs(fmt):
        job = stripper(src, parsed, limits)
    report = Report(fmt.name, tuple(parsed.findings))
    before = _summaries(src, job.demuxer, 0, who="input")
    sink.seek(0)
    sink.truncate()
    try:
        with _reader_bugs(fmt):
            job.write(sink)
        sink.flush()
        output = _verified_report(sink, limits)
        verify.compare(before, _summaries(sink, job.demuxer, verify.FIRST_FRAMES, who="output"))
    except BaseException:
        sink.seek(0)
        sink.truncate()
        raise
    return StripResult(b"", fmt.name, True, not_carried(report, output), job.notes())


NOT_STRIPPABLE = "its index would have to be rebuilt, which is not done here (MP4, MOV, M4V, 3GP, MKV and WebM are)"


def _summaries(src: BinaryIO, demuxer: str, decode: int, who: str) -> list[verify.StreamSummary]:
    try:
        return verify.summarise(src, demuxer, decode)
    except (av.error.FFmpegError, UnicodeError, ValueError, EOFError) as exc:  # PyAV's errors, at one boundary
        if who == "input":
            raise CorruptImageError(f"the video cannot be decoded ({type(exc).__name__})") from exc
        raise VerificationError(f"the stripped video does not decode ({type(exc).__name__})") from exc
