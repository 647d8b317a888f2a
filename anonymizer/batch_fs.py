"""Files for the batch engine, through pyarrow.fs: local folders or any URI pyarrow understands (s3://, gs://, ...).

Only anonymizer.batch and its workers use this module; the rest of the library never touches a path. Outputs are
written atomically: to a hidden temporary name in the destination folder, then moved over the final name (a rename
on a local disk), so no reader ever sees a half-written file under the final name. Leftover temporary files of a
worker that died mid-write are swept at the end of a run.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from dataclasses import dataclass
from typing import Any

import pyarrow.fs as pafs  # type: ignore[import-untyped]

#: temporary outputs: ".NAME-clean.EXT.<32 hex>.part", in the output's own folder
TEMP_PATTERN = re.compile(r"^\..+\.[0-9a-f]{32}\.part$")


@dataclass(frozen=True)
class Entry:
    """One file found under a root: its path relative to the root ('/'-separated), size and mtime."""

    rel: str
    size: int
    mtime_ns: int | None


@dataclass(frozen=True)
class Root:
    """A folder on some file system: `fs` is a pyarrow FileSystem (picklable, so workers get their own copy)."""

    fs: Any
    base: str

    def path(self, rel: str) -> str:
        return f"{self.base.rstrip('/')}/{rel}" if rel else self.base

    def list(self) -> list[Entry]:
        """Every regular file under the root, recursively, sorted by relative path; empty if the root is absent."""
        selector = pafs.FileSelector(self.base, recursive=True, allow_not_found=True)
        prefix = self.base.rstrip("/") + "/"
        found = [
            Entry(str(info.path)[len(prefix) :], int(info.size), _mtime(info))
            for info in self.fs.get_file_info(selector)
            if info.type == pafs.FileType.File and str(info.path).startswith(prefix)
        ]
        return sorted(found, key=lambda e: e.rel)

    def exists(self, rel: str) -> bool:
        return bool(self.fs.get_file_info(self.path(rel)).type == pafs.FileType.File)

    def read(self, rel: str, limit: int | None = None) -> bytes:
        """The file's bytes, or at most `limit` of them from its start (allocating no more than the file holds)."""
        with self.fs.open_input_file(self.path(rel)) as file:
            size = int(file.size())
            return bytes(file.read(size if limit is None else min(size, limit)))

    @property
    def local(self) -> bool:
        """Whether paths under this root are this machine's own (a file can be opened with open())."""
        return isinstance(self.fs, pafs.LocalFileSystem)

    def open_input(self, rel: str) -> Any:
        """A seekable binary stream over the file (pyarrow's NativeFile: read, seek, tell)."""
        return self.fs.open_input_file(self.path(rel))

    def temporary(self, rel: str) -> str:
        """A fresh temporary name (full path) beside `rel`, its folder made; move_into() or discard() it."""
        folder, _, name = self.path(rel).rpartition("/")
        self.fs.create_dir(folder, recursive=True)
        return f"{folder}/.{name}.{uuid.uuid4().hex}.part"

    def move_into(self, temp: str, rel: str) -> None:
        """Move a finished temporary file over `rel` (a rename on a local disk)."""
        self.fs.move(temp, self.path(rel))

    def discard(self, temp: str) -> None:
        _quietly_delete(self.fs, temp)

    def write_atomic(self, rel: str, data: bytes) -> None:
        """Write `data` under a temporary name beside `rel`, then move it over `rel`."""
        temp = self.temporary(rel)
        try:
            with self.fs.open_output_stream(temp) as out:
                out.write(data)
            self.move_into(temp, rel)
        except BaseException:
            self.discard(temp)
            raise

    def delete(self, rel: str) -> None:
        self.fs.delete_file(self.path(rel))

    def remove_empty_dir(self, rel: str) -> None:
        """Remove the folder `rel` if it exists and holds nothing."""
        path = self.path(rel)
        if self.fs.get_file_info(path).type == pafs.FileType.Directory and not self.fs.get_file_info(
            pafs.FileSelector(path, recursive=False)
        ):
            self.fs.delete_dir(path)

    def sweep_temporaries(self) -> int:
        """Remove temporary outputs left by workers that died mid-write; how many there were."""
        stale = [e.rel for e in self.list() if TEMP_PATTERN.match(e.rel.rpartition("/")[2])]
        for rel in stale:
            _quietly_delete(self.fs, self.path(rel))
        return len(stale)


def _mtime(info: Any) -> int | None:
    value = info.mtime_ns
    return None if value is None else int(value)


def _quietly_delete(fs: Any, path: str) -> None:
    with contextlib.suppress(OSError):  # already gone (another attempt removed it) or never created
        fs.delete_file(path)


def resolve(location: str) -> Root:
    """A local folder (relative or absolute) or a URI (file://, s3://, gs://, hdfs:// ...) as a Root."""
    if "://" not in location:
        return Root(pafs.LocalFileSystem(), os.path.abspath(location).replace(os.sep, "/"))
    fs, base = pafs.FileSystem.from_uri(location)
    return Root(fs, str(base).rstrip("/") or "/")


def inside(inner: Root, outer: Root) -> str | None:
    """`inner`'s path relative to `outer` when both are on the same file system and inner lies within outer."""
    if type(inner.fs) is not type(outer.fs) or inner.fs != outer.fs:
        return None
    prefix = outer.base.rstrip("/") + "/"
    if inner.base == outer.base:
        return ""
    return inner.base[len(prefix) :] if inner.base.startswith(prefix) else None
