"""Person segmentation: where the people are, so everything else (the room, the view) can be obscured.

MediaPipe's selfie-segmentation models (bundled, checked against models/MANIFEST) run through the Tasks
`ImageSegmenter` at their own input size: the square model for portrait, square and 4:3 photos, the 16:9
one for wider photos. The low-resolution confidence is refined against the photo's colours with a guided
filter at a working resolution (the photo reduced by an integer factor to a long side <= WORK_SIDE), so
hair and arms follow the photo's edges instead of the model's coarse grid, and is then scaled to the
photo's full size. Several people all count as "person".

The background option obscures everything that is not a person: see `obscure_background`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import TypeVar

import cv2
import numpy as np
from numpy.typing import NDArray

from . import obscure
from .errors import InputError, ModelError
from .models import model_bytes
from .native import close_at_exit, mediapipe_tasks, quiet_stderr, srgb_image
from .options import Background, CleanOptions, Method

RGB = NDArray[np.uint8]
Pixels = NDArray[np.uint8]
Confidence = NDArray[np.float32]
Mask = NDArray[np.bool_]
Scalar = TypeVar("Scalar", np.uint8, np.float32)


@dataclass(frozen=True)
class SegmentationModel:
    """A bundled model and the (width, height) of its input."""

    file: str
    size: tuple[int, int]


#: name -> model. The square model serves portrait, square and 4:3 photos, the landscape one wider photos.
MODELS: dict[str, SegmentationModel] = {
    "portrait": SegmentationModel("selfie_segmentation.tflite", (256, 256)),
    "landscape": SegmentationModel("selfie_segmentation_landscape.tflite", (256, 144)),
}
#: photos wider than this (width / height) use the landscape model: 3:2 and wider go to the 16:9 model,
#: 4:3 and narrower to the square one (the more accurate of the two)
LANDSCAPE_ASPECT = 1.4
#: the guided filter runs at most at this long side; finer detail would be lost in the margin anyway
WORK_SIDE = 768
#: guided filter: window radius as a fraction of the working long side, and regularisation (intensities 0..1)
GUIDE_RADIUS = 1 / 128
GUIDE_EPS = 1e-3
#: a pixel is person when its refined confidence is at least this
THRESHOLD = 0.5
#: the kept person is grown by this fraction of the long side (at least MIN_MARGIN px), so hair and arms stay whole
MARGIN = 1 / 400
MIN_MARGIN = 2
#: person blobs smaller than this fraction of the photo are treated as background (spurious detections)
MIN_BLOB = 1e-3


class _Segmenter:
    """One ImageSegmenter. Calls are serialised: a MediaPipe task is not safe to share across threads."""

    def __init__(self, model: SegmentationModel) -> None:
        self.model = model
        BaseOptions, vision = mediapipe_tasks()
        options = vision.ImageSegmenterOptions(
            base_options=BaseOptions(model_asset_buffer=model_bytes(model.file)),
            output_confidence_masks=True,
            output_category_mask=False,
        )
        with quiet_stderr():  # LiteRT logs its set-up and first inference to stderr
            self._task = vision.ImageSegmenter.create_from_options(options)
            close_at_exit(self._task.close)
            warm_up = srgb_image(np.zeros((model.size[1], model.size[0], 3), np.uint8))
            self._task.segment(warm_up)
        self._lock = threading.Lock()

    def confidence(self, rgb: RGB) -> Confidence:
        """Person confidence at the model's input size, for `rgb` already resized to it."""
        image = srgb_image(rgb)
        with self._lock:
            try:
                masks = self._task.segment(image).confidence_masks
            except Exception as exc:  # a failing model is a ModelError, never "no person"
                raise ModelError(f"segmentation model {self.model.file} failed: {exc}") from exc
            if not masks:
                raise ModelError(f"segmentation model {self.model.file} returned no confidence mask")
            view = masks[-1].numpy_view()
            out = np.array(view.reshape(view.shape[0], view.shape[1]), dtype=np.float32)
        return out


