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
from collections.abc import Iterator
from pathlib import Path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".heic", ".heif", ".avif", ".tif", ".tiff", ".gif", ".mpo"}


class FileProblem(Exception):
    """A file-system problem with one path: reported on one line, the batch goes on."""


def _is_photo(path: Path) -> bool:
    wanted = path.suffix.lower() in IMAGE_SUFFIXES and not path.stem.endswith("-clean")
    return wanted and path.is_file() and not path.is_symlink()


def walk(paths: list[Path]) -> Iterator[Path]:
    """Files as given, and image files found under directories (sorted; clean copies skipped)."""
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            for child in sorted(path.rglob("*")):
                if _is_photo(child):
                    yield child
        else:
            yield path


def _check_input(info: os.stat_result, max_bytes: int) -> None:
    if stat.S_ISLNK(info.st_mode):
        raise FileProblem("is a symbolic link; give the real file")
    if not stat.S_ISREG(info.st_mode):
        raise FileProblem("is not a regular file")
    if info.st_size > max_bytes:
        raise FileProblem(f"file is {info.st_size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB")


def read_input(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file; symlinks, devices, FIFOs and oversized files are refused.

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
    try:
        with os.fdopen(fd, "rb") as fh:
            _check_input(os.fstat(fh.fileno()), max_bytes)
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise FileProblem(f"cannot read ({exc.strerror})") from exc
    if len(data) > max_bytes:  # grew while being read
        raise FileProblem(f"file is over the limit of {max_bytes / 1e6:.0f} MB")
    return data


def output_path(source: Path, extension: str, out: Path | None, out_dir: Path | None) -> Path:
    """Where the clean copy of `source` goes: -o, --out-dir, or NAME-clean.EXT next to it."""
    if out is not None:
        return out
    folder = out_dir if out_dir is not None else source.parent
    return folder / f"{source.stem}-clean{extension}"


def _check_target(target: Path, force: bool) -> None:
    if target.is_symlink():
        raise FileProblem(f"{target} is a symbolic link; refusing to write through it")
    if target.exists():
        if not target.is_file():
            raise FileProblem(f"{target} exists and is not a regular file")
        if not force:
            raise FileProblem(f"{target} exists; use --force to replace it")


def write_atomic(target: Path, data: bytes, like: Path | None = None, force: bool = False) -> None:
    """Write `data` to `target` via a temporary file in the same folder and a rename. Whatever happens
    (a full disk, Ctrl-C), no partial output and no temporary file are left behind."""
    _check_target(target, force)
    folder = target.parent
    if not folder.is_dir():
        raise FileProblem(f"folder {folder} does not exist")
    try:
        _write(target, data, 0o600 if like is None else stat.S_IMODE(like.lstat().st_mode) & 0o666, force)
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


def _write(target: Path, data: bytes, mode: int, force: bool) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
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
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
