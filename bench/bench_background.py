"""What the background option costs on a 12-megapixel photo: time and peak memory.

Usage:
    .venv/bin/python bench/bench_background.py [--runs 7] [--size 4000x3000]

The photo is the sample portrait (anonymizer/data/sample.jpg) upscaled to --size and saved as a JPEG
(quality 92) in memory. Prints a markdown table:

- segmentation.obscure_background: the option's own work on decoded pixels (segment, refine the edge,
  obscure, paste), median and min of --runs calls after one warm-up call (models already loaded).
- clean(): the whole pipeline (decode, faces, obscure, encode, verify) with --background keep, blur and fill;
  the extra time is the difference of medians from keep. Runs are interleaved so load drifts hit all alike.
- wall is elapsed time; CPU is the process's CPU time (all threads), which other load on the machine
  disturbs much less than wall time.
- peak memory: the process's peak RSS after one clean() in a fresh process per setting (ru_maxrss), and the
  extra over keep; plus the peak of traced (numpy) allocations during one obscure_background call.

Goal (issue 8): extra time under 300 ms on a 12-megapixel photo.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from anonymizer import CleanOptions, clean, imaging, segmentation  # noqa: E402
from anonymizer.options import Background  # noqa: E402

SAMPLE = ROOT / "anonymizer" / "data" / "sample.jpg"
SETTINGS = [Background.KEEP, Background.BLUR, Background.FILL]


def photo(size: tuple[int, int]) -> bytes:
    """The sample portrait upscaled to `size`, as JPEG bytes."""
    image = Image.open(SAMPLE).convert("RGB").resize(size, Image.Resampling.BICUBIC)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92)
    return out.getvalue()


Timing = tuple[float, float]  # wall ms, CPU ms (all threads of this process)


def timed(call: Callable[[], object]) -> Timing:
    start, cpu = time.perf_counter(), time.process_time()
    call()
    return (time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000


def bench_option(pixels: np.ndarray, runs: int) -> dict[Background, list[Timing]]:
    times: dict[Background, list[Timing]] = {b: [] for b in SETTINGS[1:]}
    for background in times:
        segmentation.obscure_background(pixels, CleanOptions(background=background))  # warm-up
    for _ in range(runs):
        for background in times:
            options = CleanOptions(background=background)
            times[background].append(timed(lambda o=options: segmentation.obscure_background(pixels, o)))
    return times


def bench_clean(data: bytes, runs: int) -> dict[Background, list[Timing]]:
    times: dict[Background, list[Timing]] = {b: [] for b in SETTINGS}
    for background in SETTINGS:
        clean(data, CleanOptions(background=background))  # warm-up: every model loaded
    for _ in range(runs):
        for background in SETTINGS:
            options = CleanOptions(background=background)
            times[background].append(timed(lambda o=options: clean(data, o)))
    return times


def traced_peak(pixels: np.ndarray) -> float:
    """Peak MB of traced allocations during one obscure_background call (blur)."""
    tracemalloc.start()
    segmentation.obscure_background(pixels, CleanOptions(background=Background.BLUR))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6


def child(background: str, size: str) -> None:
    """In a fresh process: one clean() with `background`; print the peak RSS in MB."""
    width, height = (int(v) for v in size.split("x"))
    clean(photo((width, height)), CleanOptions(background=Background(background)))
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def peak_rss(size: str) -> dict[Background, float]:
    peaks = {}
    for background in SETTINGS:
        command = [sys.executable, __file__, "--child", background.value, "--size", size]
        result = subprocess.run(command, capture_output=True, text=True, check=True)
        peaks[background] = float(result.stdout.strip().splitlines()[-1])
    return peaks


def medians(values: list[Timing]) -> Timing:
    return statistics.median(v[0] for v in values), statistics.median(v[1] for v in values)


def row(name: str, values: list[Timing], base: Timing | None = None) -> str:
    wall, cpu = medians(values)
    extra = "| |" if base is None else f"| {wall - base[0]:+.0f} | {cpu - base[1]:+.0f} |"
    return f"| {name} | {wall:.0f} | {min(v[0] for v in values):.0f} | {cpu:.0f} {extra}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--size", default="4000x3000")
    parser.add_argument("--child", choices=[b.value for b in SETTINGS], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.size)
        return
    width, height = (int(v) for v in args.size.split("x"))
    data = photo((width, height))
    pixels = imaging.decode(data).pixels
    option = bench_option(pixels, args.runs)
    whole = bench_clean(data, args.runs)
    rss = peak_rss(args.size)
    keep = medians(whole[Background.KEEP])
    print(
        f"Photo: sample portrait upscaled to {width}x{height} ({width * height / 1e6:.1f} MP), JPEG q92, "
        f"{len(data) / 1e6:.1f} MB; {args.runs} runs; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}\n"
    )
    print("| what | median wall ms | min wall ms | median CPU ms | extra wall ms | extra CPU ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for background, values in option.items():
        print(row(f"obscure_background ({background.value})", values))
    for background, values in whole.items():
        base = None if background is Background.KEEP else keep
        print(row(f"clean(), background {background.value}", values, base))
    print("\n| peak memory | MB | extra over keep MB |")
    print("|---|---:|---:|")
    for background, mb in rss.items():
        extra = "" if background is Background.KEEP else f"{mb - rss[Background.KEEP]:+.0f}"
        print(f"| peak RSS, clean() with background {background.value} | {mb:.0f} | {extra} |")
    print(f"| traced numpy peak inside obscure_background (blur) | {traced_peak(pixels):.0f} | |")


if __name__ == "__main__":
    main()
