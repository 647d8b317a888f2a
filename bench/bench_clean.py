"""End-to-end `clean` on a 12-megapixel photo (and a 50-megapixel one), against deface, in one run.

    .venv/bin/python bench/bench_clean.py [--runs 3] [--deface-python /tmp/defacevenv/bin/python]

For each tool: median wall time of the whole command (a fresh process: start-up, model load, decode, detect,
obscure, encode, verify, write) and its peak resident memory (from wait4's rusage), plus the library's warm
time for clean() in this process. deface runs in a virtual environment of its own (it brings a second OpenCV):
    python3 -m venv /tmp/defacevenv && /tmp/defacevenv/bin/pip install deface
The photos are the sample portrait upscaled (no corpus photo is copied). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "anonymizer" / "data" / "sample.jpg"
ANONYMIZE = Path(sys.executable).with_name("anonymize")
DEFACE_PYTHON = Path("/tmp/defacevenv/bin/python")
SIZES = {"12 MP": (4000, 3000), "50 MP": (8660, 5774)}


def make_photo(folder: Path, size: tuple[int, int]) -> Path:
    """The sample, tiled 2x2 (four faces) and scaled to `size`."""
    sample = Image.open(SAMPLE).convert("RGB")
    canvas = Image.new("RGB", (sample.width * 2, sample.height * 2))
    for x in (0, sample.width):
        for y in (0, sample.height):
            canvas.paste(sample, (x, y))
    path = folder / f"photo_{size[0]}x{size[1]}.jpg"
    canvas.resize(size, Image.Resampling.BICUBIC).save(path, quality=90)
    return path


def run(command: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one run of `command`."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err = proc.stderr.read().decode(errors="replace")[-300:] if proc.stderr else ""
        raise RuntimeError(f"{command[0]} failed: {err}")
    return wall, usage.ru_maxrss / 1024


def measure(command: list[str], runs: int, cleanup: Path) -> tuple[float, float]:
    walls, peaks = [], []
    for _ in range(runs):
        cleanup.unlink(missing_ok=True)
        wall, peak = run(command)
        walls.append(wall)
        peaks.append(peak)
    return statistics.median(walls), max(peaks)


def warm_library(photo: Path, runs: int) -> float:
    from anonymizer import clean
    from anonymizer.faces import get_detector

    get_detector()
    data = photo.read_bytes()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        clean(data)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--deface-python", type=Path, default=DEFACE_PYTHON)
    args = parser.parse_args(argv)
    rows = ["| photo | tool | wall s (median) | peak RSS MB | warm clean() s |", "|---|---|---:|---:|---:|"]
    with tempfile.TemporaryDirectory() as tmp:
        for label, size in SIZES.items():
            photo = make_photo(Path(tmp), size)
            out = Path(tmp) / "out.jpg"
            wall, peak = measure([str(ANONYMIZE), "clean", str(photo), "-o", str(out)], args.runs, out)
            warm = warm_library(photo, args.runs)
            rows.append(f"| {label} | anonymize clean | {wall:.2f} | {peak:.0f} | {warm:.2f} |")
            deface = args.deface_python.with_name("deface")
            if deface.exists():
                dwall, dpeak = measure([str(deface), str(photo), "-o", str(out)], args.runs, out)
                rows.append(f"| {label} | deface 1.5.0 | {dwall:.2f} | {dpeak:.0f} | |")
                rows.append(f"| {label} | ratio deface / ours | {dwall / wall:.1f}x | {dpeak / peak:.1f}x | |")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
