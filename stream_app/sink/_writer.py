"""Writes a batch's rows to the audit tables in one transaction, idempotently (asyncpg).

Rows are copied (binary ``COPY``) into session-private staging tables, then moved with
``INSERT ... SELECT ... ON CONFLICT (id) DO NOTHING``: a row whose id is already stored is
skipped and counted as a duplicate, so re-delivered records never create a second row. The
staging tables are created once per connection (``ON COMMIT DELETE ROWS``), so a batch costs
no catalogue changes, and a rolled-back transaction leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import asyncpg

from ._batch import INTERVENTIONS, OUTCOMES, SCORES, Table
from ._rows import InterventionRow, OutcomeRow, ScoreRow

__all__ = ["AuditWriter", "WriteResult"]

CONNECT_TIMEOUT_SECONDS = 5.0
COMMAND_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class _Target:
    table: Table
    key: str
    columns: tuple[str, ...]

    @property
    def staging(self) -> str:
        return f"_sink_{self.table}"

    # The statements are built from module constants (table names, the row types' field
    # names), never from input: S608 (SQL built by string formatting) does not apply.

    def create_staging(self) -> str:
        cols = ", ".join(self.columns)
        query = f"SELECT {cols} FROM {self.table}"  # noqa: S608 - constant identifiers
        return (f"CREATE TEMPORARY TABLE IF NOT EXISTS {self.staging} ON COMMIT DELETE ROWS "
                f"AS {query} WITH NO DATA")

    def move(self) -> str:
        cols = ", ".join(self.columns)
        query = f"SELECT {cols} FROM {self.staging}"  # noqa: S608 - constant identifiers
        return f"INSERT INTO {self.table} ({cols}) {query} ON CONFLICT ({self.key}) DO NOTHING"


_SCORES = _Target(SCORES, "event_id", ScoreRow._fields)
_INTERVENTIONS = _Target(INTERVENTIONS, "intervention_id", InterventionRow._fields)
_OUTCOMES = _Target(OUTCOMES, "event_id", OutcomeRow._fields)
_TARGETS = (_SCORES, _INTERVENTIONS, _OUTCOMES)


class WriteResult(NamedTuple):
    """Rows inserted and rows skipped as already stored (or repeated within the batch)."""

    inserted: dict[Table, int]
    duplicates: dict[Table, int]


def _unique(rows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """First row of each id (field 0); a batch may hold the same record twice."""
    seen: set[Any] = set()
    unique = []
    for row in rows:
        if row[0] not in seen:
            seen.add(row[0])
            unique.append(row)
    return unique


class AuditWriter:
    """One database connection that writes batches."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._conn = connection

    @classmethod
    async def connect(cls, dsn: str) -> AuditWriter:
        conn = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT_SECONDS,
                                     command_timeout=COMMAND_TIMEOUT_SECONDS)
        try:
            for target in _TARGETS:
                await conn.execute(target.create_staging())
        except BaseException:
            conn.terminate()
            raise
        return cls(conn)

    async def ping(self) -> None:
        await self._conn.fetchval("SELECT 1")

    async def close(self) -> None:
        """Close without waiting on a server that may be gone."""
        self._conn.terminate()

    async def write(self, scores: Sequence[ScoreRow],
                    interventions: Sequence[InterventionRow],
                    outcomes: Sequence[OutcomeRow] = ()) -> WriteResult:
        inserted: dict[Table, int] = {}
        duplicates: dict[Table, int] = {}
        async with self._conn.transaction():
            for target, rows in ((_SCORES, scores), (_INTERVENTIONS, interventions),
                                 (_OUTCOMES, outcomes)):
                unique = _unique(rows)
                count = await self._insert(target, unique) if unique else 0
                inserted[target.table] = count
                duplicates[target.table] = len(rows) - count
        return WriteResult(inserted, duplicates)

    async def _insert(self, target: _Target, rows: list[tuple[Any, ...]]) -> int:
        await self._conn.copy_records_to_table(target.staging, records=rows,
                                               columns=list(target.columns))
        status: str = await self._conn.execute(target.move())
        return int(status.rsplit(" ", 1)[1])  # "INSERT 0 <rows>"
