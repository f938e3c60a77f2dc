"""The customer state as a fixed layout: one numpy structured record per customer (pure).

The batch kernels (``_kernel_apply``, ``_kernel_vector``) read and write these records in
place, without a Python object per field; the changelog value is a version byte, the record's
fixed *core* and the product slots in use (at most ``MAX_PRODUCTS``), so a customer without
credit products takes ``CORE_BYTES + 1`` bytes and one with four ``STATE_BYTES_MAX``.

Canonical form (so that equal states have equal bytes, whatever the order of their events):

* ``weeks`` is a ring of ``HORIZON_WEEKS`` slots, slot ``week % HORIZON_WEEKS``; an empty slot
  is all zeros (``week == 0``), a live one has its week number and ``min_balance`` starts at
  ``BALANCE_NONE``;
* salaries, ids, products (by key) and each product's histories are compact (entries
  ``[0, n)``), in the reference's order, and every unused entry is zero.

Weekly bucket columns (``Col``) are split by width: the money sums (``sums``, int32, in
``SUM_ORDER``) and the two counts (``counts``, uint16: failed direct debits and NSF declines).
"""

from __future__ import annotations

import numpy as np

from ._state import (
    DAY_MS,
    DPD_MONTHS,
    HORIZON_WEEKS,
    MAX_DEDUP_IDS,
    MAX_INSTALMENTS,
    MAX_PAYMENTS,
    MAX_PRODUCTS,
    MAX_SALARIES,
    MAX_STATEMENTS,
    SOURCES,
    Col,
    CustomerState,
    ProductState,
    StateFormatError,
    week_of_day,
)

__all__ = [
    "CORE",
    "CORE_BYTES",
    "COUNT_ORDER",
    "EMPTY",
    "LAYOUT_VERSION",
    "PRODUCT",
    "PRODUCT_BYTES",
    "STATE",
    "STATE_BYTES_MAX",
    "SUM_ORDER",
    "cap_record",
    "decode_records",
    "empty_records",
    "load_records",
    "record_bytes",
    "record_to_state",
    "state_to_record",
]

LAYOUT_VERSION = 6
_V5 = 5  # the layout without ``input_partitions`` / ``input_next``: restored, never written

# Col index -> position in ``sums`` / ``counts``
SUM_ORDER = (Col.INCOME, Col.ESSENTIAL, Col.DISCRETIONARY, Col.ATM_CASH, Col.LENDING_APP_OUT,
             Col.LENDING_APP_IN, Col.BNPL, Col.GAMBLING, Col.DEBITS, Col.CREDITS,
             Col.SAVINGS_IN)
COUNT_ORDER = (Col.FAILED_DD, Col.NSF_DECLINES)

WEEK = np.dtype([
    ("week", "<u2"),  # Monday-based epoch week (0: empty slot)
    ("overdrawn", "u1"),  # Col.OVERDRAWN_DAYS: weekday bit mask
    ("counts", "<u2", (len(COUNT_ORDER),)),
    ("sums", "<i4", (len(SUM_ORDER),)),
    ("min_balance", "<i4"),
])
STATEMENT = np.dtype([("issued_min", "<i4"), ("balance", "<i4"), ("minimum_due", "<i4"),
                      ("due_day", "<u2"), ("credit_limit", "<i4")])
