"""Ask a broker for cluster metadata: the launchers' readiness probe."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import time
from collections.abc import Iterable

from aiokafka import AIOKafkaClient

from ._ports import wait_for_port

__all__ = ["alive_broker_ids", "answers_metadata", "wait_for_brokers", "wait_for_metadata"]


async def _probe(bootstrap_servers: str, timeout: float) -> frozenset[int] | None:
    """The ids of the brokers the metadata lists, or None when no answer came."""
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout * 1000)
    )
    try:
        await asyncio.wait_for(client.bootstrap(), timeout)
        metadata = await asyncio.wait_for(client.fetch_all_metadata(), timeout)
        return frozenset(broker.nodeId for broker in metadata.brokers())
    except Exception:  # any failure simply means "not ready yet"
        return None
    finally:
        with contextlib.suppress(Exception):
            await client.close()


def alive_broker_ids(bootstrap_servers: str, timeout: float = 3.0) -> frozenset[int] | None:
    """Node ids of the (unfenced) brokers in the metadata of ``bootstrap_servers``, or None
    when none of them answered.

    Runs its own event loop in a worker thread, so it is safe to call from sync code that is
    itself running under an event loop.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _probe(bootstrap_servers, timeout)).result()


def answers_metadata(bootstrap_servers: str, timeout: float = 3.0) -> bool:
    """True when the broker at ``bootstrap_servers`` answers a metadata request listing at
    least one broker."""
    return bool(alive_broker_ids(bootstrap_servers, timeout))


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


def wait_for_brokers(bootstrap_servers: str, node_ids: Iterable[int], timeout: float) -> bool:
    """Wait until the metadata (from any of the bootstrap servers) lists every one of
    ``node_ids`` as an alive broker; False after ``timeout`` seconds."""
    wanted = frozenset(node_ids)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        remaining = deadline - time.monotonic()
        alive = alive_broker_ids(bootstrap_servers, timeout=min(3.0, max(0.5, remaining)))
        if alive is not None and wanted <= alive:
            return True
        time.sleep(0.2)
    return False
