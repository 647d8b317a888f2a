"""serve(): run the service with uvicorn, logging method, path and status only."""

from __future__ import annotations

import logging
from ipaddress import ip_address

import uvicorn

from .app import create_app
from .settings import Settings

log = logging.getLogger("anonymizer.api")

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MAX_CONNECTIONS = 256
QUIET_LOGGERS = ("PIL", "pillow_heif", "mediapipe", "absl")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def config(settings: Settings) -> uvicorn.Config:
    """uvicorn's configuration: no access log of its own (ours omits bodies and queries), no proxy headers, and
    only its warnings: the address is printed once, by `anonymize serve`, not again as "Uvicorn running on"."""
    return uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        date_header=False,
        # A backstop against descriptor exhaustion only: admission control in the app bounds the work,
        # and uvicorn buffers at most 64 kB of an unread body per connection.
        limit_concurrency=MAX_CONNECTIONS,
        timeout_keep_alive=5,
        log_config=None,
        log_level="warning",
    )


def configure_logging() -> None:
    """INFO to stderr; image libraries held at WARNING (Pillow logs EXIF values, GPS included, at DEBUG)."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def serve(settings: Settings) -> None:
    """Run until interrupted. Binds settings.host:port; warns when that is not a loopback address. The address
    is the caller's to print (the CLI prints it once)."""
    configure_logging()
    if not _is_loopback(settings.host):
        log.warning(
            "binding %s: the service is reachable from other machines; only Host names %s are answered",
            settings.host,
            ", ".join(sorted(settings.hosts)),
        )
    uvicorn.Server(config(settings)).run()
