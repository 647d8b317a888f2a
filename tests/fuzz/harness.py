"""One fuzz input through the public API: inspect, strip (with and without keep_icc) and clean, and what counts
as a failure.

A failure is any exception that is not one of the library's typed errors (AnonymizerError), any input whose
calls together take more than CPU_LIMIT seconds of CPU time (times CPU_MARGIN: the process's CPU time counts
every thread, and a loaded machine must not fail an input that is merely waiting for a core), any output of
strip or clean that `inspect` does not pass, and any output that carries the canary marker (tests/canary.py)
when the input did (mutate.plant hides it where no field explains it). The limits are the defaults except for
pixels: a mutated header can claim up to the default 120 megapixels, which legitimately takes longer than the
time limit to decode, so the fuzzer caps pixels at 4 megapixels (the cap itself is what is tested then, not the
decoder's speed on a huge image).
"""

from __future__ import annotations

import re
import signal
import threading
import time
import traceback
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import numpy as np

import anonymizer
from anonymizer import AnonymizerError, Box, Category, CleanOptions, Detection, Limits, VerificationError

from ..canary import MARKER, forms, leaks

FUZZ_LIMITS = Limits(max_pixels=4_000_000)
CPU_LIMIT = 2.0  # CPU seconds for one input (all the operations)
CPU_MARGIN = 2.0  # allowed: CPU_LIMIT * CPU_MARGIN of process CPU time (Pillow and numpy may use more than one thread)
TIME_LIMIT = 10.0  # wall-clock seconds for one input: only the Hypothesis deadline, far above CPU_LIMIT on purpose
HANG_LIMIT = 20.0  # a Python-level loop this long is a hang: interrupted and reported


class NoFaces:
    """The fake detector: finds nothing, loads nothing."""

    name = "fuzz-no-faces"

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        return []


class CentreFace:
    """A fake detector that 'finds' a face in the middle, so that masks and obscuring run on odd shapes too."""

    name = "fuzz-centre-face"

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        h, w = rgb.shape[:2]
        return [Detection(Box(w / 4, h / 4, w / 2, h / 2), 0.9, self.name)]


class Hang(BaseException):
    """Raised by the watchdog inside a call that runs past HANG_LIMIT; a BaseException, so that no
    `except Exception` on the way swallows it."""


@dataclass(frozen=True)
class Problem:
    kind: str  # "exception", "unclean output", "slow", "hang"
    operation: str  # "inspect", "strip", "clean"
    detail: str
    signature: str  # what makes two problems the same bug

    def __str__(self) -> str:
        return f"{self.kind} in {self.operation}: {self.detail}"


@dataclass
class Outcome:
    problems: list[Problem]
    seconds: float  # wall clock
    verification_errors: int = 0  # fail-closed refusals: typed, not failures, but worth a look in the long run
    typed: tuple[str, ...] = ()  # the typed errors raised, by class name
    cpu_seconds: float = 0.0


@contextmanager
def watchdog(seconds: float) -> Iterator[None]:
    """Raise Hang in the main thread after `seconds` (Python-level loops only; the long run also kills hung
    C code from outside). Elsewhere than in the main thread this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def fire(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"still running after {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _where(exc: BaseException) -> str:
    """The innermost frame in our code (anonymizer/), else the innermost frame: file:line."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/anonymizer/" in f.filename and "/site-packages/" not in f.filename]
    frame = (ours or frames or [None])[-1]
    return f"{Path(frame.filename).name}:{frame.lineno}" if frame is not None else "?"


LEAKS_FULL_SCAN = 16 * 1024  # canary.leaks tries raw deflate at every offset: affordable in small outputs only
_ZLIB_HEAD = re.compile(rb"[\x08\x18\x28\x38\x48\x58\x68\x78][\x00-\xff]", re.DOTALL)


