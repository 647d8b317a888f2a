"""Time metadata strip and inspect against `exiftool -all=` and mat2 on the same files, in one run.

    .venv/bin/python bench/bench_strip.py [FILES...]

Without arguments: a 12-megapixel JPEG made here (with EXIF, GPS and a thumbnail) plus every file in
../shared/corpus/metadata. Each tool runs `--repeat` times per file; the best time counts. The external
tools run as processes, so their times include start-up, which is what a user waiting for them pays.
Goal (issue 3): strip a 12-megapixel JPEG in less than half ExifTool's time.
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

from anonymizer import metadata
from anonymizer.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "metadata"


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        files = list(args.files)
        if not files:
            big = work / "twelve_megapixel.jpg"
            big.write_bytes(twelve_megapixel_jpeg())
            corpus = (p for p in CORPUS.glob("*") if p.suffix not in (".md", ".tsv") and p.name != "SHA256SUMS")
            files = [big, *sorted(corpus)]
        tools = {"exiftool": shutil.which("exiftool"), "mat2": shutil.which("mat2")}
        print(f"{'file':52} {'strip ms':>9} {'inspect':>9} {'exiftool':>9} {'mat2':>9}  exiftool/strip  mat2/strip")
        for path in files:
            data = path.read_bytes()
            ours = best(lambda data=data: metadata.strip(data), args.repeat)
            look = best(lambda data=data: metadata.inspect(data), args.repeat)
            et = best(exiftool(path, work), args.repeat) if tools["exiftool"] else None
            m2 = best(mat2(path, work), args.repeat) if tools["mat2"] else None
            print(
                f"{path.name[:52]:52} {fmt(ours):>9} {fmt(look):>9} {fmt(et):>9} {fmt(m2):>9}  "
                f"{ratio(ours, et):>14}  {ratio(ours, m2):>10}"
            )


if __name__ == "__main__":
    main()
