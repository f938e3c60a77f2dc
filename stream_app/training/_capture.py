"""Pre-delinquency capture: how many future delinquents a score reaches while they are current.

The measurement that matters (docs/definitions.md has the definitions it relies on):

* the stream scores a customer after every applied event and at absence deadlines;
  :func:`score_history` does the same offline and keeps, for every row, the customer, the day
  (0 = the first day of the log), the score and the track (current or in arrears);
* a *flag* at threshold ``t`` is a pre-delinquency (current) row scored ``>= t`` on a day of
  the evaluation window, which starts after ``warmup_days`` (so that every customer has the
  history a bank would have);
* a *future delinquent* (positive) reaches 30 days past due; the *missed due date that led
  there* is the day it reached 30 DPD minus its days past due on that day (the oldest unpaid
  due date). Positives whose missed due date is before the window are left out;
* **captured while current**: flagged on a day strictly before that missed due date; the lead
  is the number of days from the first such flag to the missed due date;
* **captured before a first-ever miss**: among positives whose first missed payment of all
  (the first day past due in the log, minus its days past due) is in the window, flagged on a
  day strictly before it;
* a **false alarm** is a customer who never reaches 30 DPD in the log but is flagged on a day
  at least ``outcome_days`` before the log ends (a later flag's outcome is not known yet);
* **contacts per 1,000 customers per month**: distinct (customer, 30-day period of the window)
  pairs with a flag, per 1,000 scored customers and per 30 days.

Days past due come from a :class:`DpdHistory`: the simulator's truth, or the
``DELINQUENCY_STATUS`` events of a logged event stream (the same numbers on simulated data).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from stream_app.features import in_arrears
from stream_app.offline import ReplayStats, replay_events
from stream_app.scoring import ScoringModel

__all__ = [
    "CaptureCurve",
    "CapturePoint",
    "CaptureReport",
    "DpdHistory",
    "Outcome",
    "ScoreHistory",
    "capture_at",
    "capture_report",
    "score_history",
]

DAY_MS = 86_400_000
MAX_SCORE = 100
_NEVER = np.iinfo(np.int64).max

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Outcome:
    """What happened to one customer, in days of the log (0 = its first day)."""

    missed_due_day: int | None  # the due date whose miss led to 30 DPD (None: never 30 DPD)
    first_miss_due_day: int | None  # the due date of the first missed payment of all


@dataclass(frozen=True)
class DpdHistory:
    """Days past due by day per customer (days with 0 left out) over ``days`` observed days."""

    start_ms: int
    days: int
    dpd: Mapping[str, Mapping[int, int]]
    customers: tuple[str, ...]  # every customer of the log, in arrears or not

    @classmethod
    def from_truths(cls, truths: Iterable[Any], *, start_ms: int, days: int) -> DpdHistory:
        """From simulator truths (objects with ``customer_id`` and ``dpd_by_day``)."""
        truths = list(truths)
        return cls(start_ms, days, {t.customer_id: dict(t.dpd_by_day) for t in truths},
                   tuple(t.customer_id for t in truths))

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]],
                     start_ms: int | None = None) -> DpdHistory:
        """From an event log: the worst ``days_past_due`` of each customer's
        ``DELINQUENCY_STATUS`` events per day. Day 0 is the day of ``start_ms`` or, unset,
        the day of the log's earliest event."""
        statuses: list[tuple[str, int, int]] = []
        customers: dict[str, None] = {}
        earliest = latest = None
        for record in records:
            customer = record.get("customer_id")
            at = record.get("occurred_at")
            if not isinstance(customer, str) or not isinstance(at, int):
                continue
            customers.setdefault(customer)
            earliest = at if earliest is None else min(earliest, at)
            latest = at if latest is None else max(latest, at)
            if record.get("kind") == "DELINQUENCY_STATUS":
                dpd = record.get("days_past_due")
                if isinstance(dpd, int) and dpd > 0:
                    statuses.append((customer, at, dpd))
        if earliest is None or latest is None:
            return cls(start_ms or 0, 0, {}, ())
        first_day = (start_ms if start_ms is not None else earliest) // DAY_MS
        by_customer: dict[str, dict[int, int]] = {}
        for customer, at, dpd in statuses:
            day = at // DAY_MS - first_day
            days = by_customer.setdefault(customer, {})
            days[day] = max(days.get(day, 0), dpd)
        return cls(first_day * DAY_MS, latest // DAY_MS - first_day + 1, by_customer,
                   tuple(customers))

    @property
    def has_arrears(self) -> bool:
        return any(self.dpd.values())

    def outcome(self, customer_id: str, threshold_dpd: int = 30) -> Outcome:
        days = self.dpd.get(customer_id, {})
        missed = None
        reached = [d for d, v in days.items() if v >= threshold_dpd]
        if reached:
            day = min(reached)
            missed = day - days[day]
        first = None
        if days:
            day = min(days)
            first = day - days[day]
        return Outcome(missed, first)


