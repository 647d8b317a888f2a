"""Face detection benchmark: recall, coverage, false positives and time, per detector and for deface.

Usage:
    .venv/bin/python bench/bench_faces.py [--limit N] [--detectors default,fast,...]
                                          [--deface-python /tmp/defacevenv/bin/python | --no-deface]
    .venv/bin/python bench/bench_faces.py --profile [--detectors default,fast] [--runs 3]

Reads ../shared/corpus/faces (WIDER FACE validation photos and wider_face_val.mat) and prints markdown.

- recall@IoU: share of valid ground-truth faces (height >= 10 px) that some detection overlaps by IoU >= t.
- coverage: share of valid faces (by height) of which >= 80 % of the box lies inside the mask that `clean`
  would obscure (anonymizer.regions.build_mask with the default face scale);
  deface's own mask is an ellipse in its box grown by mask_scale - 1 on every side (mask scale 1.3).
- FP area: share of the photo that is obscured outside every ground-truth box (valid or not). Even perfect
  detection (the "ground truth" row: the labelled boxes masked the same way) scores well above 0 here, since
  every mask is grown around its face.
- excess: share of the photo obscured outside the mask that the same masking would give for the
  ground-truth boxes themselves: the area lost to false detections and to misplaced boxes.
- fp / image: detections with IoU < 0.3 against every ground-truth box (many are real, unlabelled faces).
- ms: median (and mean) wall time of the detection call alone, image already decoded, per photo; CPU ms is
  the process CPU time of that call (all threads), less sensitive to other load on the machine.

--profile: where one detection's time goes, for a 1024-px corpus photo and the same photo enlarged to 12 MP:
shrinking the photo once, each pass (its tiles, the pixels fed to the network, the network's share of its time)
and the fusion of all passes; CPU and wall ms, median of --runs.

deface runs in its own virtual environment (it brings a second OpenCV):
    python3 -m venv /tmp/defacevenv && /tmp/defacevenv/bin/pip install deface
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
import wider
from numpy.typing import NDArray
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
CORPUS = wider.CORPUS
DEFACE_PYTHON = Path("/tmp/defacevenv/bin/python")
HIDDEN = 0.8  # a face counts as hidden when this share of its box is obscured
RECALL_BUCKETS = [("10-16", 10, 16), ("16-32", 16, 32), (">=32", 32, 1e9), ("all >=10", 10, 1e9)]
COVER_BUCKETS = [
    ("<10", 0, 10), ("10-16", 10, 16), ("16-32", 16, 32), ("32-64", 32, 64), ("64-128", 64, 128),
    (">=128", 128, 1e9), (">=32", 32, 1e9),
]  # fmt: skip

Boxes = NDArray[np.float64]  # N x 5: x1, y1, x2, y2, score
T = TypeVar("T")
Mask = NDArray[np.bool_]


@dataclass
class Photo:
    path: Path
    gt: NDArray[np.float64]  # N x 4: x, y, w, h
    valid: NDArray[np.bool_]


def load_corpus(root: Path = CORPUS, limit: int | None = None) -> list[Photo]:
    """The photos under root/images with their ground truth; `limit` takes an even spread of them."""
    truth = wider.ground_truth(root)
    return [Photo(p, *truth[p.stem]) for p in wider.photo_paths(root, limit)]


def iou_matrix(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """IoU between x1,y1,x2,y2 boxes a (N) and b (M)."""
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def ellipse_mask(shape: tuple[int, int], boxes: Boxes, scale: float) -> Mask:
    """Filled ellipses inscribed in each x1,y1,x2,y2 box grown `scale` times about its centre."""
    mask = np.zeros(shape, np.uint8)
    for x1, y1, x2, y2 in boxes[:, :4]:
        centre = (round((x1 + x2) / 2), round((y1 + y2) / 2))
        axes = (max(1, round((x2 - x1) * scale / 2)), max(1, round((y2 - y1) * scale / 2)))
        cv2.ellipse(mask, centre, axes, 0, 0, 360, 1, -1)
    return mask.astype(bool)


def pipeline_mask(shape: tuple[int, int], boxes: Boxes, face_shape: str | None = None) -> Mask:
    """The mask `clean` would obscure for these detections (regions.build_mask, default face scale; the default
    face shape unless `face_shape` is given)."""
    from anonymizer.options import CleanOptions, FaceShape
    from anonymizer.regions import build_mask
    from anonymizer.types import Box, Detection, Regions

    options = CleanOptions() if face_shape is None else CleanOptions(face_shape=FaceShape(face_shape))
    dets = tuple(Detection(Box(x1, y1, x2 - x1, y2 - y1), s, "bench") for x1, y1, x2, y2, s in boxes.tolist())
    return np.asarray(build_mask(shape[0], shape[1], Regions(), dets, options), bool)


def deface_mask(shape: tuple[int, int], boxes: Boxes, mask_scale: float = 1.3) -> Mask:
    """deface's mask: int box grown by (mask_scale - 1) x its size on every side, clipped, inscribed ellipse."""
    grown = []
    for x1, y1, x2, y2 in boxes[:, :4].astype(int):
        w, h = x2 - x1, y2 - y1
        s = mask_scale - 1
        gx1, gy1, gx2, gy2 = np.round([x1 - w * s, y1 - h * s, x2 + w * s, y2 + h * s]).astype(int)
        grown.append([max(0, gx1), max(0, gy1), min(shape[1] - 1, gx2), min(shape[0] - 1, gy2)])
    return ellipse_mask(shape, np.asarray(grown, np.float64).reshape(-1, 4), 1.0)


