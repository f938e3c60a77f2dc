"""One micro-batch of events through the fixed-layout states in one compiled call (pure).

``run_batch`` is the loop the reference processor ran per event in Python, for all customers
of a batch at once: for each customer (its events contiguous, in arrival order), before each
event the customer's pending absence deadline fires if the event's time has reached it (a
feature row as of the deadline, with the state before the event, and the next deadline after
it), then the event is applied (``_kernel_apply.apply_one``) and, when applied, a feature row
as of the customer's watermark is written and the next deadline is looked for after the
watermark (or after the last deadline fired, when that is later: a deadline fires once).
The same steps, in the same order, as ``stream_app.processing``'s reference path, so the rows
are exactly those of ``feature_vector`` / ``next_deadline`` (tests/features/test_kernel_batch.py).

Feature rows go to a caller-owned buffer; a customer is only started when its worst case fits
(``rows_needed``), and the call returns the customer to resume from.
"""

from __future__ import annotations

import numba
import numpy as np

from ._kernel_apply import APPLIED, apply_one
from ._kernel_vector import features_into, next_deadline_of
from ._numba_cache import configure as _configure_numba_cache
from ._state import MAX_INSTALMENTS, MAX_PRODUCTS, MAX_STATEMENTS

_configure_numba_cache()  # before the kernels below: a cache keyed by the package's sources

__all__ = ["ROW_EVENT", "ROW_TIMER_DUE_SOON", "ROW_TIMER_SALARY", "SKIP", "rows_needed",
           "run_batch"]

ROW_EVENT = 0  # a row after an applied event
ROW_TIMER_DUE_SOON = 1  # a row at a fired deadline: 1 + the kernel's deadline kind code
ROW_TIMER_SALARY = 2
SKIP = 255  # an event's ``source`` that the kernel passes over (future-dated customer flags)
# at most this many deadlines can fire before one event: one per due item, and the salary one
_MAX_FIRES_PER_EVENT = MAX_PRODUCTS * (MAX_STATEMENTS + MAX_INSTALMENTS) + 1


def rows_needed(events: int) -> int:
    """Worst-case feature rows of a customer with ``events`` events."""
    return events * (1 + _MAX_FIRES_PER_EVENT)


@numba.njit(cache=True)
def run_batch(states: np.ndarray, starts: np.ndarray, events: np.ndarray,  # noqa: PLR0917 - njit: positional only
              deadline_at: np.ndarray, deadline_kind: np.ndarray, fired: np.ndarray,
              out: np.ndarray, row_customer: np.ndarray, row_event: np.ndarray,
              row_as_of: np.ndarray, row_kind: np.ndarray, outcomes: np.ndarray,
              applied_max: np.ndarray, first: int) -> tuple[int, int]:
    """Customers ``first ..`` (state ``c`` has events ``starts[c]:starts[c + 1]``), as many as
    fit ``out``; returns ``(next customer, rows written)``.

    ``deadline_at``/``deadline_kind``: each customer's pending deadline (-1: none), updated;
    ``fired``: the last deadline fired per customer while ahead of its watermark (-1: none),
    updated; ``outcomes[j]``: ``apply_one``'s code for event ``j``; ``applied_max[c]``: the
    newest event time applied (-1: none)."""
    capacity = out.shape[0]
    rows = 0
    c = first
    customers = starts.shape[0] - 1
    while c < customers:
        start = starts[c]
        stop = starts[c + 1]
        if rows + (stop - start) * (1 + _MAX_FIRES_PER_EVENT) > capacity:
            break
        for j in range(start, stop):
            event = events[j]
            if event.source == SKIP:
                outcomes[j] = -1
                continue
            time_ms = event.occurred_at
            # a deadline this event's time reaches fires first, with the state before it
            while deadline_at[c] >= 0 and deadline_at[c] <= time_ms:
                at_ms = deadline_at[c]
                fired[c] = at_ms
                features_into(states, c, at_ms, out, rows)
                row_customer[rows] = c
                row_event[rows] = j
                row_as_of[rows] = at_ms
                row_kind[rows] = 1 + deadline_kind[c]
                rows += 1
                deadline_at[c], deadline_kind[c] = next_deadline_of(states, c, at_ms)
            outcome = apply_one(states, c, events, j)
            outcomes[j] = outcome
            if outcome != APPLIED:
                continue
            applied_max[c] = max(applied_max[c], time_ms)
            watermark = max(states[c].watermarks[0], states[c].watermarks[1])
            features_into(states, c, watermark, out, rows)
            row_customer[rows] = c
            row_event[rows] = j
            row_as_of[rows] = watermark
            row_kind[rows] = ROW_EVENT
            rows += 1
            after = watermark
            if fired[c] >= 0:
                if watermark >= fired[c]:
                    fired[c] = -1
                else:
                    after = fired[c]
            deadline_at[c], deadline_kind[c] = next_deadline_of(states, c, after)
        c += 1
    return c, rows
