"""The sidecar's own server limits, on a real listening socket: header and body read
timeouts (slowloris), the connection cap and the keep-alive limit."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import aiohttp

from stream_app.sidecar import ServerLimits

from .conftest import (
    BASE_CONFIG,
    KEY,
    KNOWN,
    PREFIX,
    FakeBackend,
    FakeClock,
    build_sidecar,
    running_sidecar,
)

FAST = ServerLimits(max_connections=3, keepalive_seconds=0.3, read_timeout_seconds=0.3)


@contextlib.asynccontextmanager
async def sidecar(limits: ServerLimits = FAST) -> AsyncIterator[tuple[int, object]]:
    config = replace(BASE_CONFIG, body_read_timeout=limits.read_timeout_seconds)
    side, metrics = build_sidecar(config, FakeBackend(), FakeClock(), limits=limits)
    async with running_sidecar(side):
        yield side.port, metrics


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Everything the server sends until it closes the connection (fails after ``seconds``)."""
    async with asyncio.timeout(seconds):
        return await reader.read()


def sample(metrics: object, name: str) -> float:
    value = metrics.registry.get_sample_value(name)  # type: ignore[attr-defined]
    return float(value or 0.0)


async def test_a_client_sending_its_headers_byte_by_byte_is_cut_off() -> None:
    async with sidecar() as (port, metrics):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        request = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100 + b"\r\n\r\n"
        started = time.monotonic()
        closed = False
        for byte in request:  # one byte every 20 ms: 2.6 s for the whole request
            try:
                writer.write(bytes([byte]))
                await writer.drain()
            except ConnectionError:
                closed = True
                break
            if reader.at_eof():
                closed = True
                break
            await asyncio.sleep(0.02)
            if time.monotonic() - started > 1.5:
                break
        if not closed:
            assert await closed_within(reader, 0.5) == b""
        assert time.monotonic() - started < 1.5
        writer.close()
        assert sample(metrics, "predelinq_sidecar_read_timeouts_total") == 1


async def test_a_connection_that_sends_nothing_is_closed() -> None:
    async with sidecar() as (port, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await closed_within(reader, 1.0) == b""
        writer.close()


async def test_a_body_trickled_slower_than_the_read_timeout_is_refused() -> None:
    async with sidecar() as (port, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"POST {PREFIX}/predict HTTP/1.1\r\nHost: x\r\nX-API-Key: {KEY}\r\n"
                     "Content-Type: application/json\r\nContent-Length: 40\r\n\r\n{".encode())
        await writer.drain()
        answer = await closed_within(reader, 1.5)
        assert answer.startswith(b"HTTP/1.1 408")
        assert b"request_timeout" in answer
        writer.close()


async def test_connections_over_the_cap_are_closed_at_once() -> None:
    async with sidecar(replace(FAST, read_timeout_seconds=5, keepalive_seconds=5)) as (
            port, metrics):
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
        await asyncio.sleep(0.05)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await closed_within(reader, 1.0) == b""
        writer.close()
        assert sample(metrics, "predelinq_sidecar_connections_refused_total") == 1
        held[0][1].close()  # a free slot serves again
        await asyncio.sleep(0.05)
        async with aiohttp.ClientSession() as session, \
                session.get(f"http://127.0.0.1:{port}/health") as reply:
            assert reply.status == 200
        for _, w in held[1:]:
            w.close()


async def test_idle_keep_alive_connections_are_closed_after_the_keepalive_limit() -> None:
    async with sidecar(replace(FAST, keepalive_seconds=0.2, read_timeout_seconds=2)) as (
            port, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        started = time.monotonic()
        answer = await closed_within(reader, 1.5)  # the answer, then the close
        assert answer.startswith(b"HTTP/1.1 200")
        assert 0.15 < time.monotonic() - started < 1.0
        writer.close()


async def test_normal_requests_and_keep_alive_reuse_work() -> None:
    async with sidecar() as (port, _), aiohttp.ClientSession() as session:
        for _ in range(3):
            async with session.post(f"http://127.0.0.1:{port}{PREFIX}/predict",
                                    json={"customer_id": KNOWN},
                                    headers={"X-API-Key": KEY}) as reply:
                assert reply.status == 200