def carries_marker(out: bytes) -> bool:
    """canary.leaks for small outputs; for larger ones the marker in plain sight (ASCII, UTF-16) or inside any
    zlib stream (the only compression our outputs use), found by its header without a Python loop per byte."""
    if len(out) <= LEAKS_FULL_SCAN:
        return leaks(out)
    needles = forms(MARKER)
    if any(n in out for n in needles):
        return True
    for head in _ZLIB_HEAD.finditer(out):
        if int.from_bytes(head.group(), "big") % 31:
            continue
        try:
            inner = zlib.decompressobj().decompress(memoryview(out)[head.start() :], 64 * 1024 * 1024)
        except zlib.error:
            continue
        if any(n in inner for n in needles):
            return True
    return False


def _outputs_clean(operation: str, out: bytes, planted: bool = False) -> list[Problem]:
    if planted and carries_marker(out):
        return [Problem("marker carried", operation, "the output carries the canary marker planted in the input",
                        f"{operation}:marker")]
    try:
        report = anonymizer.inspect(out)
    except AnonymizerError as exc:
        return [Problem("unclean output", operation, f"inspect refuses the output: {exc}", f"{operation}:unreadable")]
    allowed = KEPT.get(operation, frozenset())
    left_over = [f for f in report.identifying if f.category not in allowed]
    if not left_over:
        return []
    left = "; ".join(f"{f.where}: {f.what}" for f in left_over[:3])
    return [Problem("unclean output", operation, left, f"{operation}:unclean:{left_over[0].where[:20]}")]


def _inspect(data: bytes, face: bool) -> bytes | None:
    anonymizer.inspect(data, FUZZ_LIMITS)
    return None


def _strip(data: bytes, face: bool) -> bytes | None:
    return anonymizer.strip(data, FUZZ_LIMITS).data


def _strip_keep_icc(data: bytes, face: bool) -> bytes | None:
    return anonymizer.strip(data, FUZZ_LIMITS, keep_icc=True).data


def _clean(data: bytes, face: bool) -> bytes | None:
    detector = CentreFace() if face else NoFaces()
    return anonymizer.clean(data, CleanOptions(limits=FUZZ_LIMITS), detector=detector).data


OPERATIONS: dict[str, Callable[[bytes, bool], bytes | None]] = {
    "inspect": _inspect, "strip": _strip, "strip --keep-icc": _strip_keep_icc, "clean": _clean,
}  # fmt: skip
#: what an operation's output may still carry because the caller asked to keep it
KEPT: dict[str, frozenset[Category]] = {"strip --keep-icc": frozenset({Category.COLOUR_PROFILE})}


def check(data: bytes, face: bool = False, hang_limit: float = HANG_LIMIT) -> Outcome:
    """Run every operation on `data` and collect the problems."""
    outcome = Outcome([], 0.0)
    typed: list[str] = []
    planted = MARKER in data
    started, cpu_started = time.perf_counter(), time.process_time()
    for name, operation in OPERATIONS.items():
        try:
            with watchdog(hang_limit):
                out = operation(data, face)
        except VerificationError as exc:
            outcome.verification_errors += 1
            typed.append(type(exc).__name__)
            continue
        except AnonymizerError as exc:
            typed.append(type(exc).__name__)
            continue
        except Hang as exc:
            outcome.problems.append(Problem("hang", name, str(exc), f"{name}:hang:{_where(exc)}"))
            continue
        except Exception as exc:  # noqa: BLE001 - this is what the fuzzer looks for
            detail = f"{type(exc).__name__}: {str(exc)[:200]} at {_where(exc)}"
            outcome.problems.append(Problem("exception", name, detail, f"{name}:{type(exc).__name__}:{_where(exc)}"))
            continue
        if out is not None:
            outcome.problems += _outputs_clean(name, out, planted)
    outcome.seconds = time.perf_counter() - started
    outcome.cpu_seconds = time.process_time() - cpu_started
    if outcome.cpu_seconds > CPU_LIMIT * CPU_MARGIN:
        detail = f"{outcome.cpu_seconds:.1f} CPU s for one input ({outcome.seconds:.1f} s wall)"
        outcome.problems.append(Problem("slow", "all", detail, "slow"))
    outcome.typed = tuple(typed)
    return outcome
