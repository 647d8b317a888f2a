"""The batch worker: a callable class that Ray Data runs as an actor (map_batches over rows of tasks).

It loads the face detector once, then for each task reads the input through pyarrow.fs and tells photos, videos and
anything else apart by their magic bytes. A photo goes through the library's own `clean` (bytes in, verified bytes
out) and is written atomically; a video streams through `media.clean_stream` into a temporary file beside its output
(local destinations only) that is moved into place once verified; anything else is "skipped". It returns one
manifest row per task and nothing else: image bytes never leave the worker, so they never enter Ray's object store
(nor, therefore, its spill files). An input that fails becomes a "failed" row; the batch goes on.

No Ray import here: the class is plain Python, and the tests call it directly as well as through Ray.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from . import formats
from .batch_fs import Root
from .batch_manifest import Record, Status, one_line
from .batch_plan import Task
from .errors import AnonymizerError, UnsupportedFormatError
from .faces import Detector, get_detector
from .media import VideoSettings, clean_stream
from .metadata import Report
from .options import CleanOptions
from .pipeline import clean

#: Test hook, set only by tests/test_batch.py: the path of a file; the first worker that removes it after writing
#: an output dies on the spot (os._exit), as a worker killed mid-batch would.
CRASH_ENV = "ANONYMIZE_BATCH_TEST_CRASH_FILE"


@dataclass(frozen=True)
class Job:
    """Everything a worker needs, sent to each actor once (pickled)."""

    src: Root
    dst: Root
    clean: CleanOptions
    threads: int = 1  # OpenCV threads per worker: its share of the CPUs, so workers do not oversubscribe
    video: VideoSettings = field(default_factory=VideoSettings)  # audio kept or dropped, encoder quality


READ_ERRORS = (OSError, ValueError)  # pyarrow: ArrowIOError is an OSError, ArrowInvalid a ValueError


class _Outcome:
    """Builds the row of one task, timing it from creation."""

    def __init__(self, task: Task) -> None:
        self.task, self.started, self.cpu = task, time.monotonic(), time.process_time()

    def row(self, status: Status, **fields: Any) -> Record:
        seconds = round(time.monotonic() - self.started, 4)
        cpu = round(time.process_time() - self.cpu, 4)
        return Record(self.task.path, status, size=self.task.size, mtime_ns=self.task.mtime_ns, seconds=seconds,
                      cpu_seconds=cpu, **fields)

    def failed(self, exc: BaseException | str, fmt: str | None = None) -> Record:
        if isinstance(exc, str):
            return self.row(Status.FAILED, format=fmt, error=one_line(exc))
        return self.row(Status.FAILED, format=fmt, error=one_line(str(exc)), error_type=type(exc).__name__)


def _crash_if_asked() -> None:
    flag = os.environ.get(CRASH_ENV)
    if not flag:
        return
    try:
        os.remove(flag)  # only one process can remove it: exactly one crash
    except FileNotFoundError:
        return
    os._exit(70)


class Cleaner:
    """One Ray Data actor: `Cleaner(job)(batch)` cleans the batch's inputs and returns their manifest rows."""

    def __init__(self, job: Job) -> None:
        self.job = job
        cv2.setNumThreads(max(1, job.threads))
        options = job.clean
        self.detector: Detector | None = (
            get_detector(options.detector) if options.detect_faces and options.faces is None else None
        )

    def __call__(self, batch: dict[str, NDArray[Any]]) -> dict[str, list[str]]:
        return {"record": [self.process(Task.from_json(str(text))).to_json() for text in np.asarray(batch["task"])]}

    def process(self, task: Task) -> Record:
        """Clean one input; never raises for a problem with that input (it becomes a failed row)."""
        outcome = _Outcome(task)
        try:
            fmt = formats.sniff(self.job.src.read(task.path, formats.SNIFF_BYTES))
        except UnsupportedFormatError as exc:
            return outcome.row(Status.SKIPPED, error=one_line(str(exc)), error_type=type(exc).__name__)
        except READ_ERRORS as exc:
            return outcome.failed(f"cannot read: {exc}")
        video = fmt.kind is formats.Kind.VIDEO
        record = self._clean_video(outcome, fmt.name) if video else self._clean(outcome, fmt.name)
        if record.status is Status.DONE:
            _crash_if_asked()
        return record

    def _clean(self, outcome: _Outcome, fmt: str) -> Record:
        task, limits = outcome.task, self.job.clean.limits
        if task.size > limits.max_bytes:
            error = f"file is {task.size / 1e6:.1f} MB; the limit is {limits.max_bytes / 1e6:.0f} MB"
            return outcome.failed(error, fmt)
        try:
            data = self.job.src.read(task.path, limits.max_bytes + 1)
        except READ_ERRORS as exc:
            return outcome.failed(f"cannot read: {exc}", fmt)
        try:
            result = clean(data, self.job.clean, self.detector)
        except AnonymizerError as exc:
            return outcome.failed(exc, fmt)
        del data
        output = task.stem + result.format.extension
        if output in task.blocked:
            return outcome.failed(f"{output} exists already; use force to replace it", fmt)
        try:
            self.job.dst.write_atomic(output, result.data)
        except READ_ERRORS as exc:
            return outcome.failed(f"cannot write {output}: {exc}", fmt)
        return outcome.row(Status.DONE, format=result.format.name, faces=len(result.faces),
                           removed=_categories(result.removed), output=output)

    def _clean_video(self, outcome: _Outcome, fmt: str) -> Record:
        """A video streams from the input to a temporary file beside its output (never whole in memory), which is
        moved into place once cleaned and verified; only a local destination can take that file."""
        task, dst = outcome.task, self.job.dst
        if not dst.local:
            return outcome.row(Status.SKIPPED, format=fmt, error="videos are cleaned into a local folder only")
        temp = dst.temporary(task.stem)
        try:
            with self.job.src.open_input(task.path) as src, open(temp, "w+b") as sink:
                summary = clean_stream(src, sink, self.job.clean, self.job.video)
            output = task.stem + formats.FORMATS[summary.format].extension
            if output in task.blocked:
                dst.discard(temp)
                return outcome.failed(f"{output} exists already; use force to replace it", fmt)
            dst.move_into(temp, output)
        except AnonymizerError as exc:
            dst.discard(temp)
            return outcome.failed(exc, fmt)
        except READ_ERRORS as exc:
            dst.discard(temp)
            return outcome.failed(f"file system: {exc}", fmt)
        tracked = summary.video.faces_tracked if summary.video is not None else len(summary.faces)
        return outcome.row(Status.DONE, format=summary.format, faces=tracked, removed=_categories(summary.removed),
                           output=output)


def _categories(report: Report | None) -> tuple[str, ...]:
    """The metadata categories a result says were removed (none known: empty)."""
    return () if report is None else tuple(sorted({f.category.value for f in report.identifying}))

