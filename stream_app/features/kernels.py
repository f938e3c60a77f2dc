"""The feature engine's compiled batch path: fixed-layout states and numba kernels (pure).

What the worker's batch processor runs; the reference objects and functions of
``stream_app.features`` (``CustomerState``, ``apply_event``, ``feature_vector``,
``next_deadline``) define the values, and the kernels equal them exactly
(tests/features/test_kernel_*.py; bench/compare.py checks the worker's outputs against an
offline replay of the reference).
"""

from ._catalogue import FEATURE_NAMES
from ._kernel_apply import (
    APPLIED,
    DUPLICATE,
    EVENT,
    IGNORED,
    REREAD,
    TOO_LATE,
    apply_one,
    encode_events,
)
from ._kernel_batch import (
    ROW_EVENT,
    ROW_TIMER_DUE_SOON,
    ROW_TIMER_SALARY,
    SKIP,
    rows_needed,
    run_batch,
)
from ._kernel_vector import features_batch, features_into, next_deadline_of, next_deadline_record
from ._layout import (
    CORE_BYTES,
    EMPTY,
    LAYOUT_VERSION,
    PRODUCT_BYTES,
    STATE,
    STATE_BYTES_MAX,
    cap_record,
    empty_records,
    load_records,
    record_bytes,
    record_to_state,
    state_to_record,
)

__all__ = [
    "APPLIED",
    "CORE_BYTES",
    "DUPLICATE",
    "EMPTY",
    "EVENT",
    "IGNORED",
    "LAYOUT_VERSION",
    "PRODUCT_BYTES",
    "REREAD",
    "ROW_EVENT",
    "ROW_TIMER_DUE_SOON",
    "ROW_TIMER_SALARY",
    "SKIP",
    "STATE",
    "STATE_BYTES_MAX",
    "TOO_LATE",
    "apply_one",
    "cap_record",
    "empty_records",
    "encode_events",
    "features_batch",
    "features_into",
    "load_records",
    "next_deadline_of",
    "next_deadline_record",
    "record_bytes",
    "record_to_state",
    "rows_needed",
    "run_batch",
    "state_to_record",
    "warm_up",
]


def warm_up() -> float:
    """Compile (or load from numba's cache) every kernel the batch processor calls, on a
    throw-away batch; returns the seconds it took. The worker calls it before it consumes:
    a first compilation takes tens of seconds, which must not happen inside a batch (the
    consumer's poll interval and the producer's transactions run meanwhile)."""
    import time

    import numpy as np

    from stream_app.events import InputEvent, Payment, Transaction

    started = time.perf_counter()
    day = 20_000 * 86_400_000
    events: list[InputEvent] = [
        Transaction(event_id="warm-1", customer_id="warm", account_id="A", occurred_at=day,
                    amount_minor=100_000, currency="EUR", direction="CREDIT",
                    channel="TRANSFER", category="SALARY", status="POSTED",
                    balance_after_minor=100_000),
        Payment(event_id="warm-2", customer_id="warm", account_id="C", occurred_at=day + 1,
                product="CREDIT_CARD", currency="EUR", kind="STATEMENT_ISSUED",
                statement_balance_minor=50_000, minimum_due_minor=2_500,
                credit_limit_minor=100_000, due_date=20_020),
    ]
    records = empty_records(1)
    encoded = np.empty(len(events), EVENT)
    encode_events(events, encoded)
    def minus_one() -> np.ndarray:
        return np.full(1, -1, np.int64)

    capacity = rows_needed(len(events))
    out = np.empty((capacity, len(FEATURE_NAMES)), np.float64)
    row_customer, row_event, row_as_of, row_kind = (np.empty(capacity, np.int64)
                                                    for _ in range(4))
    run_batch(records, np.array([0, len(events)], np.int64), encoded, minus_one(),
              minus_one(), minus_one(), out, row_customer, row_event, row_as_of, row_kind,
              np.empty(len(events), np.int64), minus_one(), 0)
    features_into(records, 0, day, out, 0)
    next_deadline_record(records, 0, day)
    load_records([record_bytes(records, 0)], empty_records(1))
    return time.perf_counter() - started
