"""The Detector protocol and the detector registry."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from ..errors import ModelError, OptionsError
from ..types import Detection

RGB = NDArray[np.uint8]


class Detector(Protocol):
    """Finds faces in an upright RGB image (H x W x 3, uint8); boxes are in that image's pixels."""

    name: str

    def detect(self, rgb: RGB) -> list[Detection]: ...


DetectorFactory = Callable[[], Detector]

#: name -> factory. A new detector is a module that adds one entry here.
DETECTORS: dict[str, DetectorFactory] = {}
#: the name "default" resolves to this entry (multi-scale CenterFace, see presets.py)
DEFAULT_DETECTOR: list[str] = ["ensemble"]
#: a quicker detector for live previews
FAST_DETECTOR = "fast"

_instances: dict[str, Detector] = {}
_lock = threading.Lock()


def register(name: str) -> Callable[[DetectorFactory], DetectorFactory]:
    def add(factory: DetectorFactory) -> DetectorFactory:
        DETECTORS[name] = factory
        return factory

    return add


def detector_names() -> list[str]:
    return ["default", *sorted(DETECTORS)]


def get_detector(name: str = "default") -> Detector:
    """The detector called `name`, built once per process and shared."""
    key = DEFAULT_DETECTOR[0] if name == "default" else name
    if key not in DETECTORS:
        raise OptionsError(f"unknown detector {name!r}; choose from {', '.join(detector_names())}")
    with _lock:
        if key not in _instances:
            try:
                _instances[key] = DETECTORS[key]()
            except ModelError:
                raise
            except Exception as exc:
                raise ModelError(f"face detector {key!r} could not load: {exc}") from exc
        return _instances[key]
