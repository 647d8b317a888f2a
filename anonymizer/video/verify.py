"""Fail closed: a stripped video is re-read before strip_video returns. Inspect must find nothing identifying
(inspect reports every box it does not know as unknown data, so this is an allowlist of boxes), and PyAV must
read the output as the same movie: the same video and audio streams, each with the same number of packets (one
packet is one frame for the codecs kept) and the same duration as in the input, and the first FIRST_FRAMES
frames of each video stream must decode. Decoding every frame of both files would cost seconds per minute of
video for nothing the packet counts do not already show; the tests decode every frame and compare them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

import av

from ..errors import VerificationError
from ..metadata import Report

FIRST_FRAMES = 8
DURATION_TOLERANCE = 0.002  # seconds


@dataclass(frozen=True)
class StreamSummary:
    kind: str
    packets: int
    duration: float | None
    frames: int


def check_clean(report: Report) -> None:
    left = report.identifying
    if left:
        first = left[0]
        raise VerificationError(f"the stripped video still carries {len(left)} metadata item(s), first at "
                                f"{first.where} ({first.category.value}); nothing was written")


def summarise(src: BinaryIO, demuxer: str, decode: int) -> list[StreamSummary]:
    """Of a file read with PyAV's `demuxer`, per video/audio stream in order: packets, duration in seconds,
    and how many of the first `decode` frames decode (video only)."""
    src.seek(0)
    with av.open(src, "r", format=demuxer, metadata_errors="replace", buffer_size=1 << 20) as container:
        streams = [s for s in container.streams if s.type in ("video", "audio")]
        counts = {s.index: 0 for s in streams}
        for packet in container.demux(streams):
            if packet.size:
                counts[packet.stream.index] += 1
        frames = {s.index: _frames(container, s, decode) for s in streams if s.type == "video" and decode}
        return [StreamSummary(s.type, counts[s.index], _seconds(s), frames.get(s.index, 0)) for s in streams]


def _seconds(stream: av.stream.Stream) -> float | None:
    if stream.duration is None or stream.time_base is None:
        return None
    return float(stream.duration * stream.time_base)


def _frames(container: av.container.InputContainer, stream: av.stream.Stream, limit: int) -> int:
    container.seek(0, stream=stream)
    count = 0
    for _frame in container.decode(stream):
        count += 1
        if count >= limit:
            break
    return count


def compare(before: list[StreamSummary], after: list[StreamSummary]) -> None:
    if [s.kind for s in before] != [s.kind for s in after]:
        raise VerificationError("the stripped video does not have the same video and audio streams as the input")
    for i, (a, b) in enumerate(zip(before, after, strict=True)):
        what = f"{a.kind} stream {i + 1}"
        if a.packets != b.packets:
            raise VerificationError(f"{what}: {b.packets} packets after stripping, {a.packets} before")
        if a.duration is not None and (b.duration is None or abs(a.duration - b.duration) > DURATION_TOLERANCE):
            raise VerificationError(f"{what}: duration {b.duration} s after stripping, {a.duration} s before")
        if a.kind == "video" and b.frames < min(FIRST_FRAMES, a.packets):
            raise VerificationError(f"{what}: only {b.frames} of its first {FIRST_FRAMES} frames decode after "
                                    "stripping")
