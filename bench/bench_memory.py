"""Peak memory of the command line on a 50-megapixel photo (issue 9: `clean` under 1.5 GB).

    .venv/bin/python bench/bench_memory.py [--runs 1] [--size 8660x5774]

The photo is the sample portrait (anonymizer/data/sample.jpg, with its planted metadata) upscaled to
8660x5774 and saved as a JPEG in a temporary folder; nothing is kept. Each command runs as a fresh process
(`anonymize ...`, as a user runs it: start-up, model load, decode, detect, obscure, encode, verify, write);
its peak resident set size comes from wait4's rusage (ru_maxrss, the same figure `/usr/bin/time -v`
reports as "Maximum resident set size"). Prints a markdown table; exits 1 when `clean` is over the goal.

Video phase (issue 14: strip a 2 GB video under 300 MB): a ~2 GB MP4 (1920x1080 H.264, all-intra lossless noise
frames, Apple `keys` location/make/model, a gpmd data track) is made once with PyAV under /tmp
(VIDEO_PATH, reused by later runs, never committed); a fresh Python process strips it file to file with
anonymizer.video.strip_video, as the CLI does (source opened 'rb', sink 'w+b' in the output folder), and its peak
RSS is measured the same way. `--video-gb` sets the size, `--only strip-video` runs just this phase.
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
VIDEO_GOAL_BYTES = 300e6
VIDEO_PATH = Path(tempfile.gettempdir()) / "anonymize-bench-video-{gb}gb.mp4"
VIDEO_LABEL = "strip-video (2 GB MP4, file to file)"
STRIP_VIDEO = (
    "import sys\n"
    "from anonymizer.video import strip_video\n"
    "with open(sys.argv[1], 'rb') as src, open(sys.argv[2], 'w+b') as sink:\n"
    "    strip_video(src, sink)\n"
)

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


def make_video(gb: float) -> Path:
    """A video of about `gb` GB: 30 lossless all-intra noise frames encoded once, their packets muxed over and
    over with new timestamps (encoding 2 GB would take minutes), plus metadata to strip and a data track."""
    import av
    import numpy as np

    path = Path(str(VIDEO_PATH).format(gb=gb))
    if path.exists() and path.stat().st_size >= gb * 0.95e9:
        return path
    rng = np.random.default_rng(7)
    scratch = path.with_suffix(".tmp")
    with av.open(str(scratch), "w", format="mp4", options={"movflags": "use_metadata_tags"}) as out:
        out.metadata.update({"com.apple.quicktime.location.ISO6709": "+50.8503+004.3517/",
                             "com.apple.quicktime.make": "Apple", "com.apple.quicktime.model": "iPhone 15"})
        video = out.add_stream("libx264", rate=30, options={"preset": "ultrafast", "qp": "0", "keyint": "1"})
        video.width, video.height, video.pix_fmt = 1920, 1080, "yuv420p"
        packets = []
        for i in range(30):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8), format="rgb24")
            frame.pts = i
            packets += video.encode(frame)
        packets += video.encode(None)
        base = packets[0].time_base
        data = out.add_data_stream("bin_data")
        total, n = 0, 0
        while total < gb * 1e9:
            for packet in packets:
                packet.stream, packet.pts, packet.dts = video, n, n
                packet.time_base = base
                total += packet.size
                out.mux(packet)
                gps = av.Packet(b"GPS5" + n.to_bytes(4, "big"))
                gps.stream, gps.pts, gps.dts, gps.time_base = data, n, n, base
                out.mux(gps)
                n += 1
    scratch.rename(path)
    return path


def video_phase(gb: float, out: Path) -> float:
    # Made in a child process, and measured before the photo phase: a forked child's ru_maxrss starts at its
    # parent's resident size, so the parent must stay small.
    subprocess.run([sys.executable, __file__, "--make-video", str(gb)], check=True)
    path = Path(str(VIDEO_PATH).format(gb=gb))
    print(f"\nvideo: {path} ({path.stat().st_size / 1e9:.2f} GB)\n")
    print("| command | wall time (s) | peak RSS (MB) | goal |")
    print("|---|---|---|---|")
    wall, rss, status = peak([sys.executable, "-c", STRIP_VIDEO, str(path), str(out / "stripped.mp4")])
    goal = "ok (< 300 MB)" if rss < VIDEO_GOAL_BYTES else "OVER 300 MB"
    failed = " (failed)" if status else ""
    print(f"| {VIDEO_LABEL}{failed} | {wall:.1f} | {rss / 1e6:.0f} | {goal} |", flush=True)
    (out / "stripped.mp4").unlink(missing_ok=True)
    return rss if not status else float("inf")


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
    parser.add_argument("--video-gb", type=float, default=2.0, help="size of the video to strip, in GB")
    parser.add_argument("--make-video", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make_video:
        make_video(args.make_video)
        return 0
    width, height = (int(v) for v in args.size.lower().split("x"))
    over = False
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        folder = Path(tmp)
        out = folder / "out"
        out.mkdir()
        if not args.only or any(VIDEO_LABEL.startswith(o) for o in args.only):
            over |= video_phase(args.video_gb, out) >= VIDEO_GOAL_BYTES
            if args.only and all(VIDEO_LABEL.startswith(o) for o in args.only):
                return 1 if over else 0
        photo = make_photo(folder, (width, height))
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
