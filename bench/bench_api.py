"""Load test of the web service: 1-megapixel JPEGs through POST /v1/clean from a second process on loopback.

Starts `anonymizer.api.server.serve` in a child process on a free 127.0.0.1 port, waits for /healthz,
then runs phases of N concurrent clients (default 1, 4, 16), each bounded in time and in request count.
Reports throughput, latency percentiles, status counts and the server's resident memory (sampled from
/proc every 0.2 s), as a markdown table.

    .venv/bin/python bench/bench_api.py                       # 1, 4, 16 clients, 30 s each
    .venv/bin/python bench/bench_api.py --seconds 10 --clients 1,4 --max-requests 50
    .venv/bin/python bench/bench_api.py --report ...          # as the page asks: JSON with the output's report

Goal (issue 6, 2-core machine): >= 4 photos/s at 4 clients, p99 < 2 s, no 5xx but 503, memory flat.
"""

from __future__ import annotations

import argparse
import base64
import io
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
        for clients in (int(c) for c in args.clients.split(",")):
            phase = run_phase(url, ask, clients, args.seconds, args.max_requests, args.backoff)
            phase.rss = sampler.take()
            phases.append(phase)
        peak = rss_mb(server.pid)[1]
        sampler.stopped.set()
    finally:
        server.terminate()
        server.wait(10)
    print(f"server ready after {ready:.1f} s (models loaded); RSS idle {idle:.0f} MB, peak {peak:.0f} MB")
    print(
        f"photo: 1000x1000 JPEG, {len(photo) / 1e3:.0f} kB, one face; {os.cpu_count()} CPUs; "
        f"workers={args.workers or 'default'} queue={args.queue}; <= {args.seconds:.0f} s and "
        f"<= {args.max_requests} requests per phase; 503 backoff {args.backoff} s; "
        f"{'report=true (JSON)' if args.report else 'image answer'}\n"
    )
    print(table(phases))


if __name__ == "__main__":
    main()
