"""Frames in and out of a video with PyAV: decode upright, encode H.264 with nothing but pixels and timing.

`Source` demuxes a seekable stream once, in file order: it yields the video frames decoded and turned upright
(the track's display matrix applied, as EXIF orientation is for photos) and the audio packets untouched, so
audio can be copied bit-exact in the same pass. `Sink` encodes upright RGB frames with libx264 at their
original timestamps (variable frame rate kept), muxes the copied audio packets, and writes an MP4 that names
no encoder: the muxer runs bit-exact (no `encoder` tag), x264's settings SEI is filtered out of the
bitstream (filter_units), handler names are the muxer's neutral ones and no creation time is set.

PyAV's exceptions are translated here, at the one boundary with FFmpeg, into the library's error tree.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, BinaryIO

import av
import av.bitstream
import numpy as np
from numpy.typing import NDArray

from .. import formats
from ..errors import CorruptImageError, TooLargeError, UnsupportedFormatError, VerificationError
from ..options import Limits

RGB = NDArray[np.uint8]

#: the bitstream filter that drops SEI NAL units (x264 writes its version and settings into one)
DROP_SEI = "filter_units=remove_types=6"
#: x264 speed preset: the encoder's share of the time stays small next to face detection
X264_PRESET = "veryfast"
#: containers whose audio codecs an MP4 can carry as they are
MP4_AUDIO = frozenset({"aac", "mp3", "alac", "opus", "ac3", "eac3", "flac"})


@dataclass(frozen=True)
class Frame:
    """One decoded frame, upright: its index in decode order, RGB pixels and timing in the track's time base."""

    index: int
    rgb: RGB
    pts: int
    duration: int

    def seconds(self, time_base: Fraction) -> float:
        return float(self.pts * time_base)


@dataclass(frozen=True)
class SourceInfo:
    """What the video track is: coded size (before rotation), timing, frame count, audio codec."""

    format: str
    width: int
    height: int
    time_base: Fraction
    rate: Fraction
    frames: int  # from the sample table; 0 when the container does not say
    audio_codec: str | None


def _translate(exc: Exception, what: str) -> Exception:
    if isinstance(exc, av.error.InvalidDataError | av.error.EOFError):
        return CorruptImageError(f"{what}: the video is truncated or corrupt")
    if isinstance(exc, av.error.DecoderNotFoundError | av.error.PatchWelcomeError | NotImplementedError):
        return UnsupportedFormatError(f"{what}: the video codec is not supported")
    return CorruptImageError(f"{what}: {type(exc).__name__}")


def _turns(rotation: float) -> int:
    """Quarter turns counter-clockwise (np.rot90) that show a frame upright, from PyAV's rotation
    (the display matrix's counter-clockwise angle); only multiples of 90 degrees exist in practice."""
    return round(rotation / 90) % 4


def upright(rgb: RGB, turns: int) -> RGB:
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


