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

from stream_app.features import Applied, CustomerState, apply_event, feature_vector
from stream_app.serializers import InputError

from ._logs import to_event

__all__ = ["AsOf", "ReplayStats", "UnknownCustomersError", "replay_points"]


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
        try:
            event = to_event(record)
        except (InputError, KeyError) as exc:
            stats.invalid += 1
            reason = getattr(exc, "reason", "unknown_type")
            stats.invalid_reasons[reason] = stats.invalid_reasons.get(reason, 0) + 1
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