_instances: dict[str, _Segmenter] = {}
_lock = threading.Lock()


def get_segmenter(name: str) -> _Segmenter:
    """The segmenter called `name` (a key of MODELS), built once per process and shared."""
    with _lock:
        if name not in _instances:
            try:
                _instances[name] = _Segmenter(MODELS[name])
            except ModelError:
                raise
            except Exception as exc:  # any failure to build a model is a ModelError
                raise ModelError(f"segmentation model {name!r} could not load: {exc}") from exc
        return _instances[name]


def _model_for(width: int, height: int) -> str:
    return "landscape" if width / height > LANDSCAPE_ASPECT else "portrait"


def _resize(image: NDArray[Scalar], width: int, height: int) -> NDArray[Scalar]:
    if image.shape[1] == width and image.shape[0] == height:
        return image
    shrink = width * height < image.shape[0] * image.shape[1]
    out = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return np.asarray(out, dtype=image.dtype)


def _factor(width: int, height: int) -> int:
    """The integer factor that brings the long side to at most WORK_SIDE (never below one pixel across)."""
    return max(1, min(-(-max(width, height) // WORK_SIDE), width, height))


def _shrink(image: NDArray[Scalar], factor: int) -> NDArray[Scalar]:
    """`image` reduced by an integer factor, averaging; the last rows and columns (under `factor`) are left out.

    An exact integer ratio takes OpenCV's fast area path: several times faster than an arbitrary ratio.
    """
    height, width = image.shape[0] // factor, image.shape[1] // factor
    return _resize(image[: height * factor, : width * factor], width, height)


def _grow(small: NDArray[Scalar], factor: int, width: int, height: int) -> NDArray[Scalar]:
    """Undo `_shrink`'s geometry: scaled up by `factor`, the rows and columns it left out repeat the edge."""
    up = _resize(small, small.shape[1] * factor, small.shape[0] * factor)
    bottom, right = height - up.shape[0], width - up.shape[1]
    if bottom or right:
        up = np.asarray(cv2.copyMakeBorder(up, 0, bottom, 0, right, cv2.BORDER_REPLICATE), dtype=up.dtype)
    return up


def guided_filter(guide: RGB, source: Confidence, radius: int, eps: float = GUIDE_EPS) -> Confidence:
    """He et al.'s guided filter with a colour guide: `source` smoothed so its edges follow `guide`'s.

    `eps` is in units of intensity 0..1 squared; OpenCV's contrib implementation does the work.
    """
    out = cv2.ximgproc.guidedFilter(guide, source, radius, eps * 255.0 * 255.0)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class _Work:
    """The photo reduced by `factor` and the refined person confidence at that size."""

    rgb: RGB
    confidence: Confidence
    factor: int


def _working(rgb: RGB) -> _Work:
    height, width = rgb.shape[:2]
    if height < 1 or width < 1:
        raise InputError("the image has no pixels to segment")
    factor = _factor(width, height)
    work = _shrink(rgb[:, :, :3], factor)
    work_h, work_w = work.shape[:2]
    model = get_segmenter(_model_for(width, height))
    coarse = model.confidence(_resize(work, *model.model.size))
    confidence = _resize(coarse, work_w, work_h)
    if max(work_w, work_h) > max(model.model.size):
        radius = max(1, round(max(work_w, work_h) * GUIDE_RADIUS))
        confidence = guided_filter(work, confidence, radius)
    return _Work(work, confidence, factor)


def person_mask(rgb: RGB) -> Confidence:
    """Person confidence (H x W, 0..1, float32) for an upright RGB photo, at the photo's full size."""
    work = _working(rgb)
    full = _grow(work.confidence, work.factor, rgb.shape[1], rgb.shape[0])
    return np.clip(full, 0.0, 1.0).astype(np.float32)


def _drop_small_blobs(confidence: Confidence, threshold: float, min_area: float) -> Confidence:
    """`confidence` with person blobs smaller than `min_area` pixels set to zero."""
    keep = (confidence >= threshold).astype(np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(keep, connectivity=8)
    small = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] < min_area)
    small = small[small > 0]
    if small.size:
        confidence = confidence.copy()
        confidence[np.isin(labels, small)] = 0.0
    return confidence


def _person_keep(rgb: RGB, threshold: float) -> _Work:
    """Like `_working`, with the confidence grown by the margin and stray specks dropped.

    Grown by a grey dilation (a max filter), so the edge stays smooth when it is scaled up and thresholded.
    """
    work = _working(rgb)
    confidence = _drop_small_blobs(work.confidence, threshold, MIN_BLOB * work.confidence.size)
    margin = max(MIN_MARGIN, round(max(rgb.shape[:2]) * MARGIN))
    work_margin = max(1, round(margin / work.factor))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * work_margin + 1, 2 * work_margin + 1))
    return _Work(work.rgb, np.asarray(cv2.dilate(confidence, kernel), dtype=np.float32), work.factor)


