"""Keep native libraries (MediaPipe/LiteRT, OpenCV) from writing their logs over our output."""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

_lock = threading.Lock()


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the duration (native code ignores sys.stderr)."""
    with _lock:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            with open(os.devnull, "wb") as null:
                os.dup2(null.fileno(), 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def mediapipe_tasks() -> tuple[Any, Any]:
    """(BaseOptions, vision) from MediaPipe Tasks, imported on first use: importing MediaPipe takes most of
    the command line's start-up time, and inspect/strip never need it."""
    from mediapipe.tasks.python import BaseOptions, vision

    return BaseOptions, vision


def srgb_image(pixels: NDArray[np.uint8]) -> Any:
    """A MediaPipe image over RGB pixels."""
    import mediapipe as mp

    return mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(pixels))


def close_at_exit(close: Callable[[], object]) -> None:
    """Close a MediaPipe task when the interpreter exits, before concurrent.futures shuts its executors down
    (a task closed later, or left to its __del__, prints a traceback). threading's exit hooks run first, in
    reverse order of registration; fall back to atexit where that hook does not exist."""
    def quietly() -> None:
        with quiet_stderr():  # LiteRT logs the accelerator's destruction
            close()

    register = getattr(threading, "_register_atexit", None)
    (register or atexit.register)(quietly)
