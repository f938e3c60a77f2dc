"""The worker's /predict routing (WorkerPredictBackend) against real aiohttp servers on
loopback: signed forwarding without the API key, https-only without FORWARD_SECRET, the host
allow-list, no redirects, one hop at most, and the partition checked against the assignment
before any state is read. faust's app is replaced by its two read-only lookups (the consumer's
assignment and the router's owner URL)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from aiohttp import web
from faust.types import TP

from stream_app.partitioning import Partitioner, partition_for
from stream_app.scoring import BandCutoffs
from stream_app.sidecar import PredictCall, PredictUnavailable
from stream_app.worker._predict import WorkerPredictBackend
from tests.sidecar.conftest import (
    BASE_CONFIG,
    KEY,
    PREFIX,
    FakeBackend,
    FakeClock,
    build_sidecar,
    prediction,
    running_sidecar,
)

TOPIC = "bank.transactions.v1"
PARTITIONS = 8
SECRET = "forward-secret-0123456789abcdef"
CUSTOMER = "C000123"
PART = partition_for(CUSTOMER.encode(), PARTITIONS, Partitioner.MURMUR2)


class _Consumer:
    def __init__(self, assigned: set[int]) -> None:
        self.assigned = assigned

    def assignment(self) -> set[TP]:
        return {TP(TOPIC, p) for p in self.assigned} | {TP("changelog", p) for p in range(8)}


class _Router:
    def __init__(self, owner: str) -> None:
        self.owner = owner

    def key_store(self, table: str, key: bytes) -> str:
        return self.owner


class FaustLookups:
    """faust.App's ``consumer.assignment()`` and ``router.key_store()``, nothing else."""

    def __init__(self, assigned: set[int], owner: str) -> None:
        self.consumer = _Consumer(assigned)
        self.router = _Router(owner)


@dataclass
class State:
    """A partitioned state store that records what is read."""

    values: dict[tuple[int, bytes], bytes] = field(default_factory=dict)
    reads: list[tuple[int, bytes]] = field(default_factory=list)

    def get(self, partition: int, key: bytes) -> bytes | None:
        self.reads.append((partition, key))
        return self.values.get((partition, key))


class _Table:
    name = "customer_state"


def backend(*, assigned: set[int], owner: str, state: State | None = None,
            **overrides: Any) -> WorkerPredictBackend:
    options: dict[str, Any] = {
        "app": FaustLookups(assigned, owner), "table": _Table(),
        "read_state": (state or State()).get, "input_topic": TOPIC, "partitions": PARTITIONS,
        "own_url": "http://127.0.0.1:1", "api_prefix": PREFIX, "api_key": KEY,
        "model": lambda: None, "bands": BandCutoffs(), "stream_time": lambda p: 0,
        "is_ready": lambda: True, **overrides}
    return WorkerPredictBackend(**options)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@contextlib.asynccontextmanager
async def recording_server(handler: Handler | None = None
                           ) -> AsyncIterator[tuple[str, list[web.Request]]]:
    """A plain aiohttp server that records the requests it gets."""
    seen: list[web.Request] = []

    async def record(request: web.Request) -> web.StreamResponse:
        seen.append(request)
        if handler is not None:
            return await handler(request)
        return web.json_response(prediction(CUSTOMER))

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def owner_sidecar(**config: Any) -> AsyncIterator[tuple[str, FakeBackend,
                                                              list[dict[str, str]]]]:
    """The owning worker's real sidecar API (with a fake scoring backend); records the
    headers of every request it receives."""
    owner_backend = FakeBackend(customers={CUSTOMER: prediction(CUSTOMER)})
    sidecar, _ = build_sidecar(replace(BASE_CONFIG, **config), owner_backend, FakeClock(),
                               wall_clock=FakeClock(1_700_000_000.0))
    headers: list[dict[str, str]] = []

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        headers.append(dict(request.headers))
        return await handler(request)

    sidecar.app.middlewares.insert(0, record)
    async with running_sidecar(sidecar) as url:
        yield url, owner_backend, headers


async def test_a_signed_forward_goes_over_http_without_the_api_key() -> None:
    async with owner_sidecar(forward_secret=SECRET) as (url, owner, headers):
        sender = backend(assigned=set(), owner=url, forward_secret=SECRET,
                         wall_clock=FakeClock(1_700_000_000.0))
        answer = await sender.predict(CUSTOMER, PredictCall(client="crm"))
        await sender.close()
    assert answer is not None
    assert answer["score"] == 85
    assert owner.contexts == [PredictCall(client="crm", forwarded=True, partition=PART,
                                          verified=True)]
    (sent,) = headers
    assert "X-API-Key" not in sent
    assert KEY not in str(sent)
    assert sent["X-Predelinq-Forwarded"] == "1"


