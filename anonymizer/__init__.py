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
    from .formats import FORMATS, Format, Kind
    from .pipeline import CleanResult, DetectResult, clean, detect, inspect, strip, strip_summary

    __version__: str

# Imported on first use, so that a command that only reads metadata does not load numpy, OpenCV and the models
# (the CLI starts in a fraction of the time).
_LAZY: dict[str, str] = {
    "formats": "",
    "FORMATS": ".formats",
    "Format": ".formats",
    "Kind": ".formats",
    **dict.fromkeys(
        ("CleanResult", "DetectResult", "clean", "detect", "inspect", "strip", "strip_summary"), ".pipeline"
    ),
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
    else:
        raise AttributeError(f"module 'anonymizer' has no attribute {name!r}")
    globals()[name] = value
    return value


__all__ = [
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
    "Ellipse",
    "FORMATS",
    "FaceShape",
    "Format",
    "Finding",
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
    "__version__",
    "clean",
    "detect",
    "formats",
    "inspect",
    "strip",
    "strip_summary",
]
