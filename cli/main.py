"""`anonymize`: clean, strip, inspect, detect, demo, serve. Arguments in, library call, files out."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress

from anonymizer import (
    AnonymizerError,
    Background,
    CleanOptions,
    FaceShape,
    Limits,
    Method,
    OutputFormat,
    Regions,
    clean,
    detect,
    inspect,
    obscure,
    strip,
    summary,
)
from anonymizer import parse as parse_text
from anonymizer.faces import detector_names, get_detector
from anonymizer.preview import draw
from anonymizer.regions import parse_regions_json

from . import render
from .files import FileProblem, output_path, read_input, walk, write_atomic

app = typer.Typer(
    name="anonymize",
    help=(
        "Make a photo safe to share: obscure faces and marks so they cannot be recovered, and remove every "
        "piece of metadata (GPS, camera, dates, thumbnails, embedded videos). Everything runs on this machine."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

LIMITS = Limits()
SUFFIX_FORMATS = {".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png", ".webp": "webp"}
Photos = Annotated[list[Path], typer.Argument(help="Photos or folders (folders are searched for images).")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print a machine-readable JSON summary instead.")]
OutOption = Annotated[Path | None, typer.Option("-o", "--output", help="Output file (one photo only).")]
OutDirOption = Annotated[Path | None, typer.Option("--out-dir", help="Folder for the clean copies.")]
ForceOption = Annotated[bool, typer.Option("--force", help="Replace an existing output file.")]
InPlaceOption = Annotated[
    bool, typer.Option("--in-place", help="Replace each photo by its clean copy, atomically, once verified.")
]
EXTENSIONS = {"jpeg": "jpg"}


@dataclass
class Batch:
    """Counts for the closing summary; one bad file never stops the others."""

    done: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)

    def fail(self, path: Path, message: str, quiet: bool) -> None:
        self.failed.append({"file": str(path), "error": message})
        if not quiet:
            render.error(str(path), message)


def _progress(paths: list[Path], quiet: bool) -> Progress | None:
    if quiet or len(paths) < 5 or not render.err.is_terminal:
        return None
    return Progress(console=render.err, transient=True)


def _regions(strokes: Path | None, boxes: list[str], ellipses: list[str], mask: Path | None) -> Regions:
    base = parse_regions_json(read_input(strokes, LIMITS.max_item_bytes)) if strokes else Regions()
    return Regions(
        strokes=base.strokes,
        boxes=base.boxes + tuple(parse_text.box(b) for b in boxes),
        ellipses=base.ellipses + tuple(parse_text.ellipse(e) for e in ellipses),
        polygons=base.polygons,
        mask=read_input(mask, LIMITS.max_bytes) if mask else base.mask,
    )


@dataclass(frozen=True)
class Destination:
    """Where outputs go: -o FILE, --out-dir DIR, NAME-clean.EXT next to the input, or the input itself."""

    out: Path | None = None
    out_dir: Path | None = None
    force: bool = False
    in_place: bool = False

    def target(self, path: Path, fmt: str) -> Path:
        same = SUFFIX_FORMATS.get(path.suffix.lower()) == fmt
        if self.in_place:
            if not same:
                raise FileProblem(
                    f"cannot replace in place: the clean copy is {fmt.upper()} but the file is {path.suffix}"
                )
            return path
        target = output_path(path, path.suffix if same else f".{EXTENSIONS.get(fmt, fmt)}", self.out, self.out_dir)
        if target.resolve() == path.resolve():
            raise FileProblem("the output would replace the original; use --in-place to do that on purpose")
        return target

    def write(self, path: Path, data: bytes, fmt: str) -> Path:
        target = self.target(path, fmt)
        write_atomic(target, data, like=path, force=self.force or self.in_place)
        return target


# One file's job: input bytes -> (output bytes, output format, JSON summary, line for humans).
Job = Callable[[bytes], tuple[bytes, str, dict[str, Any], str]]


def _run(paths: list[Path], job: Job, dest: Destination, quiet: bool) -> Batch:
    """Run `job` on each file and write its output; one bad file never stops the others."""
    batch = Batch()
    progress = _progress(paths, quiet)
    with progress or contextlib.nullcontext():
        for path in progress.track(paths, description="Working") if progress else paths:
            try:
                data, fmt, info, line = job(read_input(path, LIMITS.max_bytes))
                target = dest.write(path, data, fmt)
            except (FileProblem, AnonymizerError) as exc:
                batch.fail(path, str(exc), quiet)
                continue
            batch.done.append({"file": str(path), "output": str(target), **info})
            if not quiet:
                render.out.print(f"{path} -> {target}: {line}", soft_wrap=True)
    return batch


def _finish(batch: Batch, as_json: bool, verb: str) -> None:
    if as_json:
        render.print_json(
            {"files": batch.done, "failed": batch.failed, "ok": len(batch.done), "failures": len(batch.failed)}
        )
    elif len(batch.done) + len(batch.failed) > 1:
        render.out.print(f"{verb} {len(batch.done)} file(s), {len(batch.failed)} failed")
    if batch.failed:
        raise typer.Exit(1)


def _check_single_output(out: Path | None, paths: list[Path], in_place: bool) -> None:
    if out is not None and (len(paths) != 1 or in_place):
        raise typer.BadParameter("-o/--output takes exactly one photo and cannot be combined with --in-place")


def _strengths() -> str:
    """'1 to 12; default 3 for blur, 4 for pixelate', from the methods registry."""
    ranges = {m.value: r for m in obscure.METHODS if (r := obscure.strength_range(m)) is not None}
    bounds = {(r.strongest, r.weakest) for r in ranges.values()}
    span = "; ".join(f"{low} to {high}" for low, high in sorted(bounds))
    return f"{span}; default " + ", ".join(f"{r.default} for {name}" for name, r in ranges.items())


def _output_format(fmt: OutputFormat, out: Path | None) -> OutputFormat:
    if fmt is OutputFormat.SAME and out is not None and out.suffix.lower() in SUFFIX_FORMATS:
        return OutputFormat(SUFFIX_FORMATS[out.suffix.lower()])
    return fmt


@app.command("clean")
def clean_command(
    photos: Photos,
    out: OutOption = None,
    out_dir: OutDirOption = None,
    force: ForceOption = False,
    in_place: InPlaceOption = False,
    method: Annotated[Method, typer.Option(help="How faces and regions are obscured.")] = Method.BLUR,
    strength: Annotated[
        float | None, typer.Option(help=f"Cells across a region for blur/pixelate (fewer is stronger): {_strengths()}.")
    ] = None,
    color: Annotated[str, typer.Option("--color", help="Colour for fill and mask, #RRGGBB or R,G,B.")] = "#000000",
    no_faces: Annotated[
        bool, typer.Option("--no-faces", help="Do not look for faces; obscure only the regions given.")
    ] = False,
    face_scale: Annotated[
        float, typer.Option(help="Grow each face box by this factor to cover hair, ears and chin.")
    ] = CleanOptions.face_scale,
    face_shape: Annotated[
        FaceShape, typer.Option(help="Shape drawn over each face: its box grown by --face-scale, or an ellipse in it.")
    ] = CleanOptions.face_shape,
    detector: Annotated[str, typer.Option(help=f"Face detector: {', '.join(detector_names())}.")] = "default",
    strokes: Annotated[Path | None, typer.Option(help="Brush strokes/regions as JSON (see README).")] = None,
    box: Annotated[list[str] | None, typer.Option(help="Region to obscure as X,Y,W,H (repeatable).")] = None,
    ellipse: Annotated[list[str] | None, typer.Option(help="Ellipse to obscure as CX,CY,RX,RY (repeatable).")] = None,
    mask: Annotated[Path | None, typer.Option(help="Mask image, same size as the photo: white = obscure.")] = None,
    background: Annotated[Background, typer.Option(help="Obscure everything that is not a person.")] = Background.KEEP,
    fmt: Annotated[
        OutputFormat, typer.Option("--format", help="Output format; 'same' keeps the input's where writable.")
    ] = OutputFormat.SAME,
    quality: Annotated[int, typer.Option(min=1, max=100, help="JPEG/WebP quality.")] = 92,
    keep_icc: Annotated[
        bool, typer.Option("--keep-icc", help="Keep the colour profile instead of converting to sRGB.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Obscure faces and marked regions, remove all metadata, and write NAME-clean.EXT next to each photo."""
    paths = list(walk(photos))
    _check_single_output(out, paths, in_place)
    try:
        options = CleanOptions(
            method=method,
            strength=strength,
            fill_color=parse_text.colour(color),
            detect_faces=not no_faces,
            face_scale=face_scale,
            face_shape=face_shape,
            detector=detector,
            regions=_regions(strokes, box or [], ellipse or [], mask),
            background=background,
            output_format=_output_format(fmt, out),
            quality=quality,
            keep_icc=keep_icc,
        )
        if not no_faces:
            get_detector(detector)
    except (FileProblem, AnonymizerError) as exc:
        render.error("anonymize clean", str(exc))
        raise typer.Exit(2) from None

    def job(data: bytes) -> tuple[bytes, str, dict[str, Any], str]:
        result = clean(data, options)
        return result.data, result.format.name, summary.clean_result(result), render.clean_summary(result)

    dest = Destination(out=out, out_dir=out_dir, force=force, in_place=in_place)
    batch = _run(paths, job, dest, as_json)
    _finish(batch, as_json, "cleaned")


