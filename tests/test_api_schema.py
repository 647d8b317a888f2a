"""Property-based tests of the service against its own OpenAPI schema (schemathesis): no 500, ever.

A live server on loopback with a fake detector (detection is not the point); schemathesis's command line
generates a bounded, seeded set of requests for every operation (the same cases on every run) and fails on any
server error. A longer run: `schemathesis run http://127.0.0.1:8000/openapi.json --checks all --max-time 600`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from anonymizer import Box
from tests import helpers
from tests.live_server import running_service


class FakeDetector(helpers.FakeDetector):
    def __init__(self) -> None:
        super().__init__(Box(1, 1, 4, 4))


def schemathesis_command() -> str:
    beside = Path(sys.executable).with_name("schemathesis")
    return str(beside) if beside.exists() else shutil.which("schemathesis") or "schemathesis"


def test_no_server_error_for_any_schema_valid_request(tmp_path: Path) -> None:
    with running_service(detector=FakeDetector, workers=2, queue=32) as base:
        run = subprocess.run(
            [schemathesis_command(), "run", f"{base}/openapi.json", "--checks", "not_a_server_error",
             "--max-examples", "10", "--seed", "1", "--max-time", "60", "--workers", "1", "--no-color",
             "--generation-database", "none"],
            capture_output=True, text=True, timeout=300, cwd=tmp_path,
        )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    summary = run.stdout.strip().splitlines()[-5:]
    assert any(" passed" in line for line in summary) and not any(" failed" in line for line in summary), summary
