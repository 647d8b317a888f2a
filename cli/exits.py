"""Exit codes: one per kind of failure, the same for every command (listed in --help and the README).

A batch goes on past any single file's failure and ends with the code of its most serious failure (the highest
number below).
"""

from __future__ import annotations

from enum import IntEnum

from anonymizer import (
    AnonymizerError,
    BusyError,
    CancelledError,
    InputError,
    InternalError,
    ModelError,
    OptionsError,
    VerificationError,
)


class Exit(IntEnum):
    OK = 0
    FOUND = 1  # inspect --check: something identifying is in a file (the answer, not a failure)
    USAGE = 2  # a flag, value or option is wrong; nothing was done
    INPUT = 3  # a file is not a supported photo or video, is damaged, too large, or nothing was found to do
    VERIFICATION = 4  # an output failed its check and was not written
    MODEL = 5  # a bundled model is missing, altered or failed while running
    FILES = 6  # a file or folder could not be read or written (exists without --force, permissions, disk full)
    INTERNAL = 70  # a bug in anonymize: please report it
    INTERRUPTED = 130  # Ctrl-C: nothing partial was left behind


MEANINGS: dict[Exit, str] = {
    Exit.OK: "done",
    Exit.FOUND: "inspect --check found identifying metadata",
    Exit.USAGE: "wrong flag, value or option; nothing was done",
    Exit.INPUT: "a file is not a supported photo or video, is damaged or too large; or there was nothing to do",
    Exit.VERIFICATION: "an output failed verification and was not written",
    Exit.MODEL: "a face or person model could not load or failed",
    Exit.FILES: "a file or folder could not be read or written",
    Exit.INTERNAL: "a bug in anonymize (run again with --debug and report it)",
    Exit.INTERRUPTED: "interrupted; nothing partial was left behind",
}

_BY_ERROR: tuple[tuple[type[AnonymizerError], Exit], ...] = (
    (OptionsError, Exit.USAGE),
    (InputError, Exit.INPUT),
    (VerificationError, Exit.VERIFICATION),
    (ModelError, Exit.MODEL),
    (BusyError, Exit.INTERNAL),
    (CancelledError, Exit.INTERRUPTED),
    (InternalError, Exit.INTERNAL),
)


def for_error(exc: AnonymizerError) -> Exit:
    return next((code for kind, code in _BY_ERROR if isinstance(exc, kind)), Exit.INTERNAL)


def epilog() -> str:
    """The exit codes, for --help."""
    return "Exit codes: " + "; ".join(f"{int(code)} {text}" for code, text in MEANINGS.items()) + "."