async def test_without_forward_secret_nothing_is_forwarded_over_http(
        caplog: pytest.LogCaptureFixture) -> None:
    async with recording_server() as (url, seen):
        sender = backend(assigned=set(), owner=url)
        with pytest.raises(PredictUnavailable) as refused:
            await sender.predict(CUSTOMER)
        await sender.close()
    assert seen == []
    assert refused.value.detail is not None
    assert "FORWARD_SECRET" in refused.value.detail
    assert any("https" in r.getMessage() and "FORWARD_SECRET" in r.getMessage()
               for r in caplog.records)


@pytest.mark.parametrize(("allowed", "called"), [((), True), (("worker-1", ".svc"), False),
                                                 (("127.0.0.1",), True)])
async def test_only_allowed_hosts_are_called(allowed: tuple[str, ...], called: bool) -> None:
    async with recording_server() as (url, seen):
        sender = backend(assigned=set(), owner=url, forward_secret=SECRET,
                         forward_allowed_hosts=allowed)
        if called:
            assert await sender.predict(CUSTOMER) is not None
        else:
            with pytest.raises(PredictUnavailable, match="not allowed"):
                await sender.predict(CUSTOMER)
        await sender.close()
    assert len(seen) == (1 if called else 0)


async def test_redirects_are_not_followed() -> None:
    async with recording_server() as (elsewhere, elsewhere_seen):
        async def redirect(request: web.Request) -> web.StreamResponse:
            raise web.HTTPTemporaryRedirect(f"{elsewhere}{PREFIX}/predict")

        async with recording_server(redirect) as (url, seen):
            sender = backend(assigned=set(), owner=url, forward_secret=SECRET)
            with pytest.raises(PredictUnavailable, match="307"):
                await sender.predict(CUSTOMER)
            await sender.close()
    assert len(seen) == 1
    assert elsewhere_seen == []


async def test_a_forwarded_call_is_never_forwarded_again() -> None:
    state = State()
    async with recording_server() as (url, seen):
        receiver = backend(assigned=set(), owner=url, forward_secret=SECRET, state=state)
        with pytest.raises(PredictUnavailable, match="not assigned here"):
            await receiver.predict(CUSTOMER, PredictCall(forwarded=True, partition=PART,
                                                         verified=True))
        await receiver.close()
    assert seen == []
    assert state.reads == []


async def test_a_forward_naming_another_partition_is_not_answered_from_state() -> None:
    other = (PART + 1) % PARTITIONS
    state = State()
    receiver = backend(assigned={PART, other}, owner="http://127.0.0.1:1", state=state)
    with pytest.raises(PredictUnavailable, match="another partition"):
        await receiver.predict(CUSTOMER, PredictCall(forwarded=True, partition=other))
    assert state.reads == []
    assert await receiver.predict(CUSTOMER, PredictCall(forwarded=True, partition=PART)) is None
    assert state.reads == [(PART, CUSTOMER.encode())]  # the customer's partition only


async def test_a_customer_whose_partition_is_not_assigned_is_not_read_locally() -> None:
    # the state of a partition once owned may linger in the local store
    state = State(values={(PART, CUSTOMER.encode()): b"stale"})
    async with owner_sidecar(forward_secret=SECRET) as (url, owner, _):
        sender = backend(assigned={(PART + 1) % PARTITIONS}, owner=url, state=state,
                         forward_secret=SECRET, wall_clock=FakeClock(1_700_000_000.0))
        assert await sender.predict(CUSTOMER) is not None  # the owner answered
        await sender.close()
    assert state.reads == []
    assert owner.calls == [CUSTOMER]


def test_the_partition_follows_kafka_partitioner() -> None:
    crc = backend(assigned=set(), owner="", partitioner=Partitioner.CRC32)
    murmur = backend(assigned=set(), owner="")
    ids = [f"C{n:06d}" for n in range(50)]
    assert [crc.partition_of(c) for c in ids] == [
        partition_for(c.encode(), PARTITIONS, Partitioner.CRC32) for c in ids]
    assert [crc.partition_of(c) for c in ids] != [murmur.partition_of(c) for c in ids]
