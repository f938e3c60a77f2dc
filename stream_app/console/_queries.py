"""The console's reads of the audit trail (asyncpg). The portfolio reads the daily rollups of
migration 0007 (kept by triggers on the audit tables): a bounded window of whole UTC days, a
few rows per day whatever the rows scored that day; a customer's rows come from the
``(customer_id, time DESC)`` indexes of 0001, newest first, at most ``limit`` of each."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from ._drift import psi_series

__all__ = ["CustomerTimeline", "Portfolio", "customer_timeline", "latest_day", "portfolio",
           "suppression_reason"]

MAX_WINDOW_DAYS = 366
OUTCOMES_TABLE = "intervention_outcomes"  # migration 0005 (another change); may be absent

# The window's scores by (day, band, track, score bucket, top reason's feature): bands,
# tracks, mean, drift and top features are sums over this small result. Keys whose rows were
# all deleted stay at n = 0 and are left out.
_SCORES_SQL = """
SELECT to_char(day, 'YYYY-MM-DD') AS day, band, track, bucket, feature, n, total
FROM risk_scores_daily
WHERE day >= $1 AND day <= $2 AND n > 0
"""

# What a suppressed (non-actionable) decision was suppressed by (``reason``, '' when
# actionable): its contact rule, else the CONTROL arm of the experiment (recorded, never
# contacted); the triggers of 0007 apply ``suppression_reason``'s CASE.
_INTERVENTIONS_SQL = """
SELECT to_char(day, 'YYYY-MM-DD') AS day, action, actionable, reason, n
FROM interventions_daily
WHERE day >= $1 AND day <= $2 AND n > 0
"""


def suppression_reason(actionable: bool, rule: str | None, experiment_arm: str) -> str | None:
    """The Python twin of the CASE of migration 0007's ``interventions_daily`` (for a
    customer's rows)."""
    if actionable:
        return None
    if rule:
        return rule
    return "control_group" if experiment_arm == "CONTROL" else "not_actionable"


def _counter() -> defaultdict[str, int]:
    return defaultdict(int)


@dataclass
class Portfolio:
    start: dt.date
    end: dt.date  # inclusive
    days: list[str]
    bands: dict[str, dict[str, int]] = field(default_factory=dict)  # day -> band -> n
    tracks: dict[str, dict[str, int]] = field(default_factory=dict)
    mean_score: dict[str, float] = field(default_factory=dict)
    histograms: dict[str, dict[int, int]] = field(default_factory=dict)  # day -> bucket -> n
    features: dict[str, dict[str, int]] = field(default_factory=dict)  # day -> feature -> n
    actions: dict[str, dict[str, int]] = field(default_factory=dict)  # actionable, by action
    suppressions: dict[str, dict[str, int]] = field(default_factory=dict)  # day -> reason -> n

    @property
    def psi(self) -> list[float | None]:
        return psi_series(self.days, self.histograms)

    @property
    def scores_total(self) -> int:
        return sum(sum(v.values()) for v in self.bands.values())

    @property
    def interventions_total(self) -> int:
        return sum(sum(v.values()) for v in self.actions.values())

    @property
    def suppressions_total(self) -> int:
        return sum(sum(v.values()) for v in self.suppressions.values())


async def latest_day(conn: asyncpg.Connection | asyncpg.Pool) -> dt.date | None:
    """The UTC day of the newest score (an index-only lookup), ``None`` with no scores."""
    value = await conn.fetchval("SELECT max(scored_at) FROM risk_scores")
    return value.astimezone(dt.UTC).date() if value is not None else None


