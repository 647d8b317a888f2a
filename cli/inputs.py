"""Turning what the user typed into library values, before any work: paths, -o, regions, faces, colours.

Every problem found here is a usage error (exit 2) or a file problem with the option named, so nothing runs on
options that would fail later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from anonymizer import Kind, OutputFormat, Regions, formats

from . import batch, render
from .exits import Exit
from .files import FileProblem, read_input

LIMIT = batch.LIMIT_BYTES
ITEM_LIMIT = 64 * 1024 * 1024
FLAG_WORDS = {"true", "false", "yes", "no", "on", "off", "1", "0"}


def usage(name: str, message: str) -> typer.Exit:
    """A usage problem found before any work: one line, exit 2."""
    render.error(name, message)
    return typer.Exit(Exit.USAGE)


def check_paths(paths: list[Path], command: str) -> None:
    for path in paths:
        if path.name.lower() in FLAG_WORDS and not path.exists():
            raise usage(f"anonymize {command}", f"flags take no value: write --force, not --force {path.name}")


def check_single_output(out: Path | None, count: int, in_place: bool, command: str) -> None:
    if out is not None and (count != 1 or in_place):
        raise usage(
            f"anonymize {command}", "-o/--output takes exactly one input and cannot be combined with --in-place"
        )


def output_format(fmt: OutputFormat, out: Path | None) -> OutputFormat:
    """The output format: --format, or what -o's suffix names; a contradiction is refused before any work."""
    if out is None:
        return fmt
    named = formats.by_suffix(out.suffix)
    writable = ", ".join(f.extension for f in formats.writable())
    if named is not None and named.kind is Kind.VIDEO:  # a clean video is an MP4 whatever --format says
        if named.name != "mp4":
            raise usage("anonymize clean", f"-o {out}: a clean video is an MP4; name it .mp4")
        return fmt
    if named is None or not named.writable:
        what = f"{named.label} cannot be written" if named else f"'{out.suffix or '(no suffix)'}' names no format"
        raise usage("anonymize clean", f"-o {out}: {what}; name it {writable}")
    if fmt is not OutputFormat.SAME and fmt.value != named.name:
        raise usage("anonymize clean", f"-o {out} names {named.label} but --format says {fmt.value}")
    return OutputFormat(named.name)


def regions(strokes: Path | None, boxes: list[str], ellipses: list[str], mask: Path | None) -> Regions:
    from anonymizer import parse_box, parse_ellipse, parse_regions_json

    base = parse_regions_json(read_option("--strokes", strokes, ITEM_LIMIT)) if strokes else Regions()
    return Regions(
        strokes=base.strokes,
        boxes=base.boxes + tuple(parse_box(b) for b in boxes),
        ellipses=base.ellipses + tuple(parse_ellipse(e) for e in ellipses),
        polygons=base.polygons,
        mask=read_option("--mask", mask, LIMIT) if mask else base.mask,
    )


def read_option(option: str, path: Path, limit: int) -> bytes:
    try:
        return read_input(path, limit)
    except FileProblem as exc:
        raise FileProblem(f"{option} {path}: {exc}") from None


def colour(text: str) -> tuple[int, int, int]:
    from anonymizer import parse_colour

    return parse_colour(text)


def faces(path: Path | None) -> tuple[Any, ...] | None:
    if path is None:
        return None
    from anonymizer import parse_faces_json

    return parse_faces_json(read_option("--faces", path, ITEM_LIMIT))
