"""The feature engine's compiled batch path: fixed-layout states and numba kernels (pure).

What the worker's batch processor runs; the reference objects and functions of
``stream_app.features`` (``CustomerState``, ``apply_event``, ``feature_vector``,
``next_deadline``) define the values, and the kernels equal them exactly
(tests/features/test_kernel_*.py; bench/compare.py checks the worker's outputs against an
offline replay of the reference).
"""

from ._kernel_apply import APPLIED, DUPLICATE, EVENT, IGNORED, TOO_LATE, apply_one, encode_events
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
]