@dataclass(frozen=True)
class ScoreHistory:
    """Every score the stream would publish: row ``i`` is customer ``customer_ids[customer[i]]``
    scored ``score[i]`` on day ``day[i]`` of the log; ``current[i]`` is True on the
    pre-delinquency track (only those rows can flag)."""

    customer_ids: tuple[str, ...]
    customer: Ints
    day: Ints
    score: Ints
    current: Bools

    @property
    def rows(self) -> int:
        return len(self.score)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, int, int, bool]]) -> ScoreHistory:
        """From ``(customer_id, day, score, current)`` rows."""
        index: dict[str, int] = {}
        customer: list[int] = []
        day: list[int] = []
        score: list[int] = []
        current: list[bool] = []
        for customer_id, row_day, row_score, row_current in rows:
            customer.append(index.setdefault(customer_id, len(index)))
            day.append(row_day)
            score.append(row_score)
            current.append(row_current)
        return cls(tuple(index), np.asarray(customer, dtype=np.int64),
                   np.asarray(day, dtype=np.int64), np.asarray(score, dtype=np.int64),
                   np.asarray(current, dtype=np.bool_))


def score_history(
    model: ScoringModel,
    records: Iterable[dict[str, Any]],
    *,
    start_ms: int,
    batch_size: int = 8192,
    stats: ReplayStats | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> ScoreHistory:
    """Replay the log as the stream does (a row per applied event and per absence deadline)
    and score the rows in batches; ``on_rows(n)`` is told the number of rows scored so far."""
    index: dict[str, int] = {}
    parts: list[tuple[Ints, Ints, Ints, Bools]] = []
    batch_customers: list[int] = []
    batch_as_of: list[int] = []
    batch_vectors: list[list[float]] = []
    scored = 0

    def flush() -> None:
        nonlocal scored
        if not batch_vectors:
            return
        matrix = np.asarray(batch_vectors, dtype=np.float64)
        result = model.score(matrix)
        parts.append((np.asarray(batch_customers, dtype=np.int64),
                      (np.asarray(batch_as_of, dtype=np.int64) - start_ms) // DAY_MS,
                      result.scores, ~in_arrears(matrix)))
        scored += len(batch_vectors)
        batch_customers.clear()
        batch_as_of.clear()
        batch_vectors.clear()
        if on_rows is not None:
            on_rows(scored)

    for row in replay_events(records, stats):
        batch_customers.append(index.setdefault(row.customer_id, len(index)))
        batch_as_of.append(row.as_of)
        batch_vectors.append(row.vector)
        if len(batch_vectors) >= batch_size:
            flush()
    flush()
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return ScoreHistory(tuple(index), empty, empty, empty, np.zeros(0, dtype=np.bool_))
    return ScoreHistory(tuple(index), *(np.concatenate([p[i] for p in parts])
                                        for i in range(4)))


@dataclass(frozen=True)
class CapturePoint:
    """Capture, lead and false alarms at one score threshold."""

    threshold: int
    positives: int  # future delinquents whose missed due date is in the window
    lead_days: tuple[int, ...]  # one per positive captured while current, ascending
    first_miss_positives: int  # positives whose first-ever miss is in the window
    first_miss_captured: int  # ... flagged before it
    negatives: int  # customers who never reach 30 DPD
    false_alarms: int
    contacts_per_1000_month: float

    @property
    def captured(self) -> int:
        return len(self.lead_days)

    @property
    def capture_rate(self) -> float | None:
        return self.captured / self.positives if self.positives else None

    @property
    def first_miss_capture_rate(self) -> float | None:
        return (self.first_miss_captured / self.first_miss_positives
                if self.first_miss_positives else None)

    @property
    def false_alarm_rate(self) -> float:
        return self.false_alarms / self.negatives if self.negatives else 0.0

    def lead_quantile(self, q: float) -> float | None:
        if not self.lead_days:
            return None
        return float(np.quantile(np.asarray(self.lead_days, dtype=np.float64), q))

    @property
    def median_lead_days(self) -> float | None:
        return self.lead_quantile(0.5)


@dataclass(frozen=True)
class CaptureCurve:
    """Capture against contact volume at every threshold 0-100 (index = threshold)."""

    contacts_per_1000_month: tuple[float, ...]
    capture_rate: tuple[float, ...]
    false_alarm_rate: tuple[float, ...]


@dataclass(frozen=True)
class CaptureReport:
    customers: int
    rows_scored: int
    warmup_days: int
    outcome_days: int
    window_days: int
    target_false_alarm_rate: float
    at_target: CapturePoint  # the lowest threshold with at most the target false alarms
    operating_points: tuple[tuple[str, CapturePoint], ...]  # e.g. ("HIGH band", point)
    curve: CaptureCurve


@dataclass(frozen=True)
class _Prepared:
    window_start: int
    end: int  # days observed
    outcome_days: int
    customers: int
    missed_due: Ints  # per history customer: missed due day (-1: not a positive)
    first_miss: Ints  # first-ever miss due day in the window (-1: none, or not a positive)
    positives: int
    first_miss_positives: int
    negative: Bools  # per history customer
    negatives: int
    flag_row: Bools  # current rows in the window


def _prepare(history: ScoreHistory, dpd: DpdHistory, warmup_days: int,
             outcome_days: int) -> _Prepared:
    position = {c: i for i, c in enumerate(history.customer_ids)}
    n = len(history.customer_ids)
    missed_due = np.full(n, -1, dtype=np.int64)
    first_miss = np.full(n, -1, dtype=np.int64)
    negative = np.zeros(n, dtype=np.bool_)
    positives = first_miss_positives = negatives = 0
    customers = set(dpd.customers) | set(history.customer_ids)
    for customer in customers:
        outcome = dpd.outcome(customer)
        i = position.get(customer)
        if outcome.missed_due_day is None:
            negatives += 1
            if i is not None:
                negative[i] = True
            continue
        if outcome.missed_due_day < warmup_days:
            continue  # delinquent before the window: not a pre-delinquency case here
        positives += 1
        first = outcome.first_miss_due_day
        in_window = first is not None and first >= warmup_days
        first_miss_positives += in_window
        if i is not None:
            missed_due[i] = outcome.missed_due_day
            if in_window and first is not None:
                first_miss[i] = first
    flag_row = history.current & (history.day >= warmup_days)
    return _Prepared(warmup_days, dpd.days, outcome_days, len(customers), missed_due,
                     first_miss, positives, first_miss_positives, negative, negatives,
                     flag_row)


def _point(history: ScoreHistory, p: _Prepared, threshold: int) -> CapturePoint:
    flags = p.flag_row & (history.score >= threshold)
    customer = history.customer[flags]
    day = history.day[flags]
    n = len(history.customer_ids)
    # captured while current: a flag strictly before the missed due date
    due = p.missed_due[customer]
    early = day < due  # due is -1 for non-positives: never true
    first_flag = np.full(n, _NEVER, dtype=np.int64)
    np.minimum.at(first_flag, customer[early], day[early])
    captured = np.flatnonzero(first_flag != _NEVER)
    lead = p.missed_due[captured] - first_flag[captured]
    before_first = day < p.first_miss[customer]
    first_miss_captured = len(np.unique(customer[before_first]))
    # false alarms: never 30 DPD, flagged at least outcome_days before the log ends
    alarm = p.negative[customer] & (day < p.end - p.outcome_days)
    false_alarms = len(np.unique(customer[alarm]))
    # contact volume over the whole window, every customer
    periods = (day - p.window_start) // 30
    contacts = len(np.unique(customer * 1_000 + periods))
    months = max(1e-9, (p.end - p.window_start) / 30)
    per_1000 = 1000.0 * contacts / max(1, p.customers) / months
    return CapturePoint(threshold, p.positives, tuple(sorted(int(x) for x in lead)),
                        p.first_miss_positives, first_miss_captured, p.negatives,
                        false_alarms, per_1000)


def capture_at(history: ScoreHistory, dpd: DpdHistory, threshold: int, *,
               warmup_days: int = 90, outcome_days: int = 90) -> CapturePoint:
    """Capture while current, lead, first-miss capture and false alarms at one threshold."""
    return _point(history, _prepare(history, dpd, warmup_days, outcome_days), threshold)


def capture_report(
    history: ScoreHistory,
    dpd: DpdHistory,
    *,
    operating_points: Sequence[tuple[str, int]],
    target_false_alarm_rate: float = 0.05,
    warmup_days: int = 90,
    outcome_days: int = 90,
) -> CaptureReport:
    """Every threshold 0-100 (the curve), the lowest one with at most the target false-alarm
    rate, and the named operating points (e.g. the HIGH band and AUTO_TRIGGER_THRESHOLD)."""
    if not 0.0 <= target_false_alarm_rate <= 1.0:
        raise ValueError("the false-alarm rate must be between 0 and 1, "
                         f"got {target_false_alarm_rate}")
    prepared = _prepare(history, dpd, warmup_days, outcome_days)
    points = [_point(history, prepared, t) for t in range(MAX_SCORE + 1)]
    at_target = next((pt for pt in points if pt.false_alarm_rate <= target_false_alarm_rate),
                     _point(history, prepared, MAX_SCORE + 1))
    curve = CaptureCurve(tuple(pt.contacts_per_1000_month for pt in points),
                         tuple(pt.capture_rate or 0.0 for pt in points),
                         tuple(pt.false_alarm_rate for pt in points))
    named = tuple((name, points[min(max(t, 0), MAX_SCORE)]) for name, t in operating_points)
    return CaptureReport(prepared.customers, history.rows, warmup_days, outcome_days,
                         prepared.end - warmup_days, target_false_alarm_rate, at_target, named,
                         curve)
