"""Migration 0007: the daily rollups equal the aggregates of the audit tables, whatever writes
them (inserts with re-deliveries, two writers at once, deletes, updates, TRUNCATE) and for the
rows stored before the migration (its backfill). Against the real (throwaway) PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from stream_app.db import apply_migrations
from tests.db.test_migrations import _apply_up_to
from tests.support.databases import fresh_database

pytestmark = pytest.mark.integration

START = datetime(2026, 3, 1, 21, 0, tzinfo=UTC)  # rows on both sides of UTC midnights
FEATURES = ("days_since_salary", "failed_debits_30d", "utilisation")
RULES = (None, None, "cooldown", "opt_out")

# the definitions: what the console computed from the tables before the rollups
SCORES_BY_KEY = """
SELECT (scored_at AT TIME ZONE 'UTC')::date AS day, band, track,
       width_bucket(score, 0, 101, 10) AS bucket,
       coalesce(top_reasons -> 0 ->> 'feature', '(none)') AS feature, count(*) AS n,
       sum(score) AS total
FROM risk_scores GROUP BY 1, 2, 3, 4, 5
"""
INTERVENTIONS_BY_KEY = """
SELECT (created_at AT TIME ZONE 'UTC')::date AS day, action, actionable,
       CASE WHEN actionable THEN '' ELSE coalesce(rule, CASE WHEN experiment_arm = 'CONTROL'
           THEN 'control_group' ELSE 'not_actionable' END) END AS reason, count(*) AS n
FROM interventions GROUP BY 1, 2, 3, 4
"""
SCORE_INSERT = """
INSERT INTO risk_scores (event_id, customer_id, scored_at, as_of, trigger_event_id,
                         probability, score, band, model_version, top_reasons, track)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $3::timestamptz[], $2::text[],
                     $4::float8[], $5::smallint[], $6::text[], $7::text[], $8::jsonb[],
                     $9::text[])
ON CONFLICT (event_id) DO NOTHING
"""
INTERVENTION_INSERT = """
INSERT INTO interventions (intervention_id, customer_id, created_at, action, channel, priority,
                           score, band, reasons, model_version, policy_version, expires_at,
                           trigger_event_id, experiment_arm, actionable, rule)
SELECT id, c, t, a, 'SMS', 'HIGH', 70, 'HIGH', '[]', 'v', 'p', t + interval '7 days', c, arm,
       ok, r
FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::bool[],
            $7::text[]) AS u(id, c, t, a, arm, ok, r)
ON CONFLICT (intervention_id) DO NOTHING
"""


@pytest.fixture
def database(postgres_url: str) -> Iterator[str]:
    with fresh_database(postgres_url, migrate=False) as url:
        yield url


def _scores(rng: random.Random, count: int) -> list[tuple[Any, ...]]:
    rows = []
    for i in range(count):
        score = rng.randint(0, 100)
        reasons = [] if rng.random() < 0.1 else [{"feature": rng.choice(FEATURES)}]
        rows.append((uuid.uuid4(), f"C{i % 37}", START + timedelta(hours=rng.randint(0, 96)),
                     score / 100, score, rng.choice(["LOW", "HIGH"]),
                     json.dumps(reasons), rng.choice(["PRE_DELINQUENCY", "ARREARS"])))
    return rows


def _interventions(rng: random.Random, count: int) -> list[tuple[Any, ...]]:
    return [(uuid.uuid4(), f"C{i % 37}", START + timedelta(hours=rng.randint(0, 96)),
             rng.choice(["PAYMENT_REMINDER", "COLLECTIONS_CALL"]),
             rng.choice(["TREATMENT", "CONTROL"]), rng.random() < 0.5, rng.choice(RULES))
            for i in range(count)]


async def _insert(conn: asyncpg.Connection, scores: list[tuple[Any, ...]],
                  interventions: list[tuple[Any, ...]]) -> None:
    """One statement per table, as the sink's INSERT ... SELECT ... ON CONFLICT DO NOTHING."""
    if scores:
        ids, customers, times, probabilities, values, bands, reasons, tracks = zip(
            *scores, strict=True)
        await conn.execute(SCORE_INSERT, list(ids), list(customers), list(times),
                           list(probabilities), list(values), list(bands),
                           ["v"] * len(scores), list(reasons), list(tracks))
    if interventions:
        columns = [list(c) for c in zip(*interventions, strict=True)]
        await conn.execute(INTERVENTION_INSERT, *columns)


