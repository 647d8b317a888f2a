"""Video jobs held in memory: a bounded store, its worker threads, progress, cancellation and expiry.

A video takes minutes, which one HTTP request should not hold open, so POST /v1/jobs hands the upload to a
`Job` and answers at once; the job runs `anonymizer.media.clean_stream` on a worker thread from an in-memory
source to an in-memory sink, and the client follows it (GET, or Server-Sent Events) and downloads the result.

Memory stays bounded: at most `Settings.jobs` jobs exist at once, whatever their state (a job whose thread is
still stopping after a cancel counts until it has stopped), and each holds at most its upload and its result.
Beyond that POST gets 503 with Retry-After. Nothing outlives its use: a result is dropped once downloaded, a
finished job `job_ttl` seconds after it finished, and a waiting or running job that nobody has asked about for
`job_idle` seconds (its client went away: a closed page, a dropped event stream) is cancelled and dropped.
Ids are `secrets.token_urlsafe(24)`: 192 random bits, the only key to a job.
"""

from __future__ import annotations

import concurrent.futures
import io
import logging
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Literal

from anonymizer import (
    AnonymizerError,
    BusyError,
    CancelledError,
    CleanOptions,
    InternalError,
    Summary,
    VideoSettings,
    media,
)

from .errors import JobNotFoundError, status_of
from .settings import Settings

log = logging.getLogger("anonymizer.api")

State = Literal["queued", "running", "done", "failed", "cancelled"]
FINISHED: frozenset[State] = frozenset({"done", "failed", "cancelled"})
CleanFn = Callable[[BinaryIO, BinaryIO, CleanOptions, VideoSettings], Summary]
ID_BYTES = 24


@dataclass(frozen=True)
class JobRequest:
    """What a job does: the options of every frame, the audio choice and the encoder's quality."""

    options: CleanOptions
    keep_audio: bool = True
    quality: int = VideoSettings().quality


@dataclass
class Job:
    """One video's way through the service. Written by its worker thread, read on the event loop."""

    id: str
    created: float
    seen: float
    source: io.BytesIO | None
    sink: io.BytesIO = field(default_factory=io.BytesIO)
    state: State = "queued"
    frames_done: int = 0
    frames_total: int = 0
    started: float | None = None
    finished: float | None = None
    summary: Summary | None = None
    error: AnonymizerError | None = None
    cancel: threading.Event = field(default_factory=threading.Event)

    def progress(self, done: int, total: int) -> None:
        self.frames_done, self.frames_total = done, total

    def eta(self, now: float) -> float | None:
        """Seconds left at the pace so far; None until a frame is done and the total is known."""
        if self.state != "running" or self.started is None or not self.frames_done or not self.frames_total:
            return None
        pace = (now - self.started) / self.frames_done
        return max(0.0, pace * (self.frames_total - self.frames_done))

    def result(self) -> memoryview:
        """The clean video without a copy (the store only ever replaces a sink, never resizes one it handed out)."""
        return self.sink.getbuffer()


def urls(job_id: str) -> dict[str, str]:
    base = f"/v1/jobs/{job_id}"
    return {"status": base, "events": f"{base}/events", "result": f"{base}/result"}


class Slot:
    """A place in the store taken before the upload is read; `start` turns it into a running job."""

    def __init__(self, store: JobStore) -> None:
        self._store = store
        self.job: Job | None = None

    def start(self, upload: bytes, request: JobRequest) -> Job:
        self.job = self._store._start(upload, request)
        return self.job


