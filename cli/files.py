"""Reading inputs and writing outputs safely: the only place that touches the file system.

Outputs go to a temporary file in the target folder, are flushed to disk and renamed into place, so a crash
or Ctrl-C never leaves a partial file; existing files are never replaced without --force; symlinks and special
files are refused; the output's permissions never widen the input's.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TypeVar

from anonymizer.formats import SNIFF_BYTES, detect

T = TypeVar("T")


class FileProblem(Exception):
    """A file-system problem with one path: reported on one line, the batch goes on."""


@dataclass
class Selection:
    """The files to work on, and what was passed over (with why), so the summary can name it."""

    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def head(path: Path) -> bytes:
    """The first bytes of a regular file, enough to recognise its format (symlinks, FIFOs, devices refused)."""
    with open_input(path) as fh:
        try:
            return fh.read(SNIFF_BYTES)
        except OSError as exc:
            raise FileProblem(f"cannot read ({exc.strerror})") from exc


def _consider(child: Path, selection: Selection, skip_copies: bool) -> None:
    if child.is_symlink() or not child.is_file():
        if child.is_symlink():
            selection.skipped.append((child, "symbolic link"))
        return
    if skip_copies and child.stem.endswith("-clean"):
        selection.skipped.append((child, "a clean copy made earlier"))
        return
    try:
        fmt = detect(head(child))
    except FileProblem as exc:
        selection.skipped.append((child, str(exc)))
        return
    if fmt is None:
        selection.skipped.append((child, "not a supported photo or video"))
        return
    selection.files.append(child)


def walk(paths: list[Path], skip_copies: bool = True) -> Selection:
    """Files as given, and the photos and videos found under folders, recognised by their content (not their
    names: '.jfif', '.JPG_large' or no extension at all are found); other files, and the clean copies an
    earlier run made (NAME-clean.EXT, unless skip_copies is false, as for inspect), are skipped and listed."""
    selection = Selection()
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            for child in sorted(path.rglob("*")):
                _consider(child, selection, skip_copies)
        else:
            selection.files.append(path)
    return selection


def _check_input(info: os.stat_result, max_bytes: int) -> None:
    if stat.S_ISLNK(info.st_mode):
        raise FileProblem("is a symbolic link; give the real file")
    if not stat.S_ISREG(info.st_mode):
        raise FileProblem("is not a regular file")
    if info.st_size > max_bytes:
        raise FileProblem(f"file is {info.st_size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB")


@contextlib.contextmanager
def open_input(path: Path, max_bytes: int = 1 << 62) -> Iterator[BinaryIO]:
    """A regular file opened for reading; symlinks, devices, FIFOs and files over max_bytes are refused.

    Checked twice: by name first, then on the opened file, which is opened without following a symlink and
    without blocking, so a FIFO swapped in between the two can neither hang the read nor be read.
    """
    try:
        _check_input(path.lstat(), max_bytes)
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError as exc:
        raise FileProblem("no such file") from exc
    except OSError as exc:
        raise FileProblem(f"cannot read ({exc.strerror})") from exc
    with os.fdopen(fd, "rb") as fh:
        _check_input(os.fstat(fh.fileno()), max_bytes)
        yield fh


def read_input(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file (open_input's checks), at most max_bytes."""
    with open_input(path, max_bytes) as fh:
        try:
            data = fh.read(max_bytes + 1)
        except OSError as exc:
            raise FileProblem(f"cannot read ({exc.strerror})") from exc
    if len(data) > max_bytes:  # grew while being read
        raise FileProblem(f"file is over the limit of {max_bytes / 1e6:.0f} MB")
    return data


def _check_target(target: Path, force: bool) -> None:
    if target.is_symlink():
        raise FileProblem(f"{target} is a symbolic link; refusing to write through it")
    if target.exists():
        if not target.is_file():
            raise FileProblem(f"{target} exists and is not a regular file")
        if not force:
            raise FileProblem(f"{target} exists; use --force to replace it")


def check_destination(target: Path, force: bool) -> None:
    """Before any work: the target can be written (its folder exists and is writable; it does not exist, or
    --force was given)."""
    _check_target(target, force)
    folder = target.parent
    if not folder.is_dir():
        raise FileProblem(f"folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise FileProblem(f"folder {folder} is not writable")


def write_atomic(target: Path, data: bytes, like: Path | None = None, force: bool = False) -> None:
    """Write `data` to `target` via a temporary file in the same folder and a rename. Whatever happens
    (a full disk, Ctrl-C), no partial output and no temporary file are left behind."""
    write_streamed(target, lambda fh: fh.write(data), like, force)


def write_streamed(target: Path, fill: Callable[[BinaryIO], T], like: Path | None = None, force: bool = False) -> T:
    """Like write_atomic, for outputs too large for memory (videos): `fill` writes into the temporary file (open
    for reading too, so the library can verify what it wrote); the file is renamed into place only if `fill`
    returns. Whatever `fill` raises, nothing is left behind."""
    check_destination(target, force)
    mode = 0o600 if like is None else stat.S_IMODE(like.lstat().st_mode) & 0o666
    try:
        return _write(target, fill, mode, force)
    except OSError as exc:
        raise FileProblem(f"cannot write {target} ({exc.strerror or exc})") from exc


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (where the file system allows a folder to be synced)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write(target: Path, fill: Callable[[BinaryIO], T], mode: int, force: bool) -> T:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "w+b") as fh:
            result = fill(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        if force:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)  # fails if the target appeared meanwhile: never replaced silently
            except FileExistsError as exc:
                raise FileProblem(f"{target} exists; use --force to replace it") from exc
        _sync_folder(target.parent)
        return result
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
