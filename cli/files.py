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


def read_input(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file; symlinks, devices and oversized files are refused."""
    try:
        info = path.lstat()
    except FileNotFoundError as exc:
        raise FileProblem("no such file") from exc
    except OSError as exc:
        raise FileProblem(f"cannot read ({exc.strerror})") from exc
    if stat.S_ISLNK(info.st_mode):
        raise FileProblem("is a symbolic link; give the real file")
    if not stat.S_ISREG(info.st_mode):
        raise FileProblem("is not a regular file")
    if info.st_size > max_bytes:
        raise FileProblem(f"file is {info.st_size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB")
    try:
        with path.open("rb") as fh:
            return fh.read(max_bytes + 1)
    except OSError as exc:
        raise FileProblem(f"cannot read ({exc.strerror})") from exc


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
    """Write `data` to `target` via a temporary file in the same folder and a rename."""
    _check_target(target, force)
    folder = target.parent
    if not folder.is_dir():
        raise FileProblem(f"folder {folder} does not exist")
    mode = 0o600 if like is None else stat.S_IMODE(like.stat().st_mode) & 0o666
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
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
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
