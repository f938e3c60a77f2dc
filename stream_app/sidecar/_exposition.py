"""The Prometheus exposition of ``/metrics``, generated off the event loop.

``generate_latest`` walks every collector of the registry (the worker's has per-partition
families): it runs in a thread executor so the event loop (Kafka heartbeats, the API) never
waits on it, and one collection serves every scrape that arrives while it runs or within
``max_age`` seconds after (a burst of scrapes does one collection).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, generate_latest

__all__ = ["MetricsExposition"]


class MetricsExposition:
    def __init__(self, registry: CollectorRegistry, *, refresh: Callable[[], None],
                 max_age: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._registry = registry
        self._refresh = refresh  # on the loop: reads the worker's state into gauges
        self._max_age = max_age
        self._clock = clock
        self._body: bytes | None = None
        self._generated_at = 0.0
        self._pending: asyncio.Future[bytes] | None = None

    async def body(self) -> bytes:
        if self._body is not None and self._clock() - self._generated_at < self._max_age:
            return self._body
        if self._pending is None:  # the first scrape starts the collection, others join it
            self._pending = asyncio.ensure_future(self._collect())
        pending = self._pending
        try:
            return await asyncio.shield(pending)
        finally:
            if pending.done() and self._pending is pending:
                self._pending = None

    async def _collect(self) -> bytes:
        self._refresh()
        body = await asyncio.get_running_loop().run_in_executor(
            None, generate_latest, self._registry)
        self._body, self._generated_at = body, self._clock()
        return body