async def _assert_rollups_match(conn: asyncpg.Connection) -> int:
    """The rollups hold the tables' aggregates (keys whose count went to 0 may stay, at 0);
    returns the number of scores."""
    expected = {tuple(r[:5]): (r["n"], r["total"]) for r in await conn.fetch(SCORES_BY_KEY)}
    got = {tuple(r[:5]): (r["n"], r["total"]) for r in await conn.fetch(
        "SELECT day, band, track, bucket, feature, n, total FROM risk_scores_daily "
        "WHERE n <> 0")}
    assert got == expected
    assert await conn.fetchval("SELECT count(*) FROM risk_scores_daily WHERE n < 0") == 0
    expected_i = {tuple(r[:4]): r["n"] for r in await conn.fetch(INTERVENTIONS_BY_KEY)}
    got_i = {tuple(r[:4]): r["n"] for r in await conn.fetch(
        "SELECT day, action, actionable, reason, n FROM interventions_daily WHERE n <> 0")}
    assert got_i == expected_i
    return sum(n for n, _ in expected.values())


def test_the_backfill_counts_the_rows_stored_before_the_migration(database: str) -> None:
    async def scenario() -> None:
        await _apply_up_to(database, 6)
        rng = random.Random(7)
        conn = await asyncpg.connect(database)
        try:
            await _insert(conn, _scores(rng, 400), _interventions(rng, 150))
            assert [m.version for m in await apply_migrations(database)] == [7]
            assert await _assert_rollups_match(conn) == 400
            # and the triggers count what comes after it
            await _insert(conn, _scores(rng, 50), _interventions(rng, 20))
            assert await _assert_rollups_match(conn) == 450
        finally:
            await conn.close()

    asyncio.run(scenario())


def test_re_delivered_rows_are_not_counted_again(database: str) -> None:
    async def scenario() -> None:
        await apply_migrations(database)
        rng = random.Random(8)
        scores, interventions = _scores(rng, 300), _interventions(rng, 100)
        conn = await asyncpg.connect(database)
        try:
            await _insert(conn, scores[:200], interventions[:60])
            # a batch that repeats half of what was stored (a sink re-reading after a crash)
            await _insert(conn, scores[100:], interventions[30:])
            assert await _assert_rollups_match(conn) == 300
            assert await conn.fetchval("SELECT sum(n) FROM interventions_daily") == 100
        finally:
            await conn.close()

    asyncio.run(scenario())


def test_two_writers_at_once_deadlock_nowhere_and_lose_nothing(database: str) -> None:
    async def scenario() -> None:
        await apply_migrations(database)
        rng = random.Random(9)
        pool = await asyncpg.create_pool(database, min_size=4, max_size=4)
        try:
            batches = [(_scores(rng, 120), _interventions(rng, 40)) for _ in range(16)]

            async def write(scores: list[tuple[Any, ...]],
                            interventions: list[tuple[Any, ...]]) -> None:
                async with pool.acquire() as conn:
                    await _insert(conn, scores, interventions)

            await asyncio.wait_for(asyncio.gather(*(write(*b) for b in batches)), timeout=60)
            async with pool.acquire() as conn:
                assert await _assert_rollups_match(conn) == 16 * 120
        finally:
            await pool.close()

    asyncio.run(scenario())


def test_deletes_updates_and_truncate_keep_the_rollups_exact(database: str) -> None:
    async def scenario() -> None:
        await apply_migrations(database)
        rng = random.Random(10)
        conn = await asyncpg.connect(database)
        try:
            await _insert(conn, _scores(rng, 300), _interventions(rng, 100))
            # an erasure: every row of some customers
            await conn.execute("DELETE FROM risk_scores WHERE customer_id IN ('C1', 'C2')")
            await conn.execute("DELETE FROM interventions WHERE customer_id = 'C3'")
            remaining = await _assert_rollups_match(conn)
            assert 0 < remaining < 300
            # a correction moves rows to other keys (band, day, score bucket, suppression)
            await conn.execute("UPDATE risk_scores SET band = 'MEDIUM', score = 55, "
                               "scored_at = scored_at + interval '1 day' WHERE score < 30")
            await conn.execute("UPDATE interventions SET actionable = NOT actionable "
                               "WHERE customer_id IN ('C4', 'C5')")
            assert await _assert_rollups_match(conn) == remaining
            await conn.execute("TRUNCATE risk_scores, interventions")
            assert await _assert_rollups_match(conn) == 0
            assert await conn.fetchval("SELECT count(*) FROM risk_scores_daily") == 0
        finally:
            await conn.close()

    asyncio.run(scenario())