@app.command("strip")
def strip_command(
    photos: Photos,
    out: OutOption = None,
    out_dir: OutDirOption = None,
    force: ForceOption = False,
    in_place: InPlaceOption = False,
    keep_icc: Annotated[
        bool, typer.Option("--keep-icc", help="Keep the colour profile, unchanged, instead of removing it.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Remove metadata only (faces untouched), keeping the pixel data unchanged where the format allows."""
    paths = list(walk(photos))
    _check_single_output(out, paths, in_place)

    def job(data: bytes) -> tuple[bytes, str, dict[str, Any], str]:
        result = strip(data, keep_icc=keep_icc)
        removed = len(result.removed.identifying)
        info = {"lossless": result.lossless, "metadata_removed": removed, "notes": list(result.notes)}
        how = "pixels untouched" if result.lossless else "re-encoded"
        line = f"{removed} metadata item(s) removed, {how}" + "".join(f", {n}" for n in result.notes)
        return result.data, result.format, info, line

    _finish(_run(paths, job, Destination(out, out_dir, force, in_place), as_json), as_json, "stripped")


@app.command("inspect")
def inspect_command(
    photos: Photos,
    as_json: JsonFlag = False,
    check: Annotated[bool, typer.Option("--check", help="Exit with 1 if anything identifying is found.")] = False,
    show_all: Annotated[bool, typer.Option("--all", help="Also list the structural parts needed to decode.")] = False,
) -> None:
    """Show what metadata each photo carries: where, what, and how identifying it is."""
    reports: list[dict[str, Any]] = []
    dirty = failed = 0
    for path in walk(photos):
        try:
            report = inspect(read_input(path, LIMITS.max_bytes))
        except (FileProblem, AnonymizerError) as exc:
            failed += 1
            reports.append({"file": str(path), "error": str(exc)})
            if not as_json:
                render.error(str(path), str(exc))
            continue
        dirty += not report.is_clean
        reports.append({"file": str(path), **summary.report(report)})
        if not as_json:
            render.report_table(str(path), report, show_all)
    if as_json:
        render.print_json({"files": reports, "identifying": dirty, "failures": failed})
    if failed:
        raise typer.Exit(2)
    if check and dirty:
        raise typer.Exit(1)


@app.command("detect")
def detect_command(
    photo: Annotated[Path, typer.Argument(help="The photo to look for faces in.")],
    detector: Annotated[str, typer.Option(help=f"Face detector: {', '.join(detector_names())}.")] = "default",
    preview: Annotated[Path | None, typer.Option(help="Write a PNG with the face boxes drawn.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing preview file.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """List the faces found in a photo (boxes in the upright image), optionally drawn on a preview."""
    try:
        data = read_input(photo, LIMITS.max_bytes)
        result = detect(data, get_detector(detector))
        if preview is not None:
            write_atomic(preview, draw(data, result.faces), like=photo, force=force)
    except (FileProblem, AnonymizerError) as exc:
        render.error(str(photo), str(exc))
        raise typer.Exit(1) from None
    if as_json:
        render.print_json({"file": str(photo), **summary.detect_result(result)})
    else:
        render.faces_table(str(photo), result)
        if preview is not None:
            render.out.print(f"preview written to {preview}")


@app.command("demo")
def demo_command(
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Where to put the sample and its clean copy.")] = Path(
        "anonymize-demo"
    ),
) -> None:
    """Clean the sample portrait shipped with the tool and show what was found and removed."""
    from anonymizer.sample import sample_photo

    data = sample_photo()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        original = out_dir / "sample.jpg"
        write_atomic(original, data, force=True)
        render.report_table("sample.jpg (before)", inspect(data))
        result = clean(data)
        target = out_dir / "sample-clean.jpg"
        write_atomic(target, result.data, like=original, force=True)
        render.report_table("sample-clean.jpg (after)", inspect(result.data))
    except (FileProblem, AnonymizerError, OSError) as exc:
        render.error("demo", str(exc))
        raise typer.Exit(1) from None
    render.out.print(f"{original} -> {target}: {render.clean_summary(result)}", soft_wrap=True)


@app.command("serve")
def serve_command(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default 127.0.0.1). Keep loopback unless you know why.")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 8000).")] = None,
    workers: Annotated[int | None, typer.Option(help="Photos processed at the same time (default: up to 2).")] = None,
    allowed_origin: Annotated[
        list[str] | None, typer.Option(help="Web origin allowed to call the API (repeatable).")
    ] = None,
) -> None:
    """Start the local web service and its page. Flags override the ANONYMIZER_* environment variables."""
    from anonymizer.api.server import serve
    from anonymizer.api.settings import Settings

    try:
        settings = Settings.from_env(host=host, port=port, workers=workers, allowed_origins=tuple(allowed_origin or ()))
    except AnonymizerError as exc:
        render.error("anonymize serve", str(exc))
        raise typer.Exit(2) from None
    url = settings.base_url
    render.out.print(f"page: {url}/   API docs: {url}/docs   (Ctrl-C to stop)")
    serve(settings)


def run() -> None:
    """Console entry point."""
    app()
