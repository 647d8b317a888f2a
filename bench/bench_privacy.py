"""Privacy benchmark: are obscured faces still detected, or identified, after `clean`?

Usage:
    .venv/bin/pip install -e '.[bench]'     # dlib-bin, face-recognition-models, scipy
    .venv/bin/python bench/bench_privacy.py [--limit N] [--detectors default,centerface,...] [--no-dlib-detect]
                                            [--strength blur=5 ...] [--face-scale 1.4] [--face-shape box]
                                            [--crops] [--face-px 64]

Reads ../shared/corpus/faces (WIDER FACE validation photos and wider_face_val.mat; never copied anywhere).
In every photo all ground-truth faces are obscured the way `clean` does it with an explicit face list
(regions.build_mask with the default face scale and shape, then obscure.apply on the decoded pixels, no re-encoding,
which leaves the attacker the most to work with). Faces whose ground-truth box is at least --min-face px wide
are evaluated. Variants: the original, a light Gaussian blur baseline (sigma 5 % of the face width, inside
the same mask), deface 1.5.0's blur and mosaic at its defaults (its draw_det re-done here on the same boxes,
see deface_like), and every method in obscure.METHODS at its default strength (or --strength METHOD=CELLS).

- Re-detection: every registered detector of the project runs over each whole obscured photo, as `clean`
  would run it; dlib's CNN face detector (mmod_human_face_detector, no upsampling) sees each evaluated face
  cut out with context (a square of --context times its longer side) and scaled so the face is --face-px
  wide, because on whole photos it takes about 5 s each (dlib-bin has no BLAS). A face counts as detected
  when a detection overlaps its ground-truth box by IoU >= 0.3. The "original" row says how many the
  detectors find before obscuring; the goal for every method is none. A second table says how many of the
  re-detections the same detector also makes when the face is a flat black fill: those come from the
  head-shaped outline and its place on a body alone. --crops shows the project's detectors the same crops
  as dlib: faster, but they find far fewer obscured faces without the body around them.
- Re-identification: dlib's face-recognition embedding (5-point shape predictor + ResNet, no jitter) of every
  face, with the ground-truth box as the face location (so obscuring cannot just cause "no face found"),
  in the original and in each variant. Each obscured face is compared with every original face:
  top-1 = share whose nearest original is their own, against chance 1 / N; owner = share within dlib's 0.6
  match threshold of their own original (with its 95 % Wilson interval); stranger = share of (obscured face,
  another face's original) pairs within 0.6; owner nearer = share of (face, stranger) pairs where the owner's
  original is nearer than the stranger's (chance 50 %). Goal: top-1 at most 2x chance, owner no higher than
  stranger.

Time: the default detector (a multi-pass ensemble, about 1 s a photo here) runs on 6 variants of 147 photos,
dlib's detector (about 0.1 s a crop) and embeddings (about 0.1 s a face) on 6 x 367 faces: all 198 photos take
about half an hour on 2 shared cores; --detectors default,centerface,mediapipe, --no-dlib-detect and --limit
shorten it.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import wider  # noqa: E402

from anonymizer import obscure  # noqa: E402
from anonymizer.faces import Detector, detector_names, get_detector  # noqa: E402
from anonymizer.options import CleanOptions, FaceShape, Method  # noqa: E402
from anonymizer.regions import build_mask  # noqa: E402
from anonymizer.types import Box, Detection, Regions  # noqa: E402

CORPUS = wider.CORPUS
IOU = 0.3
MATCH = 0.6
BASELINE = "gaussian 5 %"
BASELINE_SIGMA = 0.05  # of the face width
DLIB = "dlib cnn"
DEFACE_SCALE = 0.3  # deface's default mask scale 1.3, applied as 0.3 of the box on every side
DEFACE_MOSAIC = 20  # deface's default mosaic cell (px)

RGB = NDArray[np.uint8]
Boxes = NDArray[np.float64]  # N x 4: x1, y1, x2, y2
Detect = Callable[[RGB], Boxes]
T = TypeVar("T")


@dataclass
class Photo:
    path: Path
    gt: NDArray[np.float64]  # N x 4: x, y, w, h (every face with a positive size)
    evaluated: NDArray[np.bool_]  # the faces wide enough to evaluate


@dataclass
class Tally:
    """Per variant: for every evaluated face, its embedding and whether each detector found it."""

    embeddings: list[NDArray[np.float64]] = field(default_factory=list)
    detected: dict[str, list[bool]] = field(default_factory=dict)


def load_corpus(root: Path, min_face: int, limit: int | None) -> list[Photo]:
    """The photos under root/images with every face of positive size; the valid ones >= min_face px are evaluated."""
    truth = wider.ground_truth(root)
    photos = []
    for path in wider.photo_paths(root, limit):
        gt, valid = truth[path.stem]
        keep = (gt[:, 2] > 0) & (gt[:, 3] > 0)
        photos.append(Photo(path, gt[keep], (valid & (gt[:, 2] >= min_face))[keep]))
    return photos


def detections(boxes: Sequence[Box]) -> list[Detection]:
    return [Detection(box, 1.0, "ground truth") for box in boxes]


def light_blur(rgb: RGB, boxes: Sequence[Box], shape: CleanOptions) -> RGB:
    """The baseline: a Gaussian blur of sigma 5 % of each face's width, inside that face's mask only."""
    out = rgb.copy()
    height, width = rgb.shape[:2]
    scale = shape.face_scale
    for box in boxes:
        sigma = max(0.5, BASELINE_SIGMA * box.w)
        pad = math.ceil(3 * sigma + (scale - 1) * max(box.w, box.h) / 2) + 2
        x0, y0 = max(0, math.floor(box.x) - pad), max(0, math.floor(box.y) - pad)
        x1, y1 = min(width, math.ceil(box.x + box.w) + pad), min(height, math.ceil(box.y + box.h) + pad)
        local = Box(box.x - x0, box.y - y0, box.w, box.h)
        mask = build_mask(y1 - y0, x1 - x0, Regions(), detections([local]), shape)
        blurred = cv2.GaussianBlur(out[y0:y1, x0:x1], (0, 0), sigmaX=sigma)
        out[y0:y1, x0:x1][mask] = blurred[mask]
    return out


def deface_like(rgb: RGB, boxes: Sequence[Box], mode: str) -> RGB:
    """deface 1.5.0's own obscuring (deface.draw_det, default options) re-done on the same boxes.

    Each box is grown by mask_scale 1.3 (0.3 of its size on every side). "blur": a box filter with a kernel
    half the grown box, pasted inside the ellipse inscribed in it; "mosaic": 20 px squares over the whole
    grown box, each painted with the colour of its top-left pixel.
    """
    frame = rgb.copy()
    height, width = rgb.shape[:2]
    for box in boxes:
        x1, y1, x2, y2 = (int(v) for v in (box.x, box.y, box.x + box.w, box.y + box.h))
        grow_x, grow_y = (x2 - x1) * DEFACE_SCALE, (y2 - y1) * DEFACE_SCALE
        x1, x2 = max(0, round(x1 - grow_x)), min(width - 1, round(x2 + grow_x))
        y1, y2 = max(0, round(y1 - grow_y)), min(height - 1, round(y2 + grow_y))
        if x2 <= x1 or y2 <= y1:
            continue
        if mode == "blur":
            roi = frame[y1:y2, x1:x2]
            h, w = roi.shape[:2]
            blurred = cv2.blur(roi, (max(1, w // 2), max(1, h // 2)))
            rows, cols = np.ogrid[:h, :w]
            inside = ((rows - h // 2) / max(1, h // 2)) ** 2 + ((cols - w // 2) / max(1, w // 2)) ** 2 < 1
            roi[inside] = blurred[inside]
            continue
        for y in range(y1, y2, DEFACE_MOSAIC):
            for x in range(x1, x2, DEFACE_MOSAIC):
                frame[y : min(y2, y + DEFACE_MOSAIC - 1) + 1, x : min(x2, x + DEFACE_MOSAIC - 1) + 1] = frame[y, x]
    return frame


Strengths = dict[Method, float]


def variants(rgb: RGB, boxes: Sequence[Box], strengths: Strengths, shape: CleanOptions) -> dict[str, RGB]:
    """The photo as it is, under the baseline, and under every method, all its faces obscured.

    `shape` carries the face scale and shape: each face's region is the one `clean` draws for it.
    """
    mask = build_mask(rgb.shape[0], rgb.shape[1], Regions(), detections(boxes), shape)
    out = {"original": rgb, BASELINE: light_blur(rgb, boxes, shape)}
    out |= {f"deface {mode}": deface_like(rgb, boxes, mode) for mode in ("blur", "mosaic")}
    for method in obscure.METHODS:
        options = CleanOptions(method=method, strength=strengths.get(method))
        out[method.value] = obscure.apply(rgb, mask, options)
    return out


# ---------------------------------------------------------------- detectors


def crop(rgb: RGB, box: Box, context: float, face_px: int) -> tuple[RGB, Boxes]:
    """A square of `context` times the face's longer side around it, scaled so the face is `face_px` wide."""
    side = context * max(box.w, box.h)
    height, width = rgb.shape[:2]
    x0, y0 = max(0, round(box.cx - side / 2)), max(0, round(box.cy - side / 2))
    x1, y1 = min(width, round(box.cx + side / 2)), min(height, round(box.cy + side / 2))
    scale = face_px / box.w
    size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    part = np.ascontiguousarray(cv2.resize(rgb[y0:y1, x0:x1], size, interpolation=interpolation))
    gt = np.array([[box.x - x0, box.y - y0, box.x + box.w - x0, box.y + box.h - y0]]) * scale
    return part, gt


