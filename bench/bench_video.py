"""Video benchmark: faces hidden in every frame, speed and memory, against deface 1.5.0.

Usage:
    .venv/bin/python bench/bench_video.py [--quick] [--photos N] [--frames N] [--sizes 720,1080]
                                          [--deface /tmp/defacevenv/bin/deface | --no-deface] [--keep DIR]

Clips are made from the WIDER FACE validation photos under ../shared/corpus/faces by a virtual hand-held camera:
it pans across the photo and zooms in and out, rolls a few degrees, shakes (a smoothed random walk), blurs with
its motion (each frame is the mean of three warps along the motion) and the clip is H.264-compressed at CRF 26,
as a phone would. The camera's affine map of each frame is known, so every frame's face boxes are known (the
labelled boxes' centres mapped, their size scaled by the zoom).

Both tools fill faces with solid black (ours: `clean_video` with method fill; deface: --replacewith solid), in
one worker process per tool and frame size (all clips of that size in one run, so start-up is shared):
- fps: frames of all clips / the worker's wall time (decoding, detection, encoding, start-up, model loading);
- peak memory: the worker's peak resident set over all its clips (os.wait4) and, for ours, the largest peak of a
  single clip (the worker resets its peak before each clip through /proc/self/clear_refs);
- hidden: share of face-frames (valid labelled faces, at least half inside the frame, by their height in the
  frame) of which >= 80 % of the visible box is black (all channels < 48) in the output; faces WIDER labels as
  heavily occluded (a hat over the face, the back of a head) are left out unless --occluded;
- faces seen: faces (per clip) not hidden in at least one of their frames, by their median height.
Ties in darkness favour deface (dark hair counts as hidden for both).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import wider
from numpy.typing import NDArray
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DEFACE = Path("/tmp/defacevenv/bin/deface")
SIZES = {720: (1280, 720), 1080: (1920, 1080)}
FPS = 30
HIDDEN = 0.8  # a face-frame is hidden when this share of its visible box is filled
DARK = 48  # filled pixels are below this in every channel after compression
BUCKETS = [("10-16", 10, 16), ("16-32", 16, 32), (">=32", 32, 1e9)]

Boxes = NDArray[np.float64]  # N x 4: x, y, w, h in the frame


# ---------------------------------------------------------------- the virtual camera


@dataclass
class Clip:
    path: Path
    frames: int
    size: tuple[int, int]  # width, height
    boxes: list[Boxes] = field(default_factory=list)  # per frame, every valid face (rows stay aligned: face id)


def _shake(rng: np.random.Generator, n: int, px: float) -> NDArray[np.float64]:
    """A hand's tremor: a random walk of about `px` per step, smoothed and pulled back towards zero."""
    walk, value = np.zeros(n), 0.0
    for i, step in enumerate(rng.normal(0, px, n)):
        value = 0.9 * value + step
        walk[i] = value
    return np.convolve(walk, np.ones(3) / 3, mode="same")


def camera_path(photo: tuple[int, int], out: tuple[int, int], frames: int, seed: int) -> list[NDArray[np.float64]]:
    """The 2 x 3 affine map (photo -> frame) of every frame, 3 samples a frame over half its interval (a 1/60 s
    shutter at 30 fps: motion blur): a slow pan (8 and 11 s periods) with zoom (6 s), roll (5 s, up to 4 degrees)
    and a shake of about 1.5 px a sample, each starting at a random phase."""
    rng = np.random.default_rng(seed)
    (pw, ph), (ow, oh) = photo, out
    roll_max = 4.0
    base = 1.12 * max(ow / pw, oh / ph) / math.cos(math.radians(roll_max)) ** 2  # window always inside the photo
    phase = rng.uniform(0, 2 * np.pi, 4)
    seconds = np.array([(f + k / 4) / FPS for f in range(frames) for k in (-1, 0, 1)])
    zoom = base * (1.0 + 0.3 * (0.5 - 0.5 * np.cos(2 * np.pi * seconds / 6 + phase[0])))
    roll = roll_max * np.sin(2 * np.pi * seconds / 5 + phase[1])
    shake = _shake(rng, len(seconds), 1.5), _shake(rng, len(seconds), 1.5)
    maps = []
    for i, z in enumerate(zoom):
        span_x, span_y = max(0.0, pw / 2 - 0.55 * ow / z), max(0.0, ph / 2 - 0.55 * oh / z)
        cx = pw / 2 + span_x * 0.95 * np.sin(2 * np.pi * seconds[i] / 8 + phase[2]) + shake[0][i] / z
        cy = ph / 2 + span_y * 0.95 * np.sin(2 * np.pi * seconds[i] / 11 + phase[3]) + shake[1][i] / z
        rot = cv2.getRotationMatrix2D((float(cx), float(cy)), float(roll[i]), float(z))
        rot[:, 2] += (ow / 2 - cx, oh / 2 - cy)
        maps.append(np.asarray(rot, np.float64))
    return maps


