"""Ground-truth labels from the simulator: ``customer_id,as_of,label`` for *current* points.

Pre-delinquency means before the first missed payment, so a label point is taken only where
the customer is current (no day past due on the as-of day): customers already in arrears
belong to the arrears track and are not what the pre-delinquency model predicts. Two targets:

* ``dpd30`` (default): ``label = 1`` when the customer reaches ``threshold_dpd`` (30) days past
  due within ``horizon_days`` (90) after ``as_of``; from current, that means a payment missed
  within about 60 days that is not cured;
* ``first_miss``: ``label = 1`` when the customer misses a payment (1 day past due) within
  ``horizon_days`` after ``as_of``.

Points whose outcome window runs past the end of the simulation are left out (the outcome is
not known yet).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ._customer import DAY_MS, CustomerTruth

__all__ = ["TARGETS", "Label", "labels_from_truth"]

TARGETS = ("dpd30", "first_miss")


@dataclass(frozen=True, slots=True)
class Label:
    customer_id: str
    as_of: int  # epoch ms: the last millisecond of the as-of day
    label: int


def labels_from_truth(
    truths: Iterable[CustomerTruth],
    *,
    start_ms: int,
    days: int,
    first_day: int = 60,
    every_days: int = 7,
    horizon_days: int = 90,
    threshold_dpd: int = 30,
    target: str = "dpd30",
) -> list[Label]:
    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    threshold = threshold_dpd if target == "dpd30" else 1
    labels: list[Label] = []
    last_day = days - 1 - horizon_days
    for truth in truths:
        dpd = truth.dpd_by_day
        for as_of_day in range(first_day, last_day + 1, every_days):
            if dpd.get(as_of_day, 0) > 0:
                continue  # in arrears: the arrears track, not a pre-delinquency point
            hit = any(dpd.get(d, 0) >= threshold
                      for d in range(as_of_day + 1, as_of_day + horizon_days + 1))
            as_of = start_ms + (as_of_day + 1) * DAY_MS - 1
            labels.append(Label(truth.customer_id, as_of, int(hit)))
    return labels
