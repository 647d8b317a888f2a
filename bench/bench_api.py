"""Load test of the web service: 1-megapixel JPEGs through POST /v1/clean from a second process on loopback.

Starts `anonymizer.api.server.serve` in a child process on a free 127.0.0.1 port, waits for /healthz,
then runs phases of N concurrent clients (default 1, 4, 16), each bounded in time and in request count.
Reports throughput, latency percentiles, status counts and the server's resident memory (sampled from
/proc every 0.2 s), as a markdown table.

    .venv/bin/python bench/bench_api.py                       # 1, 4, 16 clients, 30 s each
    .venv/bin/python bench/bench_api.py --seconds 10 --clients 1,4 --max-requests 50
    .venv/bin/python bench/bench_api.py --report ...          # as the page asks: JSON with the output's report
    .venv/bin/python bench/bench_api.py --clients '' --video 10   # video phase only: a 10 s clip

Goal (issue 6, 2-core machine): >= 4 photos/s at 4 clients, p99 < 2 s, no 5xx but 503, memory flat.

Video phase (--video SECONDS, issue 16): a clip made here (the sample portrait walking across 640x360 frames at
25 fps, with sound) is cleaned once as a job (POST /v1/jobs, progress followed over /events, GET /result) and once
with `anonymize clean` on the same clip from a file; the CLI's start-up (imports and model load, measured on a
one-frame clip) is reported apart, so the difference is the service's overhead: upload, in-memory buffers,
download. The server's RSS is sampled during the job.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "anonymizer" / "data" / "sample.jpg"

SERVER = """
import sys
from anonymizer.api.server import serve
from anonymizer.api.settings import Settings
serve(Settings.from_env(port=int(sys.argv[1]), workers=int(sys.argv[2]) or None, queue=int(sys.argv[3])))
"""


def one_megapixel_jpeg() -> bytes:
    """The bundled portrait (one face) scaled to 1000x1000, as a JPEG at quality 90."""
    im = Image.open(SAMPLE).convert("RGB").resize((1000, 1000), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    im.save(out, "JPEG", quality=90)
    return out.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process, in MB, from /proc."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


class Sampler(threading.Thread):
    """Samples the server's RSS until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.stopped = pid, threading.Event()
        self.samples: list[float] = []

    def run(self) -> None:
        while not self.stopped.wait(0.2):
            try:
                self.samples.append(rss_mb(self.pid)[0])
            except OSError:
                return

    def take(self) -> list[float]:
        taken, self.samples = self.samples, []
        return taken


@dataclass
class Phase:
    clients: int
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    failures: int = 0
    seconds: float = 0.0
    rss: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, status: int, latency: float) -> None:
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status == 200:
                self.latencies.append(latency)


@dataclass(frozen=True)
class Ask:
    """What each client sends: the photo, and whether it asks for the JSON answer with the output's report."""

    photo: bytes
    report: bool

    def send(self, http: httpx.Client) -> httpx.Response:
        fields = {"report": "true"} if self.report else {}
        return http.post("/v1/clean", files={"photo": ("p.jpg", self.photo, "image/jpeg")}, data=fields)

    def right(self, r: httpx.Response) -> bool:
        """A 200 carries one obscured face in a JPEG (and, with report, a clean report of it)."""
        if not self.report:
            return r.headers.get("x-faces-obscured") == "1" and r.content.startswith(b"\xff\xd8")
        body = r.json()
        image = base64.b64decode(body["image"])
        return body["summary"]["faces_obscured"] == 1 and body["output_report"]["clean"] and image[:2] == b"\xff\xd8"


# ---------------------------------------------------------------- video phase