def _full_person(work: _Work, width: int, height: int, threshold: float) -> NDArray[np.uint8]:
    """Where the person is kept at full size: 1, else 0 (scaled as 8-bit: a quarter of the memory of float)."""
    levels = _grow(np.rint(work.confidence * 255).astype(np.uint8), work.factor, width, height)
    return np.asarray(levels >= round(threshold * 255)).view(np.uint8)


def background_mask(rgb: RGB, threshold: float = THRESHOLD) -> Mask:
    """True where the photo is *not* a person: what the background option obscures.

    The person (confidence >= threshold, tiny spurious blobs dropped) is grown by a small margin so hair
    and arms are kept whole; everything else, holes between arms and body included, is background.
    """
    work = _person_keep(rgb[:, :, :3], threshold)
    return np.asarray(_full_person(work, rgb.shape[1], rgb.shape[0], threshold) == 0)


def _obscure_outside_people(pixels: Pixels, options: CleanOptions) -> Pixels:
    """A copy of `pixels` (RGB or RGBA) with everything but the people obscured by `options.method`.

    The method runs on the photo at working resolution (the background is one huge region, reduced to a
    few noisy cells either way) and its result is scaled up; the people are pasted back over it, so they
    keep a sharp edge and no soft band of the method falls on them.
    """
    height, width = pixels.shape[:2]
    work = _person_keep(pixels[:, :, :3], THRESHOLD)
    person = _full_person(work, width, height, THRESHOLD)
    # grown by two working pixels, so every pixel the upscale reads for the background is obscured
    background = (work.confidence < THRESHOLD).astype(np.uint8)
    work_background = cv2.dilate(background, np.ones((5, 5), np.uint8)).astype(np.bool_)
    small = work.rgb if pixels.shape[2] == 3 else _shrink(pixels, work.factor)
    field = _grow(obscure.apply(small, work_background, options), work.factor, width, height)
    out = cv2.copyTo(pixels, person, field)  # the people, pasted back over the (new) obscured field
    return np.asarray(out, dtype=np.uint8)


#: Background option -> the obscuring method it uses. KEEP has no entry: nothing is done.
BACKGROUND_METHODS: dict[Background, Method] = {Background.BLUR: Method.BLUR, Background.FILL: Method.FILL}


def obscure_background(pixels: Pixels, options: CleanOptions) -> Pixels:
    """`pixels` with everything that is not a person obscured as `options.background` asks, irreversibly.

    Returns `pixels` itself for Background.KEEP. The strength of `options` applies when the background
    uses the same method as the faces; otherwise the method's default is used. fill uses `fill_color`.
    """
    method = BACKGROUND_METHODS.get(options.background)
    if method is None:
        return pixels
    strength = options.strength if method is options.method else None
    return _obscure_outside_people(pixels, replace(options, method=method, strength=strength))
