"""`anonymize`: clean, strip, inspect, detect, demo, serve. Arguments in, library call, files out."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import typer

from anonymizer import (
    AnonymizerError,
    Background,
    Category,
    CleanOptions,
    FaceShape,
    Method,
    OutputFormat,
    Summary,
    __version__,
    formats,
    media,
)
from anonymizer.media import VideoSettings  # imports no video code: the settings only
from anonymizer.options import QUALITY_RANGE

from . import batch, engines, inputs, render
from .engines import Audio, Engine
from .exits import Exit, epilog, for_error
from .files import FileProblem, open_input, read_input, walk
from .inputs import LIMIT, usage

app = typer.Typer(
    name="anonymize",
    help=(
        "Make a photo safe to share: obscure faces and marks so they cannot be recovered, and remove every "
        "piece of metadata (GPS, camera, dates, thumbnails, embedded videos). Everything runs on this machine."
    ),
    epilog=epilog(),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,  # plain help: no "<bool>" after flags (the rich renderer shows one even for -h)
)



def flag(*names: str, help: str) -> Any:
    """A boolean flag: shown without a '<bool>' value in --help, since it takes none."""
    return typer.Option(*names, help=help, metavar="")


Paths = Annotated[list[Path], typer.Argument(help="Photos, videos or folders (folders are searched by content).")]
JsonFlag = Annotated[bool, flag("--json", help="Print a machine-readable JSON summary instead.")]
OutOption = Annotated[Path | None, typer.Option("-o", "--output", help="Output file (one input only).")]
OutDirOption = Annotated[Path | None, typer.Option("--out-dir", help="Folder for the clean copies (made if missing).")]
ForceOption = Annotated[bool, flag("--force", help="Replace an existing output file.")]
InPlaceOption = Annotated[
    bool, flag("--in-place", help="Replace each file by its clean copy, atomically, once verified.")
]


def _version(value: bool) -> None:
    if value:
        render.line(f"anonymize {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", help="Show the version and exit.", callback=_version, is_eager=True, metavar="")
    ] = False,
    debug: Annotated[
        bool, flag("--debug", help="Show a traceback when anonymize itself fails (for bug reports).")
    ] = False,
) -> None:
    """Make photos and videos safe to share."""
    batch.DEBUG["on"] = debug


def _strengths() -> str:
    """'1 to 12; default 3 for blur, 4 for pixelate', from the methods registry."""
    from anonymizer import strength_range

    ranges = {m.value: r for m in Method if (r := strength_range(m)) is not None}
    bounds = {(r.strongest, r.weakest) for r in ranges.values()}
    span = "; ".join(f"{low} to {high}" for low, high in sorted(bounds))
    return f"{span}; default " + ", ".join(f"{r.default} for {name}" for name, r in ranges.items())


@app.command("clean")
def clean_command(
    sources: Annotated[
        list[str], typer.Argument(help="Photos, videos or folders (with --engine ray: one folder or URI).")
    ],
    out: OutOption = None,
    out_dir: Annotated[
        str | None,
        typer.Option("--out-dir", help="Folder for the clean copies (made if missing; a URI with --engine ray)."),
    ] = None,
    force: ForceOption = False,
    in_place: InPlaceOption = False,
    method: Annotated[Method, typer.Option(help="How faces and regions are obscured.")] = CleanOptions.method,
    strength: Annotated[
        float | None, typer.Option(help=f"Cells across a region for blur/pixelate (fewer is stronger): {_strengths()}.")
    ] = None,
    color: Annotated[str, typer.Option("--color", help="Colour for fill and mask, #RRGGBB or R,G,B.")] = "#000000",
    no_faces: Annotated[
        bool, flag("--no-faces", help="Do not look for faces; obscure only the regions given.")
    ] = False,
    faces: Annotated[
        Path | None,
        typer.Option(help="Obscure these faces instead of detecting them: the JSON `detect --json` prints."),
    ] = None,
    face_scale: Annotated[
        float, typer.Option(help="Grow each face box by this factor to cover hair, ears and chin.")
    ] = CleanOptions.face_scale,
    face_shape: Annotated[
        FaceShape, typer.Option(help="Shape drawn over each face: its box grown by --face-scale, or an ellipse in it.")
    ] = CleanOptions.face_shape,
    detector: Annotated[str, typer.Option(help="Face detector (see `anonymize detect --help`).")] = "default",
    strokes: Annotated[Path | None, typer.Option(help="Brush strokes/regions as JSON (see README).")] = None,
    box: Annotated[list[str] | None, typer.Option(help="Region to obscure as X,Y,W,H (repeatable).")] = None,
    ellipse: Annotated[list[str] | None, typer.Option(help="Ellipse to obscure as CX,CY,RX,RY (repeatable).")] = None,
    mask: Annotated[Path | None, typer.Option(help="Mask image, same size as the photo: white = obscure.")] = None,
    background: Annotated[
        Background, typer.Option(help="Obscure everything that is not a person.")
    ] = CleanOptions.background,
    fmt: Annotated[
        OutputFormat, typer.Option("--format", help="Output format; 'same' keeps the input's where writable.")
    ] = CleanOptions.output_format,
    quality: Annotated[
        int, typer.Option(min=QUALITY_RANGE[0], max=QUALITY_RANGE[1], help="JPEG/WebP quality.")
    ] = CleanOptions.quality,
    keep_icc: Annotated[
        bool, flag("--keep-icc", help="Keep the colour profile instead of converting to sRGB.")
    ] = False,
    audio: Annotated[
        Audio, typer.Option(help="Videos: keep the sound track (copied bit-exact; a voice can identify) or drop it.")
    ] = Audio.KEEP,
    video_quality: Annotated[
        int, typer.Option(min=0, max=51, help="Videos: H.264 constant rate factor (lower is better, 23 default).")
    ] = VideoSettings.quality,
    engine: Annotated[
        Engine, typer.Option(help="local: this process; ray: a Ray cluster (pip install '.[scale]'), SRC to --out-dir.")
    ] = Engine.LOCAL,
    address: Annotated[
        str | None, typer.Option(help="With --engine ray: the cluster to join (e.g. ray://head:10001, auto).")
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="With --engine ray: worker processes.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Obscure faces and marked regions, remove all metadata, and write NAME-clean.EXT next to each file.

    Videos come out as MP4 (H.264): every frame decoded upright, faces tracked across frames and hidden in every
    frame they are in, regions obscured in every frame (or in a time range), the sound track copied or dropped."""
    paths = [Path(p) for p in sources]
    inputs.check_paths(paths, "clean")
    if engine is Engine.RAY:
        selection = walk([])
    else:
        selection = walk(paths)
        inputs.check_single_output(out, len(selection.files), in_place, "clean")
    try:
        options = CleanOptions(
            method=method,
            strength=strength,
            fill_color=inputs.colour(color),
            detect_faces=not no_faces and faces is None,
            faces=inputs.faces(faces),
            face_scale=face_scale,
            face_shape=face_shape,
            detector=detector,
            regions=inputs.regions(strokes, box or [], ellipse or [], mask),
            background=background,
            output_format=inputs.output_format(fmt, out),
            quality=quality,
            keep_icc=keep_icc,
        )
        if options.detect_faces:
            from anonymizer import get_detector

            get_detector(detector)  # a model that cannot load fails now, not once per file
    except (FileProblem, AnonymizerError) as exc:
        render.error("anonymize clean", str(exc))
        raise typer.Exit(Exit.FILES if isinstance(exc, FileProblem) else for_error(exc)) from None

    settings = VideoSettings(keep_audio=audio is Audio.KEEP, quality=video_quality)
    if engine is Engine.RAY:
        engines.on_ray(sources, out_dir, options, settings, engines.RayPlace(address, workers), force, as_json)
        return

    def job(src: BinaryIO, sink: BinaryIO) -> Summary:
        return media.clean_stream(src, sink, options, engines.with_progress(settings, as_json))

    _batch(
        paths,
        selection,
        job,
        batch.Destination(out, None if out_dir is None else Path(out_dir), force, in_place),
        lambda source: formats.output_for(source, options.output_format),
        as_json,
        "cleaned",
    )