@dataclass
class Tally:
    """Counts over the corpus for one detector."""

    found: dict[tuple[str, float], list[int]] = field(default_factory=dict)
    hidden: dict[str, list[int]] = field(default_factory=dict)
    fp: int = 0
    fp_area: list[float] = field(default_factory=list)
    excess: list[float] = field(default_factory=list)
    ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)

    def add(self, key: object, table: dict[object, list[int]], hit: NDArray[np.bool_]) -> None:
        counts = table.setdefault(key, [0, 0])
        counts[0] += int(hit.sum())
        counts[1] += int(hit.size)


def gt_boxes(photo: Photo) -> Boxes:
    """Every ground-truth box (valid or not) as x1, y1, x2, y2, score 1."""
    gt = np.concatenate([photo.gt, np.ones((len(photo.gt), 1))], axis=1)
    gt[:, 2:4] += gt[:, :2]
    return gt


def score_photo(tally: Tally, photo: Photo, shape: tuple[int, int], boxes: Boxes, masks: tuple[Mask, Mask]) -> None:
    """Add one photo; `masks` are what is obscured for `boxes` and what would be for the ground truth."""
    mask, gt_mask = masks
    gt = photo.gt.copy()
    gt[:, 2:] += gt[:, :2]
    heights = photo.gt[:, 3]
    iou = iou_matrix(gt, boxes[:, :4]) if len(boxes) else np.zeros((len(gt), 0))
    best = iou.max(axis=1) if iou.shape[1] else np.zeros(len(gt))
    for label, lo, hi in RECALL_BUCKETS:
        sel = photo.valid & (heights >= lo) & (heights < hi)
        for t in (0.5, 0.3):
            tally.add((label, t), tally.found, best[sel] >= t)  # type: ignore[arg-type]
    integral = cv2.integral(mask.astype(np.uint8))
    x1, y1 = np.clip(np.floor(gt[:, :2]).astype(int), 0, [shape[1], shape[0]]).T
    x2, y2 = np.clip(np.ceil(gt[:, 2:]).astype(int), 0, [shape[1], shape[0]]).T
    inside = integral[y2, x2] - integral[y1, x2] - integral[y2, x1] + integral[y1, x1]
    share = inside / np.maximum((x2 - x1) * (y2 - y1), 1)
    for label, lo, hi in COVER_BUCKETS:
        sel = photo.valid & (heights >= lo) & (heights < hi)
        tally.add(label, tally.hidden, share[sel] >= HIDDEN)  # type: ignore[arg-type]
    faces = np.zeros(shape, bool)
    for a, b, c, d in zip(x1, y1, x2, y2, strict=True):
        faces[b:d, a:c] = True
    tally.fp_area.append(float((mask & ~faces).mean()))
    tally.excess.append(float((mask & ~gt_mask).mean()))
    if len(boxes):
        tally.fp += int(((iou.max(axis=0) if len(gt) else np.zeros(len(boxes))) < 0.3).sum())