def iou(a: Boxes, b: Boxes) -> NDArray[np.float64]:
    """IoU between x1,y1,x2,y2 boxes a (N) and b (M)."""
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return np.asarray(inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9), np.float64)


def wrap(detector: Detector) -> Detect:
    def detect(rgb: RGB) -> Boxes:
        rows = [[d.box.x, d.box.y, d.box.x + d.box.w, d.box.y + d.box.h] for d in detector.detect(rgb)]
        return np.asarray(rows, np.float64).reshape(-1, 4)

    return detect


def project_detectors(names: Sequence[str] | None) -> dict[str, Detect]:
    """Each registered detector once; names that resolve to the same one (such as "default") share a column."""
    groups: list[tuple[list[str], Detector]] = []
    for name in names or detector_names():
        detector = get_detector(name)
        group = next((g for g in groups if g[1] is detector), None)
        if group is None:
            groups.append(([name], detector))
        else:
            group[0].append(name)
    return {" = ".join(labels): wrap(detector) for labels, detector in groups}


def dlib_detector() -> Detect:
    import dlib
    import face_recognition_models as frm

    net = dlib.cnn_face_detection_model_v1(frm.cnn_face_detector_model_location())

    def detect(rgb: RGB) -> Boxes:
        rows = [[d.rect.left(), d.rect.top(), d.rect.right() + 1, d.rect.bottom() + 1] for d in net(rgb, 0)]
        return np.asarray(rows, np.float64).reshape(-1, 4)

    return detect


