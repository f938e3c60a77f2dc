"""JSON answers of the API, errors included: ``{"error": {status, code, message, request_id}}``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

__all__ = ["ApiError", "error_response", "from_http_exception", "json_response"]

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}
# headers of aiohttp's own HTTP exceptions that mean something to the client (e.g. Allow on 405)
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


class ApiError(Exception):
    """An error answer; ``message`` is shown to the client, so it never holds input values."""

    def __init__(self, status: int, message: str, *, code: str | None = None,
                 headers: Mapping[str, str] | None = None,
                 close_connection: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "error")
        self.message = message
        self.headers = dict(headers or {})
        self.close_connection = close_connection  # e.g. a body not read to its end


def json_response(data: Any, *, status: int = 200,
                  headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status,
                        content_type="application/json", headers=headers)


def error_response(error: ApiError, request_id: str) -> web.Response:
    body = {"error": {"status": error.status, "code": error.code, "message": error.message,
                      "request_id": request_id}}
    response = json_response(body, status=error.status, headers=error.headers)
    if error.close_connection:
        response.force_close()
    return response


def from_http_exception(exc: web.HTTPException) -> ApiError:
    """aiohttp's own errors (no route, method not allowed, body too large) as an ApiError."""
    headers = {name: exc.headers[name] for name in _KEPT_HEADERS if name in exc.headers}
    return ApiError(exc.status, exc.reason, headers=headers)