class JobStore:
    """The jobs of one service. Only the event loop adds, finds and drops jobs; worker threads only update
    their own job's progress and state."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock
        self.clean: CleanFn = media.clean_stream  # the seam tests use to hold a job at a given frame
        self.executor = concurrent.futures.ThreadPoolExecutor(settings.job_workers, thread_name_prefix="anonymizer-job")
        self._jobs: dict[str, Job] = {}
        self._stopping: set[str] = set()  # dropped jobs whose thread has not stopped yet: still holding memory
        self._reserved = 0
        self._lock = threading.Lock()

    # ------------------------------------------------------------ admission

    @property
    def held(self) -> int:
        with self._lock:
            return len(self._jobs) + len(self._stopping) + self._reserved

    @asynccontextmanager
    async def reserve(self) -> AsyncIterator[Slot]:
        """A place for one more job, or BusyError (503) when `Settings.jobs` are already held."""
        self.sweep()
        if self.held >= self.settings.jobs:
            raise BusyError(f"{self.settings.jobs} video jobs are already held; try again when one has finished")
        self._reserved += 1
        slot = Slot(self)
        try:
            yield slot
        finally:
            self._reserved -= 1

    def _start(self, upload: bytes, request: JobRequest) -> Job:
        now = self.clock()
        job = Job(id=secrets.token_urlsafe(ID_BYTES), created=now, seen=now, source=io.BytesIO(upload))
        with self._lock:
            self._jobs[job.id] = job
        self.executor.submit(self._run, job, request)
        return job

    # ------------------------------------------------------------ the worker thread

    def _run(self, job: Job, request: JobRequest) -> None:
        with self._lock:
            if job.cancel.is_set():  # dropped while it waited: drop() has let go of it already
                return
            job.state, job.started = "running", self.clock()
        video = VideoSettings(request.keep_audio, request.quality, progress=job.progress, cancel=job.cancel)
        try:
            assert job.source is not None
            summary = self.clean(job.source, job.sink, request.options, video)
        except CancelledError:
            self._finish(job, "cancelled")
        except AnonymizerError as exc:
            self._fail(job, exc)
        except Exception as exc:  # a bug of ours: reported as such, never as bad input
            log.exception("video job failed unexpectedly")
            self._fail(job, InternalError(f"internal error ({type(exc).__name__}); the video was not kept"))
        else:
            job.summary = summary
            self._finish(job, "done")

    def _fail(self, job: Job, exc: AnonymizerError) -> None:
        status, _ = status_of(exc)
        if status >= 500:
            log.error("video job failed: %s: %s", type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
        job.error = exc
        self._finish(job, "failed")

    def _finish(self, job: Job, state: State) -> None:
        with self._lock:
            job.source = None  # the upload is no longer needed
            if state != "done":
                job.sink = io.BytesIO()
            job.state, job.finished = state, self.clock()
            self._stopping.discard(job.id)

    # ------------------------------------------------------------ the event loop

    def get(self, job_id: str) -> Job:
        """The job, marked as asked about; JobNotFoundError (404) when there is none by that id."""
        self.sweep()
        job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFoundError("no such job: it was never created, or was downloaded, discarded or expired")
        job.seen = self.clock()
        return job

    def drop(self, job: Job) -> None:
        """Forget the job; a waiting or running one is cancelled first (its thread stops at the next frame)."""
        with self._lock:
            if self._jobs.pop(job.id, None) is None:
                return
            job.cancel.set()
            if job.state == "queued":  # its thread will not start it: nothing left to hold
                job.source, job.state, job.finished = None, "cancelled", self.clock()
            elif job.state == "running":
                self._stopping.add(job.id)
            job.sink = io.BytesIO() if job.state != "running" else job.sink

    def expires_in(self, job: Job) -> float:
        now = self.clock()
        if job.finished is not None:
            return max(0.0, job.finished + self.settings.job_ttl - now)
        return max(0.0, job.seen + self.settings.job_idle - now)

    def sweep(self) -> None:
        """Drop finished jobs past their time to live and unfinished ones nobody has asked about lately."""
        for job in list(self._jobs.values()):
            if self.expires_in(job) <= 0:
                self.drop(job)

    def view(self, job: Job) -> dict[str, Any]:
        """The job as JSON (schemas.JobOut)."""
        now = self.clock()
        total, done = job.frames_total, job.frames_done
        error = None
        if job.error is not None:
            code = status_of(job.error)[1]
            error = {"code": code, "message": (str(job.error).splitlines() or [code])[0][:300]}
        elapsed = 0.0 if job.started is None else (job.finished or now) - job.started
        return {
            "id": job.id,
            "state": job.state,
            "frames_done": done,
            "frames_total": total,
            "progress": min(1.0, done / total) if total else None,
            "elapsed": round(elapsed, 3),
            "eta": None if (eta := job.eta(now)) is None else round(eta, 1),
            "expires_in": round(self.expires_in(job), 1),
            "error": error,
            "summary": job.summary.to_json() if job.summary is not None and job.state == "done" else None,
            "urls": urls(job.id),
        }

    def shutdown(self) -> None:
        for job in list(self._jobs.values()):
            self.drop(job)
        self.executor.shutdown(wait=False, cancel_futures=True)
