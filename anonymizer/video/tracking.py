"""Faces linked across frames, so a face is covered in every frame it is in, also where the detector missed it.

The `Tracker` is fed each frame's detections in order (or None for a frame no detector looked at) and keeps,
for every frame still in the look-ahead window, the boxes that must be obscured there, one per track:

- every track's box is moved each frame by the camera's motion (`CameraMotion`: pan, roll and zoom estimated
  from the frames themselves) and by the face's own motion (learnt from its sightings): the predicted box;
- a detection is matched to a track by overlap with its predicted box (IoU), or failing that by distance
  between centres relative to the face's size; unmatched detections start tracks;
- a track not seen in a frame is carried forward on its predicted box, grown while it stays unseen (the
  longer the gap, the less sure where the face is), for up to `coast` frames or until it leaves the frame;
- when a track is found again, the predicted boxes of the gap are corrected by the error found, spread over it;
- a new track is carried backward over the frames still in the window, against the camera's motion (and its
  own once a second sighting gives it), grown as it goes: a face entering the frame, or one the detector
  found late, is covered before its first detection;
- a scene cut ends every track: nothing is carried across it, backward or forward.

Frames leave the window in order (`release`), so memory is bounded by the window, not by the clip.
`Schedule` decides which frames get the full detector and which the cheaper one; `SceneCuts` finds cuts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
from numpy.typing import NDArray

from ..types import Box, Detection

#: a detection matches a predicted box with at least this IoU ...
MATCH_IOU = 0.2
#: ... or, failing that, when their sizes are within 2x and their centres within this many face sizes, plus
#: this many face sizes per frame since the last sighting (more for a track whose motion is not known yet)
MATCH_CENTRE = 0.5
MATCH_DRIFT = (0.7, 0.1)  # motion unknown (one sighting), motion known (the camera's is followed)
#: a track's own motion fades by this factor a frame a detector missed it (a wrong match must not carry it off)
VELOCITY_FADE = 0.85
#: a box carried over frames where the face was not seen grows by this share per frame, up to MAX_GROWTH
GROWTH_PER_FRAME = 0.04
MAX_GROWTH = 1.8
#: interpolated boxes (between two sightings) are grown this much: the face moved in between
BRIDGE_GROWTH = 1.15
#: weight of the newest motion estimate against the previous one
VELOCITY_BLEND = 0.6


Motion = NDArray[np.float64]  # 2 x 3 affine map from one frame's pixels to the next one's


def transport(box: Box, motion: Motion | None) -> Box:
    """`box` carried by the camera's motion: its centre mapped, its size scaled by the motion's zoom."""
    if motion is None:
        return box
    cx, cy = motion @ np.array([box.cx, box.cy, 1.0])
    zoom = math.sqrt(abs(float(np.linalg.det(motion[:, :2]))))
    w, h = box.w * zoom, box.h * zoom
    return Box(float(cx) - w / 2, float(cy) - h / 2, w, h)


def _inverse(motion: Motion | None) -> Motion | None:
    return None if motion is None else np.asarray(cv2.invertAffineTransform(motion), np.float64)


def _moved(box: Box, dx: float, dy: float) -> Box:
    return Box(box.x + dx, box.y + dy, box.w, box.h)


@dataclass
class _Track:
    id: int
    frame: int  # last sighting
    box: Box  # where the face is in the newest frame: seen there, or expected (camera motion plus its own)
    first_frame: int
    first_box: Box
    hits: int = 1
    velocity: tuple[float, float] = (0.0, 0.0)  # its own motion on top of the camera's, px per frame
    coasted: list[tuple[int, Box]] = field(default_factory=list)  # frames since the last sighting, expected boxes

    def reach(self, frame: int) -> float:
        """How far (px) from the expected centre a detection in `frame` may be and still be this face."""
        drift = MATCH_DRIFT[0] if self.hits == 1 else MATCH_DRIFT[1]
        return max(self.box.w, self.box.h) * (MATCH_CENTRE + drift * (frame - self.frame))


def _growth(frames: int) -> float:
    return min(MAX_GROWTH, 1.0 + GROWTH_PER_FRAME * frames)


def _lerp(a: Box, b: Box, t: float) -> Box:
    return Box(a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t, a.w + (b.w - a.w) * t, a.h + (b.h - a.h) * t)


def _union(a: Box, b: Box) -> Box:
    x0, y0 = min(a.x, b.x), min(a.y, b.y)
    return Box(x0, y0, max(a.x + a.w, b.x + b.w) - x0, max(a.y + a.h, b.y + b.h) - y0)


def _close(pred: Box, det: Box, reach: float) -> bool:
    ratio = max(pred.w, det.w) / max(1e-6, min(pred.w, det.w))
    return ratio <= 2.0 and float(np.hypot(pred.cx - det.cx, pred.cy - det.cy)) <= reach


def match(predicted: Sequence[Box], found: Sequence[Box], reach: Sequence[float]) -> list[tuple[int, int]]:
    """Pairs (track, detection): greedily by IoU first, then the remaining ones by closeness of centres (within
    each track's `reach`, in pixels)."""
    pairs: list[tuple[int, int]] = []
    if not predicted or not found:
        return pairs
    iou = np.array([[p.iou(d) for d in found] for p in predicted])
    free_t, free_d = set(range(len(predicted))), set(range(len(found)))
    for flat in np.argsort(-iou, axis=None):
        t, d = divmod(int(flat), len(found))
        if iou[t, d] < MATCH_IOU:
            break
        if t in free_t and d in free_d:
            pairs.append((t, d))
            free_t.discard(t)
            free_d.discard(d)
    for t in sorted(free_t):
        near = [d for d in free_d if _close(predicted[t], found[d], reach[t])]
        if near:
            best = min(near, key=lambda d: np.hypot(predicted[t].cx - found[d].cx, predicted[t].cy - found[d].cy))
            pairs.append((t, best))
            free_d.discard(best)
    return pairs


@dataclass
class Tracker:
    """Tracks over a window of frames; see the module docstring."""

    width: int
    height: int
    coast: int  # frames a track is carried past its last sighting
    back: int  # frames a new track is carried backward
    _tracks: list[_Track] = field(default_factory=list)
    _covers: dict[int, dict[int, Box]] = field(default_factory=dict)  # frame -> track id -> box
    _motions: dict[int, Motion | None] = field(default_factory=dict)  # frame -> camera motion into it
    _next_id: int = 0
    _oldest: int = 0  # the oldest frame still in the window
    _cut: int = 0  # the frame where the current shot began
    seen: set[int] = field(default_factory=set)  # ids of tracks with at least one detection

    def update(
        self, frame: int, detections: Sequence[Detection] | None, cut: bool = False, motion: Motion | None = None
    ) -> None:
        """Add frame `frame` (the next one), what was found in it (None when no detector looked at it) and the
        camera's motion from the previous frame to it (None when unknown: tracks then move on their own only)."""
        self._covers.setdefault(frame, {})
        if cut:
            self._tracks.clear()
            self._cut, motion = frame, None
        self._motions[frame] = motion
        for track in self._tracks:
            track.box = _moved(transport(track.box, motion), *track.velocity)
        found = [d.box for d in detections or ()]
        reach = [t.reach(frame) for t in self._tracks]
        pairs = match([t.box for t in self._tracks], found, reach)
        for t, d in pairs:
            self._sighted(self._tracks[t], frame, found[d])
        matched_t, matched_d = {t for t, _ in pairs}, {d for _, d in pairs}
        for i, track in enumerate(self._tracks):
            if i not in matched_t:
                self._carry(track, frame, looked=detections is not None)
        for d, box in enumerate(found):
            if d not in matched_d:
                self._start(frame, box)
        self._tracks = [t for t in self._tracks if self._alive(t, frame)]

    def covers(self, frame: int) -> dict[int, Box]:
        """The boxes to obscure in `frame`, by track id."""
        return dict(self._covers.get(frame, {}))

    def release(self, frame: int) -> None:
        """Frames up to `frame` have been written: forget them."""
        for old in [f for f in self._covers if f <= frame]:
            del self._covers[old]
            self._motions.pop(old, None)
        self._oldest = max(self._oldest, frame + 1)

    def active_ids(self) -> set[int]:
        """Tracks that may still get boxes in frames to come (their noise must be kept)."""
        return {t.id for t in self._tracks}

    # -------------------------------------------------------------- internals

    def _put(self, frame: int, track: int, box: Box) -> None:
        if frame < max(self._oldest, self._cut) or frame not in self._covers:
            return
        have = self._covers[frame].get(track)
        self._covers[frame][track] = box if have is None else _union(have, box)

    def _sighted(self, track: _Track, frame: int, box: Box) -> None:
        """A detection of `track`: the frames since its last sighting get their expected boxes corrected
        (the error spread over the gap) and grown; its own motion learns from the error."""
        gap = frame - track.frame
        ex, ey = box.cx - track.box.cx, box.cy - track.box.cy
        zoom = box.w / max(track.box.w, 1e-6)
        for between, expected in track.coasted:
            t = (between - track.frame) / gap
            w, h = expected.w * zoom**t, expected.h * zoom**t
            fixed = Box(expected.cx + ex * t - w / 2, expected.cy + ey * t - h / 2, w, h)
            self._put(between, track.id, fixed.scaled(BRIDGE_GROWTH))
        track.coasted.clear()
        a = VELOCITY_BLEND if track.hits > 1 else 1.0
        vx, vy = track.velocity
        track.velocity = (vx + a * ex / gap, vy + a * ey / gap)
        track.frame, track.box, track.hits = frame, box, track.hits + 1
        self._put(frame, track.id, box)
        if track.hits == 2:
            self._backward(track, moving=True)

    def _carry(self, track: _Track, frame: int, looked: bool) -> None:
        missed = frame - track.frame
        growth = _growth(missed) if looked else _growth(missed) ** 0.5
        track.coasted.append((frame, track.box))
        self._put(frame, track.id, track.box.scaled(growth))
        if looked:  # missed where a detector looked: less sure of its own motion
            track.velocity = (track.velocity[0] * VELOCITY_FADE, track.velocity[1] * VELOCITY_FADE)

    def _start(self, frame: int, box: Box) -> None:
        track = _Track(self._next_id, frame, box, frame, box)
        self._next_id += 1
        self._tracks.append(track)
        self.seen.add(track.id)
        self._put(frame, track.id, box)
        self._backward(track, moving=False)

    def _backward(self, track: _Track, moving: bool) -> None:
        """Carry a new track back over the frames before its first sighting that are still in the window:
        against the camera's motion, and against its own once known (`moving`), growing as it goes."""
        vx, vy = track.velocity if moving else (0.0, 0.0)
        box = track.first_box
        for k in range(1, self.back + 1):
            frame = track.first_frame - k
            if frame < max(self._oldest, self._cut):
                break
            box = _moved(transport(box, _inverse(self._motions.get(frame + 1))), -vx, -vy)
            self._put(frame, track.id, box.scaled(_growth(k)))

    def _alive(self, track: _Track, frame: int) -> bool:
        if frame - track.frame >= self.coast:
            return False
        box = track.box
        return box.x < self.width and box.y < self.height and box.x + box.w > 0 and box.y + box.h > 0


# ---------------------------------------------------------------- scene cuts and the detection schedule

#: frames are compared as colour histograms of a thumbnail this wide
THUMB_WIDTH = 64
#: a cut is a change of histogram correlation below this between consecutive frames
CUT_CORRELATION = 0.5


class SceneCuts:
    """Finds hard cuts: consecutive frames whose colour histograms hardly correlate."""

    def __init__(self) -> None:
        self._last: NDArray[np.float32] | None = None

    def __call__(self, rgb: NDArray[np.uint8]) -> bool:
        height, width = rgb.shape[:2]
        size = (THUMB_WIDTH, max(1, round(THUMB_WIDTH * height / width)))
        hsv = cv2.cvtColor(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2HSV)
        counts = cv2.calcHist([hsv], [0, 1, 2], None, [8, 4, 4], [0, 180, 0, 256, 0, 256])
        hist = np.asarray(counts, np.float32).ravel()
        last, self._last = self._last, hist
        if last is None or not last.std() or not hist.std():
            return last is not None and not np.array_equal(last, hist)
        return float(np.corrcoef(last, hist)[0, 1]) < CUT_CORRELATION


#: the camera's motion is estimated on frames reduced to this width
MOTION_WIDTH = 480
#: ... from at least this many corners followed from one frame to the next that agree on one motion
MOTION_POINTS = 12


class CameraMotion:
    """The camera's motion between consecutive frames (pan, roll, zoom: a similarity transform), from corners
    followed by optical flow and fitted robustly; None when the frame gives too little to follow."""

    def __init__(self) -> None:
        self._last: NDArray[np.uint8] | None = None

    def __call__(self, rgb: NDArray[np.uint8]) -> Motion | None:
        height, width = rgb.shape[:2]
        scale = min(1.0, MOTION_WIDTH / width)
        small = cv2.resize(
            rgb, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA
        )
        gray = np.asarray(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), np.uint8)
        last, self._last = self._last, gray
        if last is None or last.shape != gray.shape:
            return None
        corners = cv2.goodFeaturesToTrack(last, 300, 0.01, 6)
        if corners is None or len(corners) < MOTION_POINTS:
            return None
        moved, status, _ = cv2.calcOpticalFlowPyrLK(last, gray, corners, None, winSize=(21, 21), maxLevel=3)
        ok = status.ravel() == 1
        if ok.sum() < MOTION_POINTS:
            return None
        fit, inliers = cv2.estimateAffinePartial2D(corners[ok], moved[ok], method=cv2.RANSAC, ransacReprojThreshold=1.5)
        if fit is None or inliers is None or int(inliers.sum()) < MOTION_POINTS:
            return None
        motion = np.asarray(fit, np.float64)
        motion[:, 2] /= scale  # the same motion in full-size pixels
        return motion


@dataclass(frozen=True)
class Schedule:
    """Which detector looks at which frame: the full one on the first frame, every `full_every` frames and on
    cuts; the light one every `light_every` frames in between; none on the rest (tracking carries them)."""

    full_every: int
    light_every: int

    def choose(self, frame: int, since_full: int, cut: bool) -> str | None:
        if frame == 0 or cut or since_full >= self.full_every:
            return "full"
        if self.light_every and since_full % self.light_every == 0:
            return "light"
        return None
