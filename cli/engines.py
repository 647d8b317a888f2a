"""How `clean` runs besides one file at a time: a progress bar for videos, and whole collections on Ray."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

import typer

from anonymizer import CleanOptions
from anonymizer.media import VideoSettings

from . import batch, render
from .exits import Exit
from .inputs import usage


class Engine(StrEnum):
    LOCAL = "local"
    RAY = "ray"


class Audio(StrEnum):
    KEEP = "keep"
    DROP = "drop"


def with_progress(settings: VideoSettings, quiet: bool) -> VideoSettings:
    """A progress bar with ETA for each video (frames done of all), on a terminal."""
    if quiet or not render.err.is_terminal:
        return settings
    from rich.progress import Progress

    bar = Progress(console=render.err, transient=True)
    task = bar.add_task("frames", total=None)

    def progress(done: int, total: int) -> None:
        if not bar.live.is_started:
            bar.start()
        bar.update(task, completed=done, total=total or None)
        if total and done >= total:
            bar.stop()

    return replace(settings, progress=progress)


@dataclass(frozen=True)
class RayPlace:
    address: str | None
    workers: int | None


def on_ray(
    sources: list[str],
    out_dir: str | None,
    options: CleanOptions,
    video: VideoSettings,
    place: RayPlace,
    force: bool,
    as_json: bool,
) -> None:
    """Clean a whole collection on Ray Data (anonymizer.batch): the same pipeline in every worker."""
    if len(sources) != 1 or out_dir is None:
        raise usage("anonymize clean", "--engine ray takes one source folder (or URI) and --out-dir")
    try:
        from anonymizer.batch import BatchOptions, BatchProgress, clean_collection

        shown = [-10.0]

        def show(p: BatchProgress) -> None:  # a line every 5 s at most, and the last one
            if as_json or (p.seconds - shown[0] < 5 and not p.finished):
                return
            shown[0] = p.seconds
            render.note(f"{p.done} done, {p.failed} failed, {p.skipped} skipped of {p.total} ({p.rate:.1f}/s)")

        settings = BatchOptions(
            clean=options,
            address=place.address,
            workers=place.workers,
            force=force,
            keep_audio=video.keep_audio,
            video_quality=video.quality,
        )
        result = clean_collection(sources[0], out_dir, settings, show)
    except Exception as exc:  # noqa: BLE001 - one line with the exit code of its kind (Ray missing: a usage error)
        state = batch.Batch(quiet=as_json)
        state.fail_with(Path(sources[0]), exc)
        raise typer.Exit(state.code) from None
    payload = {
        "done": result.done,
        "skipped": result.skipped,
        "failed": result.failed,
        "resumed": result.resumed,
        "manifest": result.manifest,
        "seconds": round(result.seconds, 1),
    }
    if as_json:
        render.print_json(payload)
    else:
        render.line(
            f"cleaned {result.done} file(s), {result.failed} failed, {result.skipped} skipped, "
            f"{result.resumed} already done; manifest: {result.manifest}"
        )
    if result.failed:
        raise typer.Exit(Exit.INPUT)
