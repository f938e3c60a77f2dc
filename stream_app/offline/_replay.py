"""Offline replay: event log -> point-in-time feature vectors, with the stream's feature code.

For each ``(customer_id, as_of)`` the vector is computed from exactly the events of that
customer with ``occurred_at <= as_of`` that appear in the log before the first event past
``as_of`` (no later event leaks in), through ``apply_event`` and ``feature_vector``: the
functions the Faust worker calls.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from stream_app.events import InputEvent
from stream_app.features import (
    Applied,
    CustomerState,
    DeadlineIndex,
    DueDeadline,
    apply_event,
    feature_vector,
    next_deadline,
)
from stream_app.serializers import InputError

from ._logs import to_event

__all__ = ["AsOf", "ReplayRow", "ReplayStats", "UnknownCustomersError", "replay_events",
           "replay_points"]


class AsOf(Protocol):
    @property
    def customer_id(self) -> str: ...

    @property
    def as_of(self) -> int: ...


class UnknownCustomersError(ValueError):
    def __init__(self, customers: list[str]) -> None:
        self.customers = customers
        super().__init__(
            f"{len(customers)} customer(s) in the labels never appear in the events "
            f"(first: {', '.join(customers[:3])})"
        )


@dataclass
class ReplayStats:
    events: int = 0
    applied: int = 0
    duplicates: int = 0
    too_late: int = 0
    invalid: int = 0
    invalid_reasons: dict[str, int] = field(default_factory=dict)


P = TypeVar("P", bound=AsOf)


def _valid_event(record: dict[str, Any], stats: ReplayStats) -> InputEvent | None:
    """The record as a validated event, or None (counted by reason) when it is not one."""
    try:
        return to_event(record)
    except (InputError, KeyError) as exc:
        stats.invalid += 1
        reason = getattr(exc, "reason", "unknown_type")
        stats.invalid_reasons[reason] = stats.invalid_reasons.get(reason, 0) + 1
        return None


def replay_points(
    records: Iterable[dict[str, Any]],
    points: Sequence[P],
    stats: ReplayStats | None = None,
    *,
    require_known_customers: bool = True,
) -> Iterator[tuple[P, list[float]]]:
    """Yield ``(point, feature vector at point.as_of)`` for every point.

    Points of one customer come out in as_of order; across customers, in the order their
    as_of is passed in the log. Raises UnknownCustomersError (after the log is consumed) when
    a point's customer has no valid event at all and ``require_known_customers`` is set.
    """
    stats = stats if stats is not None else ReplayStats()
    pending: dict[str, list[P]] = defaultdict(list)
    for point in sorted(points, key=lambda p: (p.customer_id, p.as_of), reverse=True):
        pending[point.customer_id].append(point)  # newest first: pop() gives the oldest
    states: dict[str, CustomerState] = {}
    seen: set[str] = set()
    for record in records:
        stats.events += 1
        customer = record.get("customer_id")
        queue = pending.get(customer) if isinstance(customer, str) else None
        if not queue:
            continue
        event = _valid_event(record, stats)
        if event is None:
            continue
        seen.add(event.customer_id)
        state = states.get(event.customer_id)
        if state is None:
            state = states[event.customer_id] = CustomerState()
        while queue and queue[-1].as_of < event.occurred_at:
            point = queue.pop()
            yield point, feature_vector(state, point.as_of)
        outcome = apply_event(state, event)
        if outcome is Applied.APPLIED:
            stats.applied += 1
        elif outcome is Applied.DUPLICATE:
            stats.duplicates += 1
        elif outcome is Applied.TOO_LATE:
            stats.too_late += 1
    unknown = sorted(c for c, queue in pending.items() if queue and c not in seen)
    if unknown and require_known_customers:
        raise UnknownCustomersError(unknown)
    for customer, queue in pending.items():
        state = states.get(customer) or CustomerState()
        while queue:
            point = queue.pop()
            yield point, feature_vector(state, point.as_of)


@dataclass(frozen=True, slots=True)
class ReplayRow:
    """One feature vector the stream would score: after an event, or at an absence deadline."""

    customer_id: str
    trigger: str  # the event_id, or "<deadline kind>@<time ms>" for an absence rescoring
    as_of: int
    vector: list[float]


def replay_events(
    records: Iterable[dict[str, Any]],
    stats: ReplayStats | None = None,
    *,
    absence_deadlines: bool = True,
) -> Iterator[ReplayRow]:
    """A row per applied event (at the customer's watermark, as the worker scores it) and,
    with ``absence_deadlines``, a row per absence deadline passed by the log's event time
    (the newest event time read so far: offline there is one clock, the log's)."""
    stats = stats if stats is not None else ReplayStats()
    states: dict[str, CustomerState] = {}
    index = DeadlineIndex()

    def fire(due: DueDeadline, state: CustomerState) -> ReplayRow:
        index.schedule(0, due.customer_id, next_deadline(state, due.at_ms))
        return ReplayRow(due.customer_id, f"{due.kind}@{due.at_ms}", due.at_ms,
                         feature_vector(state, due.at_ms))

    for record in records:
        stats.events += 1
        event = _valid_event(record, stats)
        if event is None:
            continue
        customer = event.customer_id
        state = states.get(customer)
        if state is None:
            state = states[customer] = CustomerState()
        if absence_deadlines:
            due = index.pop_if_due(0, customer, event.occurred_at)
            while due is not None:
                yield fire(due, state)
                due = index.pop_if_due(0, customer, event.occurred_at)
        outcome = apply_event(state, event)
        if outcome is Applied.APPLIED:
            stats.applied += 1
            yield ReplayRow(customer, event.event_id, state.watermark,
                            feature_vector(state, state.watermark))
            if absence_deadlines:
                index.observe(0, event.occurred_at)
                after = index.after(0, customer, state.watermark)
                index.schedule(0, customer, next_deadline(state, after))
                for due in index.due(0):
                    yield fire(due, states[due.customer_id])
        elif outcome is Applied.DUPLICATE:
            stats.duplicates += 1
        elif outcome is Applied.TOO_LATE:
            stats.too_late += 1
