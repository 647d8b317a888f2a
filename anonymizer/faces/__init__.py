"""Face detection: a Detector protocol, a registry of detectors, and the default choice."""

from __future__ import annotations

from . import mediapipe_blazeface as _mediapipe_blazeface  # noqa: F401 - registers itself
from . import presets as _presets  # noqa: F401 - registers the CenterFace detectors
from .base import DEFAULT_DETECTOR, DETECTORS, FAST_DETECTOR, Detector, detector_names, get_detector, register

__all__ = [
    "DEFAULT_DETECTOR",
    "DETECTORS",
    "FAST_DETECTOR",
    "Detector",
    "detector_names",
    "get_detector",
    "register",
]
