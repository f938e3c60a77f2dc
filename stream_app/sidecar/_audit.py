"""Reads of the audit trail in PostgreSQL (``risk_scores``, ``interventions``) for the API.

The asyncpg pool is created on first use from ``DATABASE_URL``. Only the columns of migration
0001 are required; ``interventions.actionable`` and ``interventions.rule`` (a later migration)
are read when the table has them, checked again every minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
from asyncpg import exceptions as pg

from ._shapes import intervention_record, score_record

__all__ = ["AuditReader", "DatabaseUnavailable"]

log = logging.getLogger(__name__)

# errors that mean "the database cannot answer now", not "this code is wrong"
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,  # includes a malformed DSN (ClientConfigurationError)
    pg.PostgresConnectionError,
    pg.OperatorInterventionError,  # shutting down, cannot connect now, statement timeout
    pg.InsufficientResourcesError,  # too many connections
    pg.InvalidAuthorizationSpecificationError,  # wrong user or password
    pg.InvalidCatalogNameError,  # no such database
    pg.UndefinedTableError,  # migrations not applied
)
# columns of later migrations (0002: actionable, rule; 0003: track, days_past_due, ...): read
# when the table has them, so that the API works on a database not yet migrated
_OPTIONAL_COLUMNS = {"interventions": ("actionable", "rule", "track", "days_past_due"),
                     "risk_scores": ("track", "days_past_due", "roll_probability",
                                     "cure_probability")}
_COLUMNS_RECHECK_SECONDS = 60.0

_SCORE_COLUMNS = (
    "event_id, customer_id, scored_at, as_of, trigger_event_id, trigger_topic, probability, "
    "score, band, model_version, top_reasons, features_sha256, recorded_at")
_LATEST_SCORE = """
SELECT {columns} FROM risk_scores WHERE customer_id = $1
ORDER BY scored_at DESC, recorded_at DESC, event_id LIMIT 1"""
_INTERVENTION_COLUMNS = (
    "intervention_id, customer_id, created_at, action, channel, priority, score, band, reasons, "
    "model_version, policy_version, expires_at, trigger_event_id, experiment_arm, recorded_at")
_INTERVENTIONS = """
SELECT {columns} FROM interventions WHERE customer_id = $1
ORDER BY created_at DESC, intervention_id LIMIT $2"""
_KNOWN = "SELECT EXISTS (SELECT 1 FROM risk_scores WHERE customer_id = $1)"
_PRESENT_COLUMNS = """
SELECT column_name FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = $1
  AND column_name = ANY($2::text[])"""


class DatabaseUnavailable(Exception):  # the API answers 503
    pass


class AuditReader:
    def __init__(self, dsn: str | None, *, clock: Callable[[], float] = time.monotonic,
                 max_connections: int = 4, connect_timeout: float = 5.0,
                 command_timeout: float = 10.0) -> None:
        self._dsn = dsn
        self._clock = clock
        self._max_connections = max_connections
        self._connect_timeout = connect_timeout
        self._command_timeout = command_timeout
        self._pool: Any = None
        self._pool_lock = asyncio.Lock()
        self._optional: dict[str, tuple[str, ...]] = {}
        self._optional_checked_at: dict[str, float] = {}

    async def latest_score(self, customer_id: str) -> dict[str, Any] | None:
        """The customer's most recent score, ``None`` when there is none."""
        if "\x00" in customer_id:  # PostgreSQL text cannot hold NUL: no such customer
            return None
        async with self._connection() as conn:
            optional = await self._optional_columns(conn, "risk_scores")
            columns = ", ".join([_SCORE_COLUMNS, *(f'"{c}"' for c in optional)])
            # the column list is built from the constants above, never from input
            row = await conn.fetchrow(_LATEST_SCORE.format(columns=columns), customer_id)
        return None if row is None else score_record(row)

    async def interventions(self, customer_id: str, limit: int) -> list[dict[str, Any]] | None:
        """The customer's latest interventions, newest first; ``None`` for a customer the audit
        trail has neither a score nor an intervention of."""
        if "\x00" in customer_id:
            return None
        async with self._connection() as conn:
            optional = await self._optional_columns(conn, "interventions")
            columns = ", ".join([_INTERVENTION_COLUMNS, *(f'"{c}"' for c in optional)])
            # the column list is built from the constants above, never from input
            query = _INTERVENTIONS.format(columns=columns)
            rows = await conn.fetch(query, customer_id, limit)
            if not rows and not await conn.fetchval(_KNOWN, customer_id):
                return None
        return [intervention_record(row) for row in rows]

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        """A pooled connection; the database's unavailability (connecting or querying) as
        :class:`DatabaseUnavailable`, logged with the error's type only (no DSN, no values)."""
        try:
            pool = await self._get_pool()
            async with pool.acquire(timeout=self._connect_timeout) as conn:
                yield conn
        except _UNAVAILABLE as exc:
            log.warning("audit database unavailable (%s)", type(exc).__name__)
            raise DatabaseUnavailable(type(exc).__name__) from exc

    async def _get_pool(self) -> Any:
        if self._dsn is None:
            raise DatabaseUnavailable("DATABASE_URL is not set")
        async with self._pool_lock:
            if self._pool is None:
                # min_size=0: nothing connects before the first query; a database that is down
                # fails that query (503) and the next one tries again
                self._pool = await asyncpg.create_pool(
                    self._dsn, min_size=0, max_size=self._max_connections,
                    timeout=self._connect_timeout, command_timeout=self._command_timeout)
            return self._pool

    async def _optional_columns(self, conn: Any, table: str) -> tuple[str, ...]:
        now = self._clock()
        if (table not in self._optional
                or now - self._optional_checked_at[table] >= _COLUMNS_RECHECK_SECONDS):
            candidates = _OPTIONAL_COLUMNS[table]
            present = {r["column_name"] for r in
                       await conn.fetch(_PRESENT_COLUMNS, table, list(candidates))}
            self._optional[table] = tuple(c for c in candidates if c in present)
            self._optional_checked_at[table] = now
        return self._optional[table]

