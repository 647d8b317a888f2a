"""multipart/form-data read in memory, with byte caps enforced while the body streams in.

Starlette's own form parsing spools files over 1 MB to a temporary file; photos must never touch the disk,
so the body is fed chunk by chunk into python-multipart's streaming parser and each part is kept in memory.
A body over its cap is refused with 413 as soon as the cap is passed (or at once, from Content-Length),
never after it has all been read. The file name a client sends is ignored: never read, kept or logged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

from fastapi import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from anonymizer import TooLargeError

from .errors import ClientGoneError, MediaTypeError, RequestError, RequestTimeoutError

FIELD_LIMIT = 4 * 1024  # a text field unless its endpoint gives it a larger limit
BODY_OVERHEAD = 64 * 1024  # boundaries and part headers


@dataclass(frozen=True)
class FormSpec:
    """What one endpoint accepts: binary parts and text fields, each with its byte limit."""

    files: Mapping[str, int]
    fields: Mapping[str, int] = field(default_factory=dict)
    required: frozenset[str] = frozenset({"photo"})
    one_file: bool = False  # the binary parts are alternatives (photo or video): the body holds the largest only

    @property
    def body_limit(self) -> int:
        files = max(self.files.values(), default=0) if self.one_file else sum(self.files.values())
        return files + sum(self.fields.values()) + BODY_OVERHEAD

    def limit(self, name: str) -> int:
        if name in self.files:
            return self.files[name]
        if name in self.fields:
            return self.fields[name]
        raise RequestError(f"unknown form field {name[:40]!r}")


@dataclass
class Form:
    """The parts of one request, by field name."""

    files: dict[str, bytes] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)


class _Collector:
    """Callbacks for MultipartParser: keeps each part in memory, within its limit."""

    def __init__(self, spec: FormSpec) -> None:
        self.spec = spec
        self.parts: dict[str, bytearray] = {}
        self.current: bytearray | None = None
        self.limit = 0
        self.header_name = bytearray()
        self.header_value = bytearray()
        self.disposition = b""
        self.ended = False

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": lambda d, s, e: self.header_name.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self.header_value.extend(d[s:e]),
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_end": self.on_end,
        }

    def on_part_begin(self) -> None:
        self.disposition = b""
        self.current = None

    def on_header_end(self) -> None:
        if bytes(self.header_name).strip().lower() == b"content-disposition":
            self.disposition = bytes(self.header_value)
        self.header_name.clear()
        self.header_value.clear()

    def on_headers_finished(self) -> None:
        kind, params = parse_options_header(self.disposition)
        name = params.get(b"name", b"").decode("utf-8", "replace")
        if kind != b"form-data" or not name:
            raise RequestError("each form part needs a Content-Disposition: form-data header with a name")
        if name in self.parts:
            raise RequestError(f"form field {name[:40]!r} given twice")
        self.limit = self.spec.limit(name)
        self.current = self.parts[name] = bytearray()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.current is None:
            raise RequestError("malformed multipart body")
        if len(self.current) + (end - start) > self.limit:
            raise TooLargeError(f"a form part is larger than its limit of {_size(self.limit)}")
        self.current.extend(data[start:end])

    def on_end(self) -> None:
        self.ended = True


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def _boundary(request: Request) -> bytes:
    kind, params = parse_options_header(request.headers.get("content-type", ""))
    if kind != b"multipart/form-data" or not params.get(b"boundary"):
        raise MediaTypeError("send the photo as multipart/form-data, in a part named 'photo'")
    return params[b"boundary"]


def _check_declared_length(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLargeError(f"request is {_size(int(declared))}; the limit is {_size(limit)}")


async def read_form(request: Request, spec: FormSpec, timeout: float) -> Form:
    """The request's form parts, read in memory; 413 as soon as the body passes its limit, 408 when it has
    not all arrived within `timeout` seconds (a client trickling bytes would otherwise hold its worker slot)."""
    boundary = _boundary(request)
    limit = spec.body_limit
    _check_declared_length(request, limit)
    collector = _Collector(spec)
    try:
        parser = MultipartParser(boundary, collector.callbacks())  # type: ignore[arg-type]
    except FormParserError as exc:
        raise RequestError("malformed multipart boundary") from exc
    try:
        async with asyncio.timeout(timeout):
            await _feed(request, parser, limit)
    except TimeoutError as exc:
        raise RequestTimeoutError(f"the request did not arrive within {timeout:g} seconds") from exc
    except ClientDisconnect as exc:
        raise ClientGoneError("the client disconnected before its request arrived") from exc
    return _finish(collector, spec)


async def _feed(request: Request, parser: MultipartParser, limit: int) -> None:
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise TooLargeError(f"request is larger than the limit of {_size(limit)}")
        try:
            parser.write(chunk)
        except FormParserError as exc:
            raise RequestError("malformed multipart body") from exc


def _finish(collector: _Collector, spec: FormSpec) -> Form:
    if not collector.ended:
        raise RequestError("incomplete multipart body")
    missing = sorted(spec.required - collector.parts.keys())
    if missing:
        raise RequestError(f"missing form field {missing[0]!r}")
    form = Form()
    for name, data in collector.parts.items():
        if name in spec.files:
            form.files[name] = bytes(data)
            continue
        try:
            form.fields[name] = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RequestError(f"form field {name!r} is not UTF-8 text") from exc
    collector.parts.clear()
    return form
