"""The simulated experiment (pure): arms and outcomes from the simulator's ground truth, and
the CRM's outcome events for interventions.

:func:`uplift_subjects` turns customer truths into uplift subjects as the arrears track would
decide them: every customer who misses a payment gets a decision on the day of the first miss
(the worker decides for every arrears score), in the arm ``in_control_group`` gives the
customer; the outcome is reaching 30+ DPD within the horizon.

:func:`outcome_events` plays the CRM: for each actionable TREATMENT intervention (the contacts
actually made), deterministic ``InterventionOutcome`` records: CONTACTED, then perhaps
REACHED, and after a reach perhaps ACCEPTED_PLAN or PAYMENT_MADE, rarely COMPLAINT or
OPT_OUT. These outcomes are reports only: they do not change the simulated customers (the
true effect is ``SimulationConfig.treatment_effect``).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from stream_app.uplift import Subject

from ._customer import CustomerTruth

__all__ = ["ARREARS_DECISION", "outcome_events", "uplift_subjects"]

ARREARS_DECISION = "ARREARS_CONTACT"  # the action of a simulated first-miss decision
MINUTE_MS = 60_000
_NAMESPACE = uuid.UUID("8f2d0b7e-6a43-5c1e-9b2f-4d7a0c3e1f55")
# chance that a contact on this channel reaches the customer
_REACH = {"CALL": 0.55, "SMS": 0.8, "EMAIL": 0.5, "PUSH": 0.6, "LETTER": 0.7}
_PLAN_ACTIONS = frozenset({"INSTALMENT_PLAN", "PAYMENT_DATE_MOVE", "HARDSHIP_ASSESSMENT",
                           "BUDGETING_SUPPORT"})


def uplift_subjects(truths: Iterable[CustomerTruth], days: int, *, horizon_days: int = 60,
                    dpd_threshold: int = 30) -> list[Subject]:
    """A subject per customer who misses a payment on a day whose horizon ends within the
    ``days`` simulated (later first misses are left out: their outcome is not known)."""
    out = []
    for truth in truths:
        first_miss = truth.first_day_at_dpd(1)
        if first_miss is None or first_miss + horizon_days > days - 1:
            continue
        reached = truth.first_day_at_dpd(dpd_threshold, first_miss)
        out.append(Subject(truth.customer_id, truth.arm, ARREARS_DECISION,
                           reached is not None and reached <= first_miss + horizon_days))
    return out


def _outcome(intervention: Mapping[str, Any], kind: str, at: int,
             amount_minor: int | None = None) -> dict[str, Any]:
    intervention_id = str(intervention["intervention_id"])
    return {
        "event_id": str(uuid.uuid5(_NAMESPACE, f"{intervention_id}:{kind}")),
        "intervention_id": intervention_id,
        "customer_id": intervention["customer_id"],
        "occurred_at": at,
        "outcome": kind,
        "channel": intervention.get("channel"),
        "amount_minor": amount_minor,
    }


def outcome_events(interventions: Iterable[Mapping[str, Any]],
                   seed: int = 7) -> list[dict[str, Any]]:
    """InterventionOutcome records (wire field names) for the contacts among
    ``interventions`` (records as published on risk.interventions.v1), in event-time order.
    The same intervention and seed always give the same outcomes and event ids."""
    out: list[dict[str, Any]] = []
    for intervention in interventions:
        if intervention.get("experiment_arm", "TREATMENT") != "TREATMENT" \
                or not intervention.get("actionable", True):
            continue  # the control arm and suppressed decisions contact nobody
        # simulation draws, not secrets
        rng = random.Random(f"outcome:{seed}:{intervention['intervention_id']}")  # noqa: S311
        at = int(intervention["created_at"]) + rng.randint(1, 120) * MINUTE_MS
        out.append(_outcome(intervention, "CONTACTED", at))
        if rng.random() >= _REACH.get(str(intervention.get("channel")), 0.5):
            continue
        at += rng.randint(0, 48 * 60) * MINUTE_MS
        out.append(_outcome(intervention, "REACHED", at))
        draw = rng.random()
        plan_p = 0.3 if intervention.get("action") in _PLAN_ACTIONS else 0.1
        if draw < 0.02:
            out.append(_outcome(intervention, "OPT_OUT", at + MINUTE_MS))
        elif draw < 0.05:
            out.append(_outcome(intervention, "COMPLAINT", at + MINUTE_MS))
        elif draw < 0.05 + plan_p:
            out.append(_outcome(intervention, "ACCEPTED_PLAN", at + 5 * MINUTE_MS))
        elif draw < 0.35 + plan_p:
            days_later = rng.randint(0, 7) * 1440 * MINUTE_MS
            out.append(_outcome(intervention, "PAYMENT_MADE", at + days_later,
                                rng.randint(25, 400) * 100))
    out.sort(key=lambda e: (e["occurred_at"], e["event_id"]))
    return out
