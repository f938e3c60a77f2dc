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

from stream_app.db import (
    Migration,
    MigrationError,
    MigrationLockTimeoutError,
    apply_migrations,
    available_migrations,
    pending_migrations,
)
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


def _after(version: int) -> list[Migration]:
    """The migrations after ``version`` (what a database of that release has pending)."""
    return [m for m in available_migrations() if m.version > version]


def _versions_after(version: int) -> list[int]:
    return [m.version for m in _after(version)]


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
            assert [m.name for m in await apply_migrations(database)] == [
                m.name for m in _after(2)]
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


# --- lock_timeout, NOT VALID then VALIDATE (security review, issue 20) ------------------------

_CHALLENGER_CHECK = ("SELECT convalidated, pg_get_constraintdef(oid) AS definition "
                     "FROM pg_constraint WHERE conname = 'risk_scores_challenger_score_check'")
_CHALLENGER_SCORE = _OLD_SCORE.replace("top_reasons)", "top_reasons, challenger_score)").replace(
    "'[]')", "'[]', $2)")


async def _record(url: str, migration: Migration) -> None:
    """Apply one migration text by hand, recorded as the runner of its release did."""
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                migration.version, migration.name, migration.checksum)
    finally:
        await conn.close()


def test_a_migration_behind_a_lock_fails_fast_with_a_clear_error(database: str) -> None:
    """Every migration runs under lock_timeout: 0002 behind an open transaction that read
    risk_scores gives up after the timeout instead of waiting (and making every insert wait
    behind it), names itself, applies nothing, and runs once the lock is gone."""
    async def scenario() -> float:
        await _apply_up_to(database, 1)
        reader = await asyncpg.connect(database)
        try:
            blocker = reader.transaction()
            await blocker.start()
            await reader.fetch("SELECT * FROM risk_scores LIMIT 1")  # holds ACCESS SHARE
            started = time.monotonic()
            with pytest.raises(MigrationLockTimeoutError) as gave_up:
                await asyncio.wait_for(apply_migrations(database, lock_timeout=0.5),
                                       timeout=20)
            waited = time.monotonic() - started
            message = str(gave_up.value)
            assert "0002_decision_bundle" in message
            assert "lock_timeout (0.5 s)" in message
            assert "predelinq migrate" in message
            assert isinstance(gave_up.value, MigrationError)  # the CLI reports it as such
            assert [m.version for m in await pending_migrations(database)] == _versions_after(1)
            assert await reader.fetchval(  # rolled back whole: no column of 0002 exists
                "SELECT count(*) FROM information_schema.columns "
                "WHERE table_name = 'risk_scores' AND column_name = 'challenger_score'") == 0
            await blocker.rollback()
        finally:
            await reader.close()
        assert [m.version for m in await apply_migrations(database, lock_timeout=0.5)] == (
            _versions_after(1))
        conn = await asyncpg.connect(database)
        try:  # SET LOCAL ended with each migration's transaction
            assert await conn.fetchval("SHOW lock_timeout") == "0"
        finally:
            await conn.close()
        return waited

    assert asyncio.run(scenario()) < 5


def test_0002_adds_its_check_not_valid_and_0004_validates_it(database: str) -> None:
    async def scenario() -> None:
        await _apply_up_to(database, 2)
        conn = await asyncpg.connect(database)
        try:
            check = await conn.fetchrow(_CHALLENGER_CHECK)
            assert check["convalidated"] is False  # no scan under ACCESS EXCLUSIVE
            assert check["definition"] == (
                "CHECK (((challenger_score >= 0) AND (challenger_score <= 100))) NOT VALID")
            with pytest.raises(asyncpg.CheckViolationError):  # new rows are checked at once
                await conn.execute(_CHALLENGER_SCORE, uuid.uuid4(), 101)
            await conn.execute(_CHALLENGER_SCORE, uuid.uuid4(), 100)
            assert [m.version for m in await apply_migrations(database)] == _versions_after(2)
            assert (await conn.fetchrow(_CHALLENGER_CHECK))["convalidated"] is True
        finally:
            await conn.close()

    asyncio.run(scenario())


def test_validate_constraint_lets_writers_go_on(database: str) -> None:
    """0004 takes SHARE UPDATE EXCLUSIVE only: it completes while another session holds an
    open transaction that inserted into risk_scores (ROW EXCLUSIVE), which any ALTER TABLE
    that rewrites or adds would wait for."""
    async def scenario() -> None:
        await _apply_up_to(database, 3)
        writer = await asyncpg.connect(database)
        try:
            open_insert = writer.transaction()
            await open_insert.start()
            await writer.execute(_CHALLENGER_SCORE, uuid.uuid4(), 40)
            # 0004 and 0005 commit; 0006's CREATE INDEX (SHARE lock) gives up behind the writer
            with pytest.raises(MigrationLockTimeoutError, match="0006_console_indexes"):
                await asyncio.wait_for(apply_migrations(database, lock_timeout=0.5),
                                       timeout=20)
            assert [m.version for m in await pending_migrations(database)] == _versions_after(5)
            await open_insert.commit()
            assert (await writer.fetchrow(_CHALLENGER_CHECK))["convalidated"] is True
            assert [m.name for m in await apply_migrations(database)] == [
                m.name for m in _after(5)]
        finally:
            await writer.close()

    asyncio.run(scenario())


def test_a_database_migrated_with_the_released_0002_is_not_refused(database: str) -> None:
    """0002 was edited (NOT VALID) after release: a database that applied the released text
    (its checksum recorded) migrates on, and ends with the same constraint as a fresh one."""
    released = (Path(__file__).parent / "data" / "0002_decision_bundle.original.sql").read_text()
    current = next(m for m in available_migrations() if m.version == 2)
    assert released != current.sql

    async def scenario() -> tuple[object, object]:
        await _apply_up_to(database, 1)
        await _record(database, Migration(2, "decision_bundle", released))
        assert [m.version for m in await pending_migrations(database)] == _versions_after(2)
        assert [m.version for m in await apply_migrations(database)] == _versions_after(2)
        conn = await asyncpg.connect(database)
        try:
            old_path = tuple(await conn.fetchrow(_CHALLENGER_CHECK))
        finally:
            await conn.close()
        await _admin_reset(database)
        await apply_migrations(database)
        conn = await asyncpg.connect(database)
        try:
            new_path = tuple(await conn.fetchrow(_CHALLENGER_CHECK))
        finally:
            await conn.close()
        return old_path, new_path

    old_path, new_path = asyncio.run(scenario())
    assert old_path == new_path == (
        True, "CHECK (((challenger_score >= 0) AND (challenger_score <= 100)))")
    # any other text of 0002 is still an edit
    with pytest.raises(MigrationError, match="edited"):
        _check_history(available_migrations(), {2: Migration(2, "x", released + " ").checksum})


async def _admin_reset(url: str) -> None:
    """Drop everything the migrations created (the test's own database)."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()
