"""Reads the uplift's inputs from the audit trail (asyncpg): decisions and 30+ DPD scores."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from ._stats import DAY_MS, Decision

__all__ = ["AuditInputs", "read_inputs"]

CONNECT_TIMEOUT_SECONDS = 10.0

_DECISIONS = """
SELECT customer_id, created_at, action, experiment_arm, rule, days_past_due
FROM interventions
WHERE created_at >= $1 AND created_at < $2
  AND experiment_arm IN ('TREATMENT', 'CONTROL')"""
# the first score per customer at or past the threshold after each decision is enough:
# scores of the decided customers from the window's start to its end plus the horizon
_REACHED = """
SELECT r.customer_id, r.scored_at
FROM risk_scores r
WHERE r.days_past_due >= $3 AND r.scored_at > $1 AND r.scored_at <= $2
  AND r.customer_id IN (SELECT customer_id FROM interventions
                        WHERE created_at >= $1 AND created_at < $4)"""
_NEWEST_SCORE = "SELECT max(scored_at) FROM risk_scores"


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class AuditInputs:
    def __init__(self, decisions: list[Decision], reached: dict[str, list[int]],
                 observed_until: int | None) -> None:
        self.decisions = decisions
        self.reached = reached
        self.observed_until = observed_until


async def read_inputs(dsn: str, since: datetime, until: datetime, *, horizon_days: int,
                      dpd_threshold: int) -> AuditInputs:
    """Decisions created in ``[since, until)``, the times their customers' scores showed
    ``dpd_threshold``+ days past due up to ``until + horizon``, and the newest score's time
    (how far the trail has been observed)."""
    end = datetime.fromtimestamp((_ms(until) + horizon_days * DAY_MS) / 1000, UTC)
    conn = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT_SECONDS)
    try:
        rows = await conn.fetch(_DECISIONS, since, until)
        scores = await conn.fetch(_REACHED, since, end, dpd_threshold, until)
        newest = await conn.fetchval(_NEWEST_SCORE)
    finally:
        await conn.close()
    decisions = [Decision(r["customer_id"], _ms(r["created_at"]), r["action"],
                          r["experiment_arm"], r["rule"], r["days_past_due"]) for r in rows]
    reached: dict[str, list[int]] = {}
    for r in scores:
        reached.setdefault(r["customer_id"], []).append(_ms(r["scored_at"]))
    return AuditInputs(decisions, reached, _ms(newest) if newest is not None else None)
