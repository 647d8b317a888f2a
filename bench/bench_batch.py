"""Throughput of the Ray batch engine against the plain CLI batch, on the same folder, and a sizing table.

    .venv/bin/python bench/bench_batch.py [--photos 16] [--size 1600x1200] [--detector default] [--json]

The folder is made in code: the sample portrait tiled 2x2 (four faces), scaled to --size with a small change of
scale per photo, as JPEGs. Runs, each from a cold start as a user would run it:
- cli: `anonymize clean DIR --out-dir OUT` in a fresh process (one process, photo after photo), with all photos
  and with one, so that start-up (imports, model load) and the cost per photo separate: marginal = (T_n - T_1)/(n-1),
  for wall time and for CPU time (the child's rusage);
- ray-1, ray-2: anonymizer.batch.clean_collection with 1 and 2 workers on a local Ray started by the run (as the
  CLI's --engine ray does without --address), the same way: all photos, then one; wall per photo is marginal as
  above, so Ray's start-up (its processes, the actors, the model load) is separated from the cost per photo. CPU
  per photo is the mean of the manifest's cpu_seconds (the worker process's CPU time for that photo, all threads).

Photos per CPU-hour = 3600 / CPU seconds per photo; cores for a million photos a day = 1e6 / 24 / that (at full
use, no headroom). The machine may be shared: run it when it is otherwise idle, and read the figures as such.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SAMPLE = ROOT / "anonymizer" / "data" / "sample.jpg"
ANONYMIZE = Path(sys.executable).with_name("anonymize")
PER_DAY = 1_000_000


@dataclass
class Row:
    engine: str
    photos: int
    wall: float  # whole run, cold start
    startup: float  # what does not depend on the number of photos
    wall_per_photo: float  # marginal
    cpu_per_photo: float

    @property
    def photos_per_cpu_hour(self) -> float:
        return 3600 / self.cpu_per_photo if self.cpu_per_photo > 0 else 0.0

    @property
    def cores_for_a_million_a_day(self) -> float:
        return PER_DAY / 24 / self.photos_per_cpu_hour if self.photos_per_cpu_hour else 0.0


def make_folder(folder: Path, count: int, size: tuple[int, int]) -> None:
    sample = Image.open(SAMPLE).convert("RGB")
    canvas = Image.new("RGB", (sample.width * 2, sample.height * 2))
    for x in (0, sample.width):
        for y in (0, sample.height):
            canvas.paste(sample, (x, y))
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        scale = 1 + 0.01 * (i % 7)  # not the same photo n times
        w, h = int(size[0] * scale), int(size[1] * scale)
        canvas.resize((w, h), Image.Resampling.BICUBIC).save(folder / f"photo_{i:04d}.jpg", quality=90)


def _cli_once(src: Path, detector: str) -> tuple[float, float]:
    """(wall, CPU seconds) of one cold `anonymize clean src --out-dir ...`."""
    with tempfile.TemporaryDirectory() as out:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([str(ANONYMIZE), "clean", str(src), "--out-dir", out, "--detector", detector],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if len(list(Path(out).iterdir())) != len(list(src.iterdir())):
            raise SystemExit("the CLI did not write one output per photo")
    return wall, cpu


def bench_cli(src: Path, one: Path, detector: str) -> Row:
    wall_n, cpu_n = _cli_once(src, detector)
    wall_1, cpu_1 = _cli_once(one, detector)
    n = len(list(src.iterdir()))
    per_wall, per_cpu = (wall_n - wall_1) / (n - 1), (cpu_n - cpu_1) / (n - 1)
    return Row("cli", n, wall_n, wall_1 - per_wall, per_wall, per_cpu)


def _ray_once(src: Path, detector: str, workers: int) -> tuple[float, list[float]]:
    """(wall, CPU seconds of each photo) of one cold clean_collection run (it starts and stops its own Ray)."""
    from anonymizer import CleanOptions
    from anonymizer.batch import BatchOptions, clean_collection

    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        summary = clean_collection(str(src), out, BatchOptions(CleanOptions(detector=detector), workers=workers))
        wall = time.perf_counter() - start
        rows = [json.loads(line) for line in Path(summary.manifest).read_text().splitlines()]
    if summary.done != len(rows) or summary.failed:
        raise SystemExit(f"ray run with {workers} workers: {summary}")
    return wall, [r["cpu_seconds"] for r in rows]


def bench_ray(src: Path, one: Path, detector: str, workers: int) -> Row:
    wall_n, cpus = _ray_once(src, detector, workers)
    wall_1, _ = _ray_once(one, detector, workers)
    n = len(cpus)
    per_wall = (wall_n - wall_1) / (n - 1)
    return Row(f"ray-{workers}", n, wall_n, wall_1 - per_wall, per_wall, statistics.mean(cpus))


def table(rows: list[Row]) -> str:
    lines = [
        "| engine | photos | wall (s) | start-up (s) | wall/photo (s) | CPU/photo (s) | photos/CPU-hour | "
        "cores for 1M photos/day |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.engine} | {r.photos} | {r.wall:.1f} | {r.startup:.1f} | {r.wall_per_photo:.2f} | {r.cpu_per_photo:.2f}"
        f" | {r.photos_per_cpu_hour:,.0f} | {r.cores_for_a_million_a_day:.0f} |"
        for r in rows
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=16)
    parser.add_argument("--size", default="1600x1200", help="WxH of the generated photos")
    parser.add_argument("--detector", default="default")
    parser.add_argument("--engines", default="cli,ray-1,ray-2")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.photos < 2:
        parser.error("--photos must be at least 2")
    width, height = (int(v) for v in args.size.lower().split("x"))
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    with tempfile.TemporaryDirectory() as tmp:
        src, one = Path(tmp) / "photos", Path(tmp) / "one"
        make_folder(src, args.photos, (width, height))
        make_folder(one, 1, (width, height))
        rows: list[Row] = []
        for engine in args.engines.split(","):
            if engine == "cli":
                rows.append(bench_cli(src, one, args.detector))
            else:
                rows.append(bench_ray(src, one, args.detector, int(engine.removeprefix("ray-"))))
            print(f"{engine}: done", file=sys.stderr)
    if args.json:
        print(json.dumps([asdict(r) | {"photos_per_cpu_hour": r.photos_per_cpu_hour,
                                       "cores_for_a_million_a_day": r.cores_for_a_million_a_day} for r in rows]))
    else:
        print(f"{args.photos} photos of {width}x{height}, detector {args.detector!r}, {os.cpu_count()} CPUs")
        print(table(rows))
        base = next((r for r in rows if r.engine == "cli"), None)
        for r in rows:
            if base is not None and r is not base:
                print(f"{r.engine}: {r.wall_per_photo - base.wall_per_photo:+.2f} s wall per photo against the CLI, "
                      f"start-up {r.startup - base.startup:+.1f} s")


if __name__ == "__main__":
    main()