def _map_boxes(gt: Boxes, m: NDArray[np.float64]) -> Boxes:
    centres = np.stack([gt[:, 0] + gt[:, 2] / 2, gt[:, 1] + gt[:, 3] / 2, np.ones(len(gt))], axis=1)
    mapped = centres @ m.T
    scale = math.hypot(m[0, 0], m[0, 1])
    w, h = gt[:, 2] * scale, gt[:, 3] * scale
    return np.stack([mapped[:, 0] - w / 2, mapped[:, 1] - h / 2, w, h], axis=1)


def make_clip(photo: Path, gt: Boxes, out: tuple[int, int], frames: int, folder: Path, seed: int) -> Clip:
    """Film `photo` with the virtual camera into folder/<name>-<height>.mp4; the faces' boxes in each frame."""
    image = np.asarray(Image.open(photo).convert("RGB"))
    maps = camera_path((image.shape[1], image.shape[0]), out, frames, seed)
    clip = Clip(folder / f"{photo.stem}-{out[1]}.mp4", frames, out)
    with av.open(str(clip.path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS, options={"crf": "26", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = out[0], out[1], "yuv420p"
        for f in range(frames):
            views = [cv2.warpAffine(image, maps[3 * f + k], out, flags=cv2.INTER_LINEAR) for k in range(3)]
            pixels = (np.mean(views, axis=0) + 0.5).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts, frame.time_base = f, Fraction(1, FPS)
            container.mux(stream.encode(frame))
            clip.boxes.append(_map_boxes(gt, maps[3 * f + 1]))
        container.mux(stream.encode(None))
    return clip


# ---------------------------------------------------------------- running the tools

OUR_WORKER = """
import io, json, sys, time
sys.path.insert(0, sys.argv[1])
from anonymizer.options import CleanOptions, Method
from anonymizer.video import clean
from anonymizer.video.clean import VideoCleanOptions, clean_video
clean.FULL_EVERY, clean.LIGHT_EVERY = (int(v) for v in sys.argv[2].split("/"))
options = VideoCleanOptions(clean=CleanOptions(method=Method.FILL, fill_color=(0, 0, 0)))
def hwm():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024
for path in sys.argv[3:]:
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # resets the peak resident set: each clip's own peak is measured
    start = time.perf_counter()
    with open(path, "rb") as src, open(path[:-4] + "-ours-" + sys.argv[2].replace("/", "-") + ".mp4", "w+b") as sink:
        result = clean_video(src, sink, options)
    print(json.dumps({"clip": path, "s": time.perf_counter() - start, "frames": result.frames,
                      "tracks": result.faces_tracked, "peak_mb": hwm()}), flush=True)
"""


@dataclass
class Run:
    tool: str
    wall: float
    cpu: float  # user + system seconds of the worker (all threads)
    peak_mb: float
    outputs: list[Path]
    clip_peak_mb: float | None = None  # the largest peak of one clip (the worker resets its peak per clip)


def _timed(command: list[str], cwd: Path | None = None) -> tuple[float, float, float, str]:
    """Run `command`; its wall time, CPU time (user + system), peak resident memory (MB) and stdout."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(command, stdout=out, stderr=err, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            raise RuntimeError(f"{command[0]} failed: {err.read().decode()[-800:]}")
        return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out.read().decode()


def run_ours(clips: list[Clip], plan: str) -> Run:
    """clean_video with the full detector every F frames and the light one every L frames between (plan "F/L")."""
    paths = [str(c.path) for c in clips]
    wall, cpu, peak, out = _timed([sys.executable, "-c", OUR_WORKER, str(ROOT), plan, *paths])
    full, light = plan.split("/")
    outputs = [Path(f"{p[:-4]}-ours-{full}-{light}.mp4") for p in paths]
    clip_peak = max(json.loads(line)["peak_mb"] for line in out.splitlines() if line.startswith("{"))
    return Run(f"anonymize (full 1/{full}, light 1/{light})", wall, cpu, peak, outputs, clip_peak)


def run_deface(deface: Path, clips: list[Clip]) -> Run:
    paths = [str(c.path) for c in clips]
    wall, cpu, peak, _ = _timed([str(deface), "--replacewith", "solid", *paths])
    return Run("deface 1.5.0", wall, cpu, peak, [Path(p[:-4] + "_anonymized.mp4") for p in paths])


# ---------------------------------------------------------------- scoring


@dataclass
class Score:
    face_frames: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    faces: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))  # seen, total
    frames: int = 0


def _bucket(height: float) -> str | None:
    return next((name for name, lo, hi in BUCKETS if lo <= height < hi), None)


def _hidden(frame: NDArray[np.uint8], box: NDArray[np.float64]) -> bool | None:
    """Whether the visible part of `box` is filled; None when less than half of it is in the frame."""
    height, width = frame.shape[:2]
    x, y, w, h = box
    x0, y0, x1, y1 = max(0, round(x)), max(0, round(y)), min(width, round(x + w)), min(height, round(y + h))
    if x1 <= x0 or y1 <= y0 or (x1 - x0) * (y1 - y0) < 0.5 * w * h:
        return None
    dark = (frame[y0:y1, x0:x1] < DARK).all(axis=2)
    return bool(dark.mean() >= HIDDEN)


def score_clip(score: Score, clip: Clip, output: Path) -> None:
    """Tally every face-frame of `clip` in the tool's `output`."""
    faces = len(clip.boxes[0])
    shown = np.zeros(faces, bool)
    present = np.zeros(faces, bool)
    heights: list[list[float]] = [[] for _ in range(faces)]
    with av.open(str(output)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index >= clip.frames:
                break
            pixels = np.asarray(frame.to_ndarray(format="rgb24"), np.uint8)
            if (pixels.shape[1], pixels.shape[0]) != clip.size:  # deface (imageio) pads 1080 to 1088 and rescales
                pixels = np.asarray(cv2.resize(pixels, clip.size, interpolation=cv2.INTER_AREA), np.uint8)
            score.frames += 1
            for face, box in enumerate(clip.boxes[index]):
                hidden, bucket = _hidden(pixels, box), _bucket(box[3])
                if hidden is None or bucket is None:
                    continue
                heights[face].append(box[3])
                present[face] = True
                shown[face] |= not hidden
                score.face_frames[bucket][0] += hidden
                score.face_frames[bucket][1] += 1
    for face in np.flatnonzero(present).tolist():
        bucket = _bucket(float(np.median(heights[face])))
        if bucket is not None:
            score.faces[bucket][0] += int(shown[face])
            score.faces[bucket][1] += 1


# ---------------------------------------------------------------- report


def _share(pair: list[int]) -> str:
    hidden, total = pair
    return f"{100 * hidden / total:.1f} % of {total}" if total else "-"


def report(size: int, runs: list[tuple[Run, Score]]) -> list[str]:
    hidden = " | ".join(f"hidden {b[0]}" for b in BUCKETS)
    seen = " | ".join(f"seen {b[0]}" for b in BUCKETS)
    lines = [f"\n### {size}p\n", f"| tool | fps | CPU s/frame | peak MB (one clip) | {hidden} | {seen} |"]
    lines.append("|---" * (4 + 2 * len(BUCKETS)) + "|")
    for run, score in runs:
        fps = score.frames / run.wall if run.wall else 0.0
        hidden = " | ".join(_share(score.face_frames[b[0]]) for b in BUCKETS)
        seen = " | ".join(f"{score.faces[b[0]][0]} of {score.faces[b[0]][1]}" for b in BUCKETS)
        cpu = run.cpu / score.frames if score.frames else 0.0
        one = "" if run.clip_peak_mb is None else f" ({run.clip_peak_mb:.0f})"
        lines.append(f"| {run.tool} | {fps:.2f} | {cpu:.3f} | {run.peak_mb:.0f}{one} | {hidden} | {seen} |")
    return lines


def occlusion() -> dict[str, NDArray[np.int_]]:
    """WIDER's occlusion label of every face (0 none, 1 partial, 2 heavy), by photo name."""
    import scipy.io

    mat = scipy.io.loadmat(str(wider.CORPUS / "wider_face_val.mat"))
    labels = {}
    for e in range(len(mat["event_list"])):
        for f in range(len(mat["file_list"][e][0])):
            name = str(mat["file_list"][e][0][f][0][0])
            labels[name] = np.asarray(mat["occlusion_label_list"][e][0][f][0]).reshape(-1).astype(int)
    return labels


def pick_photos(count: int, occluded: bool = False, min_faces: int = 3) -> list[tuple[Path, Boxes]]:
    """An even spread of photos with at least `min_faces` valid faces of 10 px or more (in the photo), without the
    heavily occluded ones unless `occluded`."""
    truth, occlusions = wider.ground_truth(), occlusion()
    chosen = []
    for path in wider.photo_paths(limit=count * 6):
        gt, valid = truth[path.stem]
        wanted = valid if occluded else valid & (occlusions[path.stem] < 2)
        keep = gt[wanted & (gt[:, 3] >= 10)]
        if len(keep) >= min_faces:
            chosen.append((path, keep.astype(np.float64)))
        if len(chosen) == count:
            break
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 photos, 30 frames, 720p only")
    parser.add_argument("--photos", type=int, default=6)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--sizes", default="720,1080")
    parser.add_argument("--deface", type=Path, default=DEFACE)
    parser.add_argument("--no-deface", action="store_true")
    parser.add_argument("--keep", type=Path, help="keep the clips and outputs in this folder")
    parser.add_argument("--plans", default="12/2", help='detection plans "F/L,..." (full every F, light every L)')
    parser.add_argument("--occluded", action="store_true", help="count heavily occluded faces too (WIDER label 2)")
    args = parser.parse_args()
    photos, frames, sizes = args.photos, args.frames, [int(s) for s in args.sizes.split(",")]
    if args.quick:
        photos, frames, sizes = 2, 30, [720]
    deface = None if args.no_deface or not args.deface.exists() else args.deface
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-video-"))
    folder.mkdir(parents=True, exist_ok=True)
    chosen = pick_photos(photos, args.occluded)
    which = "all valid faces" if args.occluded else "valid faces but the heavily occluded ones"
    print(f"{len(chosen)} WIDER photos x {frames} frames at {FPS} fps; sizes {sizes}; {which}; deface: {deface}")
    for size in sizes:
        clips = [make_clip(p, gt, SIZES[size], frames, folder, seed) for seed, (p, gt) in enumerate(chosen)]
        runs = [run_ours(clips, plan) for plan in args.plans.split(",")]
        runs += [run_deface(deface, clips)] if deface else []
        scored = []
        for run in runs:
            score = Score()
            for clip, output in zip(clips, run.outputs, strict=True):
                score_clip(score, clip, output)
            scored.append((run, score))
        print("\n".join(report(size, scored)), flush=True)
    print(json.dumps({"folder": str(folder)}))


if __name__ == "__main__":
    main()
