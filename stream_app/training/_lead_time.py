"""Detection lead time on simulated customers: how long before a customer first reaches
30 days past due (DPD) the stream's score first flags them.

The stream scores a customer after every applied event and at absence deadlines
(:func:`stream_app.offline.replay_events`); :func:`score_history` does the same offline and
keeps ``(customer, simulated day, score)`` for every row. On that history, for a score
threshold ``t``:

* a *false alarm* is a customer who never reaches 30 DPD but has some score ``>= t``; the
  false-alarm rate is their share of the customers who never reach 30 DPD;
* a customer who reaches 30 DPD on day ``D`` is *detected* when some score ``>= t`` falls on a
  day strictly before ``D``; the lead time is ``D`` minus the day of the first such score.

:func:`lead_times` reports detection at the smallest threshold whose false-alarm rate is at
most the target (5% by default) and at the HIGH band cut-off.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from stream_app.offline import ReplayStats, replay_events
from stream_app.scoring import DEFAULT_BANDS, BandCutoffs, ScoringModel
from stream_app.simulate import CustomerTruth

__all__ = [
    "DAY_MS",
    "Detection",
    "LeadTimes",
    "ScoreHistory",
    "detection_at",
    "false_alarm_threshold",
    "lead_times",
    "score_history",
]

DAY_MS = 86_400_000
MAX_SCORE = 100
_NEVER = np.iinfo(np.int64).max

Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ScoreHistory:
    """Every score the stream would publish: row ``i`` is customer ``customer_ids[customer[i]]``
    scored ``score[i]`` (0-100) on simulated day ``day[i]`` (0 = the first simulated day)."""

    customer_ids: tuple[str, ...]
    customer: Ints
    day: Ints
    score: Ints

    @property
    def rows(self) -> int:
        return len(self.score)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, int, int]]) -> ScoreHistory:
        """From ``(customer_id, day, score)`` rows."""
        index: dict[str, int] = {}
        customer: list[int] = []
        day: list[int] = []
        score: list[int] = []
        for customer_id, row_day, row_score in rows:
            customer.append(index.setdefault(customer_id, len(index)))
            day.append(row_day)
            score.append(row_score)
        return cls(tuple(index), np.asarray(customer, dtype=np.int64),
                   np.asarray(day, dtype=np.int64), np.asarray(score, dtype=np.int64))


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
    customers: list[Ints] = []
    days: list[Ints] = []
    scores: list[Ints] = []
    batch_customers: list[int] = []
    batch_as_of: list[int] = []
    batch_vectors: list[list[float]] = []
    scored = 0

    def flush() -> None:
        nonlocal scored
        if not batch_vectors:
            return
        result = model.score(np.asarray(batch_vectors, dtype=np.float64))
        customers.append(np.asarray(batch_customers, dtype=np.int64))
        days.append((np.asarray(batch_as_of, dtype=np.int64) - start_ms) // DAY_MS)
        scores.append(result.scores)
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
    empty = np.zeros(0, dtype=np.int64)
    return ScoreHistory(
        tuple(index),
        np.concatenate(customers) if customers else empty,
        np.concatenate(days) if days else empty,
        np.concatenate(scores) if scores else empty,
    )


def false_alarm_threshold(negative_max_scores: Ints, rate: float) -> int:
    """The smallest score threshold (0-101) whose false-alarm rate is at most ``rate``.

    ``negative_max_scores`` holds the highest score of each customer who never reaches the
    DPD threshold; a customer is a false alarm at ``t`` when that score is ``>= t``. Scores are
    whole numbers, so the rate achieved can be below the target; 101 flags nobody.
    """
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"the false-alarm rate must be between 0 and 1, got {rate}")
    total = len(negative_max_scores)
    for threshold in range(MAX_SCORE + 1):
        if total == 0 or np.count_nonzero(negative_max_scores >= threshold) <= rate * total:
            return threshold
    return MAX_SCORE + 1


@dataclass(frozen=True)
class Detection:
    """Detection and false alarms at one score threshold."""

    rule: str
    threshold: int
    negatives: int  # customers who never reach the DPD threshold
    false_alarms: int  # ... of whom some score >= threshold
    positives: int  # customers who reach the DPD threshold
    lead_days: tuple[int, ...]  # one per detected positive, ascending

    @property
    def detected(self) -> int:
        return len(self.lead_days)

    @property
    def false_alarm_rate(self) -> float:
        return self.false_alarms / self.negatives if self.negatives else 0.0

    @property
    def detection_rate(self) -> float | None:
        return self.detected / self.positives if self.positives else None

    def lead_quantile(self, q: float) -> float | None:
        """``q`` in [0, 1] of the lead days (linear interpolation), None when none detected."""
        if not self.lead_days:
            return None
        return float(np.quantile(np.asarray(self.lead_days, dtype=np.float64), q))

    @property
    def median_lead_days(self) -> float | None:
        return self.lead_quantile(0.5)


@dataclass(frozen=True)
class LeadTimes:
    threshold_dpd: int
    target_false_alarm_rate: float
    customers: int
    rows_scored: int
    at_target: Detection  # threshold chosen for the target false-alarm rate
    at_high_band: Detection  # threshold = the HIGH band cut-off


@dataclass(frozen=True)
class _Outcomes:
    """Per history customer: first day at the DPD threshold (-1 for customers who are not
    positives: no day is before it), and who counts as what."""

    first_day: Ints
    negatives: Ints  # history indexes of customers who never reach the threshold
    positives: int
    negatives_without_rows: int  # never scored: never a false alarm
    max_score: Ints


def _outcomes(history: ScoreHistory, truths: Sequence[CustomerTruth],
              threshold_dpd: int) -> _Outcomes:
    index = {c: i for i, c in enumerate(history.customer_ids)}
    first_day = np.full(len(history.customer_ids), -1, dtype=np.int64)
    negatives: list[int] = []
    positives = 0
    unscored_negatives = 0
    for truth in truths:
        day = truth.first_day_at_dpd(threshold_dpd)
        position = index.get(truth.customer_id)
        if day is not None:
            positives += 1
            if position is not None:
                first_day[position] = day
        elif position is not None:
            negatives.append(position)
        else:
            unscored_negatives += 1
    max_score = np.full(len(history.customer_ids), -1, dtype=np.int64)
    np.maximum.at(max_score, history.customer, history.score)
    return _Outcomes(first_day, np.asarray(negatives, dtype=np.int64), positives,
                     unscored_negatives, max_score)


def _detection(history: ScoreHistory, outcomes: _Outcomes, threshold: int,
               rule: str) -> Detection:
    row_first_day = outcomes.first_day[history.customer]
    early = (history.score >= threshold) & (history.day < row_first_day)
    first_flag = np.full(len(history.customer_ids), _NEVER, dtype=np.int64)
    np.minimum.at(first_flag, history.customer[early], history.day[early])
    detected = np.flatnonzero(first_flag != _NEVER)
    lead = outcomes.first_day[detected] - first_flag[detected]
    negative_max = outcomes.max_score[outcomes.negatives]
    return Detection(
        rule=rule,
        threshold=threshold,
        negatives=len(outcomes.negatives) + outcomes.negatives_without_rows,
        false_alarms=int(np.count_nonzero(negative_max >= threshold)),
        positives=outcomes.positives,
        lead_days=tuple(sorted(int(x) for x in lead)),
    )


def detection_at(history: ScoreHistory, truths: Sequence[CustomerTruth], threshold: int, *,
                 threshold_dpd: int = 30, rule: str = "") -> Detection:
    """Detection and false alarms of the customers in ``truths`` at one score threshold
    (rows of customers not in ``truths`` are ignored)."""
    return _detection(history, _outcomes(history, truths, threshold_dpd), threshold,
                      rule or f"score >= {threshold}")


def lead_times(
    history: ScoreHistory,
    truths: Sequence[CustomerTruth],
    *,
    false_alarm_rate: float = 0.05,
    threshold_dpd: int = 30,
    bands: BandCutoffs = DEFAULT_BANDS,
) -> LeadTimes:
    outcomes = _outcomes(history, truths, threshold_dpd)
    negative_max = np.concatenate([
        outcomes.max_score[outcomes.negatives],
        np.full(outcomes.negatives_without_rows, -1, dtype=np.int64),
    ])
    threshold = false_alarm_threshold(negative_max, false_alarm_rate)
    return LeadTimes(
        threshold_dpd=threshold_dpd,
        target_false_alarm_rate=false_alarm_rate,
        customers=len(truths),
        rows_scored=history.rows,
        at_target=_detection(history, outcomes, threshold,
                             f"false-alarm rate <= {false_alarm_rate:.0%}"),
        at_high_band=_detection(history, outcomes, bands.high, "HIGH band"),
    )
