"""Time metadata strip and inspect against `exiftool -all=` and mat2 on the same files, in one run.

    .venv/bin/python bench/bench_strip.py [FILES...]

Without arguments: a 12-megapixel JPEG made here (with EXIF, GPS and a thumbnail) plus every file in
../shared/corpus/metadata. Each tool runs `--repeat` times per file; the best time counts. Every tool runs as a
whole process (`anonymize strip FILE -o OUT`, `exiftool -all=`, `mat2`), so the ratios compare like with like:
start-up included, which is what a user waiting for them pays (issue 17). The in-process columns time the library
(`anonymizer.strip`, verification included, and `inspect`) with nothing remembered between repeats.

Videos (issue 14): every file in ../shared/corpus/video plus a clip made here with Apple `keys`, stripped by
`anonymize strip` (anonymizer.video.strip_video, file to file, verification included), `exiftool -all=` and mat2
(plus the same clip remuxed to Matroska);
then what each output still carries by `exiftool -ee -G1 -a` outside its File/System/Composite groups, counting
tags that are not container structure (dates count unless zero). `--only photos|videos` runs one section.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import piexif
from PIL import Image

from anonymizer import metadata, pipeline
from anonymizer.errors import AnonymizerError, InputError
from anonymizer.video import strip_video

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "metadata"
VIDEO_CORPUS = ROOT.parent / "shared" / "corpus" / "video"
# exiftool tags of a video that are container structure or codec parameters, not about the person.
VIDEO_STRUCTURE = {
    "MajorBrand", "MinorVersion", "CompatibleBrands", "MediaDataSize", "MediaDataOffset", "MovieHeaderVersion",
    "TimeScale", "Duration", "PreferredRate", "PreferredVolume", "MatrixStructure", "PreviewTime",
    "PreviewDuration", "PosterTime", "SelectionTime", "SelectionDuration", "CurrentTime", "NextTrackID",
    "TrackHeaderVersion", "TrackID", "TrackDuration", "TrackLayer", "TrackVolume", "ImageWidth", "ImageHeight",
    "MediaHeaderVersion", "MediaTimeScale", "MediaDuration", "MediaLanguageCode", "HandlerType", "Balance",
    "AudioFormat", "AudioChannels", "AudioBitsPerSample", "AudioSampleRate", "GraphicsMode", "OpColor",
    "CompressorID", "SourceImageWidth", "SourceImageHeight", "XResolution", "YResolution", "BitDepth",
    "VideoFrameRate", "ColorProfiles", "ColorPrimaries", "TransferCharacteristics", "MatrixCoefficients",
    "PixelAspectRatio", "VideoFieldOrder", "PurchaseFileFormat", "Rotation", "VideoFullRangeFlag",
    "LayoutFlags", "AudioChannelLayout", "ChannelBitmap", "NumChannelDescriptions",
    "MovieDataSize", "MovieDataOffset", "FrameRate", "FrameCount", "StreamCount", "StreamType", "VideoCodec",
    "AudioCodec", "MaxDataRate", "ImageLength", "Quality", "SampleSize", "DocType", "DocTypeVersion",
    "DocTypeReadVersion", "EBMLVersion", "EBMLReadVersion", "TimecodeScale", "TrackNumber", "TrackType",
    "CodecID", "TrackLanguage", "VideoScanType", "Encoding",
    "NumChannels", "SampleRate", "AvgBytesPerSec", "BitsPerSample", "TotalFrameCount", "HandlerVendorID",
    "DisplayUnit", "TrackDefault", "AverageBitrate", "BufferSize", "MaxBitrate", "AudioSampleCount", "VideoFrameCount",
}  # fmt: skip
ZERO_DATE = "0000:00:00 00:00:00"
VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".3gp", ".3g2", ".mkv", ".webm", ".avi"}
NEUTRAL = {"HandlerDescription": {"VideoHandler", "SoundHandler"}, "EncoderVendor": {""}, "EncoderVersion": {"0"}}


def twelve_megapixel_jpeg() -> bytes:
    rng = np.random.default_rng(1)
    small = rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)
    im = Image.fromarray(small).resize((4000, 3000), Image.Resampling.BICUBIC)
    thumb = io.BytesIO()
    im.resize((160, 120)).save(thumb, "JPEG")
    exif = piexif.dump(
        {
            "0th": {piexif.ImageIFD.Make: b"Acme", piexif.ImageIFD.Model: b"Phone 9"},
            "GPS": {
                piexif.GPSIFD.GPSLatitudeRef: b"N",
                piexif.GPSIFD.GPSLatitude: ((50, 1), (51, 1), (0, 1)),
                piexif.GPSIFD.GPSLongitudeRef: b"E",
                piexif.GPSIFD.GPSLongitude: ((4, 1), (21, 1), (0, 1)),
            },
            "1st": {piexif.ImageIFD.Compression: 6},
            "thumbnail": thumb.getvalue(),
        }
    )
    out = io.BytesIO()
    im.save(out, "JPEG", quality=92, exif=exif)
    return out.getvalue()


def best(fn: Callable[[], object], repeat: int) -> float | None:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        try:
            if fn() is False:
                return None
        except InputError:
            return None
        times.append(time.perf_counter() - start)
    return min(times)


def fresh(fn: Callable[[], object]) -> Callable[[], object]:
    """fn with the checks' memories emptied first (JPEG entropy verdicts, PNG/GIF/WebP data ends), so that
    repeats cost what a first call costs."""
    from anonymizer.metadata import gif, jpeg_entropy, png_image, webp

    def go() -> object:
        jpeg_entropy._verdicts.clear()
        for memo in (png_image.EXACT, gif.WALKED, webp.ENDS):
            memo.clear()
        return fn()

    return go


def ours_process(path: Path, work: Path) -> Callable[[], bool]:
    anonymize = ROOT / ".venv" / "bin" / "anonymize"

    from anonymizer import formats

    written = formats.FORMATS[formats.sniff(path.read_bytes()[: formats.SNIFF_BYTES]).stripped_as]
    out = work / f"ours-{path.stem}{written.extension}"

    def go() -> bool:
        return run([str(anonymize), "strip", str(path), "-o", str(out), "--force"])

    return go


def run(cmd: list[str]) -> bool:
    return subprocess.run(cmd, capture_output=True, check=False, timeout=300).returncode == 0


def exiftool(path: Path, work: Path) -> Callable[[], bool]:
    def go() -> bool:
        out = work / f"exiftool{path.suffix}"
        out.unlink(missing_ok=True)
        return run(["exiftool", "-q", "-all=", "-o", str(out), str(path)])

    return go


def mat2(path: Path, work: Path) -> Callable[[], bool]:
    def go() -> bool:
        copy = work / f"mat2{path.suffix}"
        shutil.copyfile(path, copy)
        return run(["mat2", "--lightweight", str(copy)]) if path.suffix == ".heic" else run(["mat2", str(copy)])

    return go


def fmt(seconds: float | None) -> str:
    return "refused" if seconds is None else f"{seconds * 1000:8.1f}"


def ratio(ours: float | None, theirs: float | None) -> str:
    return "-" if ours is None or theirs is None else f"{theirs / ours:6.1f}x"


def ours_video(path: Path, work: Path) -> Callable[[], bool]:
    def go() -> bool:
        out = work / f"ours{path.suffix}"
        try:
            with open(path, "rb") as src, open(out, "w+b") as sink:
                strip_video(src, sink)
        except AnonymizerError:
            out.unlink(missing_ok=True)
            return False
        return True

    return go


def exiftool_left(path: Path) -> list[str]:
    """Tags exiftool still reads that are not structure: 'Group:Tag' (dates count unless zero; empty values
    do not count)."""
    if not path.exists() or path.stat().st_size == 0:
        return ["(no output)"]
    out = subprocess.run(["exiftool", "-ee", "-G1", "-a", "-s", "-q", str(path)], capture_output=True, text=True,
                         check=False, timeout=300).stdout
    left = []
    for line in out.splitlines():
        group, _, rest = line.partition("]")
        tag, _, value = rest.strip().partition(":")
        tag, value, group = tag.strip(), value.strip(), group.strip("[ ")
        if group in ("File", "System", "Composite", "ExifTool"):
            continue
        zero_date = "Date" in tag and value.startswith(ZERO_DATE)
        if not value or tag in VIDEO_STRUCTURE or zero_date or value in NEUTRAL.get(tag, ()):
            continue
        left.append(f"{group}:{tag}")
    return left


def summarise_left(left: list[str]) -> str:
    if not left:
        return "nothing"
    names = sorted({t.split(":", 1)[1] for t in left})
    gps = sum("GPS" in t for t in left)
    shown = ", ".join(n for n in names if "GPS" not in n)[:70]
    return f"{len(left)} tags" + (f" ({gps} GPS)" if gps else "") + f": {shown}"


def apple_clip(work: Path) -> Path:
    """A 10 s 640x360 H.264/AAC clip with Apple keys (location, make, model), made with PyAV."""
    import av

    path = work / "made_apple_keys.mov"
    opts = {"movflags": "use_metadata_tags"}
    with av.open(str(path), "w", format="mov", options=opts) as out:
        out.metadata.update({"com.apple.quicktime.location.ISO6709": "+50.8503+004.3517/",
                             "com.apple.quicktime.make": "Apple", "com.apple.quicktime.model": "iPhone 15"})
        video = out.add_stream("libx264", rate=30, options={"preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = 640, 360, "yuv420p"
        ys, xs = np.mgrid[0:360, 0:640]
        for i in range(300):
            base = ((xs + ys + i * 4) % 256).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(np.stack([base, base[::-1], 255 - base], -1), format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
    return path


def remux_clip(source: Path, path: Path) -> Path:
    """The same clip remuxed to Matroska by PyAV (title, encoder and duration tags, x264 SEI)."""
    import av

    with av.open(str(source)) as src, av.open(str(path), "w", format="matroska") as out:
        out.metadata["title"] = "holiday with Jane"
        stream = out.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    return path


def videos(work: Path, repeat: int, files: list[Path]) -> None:
    if not files:
        corpus = [p for p in VIDEO_CORPUS.glob("*") if p.suffix not in (".md", ".tsv") and p.name != "SHA256SUMS"]
        files = [*sorted(corpus), apple_clip(work), remux_clip(apple_clip(work), work / "made_tagged.mkv")]
    have_exiftool, have_mat2 = shutil.which("exiftool") is not None, shutil.which("mat2") is not None
    print(f"\n{'video':40} {'size':>8} {'strip ms':>9} {'exiftool':>9} {'mat2':>9}  exif/ours  mat2/ours")
    left: dict[str, dict[str, str]] = {}
    for path in files:
        ours = best(ours_video(path, work), repeat)
        et = best(exiftool(path, work), repeat) if have_exiftool else None
        m2 = best(mat2(path, work), repeat) if have_mat2 else None
        size = f"{path.stat().st_size / 1e6:.2f}MB"
        print(f"{path.name[:40]:40} {size:>8} {fmt(ours):>9} {fmt(et):>9} {fmt(m2):>9}  {ratio(ours, et):>9}  "
              f"{ratio(ours, m2):>9}")
        if have_exiftool:
            outputs = {"anonymize": work / f"ours{path.suffix}", "exiftool -all=": work / f"exiftool{path.suffix}",
                       "mat2": work / f"mat2.cleaned{path.suffix}"}
            oks = {"anonymize": ours, "exiftool -all=": et, "mat2": m2}
            left[path.name] = {tool: summarise_left(exiftool_left(out)) if oks[tool] is not None else "refused"
                               for tool, out in outputs.items()}
        for name in ("ours", "exiftool", "mat2.cleaned"):
            (work / f"{name}{path.suffix}").unlink(missing_ok=True)
    if left:
        print("\nwhat each output still carries (exiftool -ee -G1 -a, outside File/System/Composite; structure "
              "and zero dates not counted):")
        for name, tools in left.items():
            print(f"  {name}")
            for tool, words in tools.items():
                print(f"    {tool:15} {words}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=("photos", "videos", "all"), default="all")
    args = parser.parse_args()
    if args.only != "photos":
        with tempfile.TemporaryDirectory() as tmp:
            videos(Path(tmp), args.repeat, [p for p in args.files if p.suffix.lower() in VIDEO_SUFFIXES])
        if args.only == "videos":
            return
    args.files = [p for p in args.files if p.suffix.lower() not in VIDEO_SUFFIXES]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        files = list(args.files)
        if not files:
            big = work / "twelve_megapixel.jpg"
            big.write_bytes(twelve_megapixel_jpeg())
            corpus = (p for p in CORPUS.glob("*") if p.suffix not in (".md", ".tsv") and p.name != "SHA256SUMS")
            files = [big, *sorted(corpus)]
        tools = {"exiftool": shutil.which("exiftool"), "mat2": shutil.which("mat2")}
        print(f"{'file':44} {'lib strip':>9} {'inspect':>9} {'anonymize':>9} {'exiftool':>9} {'mat2':>9}  "
              "exiftool/anonymize  mat2/anonymize")
        for path in files:
            data = path.read_bytes()
            lib = best(fresh(lambda data=data: pipeline.strip(data)), args.repeat)
            look = best(fresh(lambda data=data: metadata.inspect(data)), args.repeat)
            ours = best(ours_process(path, work), args.repeat) if lib is not None else None
            et = best(exiftool(path, work), args.repeat) if tools["exiftool"] else None
            m2 = best(mat2(path, work), args.repeat) if tools["mat2"] else None
            print(
                f"{path.name[:44]:44} {fmt(lib):>9} {fmt(look):>9} {fmt(ours):>9} {fmt(et):>9} {fmt(m2):>9}  "
                f"{ratio(ours, et):>18}  {ratio(ours, m2):>14}"
            )


if __name__ == "__main__":
    main()