async def portfolio(pool: asyncpg.Pool, *, end: dt.date, days: int) -> Portfolio:
    """The portfolio figures of the ``days`` UTC days ending on ``end`` (inclusive): both
    rollups at once, each on a connection of its own from ``pool``."""
    days = max(1, min(days, MAX_WINDOW_DAYS))
    start = end - dt.timedelta(days=days - 1)
    names = [(start + dt.timedelta(days=i)).isoformat() for i in range(days)]
    result = Portfolio(start=start, end=end, days=names)
    bands: dict[str, defaultdict[str, int]] = defaultdict(_counter)
    tracks: dict[str, defaultdict[str, int]] = defaultdict(_counter)
    features: dict[str, defaultdict[str, int]] = defaultdict(_counter)
    histograms: dict[str, defaultdict[int, int]] = defaultdict(lambda: defaultdict(int))
    sums: defaultdict[str, int] = defaultdict(int)
    counts: defaultdict[str, int] = defaultdict(int)
    scores, interventions = await asyncio.gather(
        pool.fetch(_SCORES_SQL, start, end), pool.fetch(_INTERVENTIONS_SQL, start, end))
    for row in scores:
        day, n = row["day"], int(row["n"])
        bands[day][row["band"]] += n
        tracks[day][row["track"]] += n
        features[day][row["feature"]] += n
        histograms[day][int(row["bucket"])] += n
        sums[day] += int(row["total"])
        counts[day] += n
    result.bands = {d: dict(v) for d, v in bands.items()}
    result.tracks = {d: dict(v) for d, v in tracks.items()}
    result.features = {d: dict(v) for d, v in features.items()}
    result.histograms = {d: dict(v) for d, v in histograms.items()}
    result.mean_score = {d: sums[d] / counts[d] for d in counts}
    for row in interventions:
        day, n = row["day"], int(row["n"])
        if row["actionable"]:
            result.actions.setdefault(day, {}).setdefault(row["action"], 0)
            result.actions[day][row["action"]] += n
        else:
            result.suppressions.setdefault(day, {}).setdefault(row["reason"], 0)
            result.suppressions[day][row["reason"]] += n
    return result


@dataclass
class CustomerTimeline:
    customer_id: str
    scores: list[dict[str, Any]]
    interventions: list[dict[str, Any]]
    outcomes: list[dict[str, Any]] | None  # None: no outcomes table in this database
    outcome_columns: list[str] = field(default_factory=list)

    @property
    def suppressions(self) -> list[dict[str, Any]]:
        return [i for i in self.interventions if i["suppressed_by"] is not None]

    @property
    def found(self) -> bool:
        return bool(self.scores or self.interventions or self.outcomes)


def _reasons(value: Any) -> list[dict[str, Any]]:
    parsed = json.loads(value) if isinstance(value, str) else value
    return [r for r in parsed if isinstance(r, dict)] if isinstance(parsed, list) else []


async def _outcomes(conn: asyncpg.Connection, customer_id: str,
                    limit: int) -> tuple[list[str], list[dict[str, Any]]] | None:
    """The customer's rows of the outcomes table when it exists (its columns are whatever
    migration 0005 made them: by ``customer_id``, else through the intervention ids)."""
    if await conn.fetchval("SELECT to_regclass($1)", OUTCOMES_TABLE) is None:
        return None
    columns = [r["column_name"] for r in await conn.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_name = $1 "
        "AND table_schema = current_schema() ORDER BY ordinal_position", OUTCOMES_TABLE)]
    if "customer_id" in columns:
        where = "o.customer_id = $1"
    elif "intervention_id" in columns:
        where = ("o.intervention_id IN (SELECT intervention_id FROM interventions "
                 "WHERE customer_id = $1)")
    else:
        return columns, []
    times = [c for c in columns if c.endswith(("_at", "_time"))]
    order = f'ORDER BY o."{times[0]}" DESC' if times else ""
    select = ", ".join(f'o."{c}"' for c in columns)
    rows = await conn.fetch(
        f"SELECT {select} FROM {OUTCOMES_TABLE} o WHERE {where} {order} LIMIT {int(limit)}",  # noqa: S608 - names from the catalogue
        customer_id)
    return columns, [dict(r) for r in rows]


async def customer_timeline(pool: asyncpg.Pool, customer_id: str, *,
                            limit: int = 200) -> CustomerTimeline:
    async with pool.acquire() as conn:
        scores = await conn.fetch(
            "SELECT scored_at, as_of, score, band, track, probability, model_version, "
            "top_reasons, days_past_due, challenger_score FROM risk_scores "
            "WHERE customer_id = $1 ORDER BY scored_at DESC LIMIT $2", customer_id, limit)
        interventions = await conn.fetch(
            "SELECT intervention_id, created_at, action, channel, priority, score, band, "
            "reasons, model_version, policy_version, experiment_arm, actionable, rule, track "
            "FROM interventions WHERE customer_id = $1 ORDER BY created_at DESC LIMIT $2",
            customer_id, limit)
        outcomes = await _outcomes(conn, customer_id, limit)
    score_rows = [{**dict(r), "top_reasons": _reasons(r["top_reasons"])} for r in scores]
    intervention_rows = [
        {**dict(r), "reasons": _reasons(r["reasons"]),
         "suppressed_by": suppression_reason(r["actionable"], r["rule"], r["experiment_arm"])}
        for r in interventions]
    return CustomerTimeline(
        customer_id=customer_id, scores=score_rows, interventions=intervention_rows,
        outcomes=outcomes[1] if outcomes is not None else None,
        outcome_columns=outcomes[0] if outcomes is not None else [])
