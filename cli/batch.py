"""Running one job over many files: plan every destination before any work, then work file by file.

One bad file never stops the others; every failure is one line; the batch ends with the exit code of its most
serious failure (cli.exits). Destinations are checked before any work starts, and a missing --out-dir is made.
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import typer

from anonymizer import AnonymizerError, Format, InputError, OptionsError, Summary, formats

from . import render
from .exits import Exit, for_error

if TYPE_CHECKING:
    from rich.progress import Progress

from .files import FileProblem, Selection, check_destination, head, open_input, write_streamed

LIMIT_BYTES = 200 * 1024 * 1024
DEBUG = {"on": False}  # --debug: tracebacks for internal errors

# One file's work: the input stream -> the output sink (a temporary file renamed into place only if the job
# returns), and what was done. Photos and videos alike (anonymizer.media).
Job = Callable[[BinaryIO, BinaryIO], Summary]
# The format a file's output will be in, known before any work.
Predict = Callable[[Format], Format]


@dataclass(frozen=True)
class Destination:
    """Where outputs go: -o FILE, --out-dir DIR, NAME-clean.EXT next to the input, or the input itself."""

    out: Path | None = None
    out_dir: Path | None = None
    force: bool = False
    in_place: bool = False

    def target(self, path: Path, fmt: Format) -> Path:
        same = path.suffix.lower() in fmt.suffixes
        if self.in_place:
            if not same:
                named = path.suffix or "(no suffix)"
                raise FileProblem(f"cannot replace in place: the clean copy is {fmt.label} but the file is {named}")
            return path
        if self.out is not None and self.out.suffix.lower() not in fmt.suffixes:
            raise FileProblem(f"-o {self.out}: the output is {fmt.label}; name it {fmt.extension}")
        folder = self.out_dir if self.out_dir is not None else path.parent
        target = self.out or folder / f"{path.stem}-clean{path.suffix if same else fmt.extension}"
        if target.resolve() == path.resolve():
            raise FileProblem("the output would replace the original; use --in-place to do that on purpose")
        return target


@dataclass
class Batch:
    """What happened to each file, for the closing summary."""

    done: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    codes: list[Exit] = field(default_factory=list)
    quiet: bool = False

    def fail(self, path: Path, message: str, code: Exit) -> None:
        self.failed.append({"file": str(path), "error": message})
        self.codes.append(code)
        if not self.quiet:
            render.error(str(path), message)

    def fail_with(self, path: Path, exc: BaseException) -> None:
        if DEBUG["on"] and not isinstance(exc, FileProblem | InputError | OptionsError):
            traceback.print_exception(exc)  # a bug or a model failure: the whole chain, for the report
        if isinstance(exc, FileProblem):
            self.fail(path, str(exc), Exit.FILES)
        elif isinstance(exc, AnonymizerError):
            self.fail(path, str(exc), for_error(exc))
        else:  # the last resort: a bug the library did not translate; one line, and the batch goes on
            self.fail(
                path, f"internal error ({type(exc).__name__}: {exc}); this is a bug, please report it", Exit.INTERNAL
            )

    @property
    def code(self) -> Exit:
        return max(self.codes, default=Exit.OK)


def make_out_dir(out_dir: Path | None, quiet: bool) -> None:
    if out_dir is None or out_dir.is_dir():
        return
    try:
        out_dir.mkdir(parents=True)
    except OSError as exc:
        render.error(str(out_dir), f"cannot create the output folder ({exc.strerror or exc})")
        raise typer.Exit(Exit.FILES) from None
    if not quiet:
        render.note(f"created folder {out_dir}")


def _plan(selection: Selection, dest: Destination, predict: Predict, batch: Batch) -> list[tuple[Path, Path]]:
    """(input, output) for every file whose destination can be written; the others fail now, before any work."""
    plan: list[tuple[Path, Path]] = []
    targets: set[Path] = set()
    for path in selection.files:
        try:
            fmt = formats.sniff(head(path))
            target = dest.target(path, predict(fmt))
            if target in targets:
                raise FileProblem(f"{target} would be written twice (two inputs with the same name)")
            check_destination(target, dest.force or dest.in_place)
        except (FileProblem, AnonymizerError) as exc:
            batch.fail_with(path, exc)
            continue
        targets.add(target)
        plan.append((path, target))
    return plan


def _progress(count: int, quiet: bool) -> Progress | None:
    if quiet or count < 5 or not render.err.is_terminal:
        return None
    from rich.progress import Progress

    return Progress(console=render.err, transient=True)


def run(selection: Selection, job: Job, dest: Destination, predict: Predict, batch: Batch) -> Batch:
    """Plan, then run `job` on each planned file and write its output atomically."""
    plan = _plan(selection, dest, predict, batch)
    progress = _progress(len(plan), batch.quiet)
    with progress or contextlib.nullcontext():
        for path, target in progress.track(plan, description="Working") if progress else plan:
            try:
                with open_input(path) as src:
                    summary = write_streamed(target, lambda sink: job(src, sink), path, dest.force or dest.in_place)
            except Exception as exc:  # noqa: BLE001 - one file's failure never stops the batch (fail_with says why)
                batch.fail_with(path, exc)
                continue
            batch.done.append({"file": str(path), "output": str(target), **summary.to_json()})
            if not batch.quiet:
                render.line(f"{path} -> {target}: {summary.line()}")
    return batch


def skipped(selection: Selection, batch: Batch) -> None:
    """Name what the folder walk passed over (a privacy tool must not skip a file without a word)."""
    batch.skipped = [{"file": str(p), "reason": why} for p, why in selection.skipped]
    if batch.quiet or not selection.skipped:
        return
    names = ", ".join(str(p) for p, _ in selection.skipped[:5])
    more = f" and {len(selection.skipped) - 5} more" if len(selection.skipped) > 5 else ""
    render.note(
        f"skipped {len(selection.skipped)} file(s) that are not photos or videos, or are clean copies: {names}{more}"
    )


def nothing_to_do(selection: Selection, paths: list[Path]) -> None:
    if selection.files:
        return
    where = ", ".join(str(p) for p in paths)
    extra = f" ({len(selection.skipped)} other file(s) skipped)" if selection.skipped else ""
    render.error("anonymize", f"no photos or videos found in {where}{extra}")
    raise typer.Exit(Exit.INPUT)


def finish(batch: Batch, as_json: bool, verb: str) -> None:
    if as_json:
        render.print_json(
            {
                "files": batch.done,
                "failed": batch.failed,
                "skipped": batch.skipped,
                "ok": len(batch.done),
                "failures": len(batch.failed),
            }
        )
    elif len(batch.done) + len(batch.failed) > 1 or batch.skipped:
        render.line(f"{verb} {len(batch.done)} file(s), {len(batch.failed)} failed, {len(batch.skipped)} skipped")
    if batch.code is not Exit.OK:
        raise typer.Exit(batch.code)