# ---------------------------------------------------------------- identification


def dlib_embedder() -> Callable[[RGB, Box], NDArray[np.float64]]:
    import dlib
    import face_recognition_models as frm

    shapes = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
    resnet = dlib.face_recognition_model_v1(frm.face_recognition_model_location())

    def embed(rgb: RGB, box: Box) -> NDArray[np.float64]:
        rect = dlib.rectangle(round(box.x), round(box.y), round(box.x + box.w) - 1, round(box.y + box.h) - 1)
        return np.asarray(resnet.compute_face_descriptor(rgb, shapes(rgb, rect)), np.float64)

    return embed


@dataclass(frozen=True)
class Identification:
    faces: int
    top1: float  # share of obscured faces whose nearest original is their own
    owner: float  # share within MATCH of their own original
    stranger: float  # share of (obscured face, another face's original) pairs within MATCH
    nearer: float  # share of strangers farther from the obscured face than its owner is (chance: 0.5)


def identification(obscured: NDArray[np.float64], originals: NDArray[np.float64]) -> Identification:
    """Each obscured face (row) against every original face (row i is face i in both)."""
    n = len(originals)
    distance = np.linalg.norm(obscured[:, None, :] - originals[None, :, :], axis=2)
    own = np.diag(distance)
    others = ~np.eye(n, dtype=bool)
    if n < 2:
        return Identification(n, 1.0, float(own[0] < MATCH), 0.0, 0.5)
    return Identification(
        faces=n,
        top1=float((distance.argmin(axis=1) == np.arange(n)).mean()),
        owner=float((own < MATCH).mean()),
        stranger=float((distance[others] < MATCH).mean()),
        nearer=float(((distance > own[:, None]) & others).sum() / others.sum()),
    )


