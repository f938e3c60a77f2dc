"""Before consuming: wait for PostgreSQL and refuse a database with pending migrations."""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from stream_app.backoff import Backoff, sleep_unless_stopped
from stream_app.db import MigrationError, pending_migrations

from ._errors import PendingMigrationsError, SinkStartupError

__all__ = ["wait_for_schema"]

log = logging.getLogger(__name__)

_ATTEMPT_TIMEOUT_SECONDS = 15.0
# Reachable but misconfigured: waiting would not help.
_FATAL = (
    asyncpg.InvalidAuthorizationSpecificationError,  # unknown role, bad password, pg_hba
    asyncpg.InvalidCatalogNameError,  # no such database
)


async def wait_for_schema(dsn: str, stop: asyncio.Event, backoff: Backoff | None = None) -> bool:
    """Wait with backoff while PostgreSQL is unreachable; True once it answers with every
    migration applied, False if ``stop`` was set first.

    Raises :class:`SinkStartupError` when migrations are pending, the migration history does
    not match this code, or the server refuses our credentials or database name.
    """
    backoff = backoff or Backoff()
    while True:
        try:
            pending = await asyncio.wait_for(pending_migrations(dsn), _ATTEMPT_TIMEOUT_SECONDS)
        except MigrationError as exc:
            raise SinkStartupError(str(exc)) from None
        except _FATAL as exc:  # the server's message names the role or database, no secret
            raise SinkStartupError(
                f"PostgreSQL refused the connection: {type(exc).__name__}: {exc}") from None
        except (ValueError, asyncpg.ClientConfigurationError) as exc:
            raise SinkStartupError(f"DATABASE_URL is not usable ({type(exc).__name__})") from None
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            delay = backoff.next_delay()
            log.warning("PostgreSQL not reachable yet (%s); retrying in %.1fs",
                        type(exc).__name__, delay)
            if await sleep_unless_stopped(delay, stop):
                return False
            continue
        if pending:
            names = ", ".join(f"{m.version:04d}_{m.name}" for m in pending)
            raise PendingMigrationsError(
                f"the database has {len(pending)} pending migration(s) ({names}); "
                "run `predelinq migrate` first")
        return True