def _batch(
    paths: list[Path],
    selection: Any,
    job: batch.Job,
    dest: batch.Destination,
    predict: batch.Predict,
    as_json: bool,
    verb: str,
) -> None:
    batch.nothing_to_do(selection, paths)
    state = batch.Batch(quiet=as_json)
    batch.skipped(selection, state)
    batch.make_out_dir(dest.out_dir, as_json)
    batch.finish(batch.run(selection, job, dest, predict, state), as_json, verb)


@app.command("strip")
def strip_command(
    paths: Paths,
    out: OutOption = None,
    out_dir: OutDirOption = None,
    force: ForceOption = False,
    in_place: InPlaceOption = False,
    keep_icc: Annotated[
        bool,
        flag("--keep-icc", help="Keep the colour profile (rebuilt with its colour tags only) instead of removing it."),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Remove metadata only (faces untouched), keeping the pixel data unchanged where the format allows."""
    inputs.check_paths(paths, "strip")
    selection = walk(paths)
    inputs.check_single_output(out, len(selection.files), in_place, "strip")

    def job(src: BinaryIO, sink: BinaryIO) -> Summary:
        return media.strip_stream(src, sink, keep_icc=keep_icc)

    _batch(
        paths,
        selection,
        job,
        batch.Destination(out, out_dir, force, in_place),
        lambda source: formats.FORMATS[source.stripped_as],  # Destination refuses an -o that names another
        as_json,
        "stripped",
    )


ALLOWABLE = {c.value: c for c in Category if c not in (Category.STRUCTURE,)}


@app.command("inspect")
def inspect_command(
    paths: Paths,
    as_json: JsonFlag = False,
    check: Annotated[bool, flag("--check", help="Exit with 1 if anything identifying is found.")] = False,
    allow: Annotated[
        list[str] | None,
        typer.Option(
            help="With --check, a category that may stay, e.g. 'colour profile' after strip --keep-icc (repeatable)."
        ),
    ] = None,
    show_all: Annotated[bool, flag("--all", help="Also list the structural parts needed to decode.")] = False,
) -> None:
    """Show what metadata each file carries: where, what, and how identifying it is."""
    inputs.check_paths(paths, "inspect")
    allowed = _allowed(allow or [])
    selection = walk(paths, skip_copies=False)
    batch.nothing_to_do(selection, paths)
    state = batch.Batch(quiet=as_json)
    batch.skipped(selection, state)
    reports: list[dict[str, Any]] = []
    dirty = 0
    for path in selection.files:
        report = _inspect_one(path, state)
        if report is None:
            reports.append({"file": str(path), "error": state.failed[-1]["error"]})
            continue
        from anonymizer import summary

        dirty += any(f.category not in allowed for f in report.identifying)
        reports.append({"file": str(path), **summary.report(report)})
        if not as_json:
            render.report_table(str(path), report, show_all)
    if as_json:
        render.print_json(
            {"files": reports, "identifying": dirty, "failures": len(state.failed), "skipped": state.skipped}
        )
    if state.code is not Exit.OK:
        raise typer.Exit(state.code)
    if check and dirty:
        raise typer.Exit(Exit.FOUND)


def _allowed(words: list[str]) -> frozenset[Category]:
    unknown = [w for w in words if w.lower() not in ALLOWABLE]
    if unknown:
        raise usage("anonymize inspect", f"--allow {unknown[0]}: not a category; use one of {', '.join(ALLOWABLE)}")
    return frozenset(ALLOWABLE[w.lower()] for w in words)


def _inspect_one(path: Path, state: batch.Batch) -> Any:
    try:
        with open_input(path) as src:
            return media.inspect_stream(src)
    except Exception as exc:  # noqa: BLE001 - one file's failure never stops the others (fail_with says why)
        state.fail_with(path, exc)
        return None


@app.command("detect")
def detect_command(
    photo: Annotated[Path, typer.Argument(help="The photo to look for faces in.")],
    detector: Annotated[str, typer.Option(help="Face detector: default, fast, centerface, mediapipe ...")] = "default",
    preview: Annotated[Path | None, typer.Option(help="Write a PNG (.png) with the face boxes drawn.")] = None,
    force: ForceOption = False,
    as_json: JsonFlag = False,
) -> None:
    """List the faces found in a photo (boxes in the upright image), optionally drawn on a preview."""
    from anonymizer import detect, draw_faces, get_detector, summary

    from .files import check_destination, write_atomic

    if preview is not None and preview.suffix.lower() not in formats.FORMATS["png"].suffixes:
        raise usage("anonymize detect", f"--preview {preview}: the preview is a PNG; name it .png")
    state = batch.Batch(quiet=as_json)
    try:
        if preview is not None:
            check_destination(preview, force)
        data = read_input(photo, LIMIT)
        result = detect(data, get_detector(detector))
        if preview is not None:
            write_atomic(preview, draw_faces(data, result.faces), like=photo, force=force)
    except Exception as exc:  # noqa: BLE001 - reported on one line with the exit code of its kind
        state.fail_with(photo, exc)
        raise typer.Exit(state.code) from None
    if as_json:
        render.print_json({"file": str(photo), **summary.detect_result(result)})
    else:
        render.faces_table(str(photo), result)
        if preview is not None:
            render.line(f"preview written to {preview}")


@app.command("demo")
def demo_command(
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Where to put the sample and its clean copy.")] = Path(
        "anonymize-demo"
    ),
) -> None:
    """Clean the sample portrait shipped with the tool and show what was found and removed."""
    from anonymizer import clean, inspect, sample_photo

    from .files import write_atomic

    data = sample_photo()
    state = batch.Batch()
    original = out_dir / "sample.jpg"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(original, data, force=True)
        render.report_table("sample.jpg (before)", inspect(data))
        result = clean(data)
        target = out_dir / "sample-clean.jpg"
        write_atomic(target, result.data, like=original, force=True)
        render.report_table("sample-clean.jpg (after)", inspect(result.data))
    except Exception as exc:  # noqa: BLE001 - reported on one line with the exit code of its kind
        state.fail_with(Path("demo"), FileProblem(str(exc)) if isinstance(exc, OSError) else exc)
        raise typer.Exit(state.code) from None
    render.line(f"{original} -> {target}: {result.summary().line()}")


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
        raise typer.Exit(Exit.USAGE) from None
    url = settings.base_url
    render.line(f"page: {url}/   API docs: {url}/docs   (Ctrl-C to stop)")
    serve(settings)


def run() -> None:
    """Console entry point: the last-resort handler (one line, no traceback unless --debug)."""
    try:
        app()
    except KeyboardInterrupt:
        render.error("anonymize", "interrupted; nothing partial was left behind")
        raise SystemExit(Exit.INTERRUPTED) from None
    except Exception as exc:  # noqa: BLE001 - the last resort: a bug of ours, reported on one line
        if batch.DEBUG["on"]:
            traceback.print_exception(exc)
        render.error("anonymize", f"internal error ({type(exc).__name__}: {exc}); run with --debug and report it")
        raise SystemExit(Exit.INTERNAL) from None