def read_rgb(path: Path) -> NDArray[np.uint8]:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


Detect = Callable[[NDArray[np.uint8]], Boxes]


def run_detector(detect: Detect, photos: Sequence[Photo], mask_of: Callable[..., Mask] = pipeline_mask) -> Tally:
    tally = Tally()
    for photo in photos:
        rgb = read_rgb(photo.path)
        start, cpu = time.perf_counter(), time.process_time()
        boxes = detect(rgb)
        tally.ms.append((time.perf_counter() - start) * 1000)
        tally.cpu_ms.append((time.process_time() - cpu) * 1000)
        shape = rgb.shape[:2]
        score_photo(tally, photo, shape, boxes, (mask_of(shape, boxes), mask_of(shape, gt_boxes(photo))))
    return tally


def run_ground_truth(photos: Sequence[Photo], mask_of: Callable[..., Mask] = pipeline_mask) -> Tally:
    """Perfect detection: the ground-truth boxes themselves. Its FP area is the floor any detector can reach
    with the same growth of each face."""
    tally = Tally(ms=[0.0], cpu_ms=[0.0])
    for photo in photos:
        with Image.open(photo.path) as im:
            shape = (im.height, im.width)
        boxes = gt_boxes(photo)
        score_photo(tally, photo, shape, boxes, (mask_of(shape, boxes), mask_of(shape, boxes)))
    return tally


def library_detect(name: str) -> Detect:
    from anonymizer.faces import get_detector

    detector = get_detector(name)

    def detect(rgb: NDArray[np.uint8]) -> Boxes:
        found = detector.detect(rgb)
        rows = [[d.box.x, d.box.y, d.box.x + d.box.w, d.box.y + d.box.h, d.score] for d in found]
        return np.asarray(rows, np.float64).reshape(-1, 5)

    detect(np.zeros((64, 64, 3), np.uint8))  # load the model before timing
    return detect


DEFACE_RUNNER = """
import json, sys, time
import imageio.v2 as imageio
from deface.centerface import CenterFace
net = CenterFace(in_shape=None, backend="auto")
for line in sys.stdin:
    frame = imageio.imread(line.strip())
    start, cpu = time.perf_counter(), time.process_time()
    dets, _ = net(frame, threshold=0.2)
    ms, cpu_ms = (time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000
    print(json.dumps({"ms": ms, "cpu_ms": cpu_ms, "boxes": dets[:, :5].tolist()}), flush=True)
"""


def run_deface(python: Path, photos: Sequence[Photo]) -> Tally:
    """deface's CenterFace as its CLI runs it (threshold 0.2, full resolution), in its own venv."""
    paths = "".join(f"{p.path}\n" for p in [photos[0], *photos])  # the first one again, to warm up
    out = subprocess.run([str(python), "-c", DEFACE_RUNNER], input=paths, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"deface failed: {out.stderr[-500:]}")
    results = [json.loads(line) for line in out.stdout.splitlines()][1:]
    tally = Tally()
    for photo, res in zip(photos, results, strict=True):
        with Image.open(photo.path) as im:
            shape = (im.height, im.width)
        boxes = np.asarray(res["boxes"], np.float64).reshape(-1, 5)
        tally.ms.append(res["ms"])
        tally.cpu_ms.append(res["cpu_ms"])
        masks = (deface_mask(shape, boxes), deface_mask(shape, gt_boxes(photo)))
        score_photo(tally, photo, shape, boxes, masks)
    return tally


