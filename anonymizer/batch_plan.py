"""What a batch run has to do: which inputs to clean, under which output names, and which were done before.

Pure functions over listings and manifest rows; no Ray and no file access, so every rule is tested directly.

- An input is carried over from the manifest (not read again) when its latest row is "done" and that output still
  exists, or "skipped" (not a photo), and its size and mtime are unchanged. Failed inputs are tried again.
- The clean copy of SRC/dir/NAME.EXT is DST/dir/NAME-clean.EXT', EXT' being the output format's canonical suffix;
  when two inputs in one folder share a NAME (a.jpg, a.png), both use their full name (a.jpg-clean.jpg), so no
  output is ever claimed by two inputs.
- Inputs whose suffix names a video get a task each (a video takes minutes, and a retried task redoes all it
  held); what an input is, and how it is cleaned, is still decided by its content, in the worker.
- An output that already exists is replaced only with force, or when DST holds a manifest (it is then a leftover
  of an earlier run into the same folder, e.g. one whose driver died before it recorded the row).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from . import formats
from .batch_fs import Entry
from .batch_manifest import Record, Status

CLEAN_SUFFIX = "-clean"


@dataclass(frozen=True)
class Task:
    """One input for a worker: where it is, what it looked like when listed, where its output goes."""

    path: str
    size: int
    mtime_ns: int | None
    stem: str  # the output's path relative to DST without its suffix, e.g. "trip/beach-clean"
    blocked: tuple[str, ...] = ()  # outputs (relative to DST) that exist and must not be replaced
    video: bool = False  # its suffix names a video: it gets a task of its own (the content still decides)

    def to_json(self) -> str:
        return json.dumps([self.path, self.size, self.mtime_ns, self.stem, list(self.blocked), self.video])

    @classmethod
    def from_json(cls, text: str) -> Task:
        path, size, mtime_ns, stem, blocked, video = json.loads(text)
        mtime = None if mtime_ns is None else int(mtime_ns)
        return cls(str(path), int(size), mtime, str(stem), tuple(blocked), bool(video))


def _video_suffix(path: str) -> bool:
    name = path.rpartition("/")[2]
    fmt = formats.by_suffix("." + name.rpartition(".")[2]) if "." in name else None
    return fmt is not None and fmt.kind is formats.Kind.VIDEO


@dataclass(frozen=True)
class Plan:
    tasks: tuple[Task, ...]
    carried: tuple[Record, ...]  # inputs a previous run finished, left as they are


def _split(rel: str) -> tuple[str, str]:
    folder, _, name = rel.rpartition("/")
    return folder, name


def _stem(name: str) -> str:
    base, dot, _ = name.rpartition(".")
    return base if dot and base else name


def output_stems(paths: Iterable[str]) -> dict[str, str]:
    """input path -> output path without suffix, unique per input (see the module docstring)."""
    paths = list(paths)
    shared = Counter((_split(p)[0], _stem(_split(p)[1])) for p in paths)
    stems: dict[str, str] = {}
    for path in paths:
        folder, name = _split(path)
        base = _stem(name) if shared[(folder, _stem(name))] == 1 else name
        stems[path] = f"{folder}/{base}{CLEAN_SUFFIX}" if folder else f"{base}{CLEAN_SUFFIX}"
    return stems


def _finished(record: Record | None, entry: Entry, outputs: set[str]) -> bool:
    if record is None or not record.same_input(entry.size, entry.mtime_ns):
        return False
    if record.status is Status.SKIPPED:
        return True
    return record.status is Status.DONE and record.output is not None and record.output in outputs


def make_plan(
    inputs: list[Entry],
    previous: dict[str, Record],
    outputs: set[str],
    extensions: tuple[str, ...],
    *,
    resume: bool,
    force: bool,
) -> Plan:
    """Tasks for the inputs still to do, and the rows of those a previous run finished.

    outputs: the files already under DST (relative paths); extensions: the suffixes an output can have.
    """
    carried = [previous[e.rel] for e in inputs if resume and _finished(previous.get(e.rel), e, outputs)]
    done = {r.path for r in carried}
    todo = [e for e in inputs if e.rel not in done]
    stems = output_stems(e.rel for e in inputs)  # over all inputs, so names do not shift as inputs finish
    may_replace = force or bool(previous)
    tasks = tuple(
        Task(
            e.rel,
            e.size,
            e.mtime_ns,
            stems[e.rel],
            () if may_replace else tuple(s for s in (stems[e.rel] + x for x in extensions) if s in outputs),
            _video_suffix(e.rel),
        )
        for e in todo
    )
    return Plan(tasks, tuple(carried))
