"""Migrations against the real (throwaway) PostgreSQL server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from stream_app.db import MigrationError, apply_migrations, available_migrations, pending_migrations
from stream_app.db._migrations import _check_history
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
