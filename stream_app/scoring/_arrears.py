"""The arrears track: roll-rate and cure assessment of customers already past due (numpy only).

A customer with any amount past due is not a pre-delinquency case: collections own it. The
assessment is the collections standard, a roll-rate table: for each days-past-due bucket
(1-29, 30-59, 60-89, 90+) and hardship segment (income lost: no income in 30 days, income
below half the usual, or an expected salary missing), the share of customers in that cell who

* **roll** to the next bucket (30, 60, 90, 120 days past due) within 30 days, and
* **cure** (return to current, nothing past due) within 30 days,

counted on the training data's own arrears history (the simulator's truth or the logged
``DELINQUENCY_STATUS`` events) and smoothed towards a documented prior so that a thin cell is
not 0 or 1. It is stored in the model's metadata (``arrears_assessment``). On the arrears track
the published probability is the roll probability and the score ``round(100 * roll)``;
reasons name the bucket, the products in arrears, the unpaid amount and the hardship signal.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from stream_app.features import feature_index

__all__ = ["BUCKETS", "PRIOR", "ArrearsAssessment", "ArrearsPoint", "arrears_points",
           "bucket_of", "fit_arrears_assessment", "hardship"]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

BUCKETS = ("1-29", "30-59", "60-89", "90+")
_LOWER = (1, 30, 60, 90)
_NEXT = (30, 60, 90, 120)
SEGMENTS = ("no_hardship", "hardship")
# (roll, cure) within 30 days when a cell has no data: typical early-arrears behaviour
PRIOR: dict[str, tuple[float, float]] = {"1-29": (0.25, 0.55), "30-59": (0.45, 0.2),
                                         "60-89": (0.6, 0.1), "90+": (0.7, 0.05)}
PRIOR_WEIGHT = 10.0  # pseudo-observations of the prior in each cell
OUTCOME_DAYS = 30

_DPD = feature_index("dpd_current")
_INCOME = feature_index("income_30d_minor")
_INCOME_DROP = feature_index("income_drop_ratio")
_SALARY_MISSED = feature_index("salary_missed")
_HISTORY = feature_index("history_days")


def bucket_of(days_past_due: int) -> int:
    """Index into BUCKETS (0 for 1-29 days; a computed miss without a reported status has
    0 reported days and counts as 1-29)."""
    for index in range(len(_LOWER) - 1, -1, -1):
        if days_past_due >= _LOWER[index]:
            return index
    return 0


def hardship(features: Floats) -> Bools:
    """Rows whose income is lost or cut: none in 30 days (with history to judge from), below
    half the usual, or an expected salary missing."""
    mature = features[:, _HISTORY] >= 60
    result: Bools = ((mature & (features[:, _INCOME] <= 0)) | (features[:, _INCOME_DROP] < 0.5)
                     | (features[:, _SALARY_MISSED] > 0))
    return result


@dataclass(frozen=True)
class ArrearsPoint:
    """A day a customer is past due, with what happened in the next 30 days."""

    customer_id: str
    as_of: int  # epoch ms, the last millisecond of the day
    days_past_due: int
    rolled: bool
    cured: bool


def arrears_points(dpd: Mapping[str, Mapping[int, int]], *, start_ms: int, days: int,
                   every_days: int = 3) -> list[ArrearsPoint]:
    """Every ``every_days``-th day a customer is past due whose 30-day outcome is known."""
    day_ms = 86_400_000
    points: list[ArrearsPoint] = []
    for customer, by_day in dpd.items():
        for day in sorted(by_day)[::every_days]:
            if day + OUTCOME_DAYS >= days:
                continue
            value = by_day[day]
            target = _NEXT[bucket_of(value)]
            window = [by_day.get(d, 0) for d in range(day + 1, day + OUTCOME_DAYS + 1)]
            points.append(ArrearsPoint(customer, start_ms + (day + 1) * day_ms - 1, value,
                                       max(window) >= target, min(window) == 0))
    return points


@dataclass(frozen=True)
class ArrearsAssessment:
    """Roll and cure probabilities per (bucket, segment) cell, with the counts behind them."""

    roll: tuple[tuple[float, float], ...]  # [bucket][segment]
    cure: tuple[tuple[float, float], ...]
    counts: tuple[tuple[int, int], ...] = field(default=((0, 0),) * len(BUCKETS))

    def assess(self, features: Floats) -> tuple[Floats, Floats, Ints]:
        """``(roll, cure, bucket index)`` per row (meaningful for rows on the arrears track)."""
        dpd = features[:, _DPD].astype(np.int64)
        buckets = np.searchsorted(np.asarray(_LOWER[1:]), dpd, side="right").astype(np.int64)
        segment = hardship(features).astype(np.int64)
        roll = np.asarray(self.roll, dtype=np.float64)[buckets, segment]
        cure = np.asarray(self.cure, dtype=np.float64)[buckets, segment]
        return roll, cure, buckets

    def bucket_rate(self, bucket: int) -> float:
        """The bucket's roll rate over both segments (weighted by their counts)."""
        n = self.counts[bucket]
        total = n[0] + n[1]
        if total == 0:
            return sum(self.roll[bucket]) / 2
        return (self.roll[bucket][0] * n[0] + self.roll[bucket][1] * n[1]) / total

    def to_metadata(self) -> dict[str, Any]:
        return {
            "method": "roll_rate_table",
            "buckets": list(BUCKETS),
            "segments": list(SEGMENTS),
            "outcome_days": OUTCOME_DAYS,
            "roll": [list(r) for r in self.roll],
            "cure": [list(c) for c in self.cure],
            "counts": [list(c) for c in self.counts],
        }

    @classmethod
    def from_metadata(cls, data: object) -> ArrearsAssessment:
        """The table of a model's metadata; the prior for models trained before it existed."""
        if not isinstance(data, dict) or data.get("method") != "roll_rate_table":
            return cls.prior()
        return cls(tuple((float(a), float(b)) for a, b in data["roll"]),
                   tuple((float(a), float(b)) for a, b in data["cure"]),
                   tuple((int(a), int(b)) for a, b in data["counts"]))

    @classmethod
    def prior(cls) -> ArrearsAssessment:
        return cls(tuple((PRIOR[b][0],) * 2 for b in BUCKETS),
                   tuple((PRIOR[b][1],) * 2 for b in BUCKETS))


