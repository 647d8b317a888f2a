"""One error tree for the whole library.

    AnonymizerError                  anything the library raises on purpose
    ├── InputError                   the photo itself is the problem
    │   ├── UnsupportedFormatError   not an image, or a format we do not handle   (HTTP 415)
    │   ├── CorruptImageError        truncated, malformed, hostile                (HTTP 422)
    │   └── TooLargeError            over a size, pixel, item or nesting limit    (HTTP 413)
    ├── OptionsError                 bad options or regions from the user        (HTTP 400)
    ├── ModelError                   a model is missing, altered or cannot load  (HTTP 500)
    ├── VerificationError            the output failed its check; nothing written (HTTP 500)
    └── BusyError                    no worker free to take the job               (HTTP 503)

Messages are one line, name the reason in plain words, and never contain image bytes.
"""

from __future__ import annotations


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