class Source:
    """A video read once from a seekable stream; use as a context manager."""

    def __init__(self, src: BinaryIO, limits: Limits) -> None:
        self.limits = limits
        self.rotation = 0  # degrees clockwise applied to show the frames upright; known from the first frame
        found = formats.detect(_head(src))
        if found is None or found.kind is not formats.Kind.VIDEO:
            raise UnsupportedFormatError("not a video in a supported format (MP4, MOV, 3GP, M4V, WebM, MKV, AVI)")
        try:
            self._container = av.open(src, "r")
        except (av.FFmpegError, ValueError) as exc:
            raise CorruptImageError(f"the {found.label} video cannot be opened: it is truncated or corrupt") from exc
        try:
            self._video = self._pick_video()
            self._audio = next(iter(self._container.streams.audio), None)
            self.info = self._describe(found.name)
        except BaseException:
            self._container.close()
            raise

    def _pick_video(self) -> av.VideoStream:
        streams = [s for s in self._container.streams.video if s.codec_context is not None]
        if not streams:
            raise UnsupportedFormatError("the file has no video track")
        stream = streams[0]
        stream.thread_type = "AUTO"
        return stream

    def _describe(self, name: str) -> SourceInfo:
        stream = self._video
        ctx = stream.codec_context
        if not ctx.width or not ctx.height:
            raise CorruptImageError("the video track has no frame size")
        if ctx.width * ctx.height > self.limits.max_pixels:
            raise TooLargeError(f"video frames of {ctx.width}x{ctx.height} exceed the pixel limit")
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        tb = stream.time_base or Fraction(1, 90_000)
        audio = self._audio.codec_context.name if self._audio is not None else None
        return SourceInfo(name, ctx.width, ctx.height, tb, Fraction(rate), stream.frames, audio)

    @property
    def audio_stream(self) -> av.AudioStream | None:
        return self._audio

    def events(self, with_audio: bool) -> Iterator[Frame | av.Packet[Any]]:
        """Upright frames and (with_audio) the audio packets, in file order."""
        wanted = [self._video, self._audio] if with_audio and self._audio is not None else [self._video]
        index, samples, last = 0, 0, None
        try:
            for packet in self._container.demux(wanted):
                if packet.stream.type == "audio":
                    if packet.size:
                        yield packet
                    continue
                samples += 1 if packet.size else 0
                if packet.is_corrupt:
                    raise CorruptImageError(f"video sample {samples} is cut short: the video is truncated or corrupt")
                for decoded in packet.decode():
                    assert isinstance(decoded, av.VideoFrame)
                    frame = self._frame(decoded, index, last)
                    index, last = index + 1, frame
                    yield frame
        except av.FFmpegError as exc:
            raise _translate(exc, f"frame {index}") from exc
        self._check_complete(index, samples)

    def _frame(self, decoded: av.VideoFrame, index: int, last: Frame | None) -> Frame:
        if decoded.width * decoded.height > self.limits.max_pixels:
            raise TooLargeError(f"frame {index} of {decoded.width}x{decoded.height} exceeds the pixel limit")
        step = max(1, round(1 / (self.info.rate * self.info.time_base))) if self.info.rate else 1
        pts = decoded.pts if decoded.pts is not None else (last.pts + last.duration if last else 0)
        if last is not None and pts <= last.pts:
            raise CorruptImageError(f"frame {index}: timestamps go backwards; the video is corrupt")
        duration = int(decoded.duration) if decoded.duration else step
        if (decoded.width, decoded.height) != (self.info.width, self.info.height):
            raise UnsupportedFormatError(f"frame {index} changes the video's size; that is not supported")
        turns = _turns(decoded.rotation)
        if last is None:
            self.rotation = (4 - turns) % 4 * 90
        elif (4 - turns) % 4 * 90 != self.rotation:
            raise UnsupportedFormatError(f"frame {index} changes the video's rotation; that is not supported")
        rgb = np.asarray(decoded.to_ndarray(format="rgb24"), np.uint8)
        return Frame(index, upright(rgb, turns), int(pts), duration)

    def _check_complete(self, decoded: int, samples: int) -> None:
        """Every sample the container lists was read (frames an edit list leaves out are read, not shown)."""
        expected = self.info.frames
        if decoded == 0:
            raise CorruptImageError("no frame of the video could be decoded: it is truncated or corrupt")
        if expected and samples < expected:
            raise CorruptImageError(f"only {samples} of {expected} video samples could be read: the video is truncated")

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _head(src: BinaryIO) -> bytes:
    src.seek(0)
    head = src.read(formats.SNIFF_BYTES)
    src.seek(0)
    return head


# ---------------------------------------------------------------- encoding


@dataclass(frozen=True)
class EncodeSettings:
    width: int
    height: int
    time_base: Fraction
    rate: Fraction
    quality: int  # x264 CRF


class Sink:
    """An MP4 written to a seekable sink: H.264 from upright RGB frames, and copied audio packets."""

    def __init__(self, sink: BinaryIO, settings: EncodeSettings, audio: av.AudioStream | None) -> None:
        self._out = av.open(sink, "w", format="mp4", options={"fflags": "+bitexact"})
        try:
            self._video = self._add_video(settings)
            self._audio = self._add_audio(audio) if audio is not None else None
            self._filter = av.bitstream.BitStreamFilterContext(DROP_SEI, self._video)
        except BaseException:
            self._out.close()
            raise
        self._settings = settings
        self._durations: dict[int, int] = {}  # pts -> duration of frames given to the encoder, not yet muxed

    def _add_video(self, s: EncodeSettings) -> av.VideoStream:
        # no B-frames: samples stay in presentation order, so each keeps its own duration (variable frame rate)
        options = {"crf": str(s.quality), "preset": X264_PRESET, "flags": "+bitexact", "bf": "0"}
        stream = self._out.add_stream("libx264", rate=s.rate, options=options)
        stream.width, stream.height = s.width, s.height
        stream.pix_fmt = "yuv420p" if s.width % 2 == 0 and s.height % 2 == 0 else "yuv444p"
        stream.time_base = s.time_base
        stream.codec_context.time_base = s.time_base
        stream.thread_type = "AUTO"
        return stream

    def _add_audio(self, template: av.AudioStream) -> av.AudioStream:
        name = template.codec_context.name
        if name not in MP4_AUDIO:
            raise UnsupportedFormatError(f"the {name} audio track cannot be copied into MP4; drop the audio instead")
        stream = self._out.add_stream_from_template(template)
        stream.metadata.clear()
        return stream

    def write(self, rgb: RGB, pts: int, duration: int) -> None:
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts, frame.duration, frame.time_base = pts, duration, self._settings.time_base
        self._durations[pts] = duration
        self._mux_video(self._video.encode(frame))

    def _mux_video(self, packets: list[av.Packet[Any]]) -> None:
        for packet in packets:
            if packet.pts is not None and packet.pts in self._durations:  # libx264 guesses it from the frame rate
                packet.duration = self._durations.pop(packet.pts)
            for clean in self._filter.filter(packet):
                clean.stream = self._video
                self._out.mux(clean)

    def copy_audio(self, packet: av.Packet[Any]) -> None:
        if self._audio is not None:
            packet.stream = self._audio
            self._out.mux(packet)

    def finish(self) -> None:
        """Flush the encoder and write the index; the sink then holds a complete MP4."""
        self._mux_video(self._video.encode(None))
        for clean in self._filter.filter(None):
            clean.stream = self._video
            self._out.mux(clean)
        self._out.close()

    def abort(self) -> None:
        with contextlib.suppress(av.FFmpegError):  # the caller empties the sink; what was left unwritten is moot
            self._out.close()


