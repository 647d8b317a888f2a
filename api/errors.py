"""Errors as HTTP responses, one stable shape: {"error": {"code": "...", "message": "..."}}.

The library's error tree maps to status codes through one table; the service adds a few errors of its
own (bad request, host or origin refused, not ready). Messages never carry image bytes or file names.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from anonymizer import (
    AnonymizerError,
    BusyError,
    CancelledError,
    CorruptImageError,
    InputError,
    InternalError,
    ModelError,
    OptionsError,
    TooLargeError,
    UnsupportedFormatError,
    VerificationError,
)

log = logging.getLogger("anonymizer.api")

RETRY_AFTER_SECONDS = 2


class RequestError(AnonymizerError):
    """The HTTP request itself is malformed: not multipart, a missing or unknown field."""


class RequestTimeoutError(RequestError):
    """The request body did not arrive in time (a stalled or slow-loris client)."""


class ClientGoneError(RequestError):
    """The client went away before its request arrived: nobody to answer, nothing to log as a failure."""


class MediaTypeError(AnonymizerError):
    """The request body is not multipart/form-data."""


class NotReadyError(BusyError):
    """The models have not finished loading yet."""


class JobNotFoundError(AnonymizerError):
    """No such job: never created, already downloaded, discarded, cancelled or expired."""


class JobNotFinishedError(AnonymizerError):
    """The job's result was asked for while it is still waiting or running."""


#: exception class -> (HTTP status, stable code). Looked up along the class's MRO, most specific first.
STATUS: dict[type[BaseException], tuple[int, str]] = {
    RequestTimeoutError: (408, "request_timeout"),
    ClientGoneError: (400, "client_disconnected"),
    RequestError: (400, "invalid_request"),
    OptionsError: (400, "invalid_options"),
    TooLargeError: (413, "too_large"),
    MediaTypeError: (415, "unsupported_media_type"),
    UnsupportedFormatError: (415, "unsupported_format"),
    CorruptImageError: (422, "corrupt_image"),
    InputError: (422, "invalid_image"),
    ModelError: (500, "model_error"),
    VerificationError: (500, "verification_failed"),
    JobNotFoundError: (404, "job_not_found"),
    JobNotFinishedError: (409, "job_not_finished"),
    CancelledError: (410, "cancelled"),
    InternalError: (500, "internal_error"),
    NotReadyError: (503, "not_ready"),
    BusyError: (503, "busy"),
    AnonymizerError: (500, "internal_error"),
}

#: plain HTTP statuses raised by the framework (404, 405 ...) -> stable code
HTTP_CODES: dict[int, str] = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    if status == 503:
        headers = {**(headers or {}), "Retry-After": str(RETRY_AFTER_SECONDS)}
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


def status_of(exc: BaseException) -> tuple[int, str]:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500, "internal_error"


def _one_line(text: str) -> str:
    line = text.splitlines()[0] if text else ""
    return line[:300]


async def _library_error(request: Request, exc: Exception) -> JSONResponse:
    status, code = status_of(exc)
    if status >= 500 and status != 503:
        log.error("%s %s failed: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
    return error_response(status, code, _one_line(str(exc)) or code.replace("_", " "))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    where = ", ".join(".".join(str(p) for p in e.get("loc", ())) for e in errors[:3])
    return error_response(400, "invalid_request", f"invalid request ({where or 'malformed'})")


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):
        return error_response(500, "internal_error", "internal error")
    code = HTTP_CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, _one_line(str(exc.detail)), dict(exc.headers or {}))


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("%s %s failed unexpectedly", request.method, request.url.path)
    return error_response(500, "internal_error", "internal error; the photo was not kept")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AnonymizerError, _library_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
