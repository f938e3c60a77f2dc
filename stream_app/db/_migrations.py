"""Versioned SQL migrations (``migrations/NNNN_name.sql``), applied in order, each in its own
transaction, under an advisory lock so that concurrent starters do not race. An applied
migration whose file later changed is an error: migrations are append-only."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

__all__ = ["Migration", "MigrationError", "apply_migrations", "available_migrations",
           "pending_migrations"]

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x7072_6564  # "pred": one advisory lock for all predelinq migrators


class MigrationError(RuntimeError):
    pass


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
        if migration.checksum != checksum:
            raise MigrationError(f"migration {version} ({migration.name}) was edited after "
                                 "it was applied; add a new migration instead")
    return [m for m in available if m.version not in applied]


async def pending_migrations(dsn: str) -> list[Migration]:
    conn = await asyncpg.connect(dsn)
    try:
        return _check_history(available_migrations(), await _applied(conn))
    finally:
        await conn.close()


async def apply_migrations(dsn: str) -> list[Migration]:
    """Apply every pending migration; returns those applied now."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        try:
            pending = _check_history(available_migrations(), await _applied(conn))
            for migration in pending:
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) "
                        "VALUES ($1, $2, $3)",
                        migration.version, migration.name, migration.checksum)
            return pending
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    finally:
        await conn.close()
