"""The sidecar's API under test: a fake in-process PredictBackend (the system boundary of this
unit), a fake clock, aiohttp's test server, and fresh PostgreSQL databases with audit rows."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from stream_app.db import apply_migrations, available_migrations
from stream_app.observability import WorkerMetrics
from stream_app.sidecar import (
    ApiConfig,
    HealthSource,
    PredictBackend,
    PredictCall,
    PredictUnavailable,
    ServerLimits,
    Sidecar,
    SidecarApi,
)
from stream_app.sidecar._backend import DIRECT_CALL

KEY = "k" * 24 + "-test-key"
PREFIX = "/api/v1"
KNOWN = "C000001"  # a customer the fake backend and the seeded audit trail know
NO_INTERVENTIONS = "C000002"  # scored, never contacted
ORIGIN = "https://crm.example"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def prediction(customer_id: str, score: int = 85) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "as_of": int(T0.timestamp() * 1000),  # epoch milliseconds, as the contract
        "probability": score / 100.0,
        "score": score,
        "band": "HIGH" if score >= 70 else "MEDIUM",
        "model_version": "v-test",
        "reasons": [
            {"code": "SALARY_LATE", "feature": "days_since_salary", "value": 41.0,
             "contribution": 0.8, "text": "Salary later than usual"},
            {"code": "NEAR_LIMIT", "feature": "utilisation", "value": float("nan"),
             "contribution": 0.3, "text": "Near the credit limit"},
        ],
        "track": "PRE_DELINQUENCY",
        "days_past_due": 0,
        "roll_probability": None,
        "cure_probability": None,
    }


@dataclass
class FakeBackend:
    """Knows a few customers; counts calls; can be made unavailable or slow."""

    customers: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {KNOWN: prediction(KNOWN)})
    unavailable: PredictUnavailable | None = None
    delay: float = 0.0
    calls: list[str] = field(default_factory=list)
    contexts: list[PredictCall] = field(default_factory=list)

    async def predict(self, customer_id: str,
                      call: PredictCall = DIRECT_CALL) -> Mapping[str, Any] | None:
        self.calls.append(customer_id)
        self.contexts.append(call)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.unavailable is not None:
            raise self.unavailable
        return self.customers.get(customer_id)


BASE_CONFIG = ApiConfig(
    prefix=PREFIX,
    api_key=KEY,
    require_key=True,
    cache_ttl=300,
    cors_origins=(ORIGIN,),
    rate_limit_max=1_000,
    rate_limit_window=60,
)


@dataclass
class Harness:
    client: TestClient[Any, Any]
    api: SidecarApi
    backend: FakeBackend
    clock: FakeClock
    metrics: WorkerMetrics

    @property
    def auth(self) -> dict[str, str]:
        return {"X-API-Key": KEY}


def build_sidecar(config: ApiConfig, backend: PredictBackend, clock: Callable[[], float],
                  *, port: int = 0, limits: ServerLimits | None = None,
                  wall_clock: Callable[[], float] | None = None,
                  metrics: WorkerMetrics | None = None,
                  metrics_max_age: float = 1.0) -> tuple[Sidecar, WorkerMetrics]:
    metrics = metrics or WorkerMetrics()
    api = SidecarApi(config, backend=backend, registry=metrics.registry, clock=clock,
                     wall_clock=wall_clock or clock)
    sidecar = Sidecar(
        metrics=metrics,
        health=HealthSource(model_version=lambda: "v-test",
                            readiness=lambda: {"model_loaded": True}),
        api_prefix=config.prefix, host="127.0.0.1", port=port, api=api, limits=limits,
        clock=clock, metrics_max_age=metrics_max_age)
    return sidecar, metrics


@contextlib.asynccontextmanager
async def running_sidecar(sidecar: Sidecar) -> AsyncIterator[str]:
    """The sidecar listening on a free loopback port (its own server: connection limits and
    all), as its base URL."""
    await sidecar.start()
    try:
        yield f"http://127.0.0.1:{sidecar.port}"
    finally:
        await sidecar.stop()


StartApi = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def start_api() -> AsyncIterator[StartApi]:
    """``await start_api(**ApiConfig overrides, backend=...)`` -> a running API and client."""
    clients: list[TestClient[Any, Any]] = []

    async def start(*, backend: FakeBackend | None = None, **overrides: Any) -> Harness:
        backend = backend or FakeBackend()
        clock = FakeClock()
        sidecar, metrics = build_sidecar(replace(BASE_CONFIG, **overrides), backend, clock)
        assert sidecar.api is not None
        client: TestClient[Any, Any] = TestClient(TestServer(sidecar.app))
        await client.start_server()
        clients.append(client)
        return Harness(client, sidecar.api, backend, clock, metrics)

    yield start
    for client in clients:
        await client.close()


# --- PostgreSQL ------------------------------------------------------------------------------
async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def create_audit_trail(url: str, *, latest_migrations: bool) -> None:
    """Migrations (all, or only 0001 as in a database the later ones have not reached yet),
    then a few customers' scores and interventions."""
    if latest_migrations:
        await apply_migrations(url)
    else:
        first = next(m for m in available_migrations() if m.version == 1)
        await _admin(url, first.sql)
    conn = await asyncpg.connect(url)
    try:
        reasons = ('[{"code": "SALARY_LATE", "feature": "days_since_salary", "value": 41.0, '
                   '"contribution": 0.8, "text": "Salary later than usual"}]')
        for customer, hours, score, band in ((KNOWN, 0, 40, "MEDIUM"), (KNOWN, 25, 85, "HIGH"),
                                             (NO_INTERVENTIONS, 3, 20, "LOW")):
            at = T0 + timedelta(hours=hours)
            await conn.execute(
                "INSERT INTO risk_scores (event_id, customer_id, scored_at, as_of, "
                "trigger_event_id, trigger_topic, probability, score, band, model_version, "
                "top_reasons) VALUES ($1, $2, $3, $4, 'evt-1', 'bank.payments.v1', $5, $6, $7, "
                "'v-test', $8)",
                uuid.uuid4(), customer, at, at - timedelta(minutes=1), score / 100.0, score,
                band, reasons)
        for n in range(3):
            at = T0 + timedelta(hours=n)
            await conn.execute(
                "INSERT INTO interventions (intervention_id, customer_id, created_at, action, "
                "channel, priority, score, band, reasons, model_version, policy_version, "
                "expires_at, trigger_event_id, experiment_arm) VALUES ($1, $2, $3, "
                "'PAYMENT_HOLIDAY_OFFER', 'SMS', 'HIGH', 85, 'HIGH', $4, 'v-test', 'p1', $5, "
                "'evt-1', 'TREATMENT')",
                uuid.uuid4(), KNOWN, at, reasons, at + timedelta(days=7))
        if latest_migrations:
            await conn.execute(
                "UPDATE interventions SET actionable = false, rule = 'COOLDOWN' "
                "WHERE created_at = $1", T0)
    finally:
        await conn.close()


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    base, _, _ = server_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_admin(server_url, f'DROP DATABASE "{name}" WITH (FORCE)'))


@pytest.fixture(params=[True, False], ids=["migrations-latest", "migration-0001-only"])
def audit_db(request: pytest.FixtureRequest, postgres_url: str) -> Iterator[str]:
    """A database with the audit trail seeded, with every migration or only the first."""
    with fresh_database(postgres_url) as url:
        asyncio.run(create_audit_trail(url, latest_migrations=request.param))
        yield url