def walking_clip(seconds: float, size: tuple[int, int] = (640, 360), fps: int = 25) -> bytes:
    """The sample portrait walking across the frame, as H.264 with a silent AAC track (PyAV, in memory)."""
    import av
    import numpy as np

    width, height = size
    side = height * 2 // 3
    face = np.asarray(Image.open(SAMPLE).convert("RGB").resize((side, side)))
    frames = max(1, round(seconds * fps))
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound = out.add_stream("aac", rate=8000, layout="mono")
        for i in range(frames):
            canvas = np.full((height, width, 3), (60, 90, 80), np.uint8)
            x = int((width + side) * i / frames) - side
            x0, x1 = max(0, x), min(width, x + side)
            if x0 < x1:
                canvas[40 : 40 + side, x0:x1] = face[:, x0 - x : x1 - x]
            frame = av.VideoFrame.from_ndarray(canvas, format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        for start in range(0, int(frames / fps * 8000), 1024):
            block = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            block.sample_rate, block.pts = 8000, start
            out.mux(sound.encode(block))
        out.mux(sound.encode(None))
    return buf.getvalue()


@dataclass
class VideoRun:
    upload: float = 0.0
    clean: float = 0.0
    download: float = 0.0
    frames: int = 0
    rss: list[float] = field(default_factory=list)

    @property
    def total(self) -> float:
        return self.upload + self.clean + self.download


def run_job(url: str, clip: bytes, sampler: Sampler) -> VideoRun:
    """One job through the service, timed in its three parts."""
    run = VideoRun()
    sampler.take()
    with httpx.Client(base_url=url, timeout=600) as http:
        started = time.perf_counter()
        r = http.post("/v1/jobs", files={"video": ("v.mp4", clip, "video/mp4")})
        r.raise_for_status()
        job = r.json()
        run.upload = time.perf_counter() - started
        with http.stream("GET", job["urls"]["events"]) as events:
            for line in events.iter_lines():
                if line.startswith("data: ") and '"state": "running"' not in line:
                    state = json.loads(line.removeprefix("data: "))["state"]
                    if state in ("done", "failed", "cancelled"):
                        if state != "done":
                            raise SystemExit(f"the job ended {state}: {line}")
                        break
        run.clean = time.perf_counter() - started - run.upload
        result = http.get(job["urls"]["result"])
        result.raise_for_status()
        run.download = time.perf_counter() - started - run.upload - run.clean
        run.frames = int(result.headers["x-video-frames"])
    run.rss = sampler.take()
    return run


def run_cli(clip: bytes, folder: Path) -> float:
    """Wall time of `anonymize clean` on the clip, read from and written to files."""
    source, target = folder / "clip.mp4", folder / "clip-clean.mp4"
    source.write_bytes(clip)
    target.unlink(missing_ok=True)
    started = time.perf_counter()
    # written next to it as clip-clean.mp4 (the CLI's `-o x.mp4` refuses an .mp4 name at the time of writing)
    subprocess.run([str(Path(sys.executable).with_name("anonymize")), "clean", str(source)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=folder)
    elapsed = time.perf_counter() - started
    if not target.is_file():
        raise SystemExit("anonymize clean wrote no clip-clean.mp4")
    return elapsed


def video_phase(url: str, seconds: float, sampler: Sampler, idle: float) -> str:
    import tempfile

    clip = walking_clip(seconds)
    run = run_job(url, clip, sampler)
    with tempfile.TemporaryDirectory(prefix="bench_api_") as folder:
        startup = run_cli(walking_clip(0.04), Path(folder))  # one frame: imports and model load
        cli = run_cli(clip, Path(folder))
    rss = f"{min(run.rss):.0f}-{max(run.rss):.0f}" if run.rss else "n/a"
    return "\n".join([
        f"video: {seconds:g} s at 25 fps, 640x360, one face walking across, AAC sound; {len(clip) / 1e6:.1f} MB; "
        f"{run.frames} frames; server RSS before the job {idle:.0f} MB",
        "",
        "| | wall (s) | of which | frames/s |",
        "|---|---:|---|---:|",
        f"| service job | {run.total:.2f} | upload {run.upload:.2f}, clean {run.clean:.2f}, download "
        f"{run.download:.2f} | {run.frames / run.clean:.1f} |",
        f"| `anonymize clean` | {cli:.2f} | start-up (imports, model) {startup:.2f}, clean {cli - startup:.2f} "
        f"| {run.frames / max(1e-9, cli - startup):.1f} |",
        f"| service overhead | {run.total - (cli - startup):+.2f} | job total minus the CLI's clean | |",
        "",
        f"server RSS during the job: {rss} MB",
    ])


def client_loop(url: str, ask: Ask, phase: Phase, deadline: float, budget: list[int], backoff: float) -> None:
    with httpx.Client(base_url=url, timeout=60) as http:
        while time.monotonic() < deadline:
            with phase.lock:
                if budget[0] <= 0:
                    return
                budget[0] -= 1
            started = time.perf_counter()
            try:
                r = ask.send(http)
            except httpx.HTTPError:
                with phase.lock:
                    phase.failures += 1
                continue
            status = r.status_code
            if status == 200 and not ask.right(r):
                status = 0  # wrong result: counted under "other"
            phase.record(status, time.perf_counter() - started)
            if r.status_code == 503:
                time.sleep(backoff)


def run_phase(url: str, ask: Ask, clients: int, seconds: float, max_requests: int, backoff: float) -> Phase:
    phase = Phase(clients)
    budget = [max_requests]
    deadline = time.monotonic() + seconds
    threads = [
        threading.Thread(target=client_loop, args=(url, ask, phase, deadline, budget, backoff))
        for _ in range(clients)
    ]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    phase.seconds = time.perf_counter() - started
    return phase


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]


def start_server(port: int, workers: int, queue: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-c", SERVER, str(port), str(workers), str(queue)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


def wait_ready(url: str, server: subprocess.Popen[bytes], timeout: float = 60) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if server.poll() is not None:
            raise SystemExit(f"server exited with {server.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("server did not become ready")


def table(phases: list[Phase]) -> str:
    rows = [
        "| clients | requests | 200 | 503 | other | throughput (photos/s) | p50 (ms) | p95 (ms) | p99 (ms) "
        "| RSS min-max (MB) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in phases:
        ok, busy = p.statuses.get(200, 0), p.statuses.get(503, 0)
        other = sum(p.statuses.values()) - ok - busy + p.failures
        ms = [1000 * v for v in p.latencies]
        rss = f"{min(p.rss):.0f}-{max(p.rss):.0f}" if p.rss else "n/a"
        rows.append(
            f"| {p.clients} | {sum(p.statuses.values()) + p.failures} | {ok} | {busy} | {other} "
            f"| {ok / p.seconds:.2f} | {percentile(ms, 50):.0f} | {percentile(ms, 95):.0f} "
            f"| {percentile(ms, 99):.0f} | {rss} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", default="1,4,16", help="concurrency levels, comma-separated")
    parser.add_argument("--seconds", type=float, default=30.0, help="time limit per phase")
    parser.add_argument("--max-requests", type=int, default=1000, help="request limit per phase")
    parser.add_argument("--workers", type=int, default=0, help="server workers (0: the default)")
    parser.add_argument("--queue", type=int, default=4, help="server queue beyond busy workers")
    parser.add_argument("--backoff", type=float, default=0.2, help="seconds a client waits after a 503")
    parser.add_argument("--report", action="store_true", help="ask report=true (JSON with the output's report)")
    parser.add_argument("--video", type=float, default=0.0, help="also run the video phase on a clip this long (s)")
    args = parser.parse_args()

    photo = one_megapixel_jpeg()
    ask = Ask(photo, args.report)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench_api_server_{port}.log"
    server = start_server(port, args.workers, args.queue, log)
    try:
        ready = wait_ready(url, server)
        sampler = Sampler(server.pid)
        sampler.start()
        idle = rss_mb(server.pid)[0]
        phases = []
        for clients in (int(c) for c in args.clients.split(",") if c.strip()):
            phase = run_phase(url, ask, clients, args.seconds, args.max_requests, args.backoff)
            phase.rss = sampler.take()
            phases.append(phase)
        video = video_phase(url, args.video, sampler, rss_mb(server.pid)[0]) if args.video else ""
        peak = rss_mb(server.pid)[1]
        sampler.stopped.set()
    finally:
        server.terminate()
        server.wait(10)
    print(f"server ready after {ready:.1f} s (models loaded); RSS idle {idle:.0f} MB, peak {peak:.0f} MB")
    print(
        "" if not phases else
        f"photo: 1000x1000 JPEG, {len(photo) / 1e3:.0f} kB, one face; {os.cpu_count()} CPUs; "
        f"workers={args.workers or 'default'} queue={args.queue}; <= {args.seconds:.0f} s and "
        f"<= {args.max_requests} requests per phase; 503 backoff {args.backoff} s; "
        f"{'report=true (JSON)' if args.report else 'image answer'}\n"
    )
    if phases:
        print(table(phases))
    if video:
        print("\n" + video)


if __name__ == "__main__":
    main()