def _boxes(sink: BinaryIO, start: int, end: int) -> Iterator[tuple[bytes, int, int, int]]:
    """(type, box start, payload start, box end) of the ISO BMFF boxes between `start` and `end`."""
    offset = start
    while offset + 8 <= end:
        sink.seek(offset)
        head = sink.read(16)
        size, kind = int.from_bytes(head[:4], "big"), head[4:8]
        body = offset + 8
        if size == 1:
            size, body = int.from_bytes(head[8:16], "big"), offset + 16
        elif size == 0:
            size = end - offset
        if size < body - offset or offset + size > end:
            raise VerificationError("the clean video's boxes do not add up; nothing was written")
        yield kind, offset, body, offset + size
        offset += size


def drop_user_data(sink: BinaryIO) -> None:
    """Remove the movie's `udta` box (FFmpeg's MP4 muxer always writes one, holding an empty `meta`), in place.

    The muxer writes `moov` last, after the media data, so `moov` is rewritten without it and the file cut
    short: no sample offset moves."""
    end = sink.seek(0, 2)
    top = list(_boxes(sink, 0, end))
    if not top or top[-1][0] != b"moov":
        raise VerificationError("the clean video's movie header is not at its end; nothing was written")
    _, start, body, stop = top[-1]
    kept = bytearray()
    for child, child_start, _, child_end in list(_boxes(sink, body, stop)):
        if child != b"udta":
            sink.seek(child_start)
            kept += sink.read(child_end - child_start)
    sink.seek(start)
    sink.write((8 + len(kept)).to_bytes(4, "big") + b"moov" + bytes(kept))
    sink.truncate()
    sink.seek(0)


# ---------------------------------------------------------------- reading back


@dataclass(frozen=True)
class Decoded:
    """What an encoded output holds: frames decoded, their times in seconds, and whether it has audio."""

    frames: int
    times: tuple[float, ...]
    end: float
    audio_packets: int


def read_back(src: BinaryIO) -> Decoded:
    """Decode every frame of the first video track of `src` (and count its audio packets)."""
    src.seek(0)
    times: list[float] = []
    end, audio = 0.0, 0
    with av.open(src, "r") as container:
        video = container.streams.video[0]
        video.thread_type = "AUTO"
        streams = [video, *container.streams.audio[:1]]
        for packet in container.demux(streams):
            if packet.stream.type == "audio":
                audio += 1 if packet.size else 0
                continue
            for frame in packet.decode():
                assert isinstance(frame, av.VideoFrame)
                if frame.pts is None or frame.time_base is None:
                    raise CorruptImageError("an output frame has no timestamp")
                times.append(float(frame.pts * frame.time_base))
                end = max(end, float((frame.pts + (frame.duration or 0)) * frame.time_base))
    src.seek(0)
    return Decoded(len(times), tuple(times), end, audio)


#: the only tags an output may carry: the muxer's file type and neutral handler names, undefined language
NEUTRAL_TAGS = {
    "major_brand": "isom", "minor_version": "512", "compatible_brands": "isomiso2avc1mp41",
    "language": "und", "handler_name": "VideoHandler",
}  # fmt: skip
NEUTRAL_HANDLERS = {"VideoHandler", "SoundHandler"}


def check_tags(src: BinaryIO) -> None:
    """Raise VerificationError when the container or a stream carries any tag beyond the muxer's neutral ones."""
    src.seek(0)
    with av.open(src, "r") as container:
        tagged = [dict(container.metadata), *(dict(s.metadata) for s in container.streams)]
    src.seek(0)
    for tags in tagged:
        for key, value in tags.items():
            neutral = value in NEUTRAL_HANDLERS if key == "handler_name" else NEUTRAL_TAGS.get(key) == value
            if not neutral:
                raise VerificationError(f"the clean video still carries the tag {key!r}; nothing was written")


def close_enough(a: float, b: float, time_base: Fraction) -> bool:
    """Two times equal to within half a tick of `time_base` (or a microsecond)."""
    return math.isclose(a, b, abs_tol=max(float(time_base) / 2, 1e-6))
