"""Clean a whole collection on a Ray cluster with Ray Data (the `scale` extra: pip install 'photo-anonymizer[scale]').

    from anonymizer import CleanOptions
    from anonymizer.batch import BatchOptions, clean_collection
    summary = clean_collection("photos/", "clean/", BatchOptions(CleanOptions(detector="fast")))

The driver lists SRC and DST, reads DST/manifest.jsonl, and plans (batch_plan): inputs finished by an earlier run
are carried over, the rest become tasks. The tasks (paths only) go through `map_batches` to a fixed pool of actors
(batch_worker.Cleaner): each loads the detector once, reads its inputs itself through pyarrow.fs, keeps photos by
their magic bytes, calls the library's `clean` (verified inside) and writes each output atomically. Only manifest
rows come back; the driver streams them into the manifest (batch_manifest) and to the progress callback.

Faults: a photo that fails is a "failed" row and the run goes on. A worker that dies is restarted by Ray
(max_restarts=-1) and the batch it held is run again (max_task_retries=-1); outputs have fixed names and are
replaced atomically, and rows come back once per finished batch, so nothing is lost or duplicated.

Privacy: image bytes never become Ray objects (workers read and write them directly), so Ray's object store, and
the spill files Ray writes when that store is full, only ever hold paths, counts and one-line errors. A local Ray
started here binds to 127.0.0.1, with no dashboard, usage statistics off and a small object store.
"""

from __future__ import annotations

import logging
import math
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from . import errors
from .errors import AnonymizerError, InternalError, OptionsError
from .options import CleanOptions

if TYPE_CHECKING:
    from .batch_fs import Entry, Root
    from .batch_manifest import Record
    from .batch_plan import Task
    from .batch_worker import Job

OBJECT_STORE_BYTES = 200 * 1024 * 1024  # rows are a few hundred bytes; image bytes never enter the store
MAX_BLOCKS = 10_000  # input blocks; more inputs than MAX_BLOCKS * batch_size share blocks (one task each)
# Ray's switch (read when ray is imported and by every process it starts): "0" resolves this node's address to
# 127.0.0.1, so GCS, raylets, workers and agents bind to loopback instead of every interface
LOCAL_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
INSTALL_HINT = "the ray engine needs the scale extra: pip install 'photo-anonymizer[scale]'"


@dataclass(frozen=True)
class BatchOptions:
    """How a collection is cleaned: the `clean` options for every photo, and where and how it runs.

    address: a Ray cluster to join ("ray://head:10001", "auto"); None starts a local Ray on this machine.
    workers: actors (one CPU each); None for one per CPU of the cluster.
    batch_size: photos per task: what a dead worker makes the cluster redo, and how often progress moves (a video
        is a task alone). Over MAX_BLOCKS * batch_size photos, tasks grow so that there are MAX_BLOCKS of them.
    force: replace outputs that exist already in DST (those of an earlier run into DST are replaced anyway).
    resume: carry over the inputs that DST/manifest.jsonl says are finished (and unchanged since).
    """

    clean: CleanOptions
    address: str | None = None
    workers: int | None = None
    batch_size: int = 8
    force: bool = False
    resume: bool = True
    keep_audio: bool = True  # videos: copy the sound track (a voice identifies too) or drop it
    video_quality: int = 23  # videos: x264's constant rate factor, 0 (best) to 51

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise OptionsError(f"workers must be at least 1, not {self.workers}")
        if self.batch_size < 1:
            raise OptionsError(f"batch size must be at least 1, not {self.batch_size}")
        if not 0 <= self.video_quality <= 51:
            raise OptionsError(f"video quality is x264's CRF from 0 (best) to 51 (worst), not {self.video_quality}")


@dataclass(frozen=True)
class BatchProgress:
    """Where a run stands: inputs finished this run by status, out of `total` to do; `rate` in inputs per second."""

    done: int
    skipped: int
    failed: int
    total: int
    seconds: float

    @property
    def finished(self) -> int:
        return self.done + self.skipped + self.failed

    @property
    def rate(self) -> float:
        return self.finished / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class BatchSummary:
    """What a run did. `resumed`: inputs an earlier run had finished, carried over without being read."""

    done: int
    skipped: int
    failed: int
    manifest: str
    seconds: float
    resumed: int = 0


def _require_ray(local: bool) -> ModuleType:
    """Ray, imported; for a local run, in its this-machine-only mode."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # read by Ray when it starts: no usage statistics sent anywhere
    if local:  # every Ray server and worker then listens on 127.0.0.1 only (else on all interfaces)
        os.environ.setdefault(LOCAL_ONLY_ENV, "0")
    try:
        import pyarrow.fs  # type: ignore[import-untyped]  # noqa: F401
        import ray
        import ray.data
    except ImportError as exc:
        raise OptionsError(INSTALL_HINT) from exc
    return ray


def _inputs(src: Root, dst: Root) -> list[Entry]:
    """Every file under SRC but what this tool wrote: DST's subtree, or, when DST is SRC, outputs and manifest."""
    from .batch_fs import TEMP_PATTERN, inside
    from .batch_manifest import MANIFEST_NAME, PARTS_DIR
    from .batch_plan import CLEAN_SUFFIX

    where = inside(dst, src)
    entries = src.list()
    if where is None:
        return entries
    if where:
        return [e for e in entries if not e.rel.startswith(where + "/")]

    def ours(rel: str) -> bool:
        name = rel.rpartition("/")[2]
        stem = name.rpartition(".")[0] or name
        return rel == MANIFEST_NAME or rel.startswith(PARTS_DIR + "/") or bool(TEMP_PATTERN.match(name)) or (
            stem.endswith(CLEAN_SUFFIX)
        )

    return [e for e in entries if not ours(e.rel)]


