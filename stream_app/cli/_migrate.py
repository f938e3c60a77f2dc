"""``predelinq migrate``: apply (or, with --check, list) pending SQL migrations."""

from __future__ import annotations

import argparse
import asyncio

from stream_app.settings import load_settings

from .main import CliError, database_dsn


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    from stream_app.db import MigrationError, apply_migrations, pending_migrations

    dsn = database_dsn(settings)
    try:
        if args.check:
            pending = asyncio.run(pending_migrations(dsn))
            for migration in pending:
                print(f"pending: {migration.version:04d}_{migration.name}")
            return 3 if pending else 0
        applied = asyncio.run(apply_migrations(dsn))
    except MigrationError as exc:
        raise CliError(str(exc)) from None
    except (OSError, ConnectionError, TimeoutError) as exc:
        raise CliError(f"cannot reach PostgreSQL: {type(exc).__name__}") from None
    except Exception as exc:  # asyncpg.PostgresError and friends: message has no secrets
        if type(exc).__module__.startswith("asyncpg"):
            raise CliError(f"PostgreSQL refused: {type(exc).__name__}: {exc}") from None
        raise
    for migration in applied:
        print(f"applied: {migration.version:04d}_{migration.name}")
    if not applied:
        print("database is up to date")
    return 0
