"""Migrations against the real (throwaway) PostgreSQL server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from stream_app.db import MigrationError, apply_migrations, available_migrations, pending_migrations
from stream_app.db._migrations import _applied, _check_history
from tests.support.databases import fresh_database

pytestmark = pytest.mark.integration


@pytest.fixture
def database(postgres_url: str) -> Iterator[str]:
    """A fresh, empty database per test, dropped afterwards."""
    with fresh_database(postgres_url, migrate=False) as url:
        yield url


def test_connects_and_applies_the_first_migration(database: str) -> None:
    async def scenario() -> tuple[list[str], list[str], list[str]]:
        assert [m.version for m in await pending_migrations(database)] == [
            m.version for m in available_migrations()]
        first = [f"{m.version}" for m in await apply_migrations(database)]
        again = [f"{m.version}" for m in await apply_migrations(database)]
        conn = await asyncpg.connect(database)
        try:
            tables = [r["tablename"] for r in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
            # the audit tables are idempotent on their event ids
            event_id = uuid.uuid4()
            insert = ("INSERT INTO risk_scores (event_id, customer_id, scored_at, as_of, "
                      "trigger_event_id, probability, score, band, model_version, top_reasons) "
                      "VALUES ($1, 'c', now(), now(), 't', 0.5, 50, 'MEDIUM', 'v', '[]') "
                      "ON CONFLICT (event_id) DO NOTHING")
            await conn.execute(insert, event_id)
            await conn.execute(insert, event_id)
            assert await conn.fetchval("SELECT count(*) FROM risk_scores") == 1
            with pytest.raises(asyncpg.CheckViolationError):
                await conn.execute(insert.replace("50,", "150,"), uuid.uuid4())
        finally:
            await conn.close()
        return first, again, tables

    first, again, tables = asyncio.run(scenario())
    assert first == [str(m.version) for m in available_migrations()]
    assert again == []
    assert {"schema_migrations", "risk_scores", "interventions"} <= set(tables)
    assert asyncio.run(pending_migrations(database)) == []


def test_an_edited_migration_is_refused() -> None:
    migrations = available_migrations()
    applied = {m.version: "0" * 64 for m in migrations}
    with pytest.raises(MigrationError, match="edited"):
        _check_history(migrations, applied)
    with pytest.raises(MigrationError, match="newer"):
        _check_history(migrations, {9999: "x"})


def test_migrate_cli_applies_and_checks(database: str, repo_root: Path) -> None:
    env = {**os.environ, "DATABASE_URL": database}
    check = subprocess.run([sys.executable, "-m", "stream_app", "migrate", "--check"],
                           env=env, capture_output=True, text=True, cwd=repo_root, check=False)
    assert check.returncode == 3
    assert "pending: 0001_audit_trail" in check.stdout
    apply = subprocess.run([sys.executable, "-m", "stream_app", "migrate"],
                           env=env, capture_output=True, text=True, cwd=repo_root, check=False)
    assert apply.returncode == 0, apply.stderr
    assert "applied: 0001_audit_trail" in apply.stdout
    check = subprocess.run([sys.executable, "-m", "stream_app", "migrate", "--check"],
                           env=env, capture_output=True, text=True, cwd=repo_root, check=False)
    assert check.returncode == 0


def test_migrate_cli_reports_an_unreachable_server_clearly(repo_root: Path) -> None:
    env = {**os.environ, "DATABASE_URL": "postgresql://nobody:secret-pw@127.0.0.1:1/none"}
    result = subprocess.run([sys.executable, "-m", "stream_app", "migrate"], env=env,
                            capture_output=True, text=True, cwd=repo_root, check=False)
    assert result.returncode == 1
    assert "cannot reach PostgreSQL" in result.stderr
    assert "Traceback" not in result.stderr
    assert "secret-pw" not in result.stderr


async def _apply_up_to(url: str, last: int) -> None:
    """Apply the migrations up to ``last`` as `predelinq migrate` did then (a database of an
    earlier release)."""
    conn = await asyncpg.connect(url)
    try:
        await _applied(conn)  # creates schema_migrations
        for migration in available_migrations():
            if migration.version <= last:
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) "
                        "VALUES ($1, $2, $3)", migration.version, migration.name,
                        migration.checksum)
    finally:
        await conn.close()


_OLD_SCORE = ("INSERT INTO risk_scores (event_id, customer_id, scored_at, as_of, "
              "trigger_event_id, probability, score, band, model_version, top_reasons) "
              "VALUES ($1, 'c', now(), now(), 't', 0.5, 50, 'MEDIUM', 'v', '[]')")
_OLD_INTERVENTION = (
    "INSERT INTO interventions (intervention_id, customer_id, created_at, action, channel, "
    "priority, score, band, reasons, model_version, policy_version, expires_at, "
    "trigger_event_id, experiment_arm) VALUES ($1, 'c', now(), 'PAYMENT_REMINDER', 'SMS', "
    "'HIGH', 80, 'HIGH', '[]', 'v', 'p', now(), 't', 'TREATMENT')")


def test_the_tracks_migration_gives_older_rows_unknown_and_checks_the_new_columns(
        database: str) -> None:
    async def scenario() -> None:
        await _apply_up_to(database, 2)
        old_score, old_decision = uuid.uuid4(), uuid.uuid4()
        conn = await asyncpg.connect(database)
        try:
            await conn.execute(_OLD_SCORE, old_score)
            await conn.execute(_OLD_INTERVENTION, old_decision)
            assert [m.name for m in await apply_migrations(database)] == ["tracks"]
            assert await conn.fetchrow(
                "SELECT track, days_past_due, roll_probability, cure_probability "
                "FROM risk_scores WHERE event_id = $1", old_score) == (
                    "UNKNOWN", None, None, None)
            assert await conn.fetchrow(
                "SELECT track, days_past_due FROM interventions WHERE intervention_id = $1",
                old_decision) == ("UNKNOWN", None)
            # what the columns accept: every track, dpd >= 0, probabilities in [0, 1]
            score = _OLD_SCORE.replace(
                "top_reasons)", "top_reasons, track, days_past_due, roll_probability, "
                "cure_probability)").replace("'[]')", "'[]', $2, $3, $4, $5)")
            for values in (("ARREARS", 45, 0.0, 1.0), ("PRE_DELINQUENCY", 0, None, None),
                           ("UNKNOWN", None, None, None)):
                await conn.execute(score, uuid.uuid4(), *values)
            for values in (("COLLECTIONS", 1, None, None), ("ARREARS", -1, None, None),
                           ("ARREARS", 1, 1.5, None), ("ARREARS", 1, None, -0.1),
                           ("ARREARS", 1, float("nan"), None)):
                with pytest.raises(asyncpg.CheckViolationError):
                    await conn.execute(score, uuid.uuid4(), *values)
            with pytest.raises(asyncpg.NotNullViolationError):
                await conn.execute(score, uuid.uuid4(), None, 1, None, None)
            decision = _OLD_INTERVENTION.replace(
                "experiment_arm)", "experiment_arm, track, days_past_due)").replace(
                "'TREATMENT')", "'TREATMENT', $2, $3)")
            await conn.execute(decision, uuid.uuid4(), "ARREARS", 61)
            for values in (("NONE", 1), ("ARREARS", -5)):
                with pytest.raises(asyncpg.CheckViolationError):
                    await conn.execute(decision, uuid.uuid4(), *values)
        finally:
            await conn.close()

    asyncio.run(scenario())


def test_a_migration_behind_a_long_lock_gives_up_and_can_be_run_again(database: str) -> None:
    """0003 sets lock_timeout: behind an open transaction that read risk_scores it fails after
    5 s, applies nothing, and succeeds once the lock is gone."""
    async def scenario() -> float:
        await _apply_up_to(database, 2)
        reader = await asyncpg.connect(database)
        try:
            blocker = reader.transaction()
            await blocker.start()
            await reader.fetch("SELECT * FROM risk_scores LIMIT 1")  # holds ACCESS SHARE
            started = time.monotonic()
            with pytest.raises(asyncpg.LockNotAvailableError):
                await asyncio.wait_for(apply_migrations(database), timeout=30)
            waited = time.monotonic() - started
            assert [m.name for m in await pending_migrations(database)] == ["tracks"]
            await blocker.rollback()
        finally:
            await reader.close()
        assert [m.name for m in await apply_migrations(database)] == ["tracks"]
        conn = await asyncpg.connect(database)
        try:  # SET LOCAL ended with the migration's transaction
            assert await conn.fetchval("SHOW lock_timeout") == "0"
        finally:
            await conn.close()
        return waited

    waited = asyncio.run(scenario())
    assert 4.5 <= waited < 25
