"""Request ids: the client's ``X-Request-ID`` when usable, else a new one."""

from __future__ import annotations

import re
import uuid

__all__ = ["MAX_REQUEST_ID_LENGTH", "request_id"]

MAX_REQUEST_ID_LENGTH = 64
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9._-]")


def request_id(header: str | None) -> str:
    """The header without characters outside ``[A-Za-z0-9._-]``, cut to 64 characters;
    a fresh random id when nothing is left."""
    if header:
        cleaned = _NOT_ALLOWED.sub("", header[: 4 * MAX_REQUEST_ID_LENGTH])[:MAX_REQUEST_ID_LENGTH]
        if cleaned:
            return cleaned
    return uuid.uuid4().hex