# ---------------------------------------------------------------- the run


@dataclass(frozen=True)
class Setup:
    strengths: Strengths
    detectors: dict[str, Detect]
    embed: Callable[[RGB, Box], NDArray[np.float64]]
    context: float
    face_px: int
    whole: frozenset[str] = frozenset()  # detectors shown the whole photo instead of a crop per face
    shape: CleanOptions = field(default_factory=CleanOptions)  # its face_scale grows boxes into regions


def timed(seconds: dict[str, float], label: str, work: Callable[..., T], *args: object) -> T:
    """work(*args), its time added to seconds[label]."""
    start = time.perf_counter()
    result = work(*args)
    seconds[label] = seconds.get(label, 0.0) + time.perf_counter() - start
    return result


def found(detected: Boxes, gt: Boxes) -> list[bool]:
    """For each ground-truth box (x1, y1, x2, y2), whether a detection overlaps it by IoU >= IOU."""
    if not len(detected):
        return [False] * len(gt)
    return [bool(hit) for hit in iou(gt, detected).max(axis=1) >= IOU]


def score_image(image: RGB, boxes: Sequence[Box], setup: Setup, tally: Tally, seconds: dict[str, float]) -> None:
    """Detections and embeddings of the evaluated faces (`boxes`) in one variant of a photo."""
    crops = [crop(image, box, setup.context, setup.face_px) for box in boxes]
    corners = np.asarray([[b.x, b.y, b.x + b.w, b.y + b.h] for b in boxes], np.float64).reshape(-1, 4)
    for label, detect in setup.detectors.items():
        hits = tally.detected.setdefault(label, [])
        if label in setup.whole:
            hits += found(timed(seconds, label, detect, image), corners)
            continue
        for part, gt in crops:
            hits += found(timed(seconds, label, detect, part), gt)
    for box in boxes:
        tally.embeddings.append(timed(seconds, "embed", setup.embed, image, box))


def score_photo(photo: Photo, setup: Setup, tallies: dict[str, Tally], seconds: dict[str, float]) -> None:
    with Image.open(photo.path) as im:
        rgb = np.asarray(im.convert("RGB"))
    boxes = [Box(*map(float, row)) for row in photo.gt]
    images = timed(seconds, "obscure", variants, rgb, boxes, setup.strengths, setup.shape)
    evaluated = [box for box, keep in zip(boxes, photo.evaluated, strict=True) if keep]
    for name, image in images.items():
        score_image(image, evaluated, setup, tallies.setdefault(name, Tally()), seconds)


