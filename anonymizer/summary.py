"""What was done, computed once; the CLI's line, its --json and the API's headers and JSON are views of it.

`Summary` is made by `CleanResult.summary()` and `pipeline.strip_summary()`; `report`, `detection` and
`detect_result` are the plain-data views of the other results.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .metadata.report import Finding, Report
from .types import Detection

if TYPE_CHECKING:
    from .pipeline import DetectResult

JSON = dict[str, Any]


def detection(det: Detection) -> JSON:
    b = det.box
    return {
        "box": {"x": round(b.x, 1), "y": round(b.y, 1), "w": round(b.w, 1), "h": round(b.h, 1)},
        "score": round(det.score, 3),
        "source": det.source,
    }


def finding(f: Finding) -> JSON:
    return {
        "where": f.where,
        "what": f.what,
        "category": f.category.value,
        "risk": f.level.name.lower(),
        "size": f.size,
    }


def report(rep: Report) -> JSON:
    return {"format": rep.format, "clean": rep.is_clean, "findings": [finding(f) for f in rep.findings]}


def detect_result(result: DetectResult) -> JSON:
    return {
        "width": result.width,
        "height": result.height,
        "orientation_applied": result.orientation_applied,
        "faces": [detection(d) for d in result.faces],
    }


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


@dataclass(frozen=True)
class VideoFacts:
    """What a video clean adds to the summary."""

    frames: int
    duration: float  # seconds
    faces_tracked: int  # faces followed across frames (each obscured in every frame it is in)
    face_frames: int  # frames in which at least one face was obscured
    audio_kept: bool  # whether a sound track (a voice) went out with the video
    rotation_applied: int = 0  # degrees the track's display rotation turned the frames upright


@dataclass(frozen=True)
class Summary:
    """One clean or strip: what went out and what was taken away."""

    operation: str  # "clean" or "strip"
    format: str  # of the output
    width: int
    height: int
    faces: tuple[Detection, ...]
    regions_obscured: bool  # the user's strokes, boxes, ellipses, polygons or mask covered something
    removed: Report | None  # identifying items the input carried and the output does not; None = unknown
    lossless: bool  # strip only: the compressed pixel data was kept byte for byte
    orientation_applied: int
    notes: tuple[str, ...]
    size: int  # bytes of the output
    video: VideoFacts | None = None

    @property
    def faces_obscured(self) -> int:
        return self.video.faces_tracked if self.video is not None else len(self.faces)

    @property
    def removed_items(self) -> tuple[Finding, ...] | None:
        return None if self.removed is None else self.removed.identifying

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(sorted({f.category.value for f in self.removed_items or ()}))

    def to_json(self) -> JSON:
        items = self.removed_items
        return {
            "operation": self.operation,
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "bytes": self.size,
            "faces_obscured": self.faces_obscured,
            "faces": [detection(d) for d in self.faces],
            "regions_obscured": self.regions_obscured,
            "metadata_removed": None if items is None else len(items),
            "metadata_categories": list(self.categories),
            "metadata_removed_items": None if items is None else [finding(f) for f in items],
            "lossless": self.lossless,
            "orientation_applied": self.orientation_applied,
            "notes": list(self.notes),
            "video": None if self.video is None else {
                "frames": self.video.frames, "duration": round(self.video.duration, 3),
                "faces_tracked": self.video.faces_tracked, "face_frames": self.video.face_frames,
                "audio_kept": self.video.audio_kept, "rotation_applied": self.video.rotation_applied,
            },
        }  # fmt: skip

    def line(self) -> str:
        """One line for people."""
        parts = [] if self.operation == "strip" else [f"{_count(self.faces_obscured, 'face')} obscured"]
        if self.video is not None:
            parts.append(f"{_count(self.video.frames, 'frame')}, faces hidden in {self.video.face_frames}")
            parts.append("sound track kept (a voice can identify)" if self.video.audio_kept else "no sound track")
        if self.regions_obscured:
            parts.append("regions obscured")
        items = self.removed_items
        parts.append("metadata removed: unknown" if items is None else f"{_count(len(items), 'metadata item')} removed")
        if self.operation == "strip":
            parts.append("pixels untouched" if self.lossless else "re-encoded")
        if self.orientation_applied != 1:
            parts.append(f"rotated upright (EXIF orientation {self.orientation_applied})")
        parts.extend(self.notes)
        return ", ".join(parts)