BIG_RUNNER = """
import json, statistics, sys, time
import numpy as np
from PIL import Image
from anonymizer.faces import get_detector
detector = get_detector(sys.argv[2])
rgb = np.asarray(Image.open(sys.argv[1]).convert("RGB"))
detector.detect(np.zeros((64, 64, 3), np.uint8))
ms = []
for _ in range(3):
    start = time.perf_counter()
    found = detector.detect(rgb)
    ms.append((time.perf_counter() - start) * 1000)
rss = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024
print(json.dumps({"ms": statistics.median(ms), "faces": len(found), "rss": rss}))
"""

DEFACE_BIG_RUNNER = """
import json, sys, time
import imageio.v2 as imageio
from deface.centerface import CenterFace
net = CenterFace(in_shape=None, backend="auto")
frame = imageio.imread(sys.argv[1])
start = time.perf_counter()
dets, _ = net(frame, threshold=0.2)
ms = (time.perf_counter() - start) * 1000
rss = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024
print(json.dumps({"ms": ms, "faces": len(dets), "rss": rss}))
"""


def big_photo(photo: Photo, folder: Path, size: tuple[int, int] = (4032, 3024)) -> Path:
    """A 12-megapixel JPEG made by enlarging a corpus photo (in a temporary folder, never in the repo)."""
    path = folder / "big.jpg"
    with Image.open(photo.path) as im:
        im.convert("RGB").resize(size, Image.Resampling.BICUBIC).save(path, quality=92)
    return path


