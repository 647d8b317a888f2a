"""Videos: inspect and strip their metadata, losslessly.

The ISO BMFF / QuickTime family (MP4, MOV, M4V, 3GP/3G2) is read box by box from a seekable stream and stripped
by a remux of our own (`remux`): video and audio samples are copied (only SEI user-data NAL units are dropped
from H.264/HEVC samples), every other track and every metadata box is dropped, header times are zero, and the
output is verified before `strip_video` returns. Matroska/WebM and AVI are inspected; strip refuses them.
"""

from __future__ import annotations

from .api import inspect_video, strip_video, verify_video
from .formats import VIDEO_FORMATS, VideoFormat, sniff_video

__all__ = ["VIDEO_FORMATS", "VideoFormat", "inspect_video", "sniff_video", "strip_video", "verify_video"]