INSTALMENT = np.dtype([("issued_min", "<i4"), ("amount_due", "<i4"), ("due_day", "<u2")])
DPD_MONTH = np.dtype([("period", "<u2"), ("dpd", "<i2")])
PRODUCT = np.dtype([
    ("key", "<u4"),  # 32-bit hash of account_id
    ("code", "u1"),  # index in ProductState.PRODUCT_CODES
    ("n_statements", "u1"),
    ("n_instalments", "u1"),
    ("n_payments", "u1"),
    ("n_dpd", "u1"),
    ("dpd_at_min", "<i4"),  # the newest DELINQUENCY_STATUS: time, tiebreak, days past due
    ("dpd_tiebreak", "<u4"),
    ("dpd", "<i2"),
    ("last_activity_min", "<i4"),
    ("first_seen_min", "<i4"),
    ("statements", STATEMENT, (MAX_STATEMENTS,)),
    ("instalments", INSTALMENT, (MAX_INSTALMENTS,)),
    ("payments", "<i4", (MAX_PAYMENTS, 2)),  # [paid_min, amount]
    ("dpd_monthly", DPD_MONTH, (DPD_MONTHS,)),
])
_CORE_FIELDS = [
    ("watermarks", "<i8", (SOURCES,)),
    ("first_seen", "<i8"),
    ("close_key", "<i8"),
    ("close_balance", "<i4"),
    ("n_salaries", "u1"),
    ("n_products", "u1"),
    ("n_ids", "u1", (SOURCES,)),
    ("weeks", WEEK, (HORIZON_WEEKS,)),
    ("salary_days", "<u2", (MAX_SALARIES,)),
    ("salary_amounts", "<i4", (MAX_SALARIES,)),
    ("ids", "<u4", (SOURCES, MAX_DEDUP_IDS)),  # low 32 bits of the event keys, oldest first
]
_V5_CORE_FIELDS = list(_CORE_FIELDS)
_V5_CORE = np.dtype(_V5_CORE_FIELDS)
_CORE_FIELDS += [
    # per source, the input record of the newest event applied: partition + 1 and offset + 1
    # (0: not known); a record read again at or before it is a duplicate (``apply_one``)
    ("input_partitions", "<u2", (SOURCES,)),
    ("input_next", "<i8", (SOURCES,)),
]
CORE = np.dtype(_CORE_FIELDS)
STATE = np.dtype([*_CORE_FIELDS, ("products", PRODUCT, (MAX_PRODUCTS,))])
CORE_BYTES = CORE.itemsize
PRODUCT_BYTES = PRODUCT.itemsize
STATE_BYTES_MAX = 1 + CORE_BYTES + MAX_PRODUCTS * PRODUCT_BYTES
_V5_STATE = np.dtype([*_V5_CORE_FIELDS, ("products", PRODUCT, (MAX_PRODUCTS,))])
_V5_CORE_BYTES = _V5_CORE.itemsize
_VERSION = bytes([LAYOUT_VERSION])
_EMPTY = np.zeros(1, dtype=STATE)
_EMPTY["close_key"] = -1  # no balance seen yet (as CustomerState's)
EMPTY = _EMPTY[0]  # the cold-start state: all zeros but close_key


def empty_records(count: int) -> np.ndarray:
    """``count`` empty (cold-start) states."""
    return np.repeat(_EMPTY, count)


def record_bytes(records: np.ndarray, index: int) -> bytes:
    """The changelog value of ``records[index]``: version, core, the product slots in use."""
    raw = records[index : index + 1].tobytes()
    used = CORE_BYTES + int(records["n_products"][index]) * PRODUCT_BYTES
    return _VERSION + raw[:used]


def decode_records(values: list[bytes], out: np.ndarray) -> None:
    """Fill ``out[i]`` from ``values[i]`` (version-6 bytes, see ``record_bytes``, or the
    version-5 ones before them).

    Raises ValueError naming the first value that is not a version-5 or -6 state: wrong
    version or length, or a count beyond its cap or a product code that does not exist (the
    kernels index by these counts, so a damaged one must never reach them)."""
    for i, value in enumerate(values):
        if not value or value[0] not in (LAYOUT_VERSION, _V5):
            raise ValueError(f"value {i} is not a version-{LAYOUT_VERSION} (or "
                             f"-{_V5}) state")
    failed = load_records(list(values), out)
    if failed:
        index, reason = min(failed)
        raise ValueError(f"value {index}: {reason}")


def load_records(values: list[bytes | None], out: np.ndarray) -> list[tuple[int, str]]:
    """Fill ``out[i]`` from stored ``values[i]``: None is a new customer, version 6 is copied
    in, version 5 field by field (no input position known), versions 3 and 4 go through the
    reference decoder. Returns ``(index, reason)`` of the values that are not readable
    states; those records are left empty (cold start)."""
    failed: list[tuple[int, str]] = []
    current = [i for i, value in enumerate(values) if value and value[0] == LAYOUT_VERSION]
    if len(current) == len(values):
        decoded = _decode_each(values, out, range(len(values)), failed)  # type: ignore[arg-type]
    else:
        out[:] = EMPTY
        decoded = _decode_each(values, out, current, failed)  # type: ignore[arg-type]
        for i, value in enumerate(values):
            if value is None or (value and value[0] == LAYOUT_VERSION):
                continue
            if value and value[0] == _V5:
                decoded |= _decode_v5(value, out, i, failed)
                continue
            try:
                state_to_record(CustomerState.from_bytes(value), out, i)
            except (StateFormatError, ValueError) as exc:
                failed.append((i, str(exc)))
    if decoded:
        bad = _over_caps_mask(out)
        if bad.any():
            for index in np.flatnonzero(bad).tolist():
                out[index] = EMPTY
                failed.append((index, "a count beyond its cap or an unknown product code"))
    return failed


