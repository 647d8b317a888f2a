"""Settings of the web service: from arguments, environment variables, or both.

Every field has a safe default: loopback only, no cross-origin access, bounded sizes and workers.
Environment variables (lists are comma-separated):

    ANONYMIZER_HOST, ANONYMIZER_PORT, ANONYMIZER_WORKERS, ANONYMIZER_QUEUE,
    ANONYMIZER_ALLOWED_ORIGINS, ANONYMIZER_ALLOWED_HOSTS, ANONYMIZER_MAX_BYTES, ANONYMIZER_MAX_PIXELS,
    ANONYMIZER_READ_TIMEOUT, ANONYMIZER_MAX_VIDEO_BYTES, ANONYMIZER_JOBS, ANONYMIZER_JOB_WORKERS,
    ANONYMIZER_JOB_TTL, ANONYMIZER_JOB_IDLE
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any
from urllib.parse import urlsplit

from anonymizer import Limits, OptionsError

ENV_PREFIX = "ANONYMIZER_"

#: Host names every instance answers to; anything else is refused (DNS rebinding defence).
LOOPBACK_HOSTS: tuple[str, ...] = ("localhost", "127.0.0.1", "[::1]")


def _default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def _names(value: str | Iterable[str]) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    return tuple(item.strip() for item in items if item.strip())


def _origin(value: str) -> str:
    parts = urlsplit(value)
    if value == "*" or parts.scheme not in ("http", "https") or not parts.netloc:
        raise OptionsError(f"allowed origin {value!r} must look like http://host:port (no wildcard)")
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        raise OptionsError(f"allowed origin {value!r} must be scheme://host[:port] only")
    return f"{parts.scheme}://{parts.netloc.lower()}"


@dataclass(frozen=True)
class Settings:
    """How the service runs. Sizes are per request; `queue` requests may wait beyond `workers` busy ones.

    Video jobs: at most `jobs` are held in memory at once (waiting, running, or finished and not yet downloaded),
    `job_workers` of them run at a time; each holds its upload (up to `max_video_bytes`) and its result. A finished
    job is dropped once downloaded or `job_ttl` seconds after it finished; a waiting or running job nobody has
    asked about (status, events or result) for `job_idle` seconds is cancelled and dropped: its client is gone.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = field(default_factory=_default_workers)
    allowed_origins: tuple[str, ...] = ()
    max_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 50_000_000
    allowed_hosts: tuple[str, ...] = ()
    queue: int = 4
    detector: str = "default"
    read_timeout: float = 60.0  # seconds for a request body to arrive; then 408 and the worker slot is freed
    max_video_bytes: int = 500 * 1024 * 1024
    jobs: int = 4
    job_workers: int = 1
    job_ttl: float = 600.0
    job_idle: float = 120.0

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalise in place once
        set_(self, "allowed_origins", tuple(_origin(o) for o in _names(self.allowed_origins)))
        set_(self, "allowed_hosts", tuple(h.lower() for h in _names(self.allowed_hosts)))
        if not 0 <= self.port <= 65535:
            raise OptionsError(f"port must be between 0 and 65535, not {self.port}")
        if not 1 <= self.workers <= 64:
            raise OptionsError(f"workers must be between 1 and 64, not {self.workers}")
        if not 0 <= self.queue <= 1024:
            raise OptionsError(f"queue must be between 0 and 1024, not {self.queue}")
        if not 0 < self.read_timeout <= 3600:
            raise OptionsError(f"read timeout must be between 0 and 3600 seconds, not {self.read_timeout}")
        Limits(max_bytes=self.max_bytes, max_pixels=self.max_pixels)  # raises OptionsError when not positive
        self._check_jobs()

    def _check_jobs(self) -> None:
        if not 1 <= self.jobs <= 1024:
            raise OptionsError(f"jobs must be between 1 and 1024, not {self.jobs}")
        if not 1 <= self.job_workers <= 64:
            raise OptionsError(f"job workers must be between 1 and 64, not {self.job_workers}")
        if not 0 < self.job_ttl <= 86400 or not 0 < self.job_idle <= 86400:
            raise OptionsError("job_ttl and job_idle must be between 0 and 86400 seconds")
        if self.max_video_bytes <= 0:
            raise OptionsError(f"max_video_bytes must be positive, not {self.max_video_bytes}")

    @property
    def limits(self) -> Limits:
        return Limits(max_bytes=self.max_bytes, max_pixels=self.max_pixels)

    @property
    def video_limits(self) -> Limits:
        return Limits(max_bytes=self.max_video_bytes, max_pixels=self.max_pixels)

    @property
    def hosts(self) -> frozenset[str]:
        """Host header values (without port) that are served."""
        return frozenset((*LOOPBACK_HOSTS, *self.allowed_hosts))

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        if host in ("0.0.0.0", "[::]"):
            host = "127.0.0.1"
        return f"http://{host}:{self.port}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then ANONYMIZER_* variables, then `overrides`; overrides that are None or an empty
        list (a command-line flag not given) leave the environment's value in place."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw.strip():
                values[f.name] = _from_text(f.name, raw)
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise OptionsError(f"unknown settings: {', '.join(sorted(unknown))}")
        values.update({k: v for k, v in overrides.items() if v is not None and v != () and v != []})
        return replace(cls(), **values)


_PARSERS: dict[str, Callable[[str], Any]] = {
    "port": int,
    "workers": int,
    "queue": int,
    "max_bytes": int,
    "max_pixels": int,
    "read_timeout": float,
    "max_video_bytes": int,
    "jobs": int,
    "job_workers": int,
    "job_ttl": float,
    "job_idle": float,
    "allowed_origins": _names,
    "allowed_hosts": _names,
}


def _from_text(name: str, raw: str) -> Any:
    parse = _PARSERS.get(name, str.strip)
    try:
        return parse(raw)
    except ValueError as exc:
        raise OptionsError(f"{ENV_PREFIX}{name.upper()}={raw!r} is not valid: {exc}") from exc