# Ray keeps only the text of an error raised in an actor's constructor (its traceback, ending in our error's line)
_OUR_ERROR_LINE = re.compile(r"anonymizer\.errors\.(\w+): ([^\n]+)")


def _anonymizer_cause(exc: BaseException) -> AnonymizerError | None:
    """Our own error inside a Ray error (e.g. an actor whose model could not load raised it), if there is one."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, AnonymizerError):
            return current
        nested = getattr(current, "cause", None)
        todo += [current.__cause__, current.__context__, nested if isinstance(nested, BaseException) else None]
    found = _OUR_ERROR_LINE.findall(str(exc))
    kind = getattr(errors, found[-1][0], None) if found else None
    if isinstance(kind, type) and issubclass(kind, AnonymizerError):
        return kind(found[-1][1].strip())
    return None


@contextmanager
def _ray_errors(ray: ModuleType, address: str | None) -> Iterator[None]:
    """Ray's exceptions as members of the error tree: ours when one is inside, else InternalError."""
    try:
        yield
    except AnonymizerError:
        raise
    except ConnectionError as exc:
        raise OptionsError(f"cannot reach the Ray cluster at {address or 'this machine'}: {_first(exc)}") from exc
    except ray.exceptions.RayError as exc:
        cause = _anonymizer_cause(exc)
        if cause is not None:
            raise type(cause)(_first(cause)) from exc
        raise InternalError(f"the Ray run failed ({type(exc).__name__}: {_first(exc)})") from exc


def _first(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__


@contextmanager
def _cluster(ray: ModuleType, options: BatchOptions) -> Iterator[int]:
    """Ray, joined or started here (and stopped after, if so); yields the number of workers to run."""
    started = not ray.is_initialized()
    if started and options.address:
        ray.init(address=options.address, log_to_driver=False, logging_level=logging.WARNING)
    elif started:
        ray.init(num_cpus=options.workers or os.cpu_count() or 1, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING, _node_ip_address="127.0.0.1", object_store_memory=OBJECT_STORE_BYTES)
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the caller shows progress through the callback
        logging.getLogger("ray.data").setLevel(logging.WARNING)  # no per-run banners between the caller's lines
        yield options.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    finally:
        if started:
            ray.shutdown()


def _records(ray: ModuleType, tasks: tuple[Task, ...], job: Job, batch_size: int, workers: int) -> Iterator[Record]:
    """Stream the tasks through the actor pool; yield each input's row as its batch finishes."""
    from .batch_manifest import Record
    from .batch_worker import Cleaner

    videos = [{"task": t.to_json()} for t in tasks if t.video]
    photos = [{"task": t.to_json()} for t in tasks if not t.video]
    rows = max(1, min(batch_size, math.ceil(len(photos) / workers)))  # a small collection still feeds every worker
    blocks = min(MAX_BLOCKS, math.ceil(len(photos) / rows))
    parts = [ray.data.from_items(items, override_num_blocks=n) for items, n in ((videos, len(videos)),
                                                                                 (photos, blocks)) if items]
    dataset = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]  # videos first: the longest tasks
    blocks += len(videos)
    # Ray Data gives its actors max_restarts=-1 and max_task_retries=-1 by default (ActorPoolMapOperator): a
    # worker that dies is replaced and the batch it held runs again. tests/test_batch.py kills one to check it.
    cleaned = dataset.map_batches(
        Cleaner,
        fn_constructor_kwargs={"job": job},
        batch_size=None,  # a block is a task: `rows` photos, or one video
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=min(workers, blocks)),  # no idle actor loading a model
        num_cpus=1,
    )
    for row in cleaned.iter_rows():
        yield Record.from_json(str(row["record"]))


def clean_collection(
    src: str, dst: str, options: BatchOptions, progress: Callable[[BatchProgress], None] | None = None
) -> BatchSummary:
    """Clean every photo under `src` into `dst` on Ray, recording each input in DST/manifest.jsonl."""
    ray = _require_ray(local=options.address is None)
    from . import formats
    from .batch_fs import resolve
    from .batch_manifest import ManifestWriter, Status, load
    from .batch_plan import make_plan
    from .batch_worker import Job
    from .faces import detector_names
    from .media import VideoSettings

    if options.clean.detector not in detector_names():
        raise OptionsError(f"unknown detector {options.clean.detector!r}; choose from {', '.join(detector_names())}")
    started = time.monotonic()
    src_root, dst_root = resolve(src), resolve(dst)
    previous = load(dst_root)
    outputs = {e.rel for e in dst_root.list()}
    extensions = (*(f.extension for f in formats.writable()), formats.FORMATS["mp4"].extension)
    plan = make_plan(_inputs(src_root, dst_root), previous, outputs, extensions, resume=options.resume,
                     force=options.force)
    writer = ManifestWriter(dst_root, previous)
    counts = dict.fromkeys(Status, 0)
    try:
        if plan.tasks:
            with _ray_errors(ray, options.address), _cluster(ray, options) as workers:
                video = VideoSettings(keep_audio=options.keep_audio, quality=options.video_quality)
                job = Job(src_root, dst_root, options.clean, video=video)
                for record in _records(ray, plan.tasks, job, options.batch_size, workers):
                    writer.add(record)
                    counts[record.status] += 1
                    if progress is not None:
                        progress(BatchProgress(counts[Status.DONE], counts[Status.SKIPPED], counts[Status.FAILED],
                                               len(plan.tasks), time.monotonic() - started))
    finally:
        writer.flush()  # even when the run is interrupted, what finished is recorded
    manifest = writer.finish()
    dst_root.sweep_temporaries()
    return BatchSummary(counts[Status.DONE], counts[Status.SKIPPED], counts[Status.FAILED], manifest,
                        time.monotonic() - started, len(plan.carried))