def wilson(share: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson interval of a share measured on n faces."""
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def table(tallies: dict[str, Tally], labels: Sequence[str]) -> str:
    """Re-detected faces per detector (of n), then the identification figures, one row per variant."""
    originals = np.asarray(tallies["original"].embeddings)
    n = len(originals)
    head = ["variant", *labels, "top-1 %", "chance %", "owner % (95 % CI)", "stranger %", "owner nearer %"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, tally in tallies.items():
        ident = identification(np.asarray(tally.embeddings), originals)
        low, high = wilson(ident.owner, n)
        cells = [name, *(str(sum(tally.detected[label])) for label in labels)]
        owner = f"{100 * ident.owner:.1f} ({100 * low:.0f}-{100 * high:.0f})"
        cells += [f"{100 * ident.top1:.1f}", f"{100 / n:.1f}", owner, f"{100 * ident.stranger:.1f}"]
        cells.append(f"{100 * ident.nearer:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def silhouette_table(tallies: dict[str, Tally], labels: Sequence[str]) -> str:
    """Per method and detector: re-detected faces that the same detector also finds as a flat black fill.

    A detection on the fill comes from the head-shaped outline of the mask alone (no pixel of the face is
    left), so those re-detections say where a head is, not what it looks like.
    """
    fill = tallies.get(Method.FILL.value)
    if fill is None:
        return ""
    head = ["variant", *labels]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, tally in tallies.items():
        if name in ("original", BASELINE, Method.FILL.value) or name.startswith("deface"):
            continue
        cells = []
        for label in labels:
            hits = np.asarray(tally.detected[label])
            cells.append(f"{hits.sum()} ({(hits & np.asarray(fill.detected[label])).sum()})")
        lines.append("| " + " | ".join([name, *cells]) + " |")
    return "\n".join(lines)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="use an even spread of N photos")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--detectors", default=None, help="project detectors, comma-separated (default: all)")
    parser.add_argument("--no-dlib-detect", action="store_true", help="skip dlib's CNN detector (the slow part)")
    parser.add_argument(
        "--crops", action="store_true", help="project detectors see crops like dlib (faster; finds fewer, see above)"
    )
    parser.add_argument(
        "--strength", action="append", default=[], metavar="METHOD=CELLS", help="e.g. blur=5 (default: the library's)"
    )
    parser.add_argument("--face-scale", type=float, default=CleanOptions().face_scale, help="as clean's --face-scale")
    parser.add_argument(
        "--face-shape", type=FaceShape, default=CleanOptions().face_shape, choices=list(FaceShape), help="as clean's"
    )
    parser.add_argument("--min-face", type=int, default=48, help="evaluate faces at least this wide (px)")
    parser.add_argument("--context", type=float, default=1.6, help="detector crop side / face's longer side")
    parser.add_argument("--face-px", type=int, default=64, help="faces are scaled to this width for detectors")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse(argv)
    photos = [p for p in load_corpus(args.corpus, args.min_face, args.limit) if p.evaluated.any()]
    names = args.detectors.split(",") if args.detectors else None
    detectors = project_detectors(names)
    whole = frozenset() if args.crops else frozenset(detectors)
    if not args.no_dlib_detect:
        detectors[DLIB] = dlib_detector()
    strengths = {Method(k): float(v) for k, v in (item.split("=", 1) for item in args.strength)}
    shape = CleanOptions(face_scale=args.face_scale, face_shape=args.face_shape)
    setup = Setup(strengths, detectors, dlib_embedder(), args.context, args.face_px, whole, shape)
    tallies: dict[str, Tally] = {}
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    for photo in photos:
        score_photo(photo, setup, tallies, seconds)
    elapsed = time.perf_counter() - start
    faces = len(tallies["original"].embeddings)
    cells = {m.value: obscure.cells_for(m, strengths.get(m)) for m in obscure.METHODS if obscure.cells_for(m, None)}
    print(f"{faces} faces at least {args.min_face} px wide in {len(photos)} photos; cells across a region: {cells}")
    print(f"each face obscured in a {args.face_shape.value} {args.face_scale}x its box (face scale and shape)")
    cropped = ", ".join(label for label in detectors if label not in whole)
    if cropped:
        print(f"{cropped}: each face shown {args.face_px} px wide in a crop {args.context}x its longer side")
    if whole:
        print(f"{', '.join(label for label in detectors if label in whole)}: shown the whole photos")
    print()
    print(f"Re-detected (of {faces} faces) per detector, and re-identified by dlib's face embeddings:")
    print()
    print(table(tallies, list(detectors)))
    print()
    silhouettes = silhouette_table(tallies, list(detectors))
    if silhouettes:
        print("Re-detected, and in brackets those of them the same detector also finds when the face is a flat")
        print("black fill (the head-shaped outline alone):")
        print()
        print(silhouettes)
        print()
    print(f"{elapsed:.0f} s in all; " + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
