"""Face detection: a Detector protocol, a registry of detectors, and the default choice."""

from __future__ import annotations

from . import mediapipe_blazeface as _mediapipe_blazeface  # noqa: F401 - registers itself
from .base import DETECTORS, Detector, detector_names, get_detector, register

__all__ = ["DETECTORS", "Detector", "detector_names", "get_detector", "register"]
