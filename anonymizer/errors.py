"""One error tree for the whole library.

    AnonymizerError                  anything the library raises on purpose
    ├── InputError                   the photo itself is the problem
    │   ├── UnsupportedFormatError   not an image, or a format we do not handle   (HTTP 415)
    │   ├── CorruptImageError        truncated, malformed, hostile                (HTTP 422)
    │   └── TooLargeError            over a size, pixel, item or nesting limit    (HTTP 413)
    ├── OptionsError                 bad options or regions from the user        (HTTP 400)
    ├── ModelError                   a model is missing, altered or cannot load  (HTTP 500)
    ├── VerificationError            the output failed its check; nothing written (HTTP 500)
    ├── BusyError                    no worker free to take the job               (HTTP 503)
    ├── CancelledError               the caller cancelled a long job             (HTTP 499/410)
    └── InternalError                a bug of ours; never blamed on the input     (HTTP 500)

Messages are one line, name the reason in plain words, and never contain image bytes.

Third-party exceptions are translated at one boundary, `translated`, which wraps every public entry point of the
library (as httpx's map_exceptions does): our own errors pass through; an exception raised inside a model's
inference becomes ModelError; MemoryError becomes TooLargeError; anything else is an InternalError (a bug),
never "corrupt input". Decoders translate their own exceptions where they call the decoder (imaging._guarded).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class AnonymizerError(Exception):
    """Base of every error the library raises on purpose."""


class InputError(AnonymizerError):
    """The input photo cannot be processed."""


class UnsupportedFormatError(InputError):
    """The bytes are not an image in a format we handle."""


class CorruptImageError(InputError):
    """The image is truncated or malformed."""


class TooLargeError(InputError):
    """The input exceeds a configured limit."""


class OptionsError(AnonymizerError):
    """Options or regions given by the user are invalid."""


class ModelError(AnonymizerError):
    """A bundled model is missing, does not match its checksum, or cannot load."""


class VerificationError(AnonymizerError):
    """The output did not pass verification; it must not be written or returned."""


class BusyError(AnonymizerError):
    """No worker is free; try again later."""


class CancelledError(AnonymizerError):
    """The caller cancelled the job; nothing was written or returned."""


class InternalError(AnonymizerError):
    """A bug of ours (never the input's fault): reported as such, with its type, so it can be fixed."""


MODEL_PACKAGES = ("anonymizer/faces/", "anonymizer/segmentation", "anonymizer/native", "cv2", "mediapipe")


def _raised_in(exc: BaseException, places: tuple[str, ...]) -> bool:
    """Whether any frame of exc's traceback lies in one of `places` (path fragments)."""
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename.replace("\\", "/")
        if any(place in filename for place in places):
            return True
        tb = tb.tb_next
    return False


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__


def translate(exc: Exception) -> AnonymizerError:
    """The error-tree member for an exception that escaped the library's own handling."""
    if isinstance(exc, AnonymizerError):
        return exc
    if isinstance(exc, MemoryError):
        return TooLargeError("not enough memory to process this file")
    if type(exc).__module__.startswith(("cv2", "mediapipe")) or _raised_in(exc, MODEL_PACKAGES[:3]):
        return ModelError(f"a face or person model failed while running ({_first_line(exc)})")
    return InternalError(f"internal error ({_first_line(exc)}); this is a bug in anonymize, please report it")


def translated(func: Callable[P, R]) -> Callable[P, R]:
    """Decorate a public entry point: whatever escapes it is a member of the error tree."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except AnonymizerError:
            raise
        except Exception as exc:
            raise translate(exc) from exc

    return wrapper
