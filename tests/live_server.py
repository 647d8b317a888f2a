"""The real service on a free 127.0.0.1 port, in a thread: for browser, schema and fault tests."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

from anonymizer.api.app import create_app
from anonymizer.api.settings import Settings


def wait_ready(base: str, thread: threading.Thread, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and thread.is_alive():
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"the service did not become ready (model loaded) within {seconds:.0f} s")


@contextlib.contextmanager
def running_service(detector: Callable[[], Any] | None = None, **settings: Any) -> Iterator[str]:
    """Start the service (bundled face model unless `detector` is given); yield its base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(Settings(host="127.0.0.1", port=port, **settings), detector=detector)
    config = uvicorn.Config(app, log_config=None, access_log=False, server_header=False, date_header=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, thread)
        yield base
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
