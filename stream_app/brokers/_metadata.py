"""Ask a broker for cluster metadata: the launchers' readiness probe."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import time

from aiokafka import AIOKafkaClient

from ._ports import wait_for_port

__all__ = ["answers_metadata", "wait_for_metadata"]


async def _probe(bootstrap_servers: str, timeout: float) -> bool:
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout * 1000)
    )
    try:
        await asyncio.wait_for(client.bootstrap(), timeout)
        metadata = await asyncio.wait_for(client.fetch_all_metadata(), timeout)
        return bool(metadata.brokers())
    except Exception:  # any failure simply means "not ready yet"
        return False
    finally:
        with contextlib.suppress(Exception):
            await client.close()


def answers_metadata(bootstrap_servers: str, timeout: float = 3.0) -> bool:
    """True when the broker at ``bootstrap_servers`` answers a metadata request.

    Runs its own event loop in a worker thread, so it is safe to call from sync code that is
    itself running under an event loop.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _probe(bootstrap_servers, timeout)).result()


def wait_for_metadata(bootstrap_servers: str, timeout: float) -> bool:
    """Wait until the first bootstrap server accepts TCP, then until it answers metadata."""
    deadline = time.monotonic() + timeout
    host, _, port = bootstrap_servers.split(",", maxsplit=1)[0].rpartition(":")
    if not wait_for_port(host, int(port), timeout):
        return False
    while time.monotonic() < deadline:
        remaining = deadline - time.monotonic()
        if answers_metadata(bootstrap_servers, timeout=min(3.0, max(0.5, remaining))):
            return True
        time.sleep(0.2)
    return False
