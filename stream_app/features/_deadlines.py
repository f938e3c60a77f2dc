"""Absence detection: when would a feature change although no event arrives? (pure)

Some stress is the event that did not happen: a salary not credited by its usual day plus a
grace period (``salary_missed``), or a due date coming within ``DUE_SOON_DAYS`` while the
balance does not cover the amount still due (``due_soon_shortfall``). Both features are
functions of the as-of time, so they change when time passes. ``next_deadline`` returns the
first event-time instant after ``after_ms`` at which one of them would switch on; the stream
rescores the customer when its partition's event time passes that instant, and offline replay
does the same with the log's event time.

``DeadlineIndex`` keeps the pending deadline of each customer per input partition. Each
partition has a *stream time*: the newest event time applied from it. A deadline fires once
the stream time of the customer's partition reaches it. Using the partition's own event time,
not the wall clock, makes backfills and replays behave like live traffic and never fires a
deadline before the partition's earlier events have been applied; a partition with no traffic
does not advance. The worker never lets an event dated further ahead of its wall clock than
``MAX_EVENT_SKEW_SECONDS`` reach a stream time (stream_app/processing), and fires at most
``MAX_DEADLINES_PER_BATCH`` deadlines per batch (``due``'s ``limit``).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from itertools import pairwise
from statistics import median

from ._state import DAY_MS, MINUTE_MS, CustomerState
from ._vector import DUE_SOON_DAYS, SALARY_GRACE_DAYS

__all__ = ["Deadline", "DeadlineIndex", "DueDeadline", "next_deadline"]

_MINUTES_PER_DAY = DAY_MS // MINUTE_MS


class Deadline:
    """Kinds of absence deadlines (the ``trigger_event_id`` prefix of a timer rescoring)."""

    SALARY = "salary-missed"
    DUE_SOON = "due-soon"


def _salary_deadline(state: CustomerState, after_day: int) -> int | None:
    days = [s[0] for s in state.salaries if s[0] <= after_day]
    if len(days) < 2:
        return None
    cadence = float(median([b - a for a, b in pairwise(days)]))
    # salary_missed is 1 from the first day d with d - last - cadence > grace
    first_day = days[-1] + math.floor(cadence + SALARY_GRACE_DAYS) + 1
    return first_day * DAY_MS


def _due_soon_deadlines(state: CustomerState, after_ms: int) -> list[int]:
    spendable = max(state.close_balance, 0)
    as_min = after_ms // MINUTE_MS
    found = []
    for product in state.products.values():
        items = [(s[0], s[2], s[3]) for s in product.statements]
        items += [(i[0], i[1], i[2]) for i in product.instalments]
        for issued, due, due_day in items:
            if issued > as_min:
                continue
            end = (due_day + 1) * _MINUTES_PER_DAY
            paid = sum(p[1] for p in product.payments if issued <= p[0] < end)
            if due - paid > spendable:
                found.append((due_day - DUE_SOON_DAYS) * DAY_MS)
    return found


def next_deadline(state: CustomerState, after_ms: int) -> tuple[int, str] | None:
    """The earliest ``(time_ms, kind)`` strictly after ``after_ms`` at which an absence
    feature would switch on if no further event arrived, or None."""
    candidates: list[tuple[int, str]] = []
    salary = _salary_deadline(state, after_ms // DAY_MS)
    if salary is not None and salary > after_ms:
        candidates.append((salary, Deadline.SALARY))
    candidates += [(t, Deadline.DUE_SOON) for t in _due_soon_deadlines(state, after_ms)
                   if t > after_ms]
    return min(candidates) if candidates else None


@dataclass(frozen=True, slots=True)
class DueDeadline:
    partition: int
    customer_id: str
    at_ms: int
    kind: str


class DeadlineIndex:
    def __init__(self) -> None:
        self._heaps: dict[int, list[tuple[int, str, str]]] = {}
        self._current: dict[int, dict[str, tuple[int, str]]] = {}
        self._stream_time: dict[int, int] = {}
        # the last deadline fired per customer, while it is ahead of the customer's own events
        self._fired: dict[int, dict[str, int]] = {}

    def stream_time(self, partition: int) -> int:
        return self._stream_time.get(partition, 0)

    def observe(self, partition: int, event_time_ms: int) -> None:
        if event_time_ms > self._stream_time.get(partition, 0):
            self._stream_time[partition] = event_time_ms

    def after(self, partition: int, customer_id: str, watermark_ms: int) -> int:
        """The time after which to look for the customer's next deadline: its watermark, or
        the last deadline fired for it when that is later. A deadline fires once even when
        the customer's own events (read later, e.g. from a lagging topic) are older."""
        fired = self._fired.get(partition)
        last = fired.get(customer_id) if fired else None
        if last is None:
            return watermark_ms
        if watermark_ms >= last:
            del fired[customer_id]  # type: ignore[union-attr]  # fired is set when found
            return watermark_ms
        return last

    def schedule(self, partition: int, customer_id: str,
                 deadline: tuple[int, str] | None) -> None:
        """Replace the customer's pending deadline (None: nothing pending)."""
        current = self._current.setdefault(partition, {})
        if deadline is None:
            current.pop(customer_id, None)  # its heap entry is skipped when popped
            return
        if current.get(customer_id) == deadline:
            return
        current[customer_id] = deadline
        heapq.heappush(self._heaps.setdefault(partition, []),
                       (deadline[0], customer_id, deadline[1]))

    def due(self, partition: int, limit: int | None = None) -> list[DueDeadline]:
        """Remove and return the deadlines at or before the partition's stream time, at most
        ``limit`` of them (the earliest): the others stay pending and come with the next
        call, so a jump of the stream time does not rescore a whole partition at once."""
        heap = self._heaps.get(partition)
        if not heap or (limit is not None and limit <= 0):
            return []
        now = self._stream_time.get(partition, 0)
        current = self._current.get(partition, {})
        fired: list[DueDeadline] = []
        while heap and heap[0][0] <= now and (limit is None or len(fired) < limit):
            at_ms, customer, kind = heapq.heappop(heap)
            if current.get(customer) == (at_ms, kind):  # else superseded
                del current[customer]
                self._fired.setdefault(partition, {})[customer] = at_ms
                fired.append(DueDeadline(partition, customer, at_ms, kind))
        return fired

    def has_due(self, partition: int) -> bool:
        """Whether a deadline at or before the partition's stream time is pending."""
        heap = self._heaps.get(partition)
        now = self._stream_time.get(partition, 0)
        current = self._current.get(partition, {})
        while heap and heap[0][0] <= now:
            at_ms, customer, kind = heap[0]
            if current.get(customer) == (at_ms, kind):
                return True
            heapq.heappop(heap)  # superseded
        return False

    def pop_if_due(self, partition: int, customer_id: str, time_ms: int) -> DueDeadline | None:
        """The customer's pending deadline if ``time_ms`` has reached it (then removed)."""
        current = self._current.get(partition)
        deadline = current.get(customer_id) if current else None
        if deadline is None or deadline[0] > time_ms:
            return None
        del current[customer_id]  # type: ignore[union-attr]  # current is set when found
        self._fired.setdefault(partition, {})[customer_id] = deadline[0]
        return DueDeadline(partition, customer_id, deadline[0], deadline[1])

    def pending_of(self, partition: int, customer_id: str) -> tuple[int, str] | None:
        """The customer's pending deadline, or None."""
        current = self._current.get(partition)
        return current.get(customer_id) if current else None

    def fired_of(self, partition: int, customer_id: str) -> int | None:
        """The last deadline fired for the customer while ahead of its watermark (see
        ``after``), or None."""
        fired = self._fired.get(partition)
        return fired.get(customer_id) if fired else None

    def set_fired(self, partition: int, customer_id: str, at_ms: int | None) -> None:
        """Record (or with None, forget) the last deadline fired for the customer: what the
        batch kernel, which fires deadlines itself, found."""
        if at_ms is None:
            fired = self._fired.get(partition)
            if fired:
                fired.pop(customer_id, None)
        else:
            self._fired.setdefault(partition, {})[customer_id] = at_ms

    def pending(self, partition: int) -> int:
        return len(self._current.get(partition, {}))

    def drop_partition(self, partition: int) -> None:
        """The partition moved to another worker: forget its deadlines and stream time."""
        self._heaps.pop(partition, None)
        self._current.pop(partition, None)
        self._stream_time.pop(partition, None)
        self._fired.pop(partition, None)
