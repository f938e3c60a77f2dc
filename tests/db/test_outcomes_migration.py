"""0005: the intervention_outcomes table (the outcome loop), on the real (throwaway) PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import asyncpg
import pytest

from stream_app.db import apply_migrations
from tests.support.databases import fetch, fresh_database

pytestmark = pytest.mark.integration

_INSERT = ("INSERT INTO intervention_outcomes (event_id, intervention_id, customer_id, "
           "occurred_at, outcome, channel, amount_minor) VALUES ($1, $2, 'c', now(), $3, "
           "'CALL', $4) ON CONFLICT (event_id) DO NOTHING")


@pytest.fixture
def database(postgres_url: str) -> Iterator[str]:
    with fresh_database(postgres_url) as url:
        yield url


def test_outcomes_are_idempotent_on_event_id_and_checked(database: str) -> None:
    intervention_id = uuid.uuid4()

    async def scenario() -> None:
        conn = await asyncpg.connect(database)
        try:
            await conn.execute(_INSERT, "e-1", intervention_id, "PAYMENT_MADE", 4_626)
            await conn.execute(_INSERT, "e-1", intervention_id, "PAYMENT_MADE", 4_626)
            await conn.execute(_INSERT, "e-2", intervention_id, "REACHED", None)
            for outcome, amount in (("ANSWERED", None),  # not an outcome of the contract
                                    ("REACHED", 100),  # an amount only for PAYMENT_MADE
                                    ("PAYMENT_MADE", -1)):  # never negative
                with pytest.raises(asyncpg.CheckViolationError):
                    await conn.execute(_INSERT, f"e-{outcome}", intervention_id, outcome, amount)
            with pytest.raises(asyncpg.CheckViolationError):
                await conn.execute(_INSERT, "", intervention_id, "REACHED", None)
        finally:
            await conn.close()

    asyncio.run(scenario())
    rows = asyncio.run(fetch(database, "SELECT event_id, outcome, amount_minor, recorded_at "
                                       "FROM intervention_outcomes ORDER BY event_id"))
    assert [(r["event_id"], r["outcome"], r["amount_minor"]) for r in rows] == [
        ("e-1", "PAYMENT_MADE", 4_626), ("e-2", "REACHED", None)]
    assert all(r["recorded_at"] is not None for r in rows)
    indexes = asyncio.run(fetch(database, "SELECT indexdef FROM pg_indexes "
                                          "WHERE tablename = 'intervention_outcomes'"))
    definitions = " | ".join(r["indexdef"] for r in indexes)
    assert "(intervention_id)" in definitions
    assert "(customer_id, occurred_at)" in definitions
    # applied once: a second run has nothing to do
    assert asyncio.run(apply_migrations(database)) == []
