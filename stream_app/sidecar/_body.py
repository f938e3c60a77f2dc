"""Request bodies read from the stream with a size limit and a deadline.

``Content-Length`` is checked first, but the limit holds on the bytes actually received too: a
chunked (or lying) body over the limit is refused with 413 as soon as the limit is passed,
without reading the rest, and the connection is closed. A body not received within the
deadline is refused with 408 (slow senders do not hold a handler forever).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from ._responses import ApiError

__all__ = ["BODY_KEY", "read_body"]

BODY_KEY = web.RequestKey("predelinq_body", bytes)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, f"the request body must not exceed {limit} bytes",
                    close_connection=True)


async def read_body(request: web.Request, *, limit: int, timeout: float) -> bytes:
    """The whole body (at most ``limit`` bytes), read once per request."""
    cached: bytes | None = request.get(BODY_KEY)
    if cached is not None:
        return cached
    if (request.content_length or 0) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            while chunk := await request.content.readany():
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                chunks.append(chunk)
    except TimeoutError:
        raise ApiError(408, "the request body was not received in time",
                       close_connection=True) from None
    body = b"".join(chunks)
    request[BODY_KEY] = body
    return body
