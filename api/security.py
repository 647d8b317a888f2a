"""Request guards and response hardening, as one plain ASGI middleware.

- Host: only loopback names (and configured ones) are served, so a web page that rebinds its own domain
  to 127.0.0.1 (DNS rebinding) gets 421 instead of the API.
- Origin: a browser request carrying an Origin that is neither this service's own address nor a configured
  origin is refused with 403 before its body is read (CORS alone only hides the answer, not the work).
- Every response: no caching, no sniffing, no framing, no referrer, no cookies, a strict CSP.
- Access log: method, path and status only; never the body, the query string or a file name; a job's id
  (the only key to its result) is logged as {id}.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_response
from .settings import Settings

access_log = logging.getLogger("anonymizer.api.access")

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; media-src blob:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; worker-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)

#: path prefix -> Content-Security-Policy; the longest matching prefix wins, API_CSP otherwise.
CSP_BY_PREFIX: dict[str, str] = {"/docs": DOCS_CSP, "/static/": PAGE_CSP}
PAGE_PATHS = frozenset({"/", "/index.html"})

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)
DROPPED_HEADERS = frozenset({b"set-cookie", b"server", b"cache-control", b"content-security-policy"})


JOB_PATH = re.compile(r"^(/v1/jobs/)[^/]+")


def logged_path(path: str) -> str:
    """The path as the access log shows it: job ids replaced by {id}."""
    return JOB_PATH.sub(r"\1{id}", path)


def host_name(host_header: str) -> str:
    """The host of a Host header without its port, lower case; IPv6 literals keep their brackets."""
    value = host_header.strip().lower()
    if value.startswith("["):
        return value[: value.find("]") + 1] if "]" in value else ""
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def csp_for(path: str) -> str:
    if path in PAGE_PATHS:
        return PAGE_CSP
    matches = [prefix for prefix in CSP_BY_PREFIX if path.startswith(prefix)]
    return CSP_BY_PREFIX[max(matches, key=len)] if matches else API_CSP


class Guard:
    """Checks Host and Origin, hardens the response headers and writes the access log."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.hosts = settings.hosts
        self.origins = frozenset(settings.allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [0]
        refusal = self._refusal(Headers(scope=scope))
        send_hardened = self._hardened(send, csp_for(scope["path"]), status)
        try:
            if refusal is not None:
                await refusal(scope, receive, send_hardened)
            else:
                await self.app(scope, receive, send_hardened)
        finally:
            millis = (time.perf_counter() - started) * 1000
            access_log.info("%s %s %d %.0fms", scope["method"], logged_path(scope["path"]), status[0], millis)

    def _refusal(self, headers: Headers) -> ASGIApp | None:
        host = headers.get("host", "")
        if host_name(host) not in self.hosts:
            return error_response(421, "host_not_allowed", "this service only answers to localhost")
        origin = headers.get("origin")
        if origin is not None and not self._origin_allowed(origin.lower(), host.lower()):
            return error_response(403, "origin_not_allowed", "requests from other web sites are refused")
        return None

    def _origin_allowed(self, origin: str, host: str) -> bool:
        return origin in self.origins or origin in (f"http://{host}", f"https://{host}")

    @staticmethod
    def _hardened(send: Send, csp: str, status: list[int]) -> Send:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                kept: Iterable[tuple[bytes, bytes]] = (
                    (k, v) for k, v in message.get("headers", []) if k.lower() not in DROPPED_HEADERS
                )
                message["headers"] = [
                    *kept,
                    *SECURITY_HEADERS,
                    (b"content-security-policy", csp.encode("latin-1")),
                ]
            await send(message)

        return send_with_headers
