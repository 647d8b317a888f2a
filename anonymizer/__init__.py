"""Photo anonymizer: obscure faces and marks irreversibly, strip every piece of metadata, locally.

The public API takes and returns bytes:

    from anonymizer import clean, CleanOptions
    result = clean(open("photo.jpg", "rb").read(), CleanOptions())
    open("photo-clean.jpg", "wb").write(result.data)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    AnonymizerError,
    BusyError,
    CancelledError,
    CorruptImageError,
    InputError,
    InternalError,
    ModelError,
    OptionsError,
    TooLargeError,
    UnsupportedFormatError,
    VerificationError,
)
from .metadata import Category, Finding, Report, Risk, StripResult
from .options import Background, CleanOptions, FaceShape, Limits, Method, OutputFormat
from .summary import Summary
from .types import Box, Detection, Ellipse, Polygon, Regions, Stroke

if TYPE_CHECKING:
    from . import formats
    from .faces import Detector, detector_names, get_detector
    from .formats import FORMATS, Format, Kind
    from .media import VideoSettings, clean_stream, inspect_stream, strip_stream
    from .options import strength_range
    from .parse import box as parse_box
    from .parse import colour as parse_colour
    from .parse import ellipse as parse_ellipse
    from .pipeline import CleanResult, DetectResult, clean, detect
    from .preview import draw as draw_faces
    from .regions import parse_faces_choice, parse_faces_json, parse_regions_json
    from .sample import sample_photo
    from .verify import inspect, strip, strip_summary

    __version__: str

# Imported on first use, so that a command that only reads metadata does not load numpy, OpenCV and the models
# (the CLI starts in a fraction of the time).
_LAZY: dict[str, str] = {
    "formats": "",
    "FORMATS": ".formats",
    "Format": ".formats",
    "Kind": ".formats",
    **dict.fromkeys(("CleanResult", "DetectResult", "clean", "detect"), ".pipeline"),
    **dict.fromkeys(("inspect", "strip", "strip_summary"), ".verify"),
    **dict.fromkeys(("Detector", "detector_names", "get_detector"), ".faces"),
    **dict.fromkeys(("VideoSettings", "clean_stream", "inspect_stream", "strip_stream"), ".media"),
    **dict.fromkeys(("parse_faces_choice", "parse_faces_json", "parse_regions_json"), ".regions"),
    "strength_range": ".options",
    "sample_photo": ".sample",
}
# Public names that are another name inside their module.
_RENAMED = {
    "draw_faces": (".preview", "draw"),
    "parse_box": (".parse", "box"),
    "parse_colour": (".parse", "colour"),
    "parse_ellipse": (".parse", "ellipse"),
}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("photo-anonymizer")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        return "0.0.0"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        value: Any = _version()
    elif name in _LAZY:
        module = importlib.import_module(_LAZY[name] or f".{name}", __name__)
        value = module if not _LAZY[name] else getattr(module, name)
    elif name in _RENAMED:
        where, inner = _RENAMED[name]
        value = getattr(importlib.import_module(where, __name__), inner)
    else:
        raise AttributeError(f"module 'anonymizer' has no attribute {name!r}")
    globals()[name] = value
    return value


__all__ = [
    "FORMATS",
    "AnonymizerError",
    "Background",
    "Box",
    "BusyError",
    "CancelledError",
    "Category",
    "CleanOptions",
    "CleanResult",
    "CorruptImageError",
    "DetectResult",
    "Detection",
    "Detector",
    "Ellipse",
    "FaceShape",
    "Finding",
    "Format",
    "InputError",
    "InternalError",
    "Kind",
    "Limits",
    "Method",
    "ModelError",
    "OptionsError",
    "OutputFormat",
    "Polygon",
    "Regions",
    "Report",
    "Risk",
    "StripResult",
    "Stroke",
    "Summary",
    "TooLargeError",
    "UnsupportedFormatError",
    "VerificationError",
    "VideoSettings",
    "__version__",
    "clean",
    "clean_stream",
    "detect",
    "detector_names",
    "draw_faces",
    "formats",
    "get_detector",
    "inspect",
    "inspect_stream",
    "parse_box",
    "parse_colour",
    "parse_ellipse",
    "parse_faces_choice",
    "parse_faces_json",
    "parse_regions_json",
    "sample_photo",
    "strength_range",
    "strip",
    "strip_stream",
    "strip_summary",
]
