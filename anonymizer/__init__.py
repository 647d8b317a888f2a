"""Photo anonymizer: obscure faces and marks irreversibly, strip every piece of metadata, locally.

The public API takes and returns bytes:

    from anonymizer import clean, CleanOptions
    result = clean(open("photo.jpg", "rb").read(), CleanOptions())
    open("photo-clean.jpg", "wb").write(result.data)
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

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
from . import formats
from .formats import FORMATS, Format, Kind
from .metadata import Category, Finding, Report, Risk, StripResult
from .options import Background, CleanOptions, FaceShape, Limits, Method, OutputFormat
from .pipeline import CleanResult, DetectResult, clean, detect, inspect, strip, strip_summary
from .summary import Summary
from .types import Box, Detection, Ellipse, Polygon, Regions, Stroke

try:
    __version__ = version("photo-anonymizer")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

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
