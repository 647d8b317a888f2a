"""MediaPipe BlazeFace (short and full range) through the Tasks API, from the bundled tflite files."""

from __future__ import annotations

import threading

import numpy as np

from ..models import model_bytes
from ..native import close_at_exit, mediapipe_tasks, quiet_stderr, srgb_image
from ..types import Box, Detection
from .base import RGB, register

MODELS = {
    "mediapipe-short": "face_detection_short_range.tflite",
    "mediapipe-full": "face_detection_full_range_sparse.tflite",
}


class BlazeFace:
    """One BlazeFace model. Calls are serialised: a MediaPipe task is not safe to share across threads."""

    def __init__(self, name: str, model: str, threshold: float = 0.4) -> None:
        self.name = name
        BaseOptions, vision = mediapipe_tasks()
        options = vision.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_buffer=model_bytes(model)),
            min_detection_confidence=threshold,
            min_suppression_threshold=0.3,
        )
        with quiet_stderr():  # LiteRT logs every sparse tensor and the first unaligned input
            self._task = vision.FaceDetector.create_from_options(options)
            close_at_exit(self._task.close)
            self._task.detect(srgb_image(np.zeros((64, 64, 3), np.uint8)))
        self._lock = threading.Lock()

    def detect(self, rgb: RGB) -> list[Detection]:
        image = srgb_image(rgb[:, :, :3])
        with self._lock:
            result = self._task.detect(image)
        found = []
        for det in result.detections:
            bb = det.bounding_box
            score = float(det.categories[0].score) if det.categories else 0.0
            found.append(Detection(Box(bb.origin_x, bb.origin_y, bb.width, bb.height), score, self.name))
        return found


class BlazeFaceBoth:
    """Short range (close faces) and full range (smaller, farther faces), merged."""

    name = "mediapipe"

    def __init__(self) -> None:
        self._models = [BlazeFace(name, model) for name, model in MODELS.items()]

    def detect(self, rgb: RGB) -> list[Detection]:
        found: list[Detection] = []
        for model in self._models:
            for det in model.detect(rgb):
                if all(det.box.iou(other.box) < 0.5 for other in found):
                    found.append(det)
        return found


register("mediapipe")(BlazeFaceBoth)
register("mediapipe-short")(lambda: BlazeFace("mediapipe-short", MODELS["mediapipe-short"]))
register("mediapipe-full")(lambda: BlazeFace("mediapipe-full", MODELS["mediapipe-full"]))
