"""The strippers, one per container family: each inspects the input (filling the report of what it carries),
plans what to keep, and hands back how to write the output and what to say about it. A new container is one
function and one entry in STRIPPERS."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from ..metadata.base import Parsed
from ..options import Limits
from . import matroska, mkvstrip, remux
from .inspect import inspect_isobmff

SEI_NOTE = "dropped encoder/camera user data (SEI) from {n} video frame(s); the pictures are unchanged"


@dataclass(frozen=True)
class Job:
    """A planned strip: write(sink) writes the output; notes() says what was done; demuxer is PyAV's name for
    the container, used to compare input and output."""

    write: Callable[[BinaryIO], object]
    notes: Callable[[], tuple[str, ...]]
    demuxer: str


def isobmff(src: BinaryIO, parsed: Parsed, limits: Limits) -> Job:
    top = inspect_isobmff(src, parsed)
    movie = remux.plan(src, top, limits)

    def notes() -> tuple[str, ...]:
        said = [f"dropped {', '.join(movie.dropped)}"] if movie.dropped else []
        return (*said, SEI_NOTE.format(n=movie.sei_samples)) if movie.sei_samples else tuple(said)

    return Job(lambda sink: remux.write(src, sink, movie, limits), notes, "mov")


def matroska_family(src: BinaryIO, parsed: Parsed, limits: Limits) -> Job:
    matroska.inspect(src, parsed)
    movie = mkvstrip.plan(src, limits)

    def notes() -> tuple[str, ...]:
        said = [f"dropped {', '.join(movie.dropped)}"] if movie.dropped else []
        said.append("left out the seek index (Cues); players find their way without it")
        return (*said, SEI_NOTE.format(n=movie.sei_blocks)) if movie.sei_blocks else tuple(said)

    return Job(lambda sink: mkvstrip.write(src, sink, movie, limits), notes, "matroska")


STRIPPERS: dict[str, Callable[[BinaryIO, Parsed, Limits], Job]] = {
    "mp4": isobmff, "mov": isobmff, "m4v": isobmff, "3gp": isobmff, "mkv": matroska_family, "webm": matroska_family,
}  # fmt: skip
DEMUXERS = {"mp4": "mov", "mov": "mov", "m4v": "mov", "3gp": "mov", "mkv": "matroska", "webm": "matroska",
            "avi": "avi"}
