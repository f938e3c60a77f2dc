"""Versioned SQL migrations (``migrations/NNNN_name.sql``), applied in order, each in its own
transaction, under an advisory lock so that concurrent starters do not race. An applied
migration whose file later changed is an error: migrations are append-only (the one
exception is listed in ``_SUPERSEDED_CHECKSUMS``, with why).

Every migration's transaction starts with ``SET LOCAL lock_timeout`` (:data:`LOCK_TIMEOUT_SECONDS`,
or ``apply_migrations(lock_timeout=...)``): an ``ALTER TABLE`` waiting behind a long
transaction would otherwise wait for ever while every insert of the sink and read of the API
queues behind it. On timeout the migration is rolled back whole and
:class:`MigrationLockTimeoutError` says which migration gave up; run it again later. A
migration may set its own, longer, ``SET LOCAL lock_timeout`` (it then wins).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

__all__ = ["LOCK_TIMEOUT_SECONDS", "Migration", "MigrationError", "MigrationLockTimeoutError",
           "apply_migrations", "available_migrations", "pending_migrations"]

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x7072_6564  # "pred": one advisory lock for all predelinq migrators
#: how long a migration waits for a table lock before it gives up (rolled back, re-runnable)
LOCK_TIMEOUT_SECONDS = 5.0

# Checksums of earlier texts of a migration that leave the same schema as today's text, so a
# database that applied them is not refused as "edited". Only for edits that change how the
# schema is reached, never what it is.
_SUPERSEDED_CHECKSUMS: dict[int, frozenset[str]] = {
    # 0002 as released added challenger_score's CHECK inline (validated by a scan of
    # risk_scores under ACCESS EXCLUSIVE); it now adds the same constraint, same name, NOT
    # VALID and 0004 validates it under SHARE UPDATE EXCLUSIVE (security review, issue 20)
    2: frozenset({"528f9ec1a202b38ddfe4c18fd0d16e903ad5e52f4a3f193218377187c813aa83"}),
}


class MigrationError(RuntimeError):
    pass


class MigrationLockTimeoutError(MigrationError):
    """A migration could not take a table lock within the lock timeout; nothing of it was
    applied."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"migration file name {path.name} is not NNNN_name.sql")
        migrations.append(Migration(int(match.group(1)), match.group(2), path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a version number")
    return migrations


_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


async def _applied(conn: asyncpg.Connection) -> dict[int, str]:
    await conn.execute(_CREATE_TABLE)
    rows = await conn.fetch("SELECT version, checksum FROM schema_migrations")
    return {row["version"]: row["checksum"] for row in rows}


def _check_history(available: list[Migration], applied: dict[int, str]) -> list[Migration]:
    by_version = {m.version: m for m in available}
    for version, checksum in applied.items():
        migration = by_version.get(version)
        if migration is None:
            raise MigrationError(
                f"database has migration {version}, which this code does not know: "
                "the database is newer than the application")
        accepted = {migration.checksum, *_SUPERSEDED_CHECKSUMS.get(version, ())}
        if checksum not in accepted:
            raise MigrationError(f"migration {version} ({migration.name}) was edited after "
                                 "it was applied; add a new migration instead")
    return [m for m in available if m.version not in applied]


async def pending_migrations(dsn: str) -> list[Migration]:
    conn = await asyncpg.connect(dsn)
    try:
        return _check_history(available_migrations(), await _applied(conn))
    finally:
        await conn.close()


async def _apply_one(conn: asyncpg.Connection, migration: Migration,
                     lock_timeout: float) -> None:
    try:
        async with conn.transaction():
            # SET LOCAL takes no parameters; the value is a float we format ourselves
            await conn.execute(f"SET LOCAL lock_timeout = '{round(lock_timeout * 1000)}ms'")
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) "
                "VALUES ($1, $2, $3)",
                migration.version, migration.name, migration.checksum)
    except asyncpg.LockNotAvailableError:
        raise MigrationLockTimeoutError(
            f"migration {migration.version:04d}_{migration.name} gave up: a table it changes "
            f"stayed locked longer than lock_timeout ({lock_timeout:g} s) by another session "
            "(a long transaction, an idle-in-transaction psql). Nothing of it was applied; "
            "find the session in pg_stat_activity (wait_event_type = 'Lock' shows who "
            "waits) and run `predelinq migrate` again") from None


async def apply_migrations(dsn: str, *,
                           lock_timeout: float = LOCK_TIMEOUT_SECONDS) -> list[Migration]:
    """Apply every pending migration; returns those applied now.

    Each migration waits at most ``lock_timeout`` seconds for a table lock, then raises
    :class:`MigrationLockTimeoutError` (that migration and the later ones are not applied).
    """
    if not lock_timeout > 0:
        raise ValueError("lock_timeout must be positive")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        try:
            pending = _check_history(available_migrations(), await _applied(conn))
            for migration in pending:
                await _apply_one(conn, migration, lock_timeout)
            return pending
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    finally:
        await conn.close()
