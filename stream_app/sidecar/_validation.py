"""Checks of the API's inputs; messages name the field, never echo its value."""

from __future__ import annotations

import json
import re
from typing import Any

from ._responses import ApiError

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_BODY_BYTES",
    "MAX_CUSTOMER_ID_LENGTH",
    "MAX_LIMIT",
    "check_content_type",
    "check_customer_id",
    "parse_limit",
    "parse_predict_body",
]

MAX_CUSTOMER_ID_LENGTH = 128  # as the event contract (stream_app.serializers) accepts
MAX_BODY_BYTES = 16 * 1024
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_INTEGER = re.compile(r"[+-]?[0-9]{1,12}")
_ID_RULE = f"customer_id must be a string of 1 to {MAX_CUSTOMER_ID_LENGTH} characters"


def check_customer_id(value: object) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_CUSTOMER_ID_LENGTH:
        raise ApiError(422, _ID_RULE)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates (from JSON escapes) are not text
        raise ApiError(422, "customer_id must be valid Unicode text") from None
    return value


def check_content_type(content_type: str) -> None:
    """JSON bodies only (also ``application/*+json``); the charset parameter may follow."""
    media = content_type.lower()
    if not (media == "application/json"
            or (media.startswith("application/") and media.endswith("+json"))):
        raise ApiError(415, "the request body must be JSON (Content-Type: application/json)")


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_predict_body(body: bytes) -> str:
    """The ``customer_id`` of a ``POST /predict`` body: 400 unless JSON, 422 unless the right
    shape."""
    if len(body) > MAX_BODY_BYTES:
        raise ApiError(413, f"the request body must not exceed {MAX_BODY_BYTES} bytes")
    try:
        document = json.loads(body.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiError(400, "the request body is not valid JSON", code="malformed_json") from None
    if not isinstance(document, dict):
        raise ApiError(422, "the request body must be a JSON object")
    if "customer_id" not in document:
        raise ApiError(422, "customer_id is required")
    return check_customer_id(document["customer_id"])


def parse_limit(values: list[str]) -> int:
    """``?limit=``: an integer from 1 to 100, 20 when absent."""
    if not values:
        return DEFAULT_LIMIT
    rule = f"limit must be an integer from 1 to {MAX_LIMIT}"
    if len(values) > 1 or not _INTEGER.fullmatch(values[0]):
        raise ApiError(422, rule)
    limit = int(values[0])
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(422, rule)
    return limit