def fit_arrears_assessment(points: Iterable[tuple[ArrearsPoint, Floats]]) -> ArrearsAssessment:
    """Count roll and cure per cell over ``(point, feature vector at the point)`` pairs."""
    n = np.zeros((len(BUCKETS), 2))
    rolled = np.zeros((len(BUCKETS), 2))
    cured = np.zeros((len(BUCKETS), 2))
    for point, vector in points:
        row = np.asarray(vector, dtype=np.float64)[None, :]
        bucket = bucket_of(point.days_past_due)
        segment = int(hardship(row)[0])
        n[bucket, segment] += 1
        rolled[bucket, segment] += point.rolled
        cured[bucket, segment] += point.cured
    roll = []
    cure = []
    for b, name in enumerate(BUCKETS):
        prior_roll, prior_cure = PRIOR[name]
        roll.append(tuple(float((rolled[b, s] + PRIOR_WEIGHT * prior_roll)
                                / (n[b, s] + PRIOR_WEIGHT)) for s in range(2)))
        cure.append(tuple(float((cured[b, s] + PRIOR_WEIGHT * prior_cure)
                                / (n[b, s] + PRIOR_WEIGHT)) for s in range(2)))
    counts = tuple((int(n[b, 0]), int(n[b, 1])) for b in range(len(BUCKETS)))
    return ArrearsAssessment(tuple(roll), tuple(cure), counts)  # type: ignore[arg-type]


def logit(p: float) -> float:
    p = min(1 - 1e-9, max(1e-9, p))
    return math.log(p / (1 - p))
