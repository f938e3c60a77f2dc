"""Uplift of interventions on reaching 30+ days past due (pure, no I/O).

The unit is the customer: each customer counts once, with the first intervention decision in
the window that would contact them (TREATMENT: contacted; CONTROL: recorded, not contacted),
its arm and its action. The outcome is whether the customer reaches ``dpd_threshold`` days
past due within ``horizon_days`` after that decision. ``uplift`` is the control share minus
the treatment share (positive: fewer treated customers reach 30+ DPD), with a 95 % interval
for the difference of two independent proportions by Newcombe's hybrid score method
(method 10 of Newcombe, Statistics in Medicine 1998), built from the two Wilson intervals.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["ALL", "DAY_MS", "METHOD", "ArmCount", "Decision", "Subject", "UpliftRow",
           "newcombe_difference", "subjects", "uplift_report", "wilson"]

DAY_MS = 86_400_000
ALL = "ALL"
Z_95 = 1.959963984540054
METHOD = ("Newcombe hybrid score interval (Wilson score per arm) for control share - "
          "treatment share, 95 %")
ARMS = ("TREATMENT", "CONTROL")
# decisions suppressed by a rule are not comparable across arms; a vulnerable reroute still
# contacts (TREATMENT) or would have (CONTROL)
_CONTACTING_RULES = frozenset({None, "vulnerable"})


def wilson(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a proportion; (0, 1) without observations."""
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= successes <= n:
        raise ValueError("successes must be between 0 and n")
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def newcombe_difference(x1: int, n1: int, x2: int, n2: int,
                        z: float = Z_95) -> tuple[float, float, float]:
    """``p1 - p2`` and its hybrid score interval (Newcombe's method 10)."""
    if n1 <= 0 or n2 <= 0:
        raise ValueError("both groups need observations")
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, z)
    l2, u2 = wilson(x2, n2, z)
    difference = p1 - p2
    low = difference - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = difference + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return difference, max(-1.0, low), min(1.0, high)


@dataclass(frozen=True)
class Decision:
    """An intervention decision as the audit trail holds it (times in epoch ms)."""

    customer_id: str
    created_at: int
    action: str
    experiment_arm: str
    rule: str | None = None
    days_past_due: int | None = None


@dataclass(frozen=True)
class Subject:
    customer_id: str
    arm: str
    action: str
    reached: bool


@dataclass(frozen=True)
class ArmCount:
    customers: int
    reached: int

    @property
    def rate(self) -> float | None:
        return self.reached / self.customers if self.customers else None

    def to_json(self) -> dict[str, int | float | None]:
        return {"customers": self.customers, "reached": self.reached, "rate": self.rate}


@dataclass(frozen=True)
class UpliftRow:
    group: str  # an action, or ALL
    treatment: ArmCount
    control: ArmCount
    uplift: float | None  # control rate - treatment rate
    ci_low: float | None
    ci_high: float | None

    def to_json(self) -> dict[str, object]:
        return {"group": self.group, "treatment": self.treatment.to_json(),
                "control": self.control.to_json(), "uplift": self.uplift,
                "ci_low": self.ci_low, "ci_high": self.ci_high}


def subjects(decisions: Iterable[Decision], dpd_reached_at: Mapping[str, Sequence[int]], *,
             horizon_days: int = 60, dpd_threshold: int = 30,
             observed_until: int | None = None) -> tuple[list[Subject], dict[str, int]]:
    """One subject per customer: the first contacting decision (by ``created_at``) and whether
    a time in ``dpd_reached_at[customer]`` (when a score saw ``dpd_threshold``+ days past due)
    falls in ``(created_at, created_at + horizon]``. Returns the subjects and the customers
    left out, by reason: ``suppressed`` (only rule-suppressed decisions), ``already_past_due``
    (at the threshold when decided), ``immature`` (the horizon ends after ``observed_until``).
    """
    first: dict[str, Decision] = {}
    seen: set[str] = set()
    for decision in decisions:
        if decision.experiment_arm not in ARMS:
            raise ValueError("experiment_arm must be TREATMENT or CONTROL")
        seen.add(decision.customer_id)
        if decision.rule not in _CONTACTING_RULES:
            continue
        known = first.get(decision.customer_id)
        if known is None or (decision.created_at, decision.action) < (known.created_at,
                                                                      known.action):
            first[decision.customer_id] = decision
    excluded = {"suppressed": len(seen - set(first)), "already_past_due": 0, "immature": 0}
    horizon = horizon_days * DAY_MS
    out = []
    for customer_id in sorted(first):
        decision = first[customer_id]
        if (decision.days_past_due or 0) >= dpd_threshold:
            excluded["already_past_due"] += 1
            continue
        end = decision.created_at + horizon
        if observed_until is not None and end > observed_until:
            excluded["immature"] += 1
            continue
        reached = any(decision.created_at < t <= end
                      for t in dpd_reached_at.get(customer_id, ()))
        out.append(Subject(customer_id, decision.experiment_arm, decision.action, reached))
    return out, excluded


def _row(group: str, members: Sequence[Subject]) -> UpliftRow:
    counts = {arm: ArmCount(sum(1 for s in members if s.arm == arm),
                            sum(1 for s in members if s.arm == arm and s.reached))
              for arm in ARMS}
    treatment, control = counts["TREATMENT"], counts["CONTROL"]
    if not treatment.customers or not control.customers:
        return UpliftRow(group, treatment, control, None, None, None)
    uplift, low, high = newcombe_difference(control.reached, control.customers,
                                            treatment.reached, treatment.customers)
    return UpliftRow(group, treatment, control, uplift, low, high)


def uplift_report(members: Sequence[Subject]) -> list[UpliftRow]:
    """A row per action (sorted), then the overall row (``ALL``)."""
    actions = sorted({s.action for s in members})
    rows = [_row(action, [s for s in members if s.action == action]) for action in actions]
    rows.append(_row(ALL, members))
    return rows
