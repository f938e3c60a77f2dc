"""Ground-truth labels from the simulator: ``customer_id,as_of,label``.

``label = 1`` when the customer first reaches ``threshold_dpd`` days past due within
``horizon_days`` after ``as_of``. Points where the customer is already at or past the threshold
are left out (already delinquent: nothing to predict), and so are points whose outcome window
runs past the end of the simulation (the outcome is not known yet).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ._bank import DAY_MS, CustomerTruth

__all__ = ["Label", "labels_from_truth"]


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
    every_days: int = 14,
    horizon_days: int = 60,
    threshold_dpd: int = 30,
) -> list[Label]:
    labels: list[Label] = []
    last_day = days - 1 - horizon_days
    for truth in truths:
        for as_of_day in range(first_day, last_day + 1, every_days):
            if truth.dpd_by_day.get(as_of_day, 0) >= threshold_dpd:
                continue
            hit = any(
                truth.dpd_by_day.get(d, 0) >= threshold_dpd
                for d in range(as_of_day + 1, as_of_day + horizon_days + 1)
            )
            as_of = start_ms + (as_of_day + 1) * DAY_MS - 1
            labels.append(Label(truth.customer_id, as_of, int(hit)))
    return labels
