"""Peak memory of the command line on a 50-megapixel photo (issue 9: `clean` under 1.5 GB).

    .venv/bin/python bench/bench_memory.py [--runs 1] [--size 8660x5774]

The photo is the sample portrait (anonymizer/data/sample.jpg, with its planted metadata) upscaled to
8660x5774 and saved as a JPEG in a temporary folder; nothing is kept. Each command runs as a fresh process
(`anonymize ...`, as a user runs it: start-up, model load, decode, detect, obscure, encode, verify, write);
its peak resident set size comes from wait4's rusage (ru_maxrss, the same figure `/usr/bin/time -v`
reports as "Maximum resident set size"). Prints a markdown table; exits 1 when `clean` is over the goal.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "anonymizer" / "data" / "sample.jpg"
ANONYMIZE = Path(sys.executable).with_name("anonymize")
GOAL_BYTES = 1.5e9

# label -> arguments after `anonymize`; {photo} and {out} are filled in
COMMANDS: dict[str, list[str]] = {
    "clean (faces detected, blur)": ["clean", "{photo}", "--out-dir", "{out}", "--force"],
    "clean --method pixelate": ["clean", "{photo}", "--out-dir", "{out}", "--force", "--method", "pixelate"],
    "clean --format png": ["clean", "{photo}", "--out-dir", "{out}", "--force", "--format", "png"],
    "strip": ["strip", "{photo}", "--out-dir", "{out}", "--force"],
    "inspect": ["inspect", "{photo}"],
}


def make_photo(folder: Path, size: tuple[int, int]) -> Path:
    with Image.open(SAMPLE) as sample:
        exif = sample.info.get("exif", b"")
        big = sample.convert("RGB").resize(size, Image.Resampling.BICUBIC)
    path = folder / "photo.jpg"
    big.save(path, "JPEG", quality=92, exif=exif)
    return path


def peak(args: list[str]) -> tuple[float, int, int]:
    """(wall seconds, peak RSS in bytes, exit status) of one run of `args` in a fresh process."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0 and proc.stderr is not None:
        sys.stderr.write(proc.stderr.read().decode(errors="replace"))
    return wall, usage.ru_maxrss * 1024, proc.returncode  # ru_maxrss is in kilobytes on Linux


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="runs per command; the highest peak counts")
    parser.add_argument("--size", default="8660x5774", help="photo size, WxH (default 50 megapixels)")
    parser.add_argument("--only", action="append", help="run only commands whose label starts with this")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    over = False
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        folder = Path(tmp)
        photo = make_photo(folder, (width, height))
        out = folder / "out"
        out.mkdir()
        print(f"photo: {width}x{height} ({width * height / 1e6:.0f} MP), JPEG {photo.stat().st_size / 1e6:.1f} MB\n")
        print("| command | wall time (s) | peak RSS (GB) | goal |")
        print("|---|---|---|---|")
        for label, template in COMMANDS.items():
            if args.only and not any(label.startswith(o) for o in args.only):
                continue
            command = [str(ANONYMIZE)] + [a.format(photo=photo, out=out) for a in template]
            runs = [peak(command) for _ in range(args.runs)]
            wall = min(r[0] for r in runs)
            rss = max(r[1] for r in runs)
            failed = any(r[2] for r in runs)
            goal = ""
            if label.startswith("clean"):
                goal = "ok (< 1.5 GB)" if rss < GOAL_BYTES else "OVER 1.5 GB"
                over |= rss >= GOAL_BYTES
            status = " (failed)" if failed else ""
            print(f"| {label}{status} | {wall:.1f} | {rss / 1e9:.2f} | {goal} |", flush=True)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
