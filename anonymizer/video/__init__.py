"""Videos: inspect and strip their metadata, losslessly.

The ISO BMFF / QuickTime family (MP4, MOV, M4V, 3GP/3G2) is read box by box from a seekable stream and stripped
by a remux of our own (`remux`); Matroska and WebM are read element by element and rewritten by our own EBML
writer (`mkvstrip`). Video and audio samples are copied bit-exact (only SEI user-data NAL units are dropped from
H.264/HEVC frames, and MPEG-4 Part 2 user data), every other track and every metadata box or element is left
behind, header times are zero, and the output is verified before `strip_video` returns. AVI is inspected;
strip refuses it with UnsupportedFormatError.

    VIDEO_FORMATS                       the formats, each with its name, MIME type, suffixes and strippable
    sniff_video(head) -> VideoFormat?   by content: ftyp brands, EBML DocType, RIFF AVI
    inspect_video(src, limits) -> Report
    strip_video(src, sink, limits) -> StripResult   (sink: readable, writable, seekable; see its docstring)
    verify_video(src, limits) -> Report             (VerificationError unless clean and decodable)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .formats import VIDEO_FORMATS, VideoFormat, sniff_video

if TYPE_CHECKING:
    from .api import inspect_video, strip_video, verify_video


def __getattr__(name: str) -> Any:
    """The strippers import PyAV: loaded on first use, so that recognising a video costs nothing."""
    if name in ("inspect_video", "strip_video", "verify_video"):
        value = getattr(importlib.import_module(".api", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'anonymizer.video' has no attribute {name!r}")

__all__ = ["VIDEO_FORMATS", "VideoFormat", "inspect_video", "sniff_video", "strip_video", "verify_video"]