def run_big(names: Sequence[str], photo: Photo, deface: Path | None) -> list[str]:
    """Detection time (median of 3) and peak RSS of a fresh process on one 12 MP photo, per detector.

    Peak RSS is VmHWM (ru_maxrss would carry over this process's own peak through fork and exec)."""
    import tempfile

    lines = ["", "One 12-megapixel photo (a corpus photo enlarged to 4032x3024), fresh process each:", ""]
    lines += ["| detector | ms | faces | peak RSS MB |", "|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        path = big_photo(photo, Path(tmp))
        runs = [("deface (t=0.2, full resolution, one call)", [str(deface), "-c", DEFACE_BIG_RUNNER, str(path)])]
        runs = runs if deface else []
        runs += [(n, [sys.executable, "-c", BIG_RUNNER, str(path), n]) for n in names]
        for label, cmd in runs:
            out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            if out.returncode:
                lines.append(f"| {label} | failed: {out.stderr.strip().splitlines()[-1][:80]} | | |")
                continue
            res = json.loads(out.stdout.strip().splitlines()[-1])
            lines.append(f"| {label} | {res['ms']:.0f} | {res['faces']} | {res['rss']:.0f} |")
    return lines


@dataclass
class Stage:
    """Timings of one stage of a detection over several runs: CPU and wall ms, network ms, tiles and pixels."""

    cpu: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    net: list[float] = field(default_factory=list)
    tiles: int = 0
    pixels: int = 0

    def row(self, label: str) -> str:
        mpx = f"{self.pixels / 1e6:.2f}" if self.tiles else ""
        net = f"{statistics.median(self.net):.0f}" if self.net else ""
        tiles = str(self.tiles) if self.tiles else ""
        cpu, wall = statistics.median(self.cpu), statistics.median(self.wall)
        return f"| {label} | {tiles} | {mpx} | {cpu:.0f} | {wall:.0f} | {net} |"


def _timed(stage: Stage, work: Callable[[], T]) -> T:
    start, cpu = time.perf_counter(), time.process_time()
    out = work()
    stage.cpu.append((time.process_time() - cpu) * 1000)
    stage.wall.append((time.perf_counter() - start) * 1000)
    return out


def profile_once(name: str, rgb: NDArray[np.uint8], stages: dict[str, Stage]) -> None:
    """One detection by the ensemble detector `name`, stage by stage (as ensemble.detect_boxes runs it)."""
    from anonymizer.faces import get_detector
    from anonymizer.faces.centerface import shared_net
    from anonymizer.faces.ensemble import Ensemble, fused, reduced, run_pass

    detector = get_detector(name)
    assert isinstance(detector, Ensemble), f"{name} is not an ensemble: nothing to profile"
    plan, net = detector.plan, shared_net().run
    tiles: list[tuple[int, float]] = []

    def model(tile: NDArray[np.uint8], threshold: float) -> NDArray[np.float32]:
        cpu = time.process_time()
        boxes = net(tile, threshold)
        tiles.append((tile.shape[0] * tile.shape[1], (time.process_time() - cpu) * 1000))
        return boxes

    total = stages.setdefault("total", Stage())
    start, cpu = time.perf_counter(), time.process_time()
    small, _, _ = _timed(stages.setdefault("shrink once", Stage()), functools.partial(reduced, rgb, plan))
    results: list[tuple[NDArray[np.float32], NDArray[np.bool_]]] = []
    for step in plan.passes:
        stage = stages.setdefault(f"pass {step}", Stage())
        hints = np.concatenate([np.empty((0, 5), np.float32), *(b for b, _ in results)])
        tiles.clear()
        results.append(_timed(stage, functools.partial(run_pass, model, small, step, plan, hints)))
        stage.tiles, stage.pixels = len(tiles), sum(p for p, _ in tiles)
        stage.net.append(sum(ms for _, ms in tiles))
    _timed(stages.setdefault("fusion", Stage()), functools.partial(fused, results, plan))
    total.cpu.append((time.process_time() - cpu) * 1000)
    total.wall.append((time.perf_counter() - start) * 1000)


def run_profile(names: Sequence[str], photo: Photo, runs: int) -> list[str]:
    """Per detector: a profile table for the 1024-px photo and for it enlarged to 4032 x 3024."""
    lines = []
    with Image.open(photo.path) as im:
        small = im.convert("RGB")
    for label, image in (("1024 px", small), ("12 MP", small.resize((4032, 3024), Image.Resampling.BICUBIC))):
        rgb = np.asarray(image)
        for name in names:
            stages: dict[str, Stage] = {}
            profile_once(name, rgb, {})  # warm up: model loaded, arenas grown
            for _ in range(runs):
                profile_once(name, rgb, stages)
            lines += ["", f"{name}, {label} ({rgb.shape[1]} x {rgb.shape[0]}, {photo.path.name}), median of {runs}:"]
            lines += ["", "| stage | tiles | Mpx to the network | CPU ms | wall ms | network CPU ms |"]
            lines += ["|---|---:|---:|---:|---:|---:|", *(stage.row(key) for key, stage in stages.items())]
    return lines


def _pct(counts: list[int]) -> float:
    return 100 * counts[0] / counts[1] if counts[1] else float("nan")


def markdown(tallies: dict[str, Tally], photos: int, reference: str | None) -> str:
    any_tally = next(iter(tallies.values()))
    lines = [f"Photos: {photos}; faces by ground-truth height (px), WIDER-invalid faces ignored.", ""]
    rec_cols = [f"R@{t} {label}" for t in (0.5, 0.3) for label, *_ in RECALL_BUCKETS]
    lines += ["| detector | " + " | ".join(rec_cols) + " | FP/img | ms median | ms mean | CPU ms median |"]
    lines += ["|---" * (len(rec_cols) + 5) + "|"]
    for name, t in tallies.items():
        cells = [f"{_pct(t.found[(label, th)]):.1f}" for th in (0.5, 0.3) for label, *_ in RECALL_BUCKETS]
        fp = t.fp / photos
        lines.append(
            f"| {name} | " + " | ".join(cells) + f" | {fp:.2f} | {statistics.median(t.ms):.0f} "
            f"| {statistics.mean(t.ms):.0f} | {statistics.median(t.cpu_ms):.0f} |"
        )
    counts = " / ".join(f"{label}: {any_tally.hidden[label][1]}" for label, *_ in COVER_BUCKETS)
    lines += ["", f"Coverage (% of faces with >= {HIDDEN:.0%} of the box obscured); faces: {counts}", ""]
    lines += ["| detector | " + " | ".join(label for label, *_ in COVER_BUCKETS) + " | FP area % | excess % |"]
    lines += ["|---" * (len(COVER_BUCKETS) + 3) + "|"]
    for name, t in tallies.items():
        cells = [f"{_pct(t.hidden[label]):.1f}" for label, *_ in COVER_BUCKETS]
        areas = f" | {100 * statistics.mean(t.fp_area):.2f} | {100 * statistics.mean(t.excess):.2f} |"
        lines.append(f"| {name} | " + " | ".join(cells) + areas)
    if reference in tallies:
        lines += ["", *ratios(tallies, reference)]
    return "\n".join(lines)


def ratios(tallies: dict[str, Tally], reference: str) -> list[str]:
    ref = tallies[reference]
    out = [f"Ratios to {reference} (coverage by bucket, missed faces, time):", ""]
    out += ["| detector | " + " | ".join(f"cov {label}" for label, *_ in COVER_BUCKETS[1:]) + " | missed | time |"]
    out += ["|---" * (len(COVER_BUCKETS) + 2) + "|"]
    for name, t in tallies.items():
        if name == reference:
            continue
        cov = [f"{_pct(t.hidden[label]) / _pct(ref.hidden[label]):.3f}" for label, *_ in COVER_BUCKETS[1:]]
        missed = (t.hidden[">=32"][1] - t.hidden[">=32"][0]) + sum(
            t.hidden[b][1] - t.hidden[b][0] for b in ("10-16", "16-32")
        )
        ref_missed = (ref.hidden[">=32"][1] - ref.hidden[">=32"][0]) + sum(
            ref.hidden[b][1] - ref.hidden[b][0] for b in ("10-16", "16-32")
        )
        speed = statistics.median(t.ms) / statistics.median(ref.ms)
        out.append(f"| {name} | " + " | ".join(cov) + f" | {missed / max(ref_missed, 1):.2f} | {speed:.2f} |")
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="use an even spread of N photos")
    parser.add_argument("--detectors", default=None, help="comma-separated names (default: all registered)")
    parser.add_argument("--deface-python", type=Path, default=DEFACE_PYTHON)
    parser.add_argument("--no-deface", action="store_true")
    parser.add_argument("--no-big", action="store_true", help="skip the 12-megapixel time and memory test")
    parser.add_argument("--face-shape", choices=["box", "ellipse"], default=None, help="default: clean's default")
    parser.add_argument("--profile", action="store_true", help="time each stage of a detection instead")
    parser.add_argument("--runs", type=int, default=3, help="--profile: runs per photo (median)")
    parser.add_argument("--photo", default="0_Parade_marchingband_1_149", help="--profile: the corpus photo")
    args = parser.parse_args(argv)
    from anonymizer.faces import DEFAULT_DETECTOR, detector_names

    if args.profile:
        names = args.detectors.split(",") if args.detectors else ["default", "fast"]
        photo = next(p for p in load_corpus(CORPUS) if p.path.stem == args.photo)
        print("\n".join(run_profile(names, photo, args.runs)))
        return 0
    photos = load_corpus(CORPUS, args.limit)
    names = args.detectors.split(",") if args.detectors else detector_names()
    deface = args.deface_python if not args.no_deface and args.deface_python.exists() else None
    tallies: dict[str, Tally] = {}
    if deface:
        tallies["deface 1.5.0 (t=0.2, mask 1.3)"] = run_deface(deface, photos)
    mask_of = functools.partial(pipeline_mask, face_shape=args.face_shape)
    for name in names:
        label = f"default ({DEFAULT_DETECTOR[0]})" if name == "default" else name
        tallies[label] = run_detector(library_detect(name), photos, mask_of)
        print(f"done: {label}", file=sys.stderr)
    tallies["ground truth (perfect detection)"] = run_ground_truth(photos, mask_of)
    reference = next((k for k in tallies if k.startswith("deface")), None)
    print(markdown(tallies, len(photos), reference))
    if not args.no_big:
        print("\n".join(run_big(names, photos[0], deface)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
