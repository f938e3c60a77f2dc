"""/metrics: the API key unless METRICS_PUBLIC_INFO=true, rate limited, collected off the event
loop, one collection for a burst of scrapes."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from stream_app.observability import WorkerMetrics

from .conftest import (
    BASE_CONFIG,
    KEY,
    FakeBackend,
    FakeClock,
    StartApi,
    build_sidecar,
    running_sidecar,
)


async def test_metrics_need_the_key_by_default(start_api: StartApi) -> None:
    h = await start_api()
    response = await h.client.get("/metrics")
    assert response.status == 401
    assert "METRICS_PUBLIC_INFO" in (await response.json())["error"]["message"]
    assert (await h.client.get("/metrics", headers={"X-API-Key": "wrong"})).status == 401
    assert (await h.client.get("/metrics", headers=h.auth)).status == 200
    # as Prometheus' scrape config sends it (authorization: credentials_file)
    bearer = await h.client.get("/metrics", headers={"Authorization": f"Bearer {KEY}"})
    assert bearer.status == 200
    assert "predelinq_" in await bearer.text()


async def test_metrics_public_info_serves_them_without_a_key(start_api: StartApi) -> None:
    h = await start_api(metrics_public_info=True)
    assert (await h.client.get("/metrics")).status == 200


async def test_in_development_metrics_are_open_like_the_api(start_api: StartApi) -> None:
    h = await start_api(require_key=False, api_key=None)
    assert (await h.client.get("/metrics")).status == 200


async def test_metrics_are_rate_limited(start_api: StartApi) -> None:
    h = await start_api(rate_limit_max=2, metrics_public_info=True)
    assert [(await h.client.get("/metrics")).status for _ in range(3)] == [200, 200, 429]
    h.clock.advance(60)
    assert (await h.client.get("/metrics")).status == 200


class SlowCollector(Collector):
    """A collector that blocks its thread, as a large registry does."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.collections = 0
        self.threads: set[int] = set()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        self.collections += 1
        self.threads.add(threading.get_ident())
        time.sleep(self.seconds)
        yield GaugeMetricFamily("predelinq_slow", "A slow collector.", value=1.0)


@pytest.fixture
async def slow_sidecar() -> AsyncIterator[tuple[str, SlowCollector, FakeClock]]:
    metrics = WorkerMetrics()
    slow = SlowCollector(0.0)
    metrics.registry.register(slow)  # collects once (here) to learn the names
    slow.seconds, slow.collections, slow.threads = 0.4, 0, set()
    clock = FakeClock()
    sidecar, _ = build_sidecar(replace(BASE_CONFIG, metrics_public_info=True), FakeBackend(),
                               clock, metrics=metrics, metrics_max_age=5.0)
    async with running_sidecar(sidecar) as url:
        yield url, slow, clock


async def test_collection_never_blocks_the_event_loop(
        slow_sidecar: tuple[str, SlowCollector, FakeClock]) -> None:
    url, slow, _ = slow_sidecar
    async with aiohttp.ClientSession() as session:
        scrape = asyncio.ensure_future(session.get(f"{url}/metrics"))
        await asyncio.sleep(0.05)  # the collection is running in its thread
        started = time.monotonic()
        async with session.get(f"{url}/health") as health:
            assert health.status == 200
        assert time.monotonic() - started < 0.2  # answered while the collector sleeps
        reply: Any = await scrape
        assert reply.status == 200
        assert "predelinq_slow 1.0" in await reply.text()
        reply.release()
    assert threading.get_ident() not in slow.threads


async def test_a_burst_of_scrapes_does_one_collection(
        slow_sidecar: tuple[str, SlowCollector, FakeClock]) -> None:
    url, slow, clock = slow_sidecar

    async def scrape(session: aiohttp.ClientSession) -> str:
        async with session.get(f"{url}/metrics") as reply:
            assert reply.status == 200
            return await reply.text()

    async with aiohttp.ClientSession() as session:
        bodies = await asyncio.gather(*[scrape(session) for _ in range(5)])
        assert len(set(bodies)) == 1
        assert slow.collections == 1
        await scrape(session)  # within max_age: the cached exposition
        assert slow.collections == 1
        clock.advance(5)
        await scrape(session)
        assert slow.collections == 2