def _decode_each(values: list[bytes], out: np.ndarray, indexes: range | list[int],
                 failed: list[tuple[int, str]]) -> bool:
    buffer = out.view(np.uint8).reshape(len(out), STATE.itemsize)
    counts = out["n_products"]
    for i in indexes:
        value = values[i]
        size = len(value) - 1
        products, rest = divmod(size - CORE_BYTES, PRODUCT_BYTES)
        row = buffer[i]
        if size < CORE_BYTES or rest or products > MAX_PRODUCTS:
            out[i] = EMPTY
            failed.append((i, f"{len(value)} bytes, not 1 + {CORE_BYTES} + n x "
                              f"{PRODUCT_BYTES} (n <= {MAX_PRODUCTS})"))
            continue
        row[:size] = np.frombuffer(value, np.uint8, size, 1)
        row[size:] = 0
        if counts[i] != products:
            out[i] = EMPTY
            failed.append((i, "its product count does not match its length"))
    return bool(len(indexes))


def _decode_v5(value: bytes, out: np.ndarray, index: int,
               failed: list[tuple[int, str]]) -> bool:
    """``out[index]`` from version-5 bytes: its fields copied by name, no input position."""
    old = np.zeros(1, dtype=_V5_STATE)
    size = len(value) - 1
    products, rest = divmod(size - _V5_CORE_BYTES, PRODUCT_BYTES)
    if size < _V5_CORE_BYTES or rest or products > MAX_PRODUCTS:
        failed.append((index, f"{len(value)} bytes, not 1 + {_V5_CORE_BYTES} + n x "
                              f"{PRODUCT_BYTES} (n <= {MAX_PRODUCTS}) of version {_V5}"))
        return False
    old.view(np.uint8)[:size] = np.frombuffer(value, np.uint8, size, 1)
    if int(old["n_products"][0]) != products:
        failed.append((index, "its product count does not match its length"))
        return False
    for name in _V5_STATE.names or ():
        out[name][index] = old[name][0]
    return True


def _over_caps_mask(records: np.ndarray) -> np.ndarray:
    products = records["products"]
    used = np.arange(MAX_PRODUCTS)[None, :] < records["n_products"][:, None]
    return ((records["n_salaries"] > MAX_SALARIES)
            | (records["n_ids"] > MAX_DEDUP_IDS).any(axis=1)
            | (used & (products["code"] >= len(ProductState.PRODUCT_CODES))).any(axis=1)
            | (products["n_statements"] > MAX_STATEMENTS).any(axis=1)
            | (products["n_instalments"] > MAX_INSTALMENTS).any(axis=1)
            | (products["n_payments"] > MAX_PAYMENTS).any(axis=1)
            | (products["n_dpd"] > DPD_MONTHS).any(axis=1))


