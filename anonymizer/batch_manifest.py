"""The batch manifest: one JSON line per input, written beside the outputs as DST/manifest.jsonl.

Each line holds the input's path relative to SRC, its status (done, skipped: not a photo, failed), the format,
the faces obscured, the metadata categories removed, the output's path relative to DST (the manifest's folder),
the one-line error and its type, and the input's size and mtime (so a resumed run redoes an input that changed).
While a run goes, finished rows are flushed every few hundred rows to part files in DST/.anonymize-manifest/ (each
written atomically), so a driver that dies loses at most the last unflushed rows; at the end the previous manifest, the
parts and the new rows are merged (latest row per input wins) into manifest.jsonl, atomically, and the parts go.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from .batch_fs import Root

MANIFEST_NAME = "manifest.jsonl"
PARTS_DIR = ".anonymize-manifest"
FLUSH_ROWS = 500
FLUSH_SECONDS = 30.0


class Status(StrEnum):
    DONE = "done"
    SKIPPED = "skipped"  # not a photo (by its magic bytes)
    FAILED = "failed"


@dataclass(frozen=True)
class Record:
    """What happened to one input."""

    path: str
    status: Status
    format: str | None = None
    faces: int = 0
    removed: tuple[str, ...] = ()
    output: str | None = None
    error: str | None = None
    error_type: str | None = None  # the error's class: CorruptImageError ... InternalError (a bug of ours)
    size: int | None = None
    mtime_ns: int | None = None
    seconds: float = 0.0  # wall time in the worker
    cpu_seconds: float = 0.0  # the worker process's CPU time for this input (all its threads)

    def to_json(self) -> str:
        row: dict[str, Any] = asdict(self)
        row["removed"] = list(self.removed)
        return json.dumps(row, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> Record:
        row = json.loads(line)
        return cls(
            path=str(row["path"]),
            status=Status(row["status"]),
            format=row.get("format"),
            faces=int(row.get("faces") or 0),
            removed=tuple(str(c) for c in row.get("removed") or ()),
            output=row.get("output"),
            error=row.get("error"),
            error_type=row.get("error_type"),
            size=row.get("size"),
            mtime_ns=row.get("mtime_ns"),
            seconds=float(row.get("seconds") or 0.0),
            cpu_seconds=float(row.get("cpu_seconds") or 0.0),
        )

    def same_input(self, size: int, mtime_ns: int | None) -> bool:
        """Whether this row was made from a file of this size and modification time."""
        return self.size == size and self.mtime_ns == mtime_ns


def one_line(message: str, limit: int = 300) -> str:
    """The first line of an error message, cut to `limit` characters."""
    lines = message.strip().splitlines()
    first = lines[0] if lines else "unknown error"
    return first if len(first) <= limit else first[: limit - 3] + "..."


def _parse_lines(text: str, into: dict[str, Record]) -> None:
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            record = Record.from_json(line)
        except (ValueError, KeyError, TypeError):
            continue  # an unreadable row only means that input is done again
        into[record.path] = record


def _part_names(root: Root) -> list[str]:
    prefix = f"{PARTS_DIR}/"
    return [e.rel for e in root.list() if e.rel.startswith(prefix) and e.rel.endswith(".jsonl")]


def _read_text(root: Root, rel: str) -> str:
    return root.read(rel).decode("utf-8", errors="replace")


def load(root: Root) -> dict[str, Record]:
    """The latest row per input: the manifest, then the parts a run that did not finish left behind."""
    records: dict[str, Record] = {}
    if root.exists(MANIFEST_NAME):
        _parse_lines(_read_text(root, MANIFEST_NAME), records)
    for rel in sorted(_part_names(root)):
        _parse_lines(_read_text(root, rel), records)
    return records


@dataclass
class ManifestWriter:
    """Collects this run's rows, flushes them to parts as the run goes, and merges everything at the end."""

    root: Root
    previous: dict[str, Record]
    rows: dict[str, Record] = field(default_factory=dict)
    _pending: list[Record] = field(default_factory=list)
    _run: str = field(default_factory=lambda: f"{time.time_ns():020d}")
    _parts: list[str] = field(default_factory=list)
    _last_flush: float = field(default_factory=time.monotonic)

    def add(self, record: Record) -> None:
        self.rows[record.path] = record
        self._pending.append(record)
        if len(self._pending) >= FLUSH_ROWS or time.monotonic() - self._last_flush > FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            rel = f"{PARTS_DIR}/part-{self._run}-{len(self._parts):06d}.jsonl"
            self.root.write_atomic(rel, "".join(r.to_json() + "\n" for r in self._pending).encode("utf-8"))
            self._parts.append(rel)
            self._pending.clear()
        self._last_flush = time.monotonic()

    def finish(self) -> str:
        """Write DST/manifest.jsonl (every input ever seen, latest row each, sorted by path); its path."""
        merged = {**self.previous, **self.rows}
        text = "".join(merged[path].to_json() + "\n" for path in sorted(merged))
        self.root.write_atomic(MANIFEST_NAME, text.encode("utf-8"))
        for rel in _part_names(self.root):  # ours, and those of an earlier run that load() already merged
            self.root.delete(rel)
        self.root.remove_empty_dir(PARTS_DIR)
        return self.root.path(MANIFEST_NAME)