def cap_record(records: np.ndarray, index: int, latest_ms: int) -> bool:
    """``CustomerState.cap_watermarks`` on ``records[index]``: True when it lowered one."""
    rec = records[index]
    marks = rec["watermarks"]
    if int(marks.max()) <= latest_ms:
        return False
    marks[:] = np.minimum(marks, latest_ms)
    rec["first_seen"] = min(int(rec["first_seen"]), latest_ms)
    last_week = week_of_day(int(marks.max()) // DAY_MS)
    weeks = rec["weeks"]
    weeks[weeks["week"] > last_week] = np.zeros(1, dtype=WEEK)[0]
    return True


# --- conversion to and from the reference objects (restoring older versions, tests) ----------
def state_to_record(state: CustomerState, out: np.ndarray, index: int) -> None:
    """Write ``state`` into ``out[index]`` in canonical form (raises ValueError when a value
    does not fit the layout, e.g. more than MAX_PRODUCTS products)."""
    rec = np.zeros(1, dtype=STATE)[0]
    rec["watermarks"][:] = state.watermarks
    rec["first_seen"] = state.first_seen
    rec["close_key"] = state.close_key
    rec["close_balance"] = state.close_balance
    for week, bucket in state.weeks.items():
        slot = rec["weeks"][week % HORIZON_WEEKS]
        if slot["week"]:
            raise ValueError(f"weeks {slot['week']} and {week} share a slot")
        slot["week"] = week
        slot["overdrawn"] = bucket[Col.OVERDRAWN_DAYS]
        slot["counts"][:] = [bucket[c] for c in COUNT_ORDER]
        slot["sums"][:] = [bucket[c] for c in SUM_ORDER]
        slot["min_balance"] = bucket[Col.MIN_BALANCE]
    rec["n_salaries"] = len(state.salaries)
    for i, (day, amount) in enumerate(state.salaries):
        rec["salary_days"][i] = day
        rec["salary_amounts"][i] = amount
    for source, ids in enumerate(state.ids):
        rec["n_ids"][source] = len(ids)
        rec["ids"][source][: len(ids)] = [key & 0xFFFFFFFF for key in ids]
    for source, (partition, next_offset) in enumerate(state.positions):
        rec["input_partitions"][source] = partition
        rec["input_next"][source] = next_offset
    if len(state.products) > MAX_PRODUCTS:
        raise ValueError(f"{len(state.products)} products: at most {MAX_PRODUCTS} fit")
    rec["n_products"] = len(state.products)
    for slot_index, key in enumerate(sorted(state.products)):
        _product_to_record(state.products[key], key, rec["products"][slot_index])
    out[index] = rec


def _product_to_record(product: ProductState, key: int, slot: np.void) -> None:
    slot["key"] = key
    slot["code"] = ProductState.PRODUCT_CODES.index(product.product)
    slot["n_statements"] = len(product.statements)
    slot["n_instalments"] = len(product.instalments)
    slot["n_payments"] = len(product.payments)
    slot["n_dpd"] = len(product.dpd_monthly)
    slot["dpd_at_min"], slot["dpd_tiebreak"], slot["dpd"] = product.dpd_latest
    slot["last_activity_min"] = product.last_activity_min
    slot["first_seen_min"] = product.first_seen_min
    for i, row in enumerate(product.statements):
        slot["statements"][i] = tuple(row)
    for i, row in enumerate(product.instalments):
        slot["instalments"][i] = tuple(row)
    for i, row in enumerate(product.payments):
        slot["payments"][i] = row
    for i, (period, dpd) in enumerate(sorted(product.dpd_monthly.items())):
        slot["dpd_monthly"][i] = (period, dpd)


def record_to_state(records: np.ndarray, index: int) -> CustomerState:
    """The reference object of ``records[index]``."""
    rec = records[index]
    state = CustomerState()
    state.watermarks = [int(v) for v in rec["watermarks"]]
    state.watermark = max(state.watermarks)
    state.first_seen = int(rec["first_seen"])
    state.close_key = int(rec["close_key"])
    state.close_balance = int(rec["close_balance"])
    for slot in rec["weeks"]:
        if not slot["week"]:
            continue
        bucket = CustomerState.new_bucket()
        bucket[Col.OVERDRAWN_DAYS] = int(slot["overdrawn"])
        for position, column in enumerate(COUNT_ORDER):
            bucket[column] = int(slot["counts"][position])
        for position, column in enumerate(SUM_ORDER):
            bucket[column] = int(slot["sums"][position])
        bucket[Col.MIN_BALANCE] = int(slot["min_balance"])
        state.weeks[int(slot["week"])] = bucket
    state.weeks = dict(sorted(state.weeks.items()))
    state.salaries = [[int(rec["salary_days"][i]), int(rec["salary_amounts"][i])]
                      for i in range(int(rec["n_salaries"]))]
    state.ids = [[int(v) for v in rec["ids"][source][: int(rec["n_ids"][source])]]
                 for source in range(SOURCES)]
    state.positions = [[int(rec["input_partitions"][source]), int(rec["input_next"][source])]
                       for source in range(SOURCES)]
    for slot in rec["products"][: int(rec["n_products"])]:
        product = ProductState(ProductState.PRODUCT_CODES[int(slot["code"])])
        product.dpd_latest = [int(slot["dpd_at_min"]), int(slot["dpd_tiebreak"]),
                              int(slot["dpd"])]
        product.last_activity_min = int(slot["last_activity_min"])
        product.first_seen_min = int(slot["first_seen_min"])
        product.statements = [[int(v) for v in slot["statements"][i].tolist()]
                              for i in range(int(slot["n_statements"]))]
        product.instalments = [[int(v) for v in slot["instalments"][i].tolist()]
                               for i in range(int(slot["n_instalments"]))]
        product.payments = [[int(v) for v in slot["payments"][i]]
                            for i in range(int(slot["n_payments"]))]
        product.dpd_monthly = {int(slot["dpd_monthly"][i]["period"]):
                               int(slot["dpd_monthly"][i]["dpd"])
                               for i in range(int(slot["n_dpd"]))}
        state.products[int(slot["key"])] = product
    return state
