# mypy: allow-untyped-defs
# (the numba kernels below: their types are inferred by numba from the arguments)
"""Apply input events to fixed-layout customer states (``_layout.STATE``) in a numba kernel.

The semantics are those of the reference ``_update.apply_event``, bit for bit: after the same
events, ``record_bytes`` of the record equals ``CustomerState.to_bytes()`` of the reference
state (tests/features/test_kernel_apply.py). Events are first encoded in Python
(``encode_events``: hashes, codes and flags, ``None`` as 0) into rows of ``EVENT``; the kernel
(``apply_one``, ``apply_all``) only does integer arithmetic on the records, in int64, and keeps
them in the canonical form of ``_layout`` (weeks in their ring slots, compact sorted lists,
products sorted by key, every unused entry zero).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numba
import numpy as np

from stream_app.events import InputEvent, Payment, Transaction

from ._layout import COUNT_ORDER, PRODUCT, SUM_ORDER
from ._numba_cache import configure as _configure_numba_cache
from ._state import (
    BALANCE_NONE,
    COUNT_MAX,
    DAY_MS,
    DPD_MONTHS,
    HORIZON_WEEKS,
    INT32_MAX,
    INT32_MIN,
    LATENESS_MS,
    MAX_DEDUP_IDS,
    MAX_INSTALMENTS,
    MAX_PAYMENTS,
    MAX_PRODUCTS,
    MAX_SALARIES,
    MAX_STATEMENTS,
    MINUTE_MS,
    Col,
    ProductState,
)
from ._update import _account_key, event_key

_configure_numba_cache()  # before the kernels below: a cache keyed by the package's sources

__all__ = [
    "APPLIED",
    "CATEGORY_CODES",
    "DUPLICATE",
    "EVENT",
    "IGNORED",
    "KIND_CODES",
    "REREAD",
    "SOURCE_FLAGS",
    "SOURCE_PAYMENT",
    "SOURCE_TRANSACTION",
    "TOO_LATE",
    "apply_all",
    "apply_one",
    "encode_events",
    "new_events",
]

# outcomes (``_update.Applied``)
APPLIED = 0
DUPLICATE = 1
TOO_LATE = 2
IGNORED = 3
REREAD = 4

SOURCE_TRANSACTION = 0
SOURCE_PAYMENT = 1
SOURCE_FLAGS = 2

KIND_CODES = ("STATEMENT_ISSUED", "INSTALMENT_DUE", "PAYMENT_RECEIVED", "PAYMENT_FAILED",
              "DELINQUENCY_STATUS")
CATEGORY_CODES = ("SALARY", "BENEFITS", "RENT", "UTILITIES", "GROCERIES", "DISCRETIONARY",
                  "GAMBLING", "LENDING_APP", "BNPL", "ATM_CASH", "LOAN_REPAYMENT",
                  "SAVINGS_TRANSFER", "OTHER")

EVENT = np.dtype([
    ("source", "u1"),  # SOURCE_TRANSACTION, SOURCE_PAYMENT, SOURCE_FLAGS
    ("occurred_at", "<i8"),  # epoch ms
    ("key", "<u8"),  # event_key(event): 48-bit hash of the kind and event_id
    ("account_key", "<u4"),  # payments: _account_key(account_id), 0 otherwise
    ("product", "u1"),  # payments: index in ProductState.PRODUCT_CODES
    ("kind", "u1"),  # payments: index in KIND_CODES
    ("category", "u1"),  # transactions: index in CATEGORY_CODES
    ("is_credit", "u1"),  # transactions: direction == "CREDIT"
    ("is_posted", "u1"),  # transactions: status == "POSTED"
    ("is_direct_debit", "u1"),  # transactions: channel == "DIRECT_DEBIT"
    ("is_atm_channel", "u1"),  # transactions: channel == "ATM"
    ("decline_is_nsf", "u1"),  # transactions: decline_reason == "INSUFFICIENT_FUNDS"
    ("has_balance", "u1"),  # transactions: balance_after_minor is not None
    ("balance_after", "<i8"),  # transactions: balance_after_minor or 0
    ("amount", "<i8"),  # amount_minor (payments: or 0)
    ("statement_balance", "<i8"),  # payments, the optional fields, None as 0
    ("minimum_due", "<i8"),
    ("credit_limit", "<i8"),
    ("due_date", "<i4"),  # epoch day
    ("amount_due", "<i8"),
    ("days_past_due", "<i4"),
    ("partition", "<i4"),  # the input record's partition and offset; -1: not known (offline)
    ("offset", "<i8"),
])

_PRODUCT_CODE = {code: i for i, code in enumerate(ProductState.PRODUCT_CODES)}
_KIND_CODE = {kind: i for i, kind in enumerate(KIND_CODES)}
_CATEGORY_CODE = {category: i for i, category in enumerate(CATEGORY_CODES)}


def new_events(count: int) -> np.ndarray:
    """A preallocated array of ``count`` events (for ``encode_events``)."""
    return np.zeros(count, dtype=EVENT)


def _row_struct(dtype: np.dtype) -> struct.Struct:
    """The ``struct`` format of one packed little-endian row of ``dtype``."""
    codes = {("u", 1): "B", ("u", 4): "I", ("u", 8): "Q", ("i", 4): "i", ("i", 8): "q"}
    row = struct.Struct("<" + "".join(codes[dtype[name].kind, dtype[name].itemsize]
                                      for name in dtype.names or ()))
    if row.size != dtype.itemsize:
        raise ValueError(f"{dtype} is not a packed row of scalars")
    return row


_ROW = _row_struct(EVENT)


def encode_events(events: Sequence[InputEvent], out: np.ndarray) -> None:
    """Fill ``out[:len(events)]`` (dtype ``EVENT``) from validated events, with no input
    position (``partition`` and ``offset`` -1: the worker sets those of its records).

    Each row is packed with ``struct`` and the rows are copied in at once (about twice as
    fast as assigning a list of tuples, which numpy converts field by field)."""
    if not events:
        return
    rows: list[bytes] = []
    append = rows.append
    pack = _ROW.pack
    category_code = _CATEGORY_CODE
    product_code = _PRODUCT_CODE
    kind_code = _KIND_CODE
    for event in events:
        if type(event) is Transaction:
            balance = event.balance_after_minor
            channel = event.channel
            append(pack(0, event.occurred_at, event_key(event), 0, 0, 0,
                        category_code[event.category], event.direction == "CREDIT",
                        event.status == "POSTED", channel == "DIRECT_DEBIT", channel == "ATM",
                        event.decline_reason == "INSUFFICIENT_FUNDS", balance is not None,
                        balance or 0, event.amount_minor, 0, 0, 0, 0, 0, 0, -1, -1))
        elif type(event) is Payment:
            append(pack(1, event.occurred_at, event_key(event), _account_key(event.account_id),
                        product_code[event.product], kind_code[event.kind], 0, 0, 0, 0, 0, 0,
                        0, 0, event.amount_minor or 0, event.statement_balance_minor or 0,
                        event.minimum_due_minor or 0, event.credit_limit_minor or 0,
                        event.due_date or 0, event.amount_due_minor or 0,
                        event.days_past_due or 0, -1, -1))
        else:  # CustomerFlags: ignored by the kernel
            append(pack(2, event.occurred_at, event_key(event), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                        0, 0, 0, 0, 0, 0, 0, 0, -1, -1))
    out[: len(rows)] = np.frombuffer(b"".join(rows), dtype=EVENT)


# --- kernel constants: positions in the layout's arrays ----------------------------------------
_S_INCOME = SUM_ORDER.index(Col.INCOME)
_S_ATM_CASH = SUM_ORDER.index(Col.ATM_CASH)
_S_LENDING_APP_IN = SUM_ORDER.index(Col.LENDING_APP_IN)
_S_DEBITS = SUM_ORDER.index(Col.DEBITS)
_S_CREDITS = SUM_ORDER.index(Col.CREDITS)
_S_SAVINGS_IN = SUM_ORDER.index(Col.SAVINGS_IN)
_C_FAILED_DD = COUNT_ORDER.index(Col.FAILED_DD)
_C_NSF = COUNT_ORDER.index(Col.NSF_DECLINES)
_SALARY = _CATEGORY_CODE["SALARY"]
_BENEFITS = _CATEGORY_CODE["BENEFITS"]
_LENDING_APP = _CATEGORY_CODE["LENDING_APP"]
_SAVINGS_TRANSFER = _CATEGORY_CODE["SAVINGS_TRANSFER"]
_ATM_CASH = _CATEGORY_CODE["ATM_CASH"]
_STATEMENT_ISSUED = _KIND_CODE["STATEMENT_ISSUED"]
_INSTALMENT_DUE = _KIND_CODE["INSTALMENT_DUE"]
_PAYMENT_RECEIVED = _KIND_CODE["PAYMENT_RECEIVED"]
_PAYMENT_FAILED = _KIND_CODE["PAYMENT_FAILED"]
_DELINQUENCY_STATUS = _KIND_CODE["DELINQUENCY_STATUS"]
# posted debits: the sum position of the category's column (_update._DEBIT_COLUMN), -1: none
_DEBIT_SUM = np.full(len(CATEGORY_CODES), -1, dtype=np.int64)
for _category, _column in (("RENT", Col.ESSENTIAL), ("UTILITIES", Col.ESSENTIAL),
                           ("GROCERIES", Col.ESSENTIAL), ("LOAN_REPAYMENT", Col.ESSENTIAL),
                           ("DISCRETIONARY", Col.DISCRETIONARY),
                           ("LENDING_APP", Col.LENDING_APP_OUT), ("BNPL", Col.BNPL),
                           ("GAMBLING", Col.GAMBLING)):
    _DEBIT_SUM[_CATEGORY_CODE[_category]] = SUM_ORDER.index(_column)
del _category, _column
_N_SUMS = len(SUM_ORDER)
_N_COUNTS = len(COUNT_ORDER)
_PERIOD_MS = 30 * DAY_MS
_LOW32 = 0xFFFFFFFF


# --- the kernel --------------------------------------------------------------------------------
# The njit functions are untyped (numba infers their types from the arguments; the module's
# ``allow-untyped-defs`` says so to mypy) and take records as numba sees them.
@numba.njit(cache=True)
def _clamp(value):
    if value > INT32_MAX:
        return np.int64(INT32_MAX)
    if value <= INT32_MIN:
        return np.int64(INT32_MIN + 1)
    return np.int64(value)


@numba.njit(cache=True)
def _week_of_day(day):
    return (day + 3) // 7


@numba.njit(cache=True)
def _prune_weeks(r, oldest):
    for s in range(HORIZON_WEEKS):
        slot = r.weeks[s]
        if slot.week != 0 and np.int64(slot.week) < oldest:
            slot.week = 0
            slot.overdrawn = 0
            for c in range(_N_COUNTS):
                slot.counts[c] = 0
            for c in range(_N_SUMS):
                slot.sums[c] = 0
            slot.min_balance = 0


@numba.njit(cache=True)
def _bucket(r, week, oldest):
    """The ring slot of ``week``, created if new; -1 for a week behind the horizon (the
    reference's throw-away bucket: nothing is stored)."""
    s = week % HORIZON_WEEKS
    slot = r.weeks[s]
    if np.int64(slot.week) == week:
        return s
    if week >= oldest:
        slot.week = week
        slot.min_balance = BALANCE_NONE
        return s
    return -1


@numba.njit(cache=True)
def _add(r, s, position, amount):
    total = np.int64(r.weeks[s].sums[position]) + amount
    r.weeks[s].sums[position] = INT32_MAX if total > INT32_MAX else total


@numba.njit(cache=True)
def _count(r, s, position):
    if s >= 0 and r.weeks[s].counts[position] < COUNT_MAX:
        r.weeks[s].counts[position] += 1


@numba.njit(cache=True)
def _add_salary(r, day, amount):
    n = np.int64(r.n_salaries)
    for i in range(n):
        if np.int64(r.salary_days[i]) == day:
            r.salary_amounts[i] = _clamp(np.int64(r.salary_amounts[i]) + amount)
            return
    value = _clamp(amount)
    # insort (after equal rows), then drop the oldest beyond the cap
    pos = 0
    while pos < n:
        d = np.int64(r.salary_days[pos])
        if day < d or (day == d and value < np.int64(r.salary_amounts[pos])):
            break
        pos += 1
    if n < MAX_SALARIES:
        for i in range(n, pos, -1):
            r.salary_days[i] = r.salary_days[i - 1]
            r.salary_amounts[i] = r.salary_amounts[i - 1]
        r.n_salaries = n + 1
    else:
        if pos == 0:
            return  # older than every one kept: inserted, then dropped
        for i in range(pos - 1):
            r.salary_days[i] = r.salary_days[i + 1]
            r.salary_amounts[i] = r.salary_amounts[i + 1]
        pos -= 1
    r.salary_days[pos] = day
    r.salary_amounts[pos] = value


@numba.njit(cache=True)
def _apply_transaction(r, e, ts, key, oldest):  # noqa: PLR0912 - the reference's branches
    day = ts // DAY_MS
    s = _bucket(r, _week_of_day(day), oldest)
    if e.has_balance:
        balance = _clamp(np.int64(e.balance_after))
        if s >= 0:
            slot = r.weeks[s]
            low = np.int64(slot.min_balance)
            if low == BALANCE_NONE or balance < low:
                slot.min_balance = balance
            if balance < 0:
                slot.overdrawn |= np.uint8(1 << ((day + 3) % 7))
        close_key = ts * 1024 + (key & 1023)
        if close_key > r.close_key or (close_key == r.close_key
                                       and balance < np.int64(r.close_balance)):
            r.close_key = close_key
            r.close_balance = balance
    if not e.is_posted:
        if e.decline_is_nsf:
            _count(r, s, _C_NSF)
        if e.is_direct_debit and not e.is_credit:
            _count(r, s, _C_FAILED_DD)
        return
    amount = np.int64(e.amount)
    category = np.int64(e.category)
    if e.is_credit:
        if s >= 0:
            _add(r, s, _S_CREDITS, amount)
        if category in (_SALARY, _BENEFITS):
            if s >= 0:
                _add(r, s, _S_INCOME, amount)
            if category == _SALARY:
                _add_salary(r, day, amount)
        elif category == _LENDING_APP:
            if s >= 0:
                _add(r, s, _S_LENDING_APP_IN, amount)
        elif category == _SAVINGS_TRANSFER and s >= 0:
            _add(r, s, _S_SAVINGS_IN, amount)
        return
    if s < 0:
        return
    _add(r, s, _S_DEBITS, amount)
    position = _DEBIT_SUM[category]
    if position >= 0:
        _add(r, s, position, amount)
    if category == _ATM_CASH or e.is_atm_channel:
        _add(r, s, _S_ATM_CASH, amount)


@numba.njit(cache=True)
def _product(r, akey, code, at_min):
    """The slot of the payment's product, created if new; -1 when it cannot be kept."""
    n = np.int64(r.n_products)
    for k in range(n):
        if np.int64(r.products[k].key) == akey:
            return k
    if n >= MAX_PRODUCTS:
        # keep the most recently active products: drop the smallest (last activity, key)
        stale = 0
        stale_at = np.int64(r.products[0].last_activity_min)
        stale_key = np.int64(r.products[0].key)
        for k in range(1, n):
            at = np.int64(r.products[k].last_activity_min)
            pkey = np.int64(r.products[k].key)
            if at < stale_at or (at == stale_at and pkey < stale_key):
                stale, stale_at, stale_key = k, at, pkey
        if stale_at > at_min or (stale_at == at_min and stale_key > akey):
            return -1  # older than every product kept: drop it
        for k in range(stale, n - 1):
            r.products[k] = r.products[k + 1]
        n -= 1
    pos = 0
    while pos < n and np.int64(r.products[pos].key) < akey:
        pos += 1
    for k in range(n, pos, -1):
        r.products[k] = r.products[k - 1]
    zero = np.zeros(1, dtype=PRODUCT)
    r.products[pos] = zero[0]
    r.products[pos].key = akey
    r.products[pos].code = code
    r.n_products = n + 1
    return pos


@numba.njit(cache=True)
def _statement_before(p, i, row):
    """``row < p.statements[i]`` (lexicographic, the reference's row order)."""
    st = p.statements[i]
    values = (np.int64(st.issued_min), np.int64(st.balance), np.int64(st.minimum_due),
              np.int64(st.due_day), np.int64(st.credit_limit))
    return row < values


@numba.njit(cache=True)
def _insert_statement(p, row):
    n = np.int64(p.n_statements)
    pos = 0
    while pos < n and not _statement_before(p, pos, row):
        pos += 1
    if n < MAX_STATEMENTS:
        for i in range(n, pos, -1):
            p.statements[i] = p.statements[i - 1]
        p.n_statements = n + 1
    else:
        if pos == 0:
            return
        for i in range(pos - 1):
            p.statements[i] = p.statements[i + 1]
        pos -= 1
    st = p.statements[pos]
    st.issued_min = row[0]
    st.balance = row[1]
    st.minimum_due = row[2]
    st.due_day = row[3]
    st.credit_limit = row[4]


@numba.njit(cache=True)
def _instalment_before(p, i, row):
    ins = p.instalments[i]
    values = (np.int64(ins.issued_min), np.int64(ins.amount_due), np.int64(ins.due_day))
    return row < values


@numba.njit(cache=True)
def _insert_instalment(p, row):
    n = np.int64(p.n_instalments)
    pos = 0
    while pos < n and not _instalment_before(p, pos, row):
        pos += 1
    if n < MAX_INSTALMENTS:
        for i in range(n, pos, -1):
            p.instalments[i] = p.instalments[i - 1]
        p.n_instalments = n + 1
    else:
        if pos == 0:
            return
        for i in range(pos - 1):
            p.instalments[i] = p.instalments[i + 1]
        pos -= 1
    ins = p.instalments[pos]
    ins.issued_min = row[0]
    ins.amount_due = row[1]
    ins.due_day = row[2]


@numba.njit(cache=True)
def _insert_payment(p, paid_min, amount):
    n = np.int64(p.n_payments)
    rows = p.payments
    pos = 0
    while pos < n:
        at = np.int64(rows[pos, 0])
        if paid_min < at or (paid_min == at and amount < np.int64(rows[pos, 1])):
            break
        pos += 1
    if n < MAX_PAYMENTS:
        for i in range(n, pos, -1):
            rows[i, 0] = rows[i - 1, 0]
            rows[i, 1] = rows[i - 1, 1]
        p.n_payments = n + 1
    else:
        if pos == 0:
            return
        for i in range(pos - 1):
            rows[i, 0] = rows[i + 1, 0]
            rows[i, 1] = rows[i + 1, 1]
        pos -= 1
    rows[pos, 0] = paid_min
    rows[pos, 1] = amount


@numba.njit(cache=True)
def _delinquency(p, ts, at_min, tiebreak, dpd):
    latest_at = np.int64(p.dpd_at_min)
    if at_min > latest_at or (at_min == latest_at and tiebreak > np.int64(p.dpd_tiebreak)):
        p.dpd_at_min = at_min
        p.dpd_tiebreak = tiebreak
        p.dpd = dpd
    period = ts // _PERIOD_MS
    n = np.int64(p.n_dpd)
    months = p.dpd_monthly
    pos = 0
    while pos < n and np.int64(months[pos].period) < period:
        pos += 1
    if pos < n and np.int64(months[pos].period) == period:
        if dpd > np.int64(months[pos].dpd):
            months[pos].dpd = dpd
        return
    if n < DPD_MONTHS:
        for i in range(n, pos, -1):
            months[i] = months[i - 1]
        p.n_dpd = n + 1
    else:  # one period too many: the smallest goes (the new one when it is the smallest)
        if pos == 0:
            return
        for i in range(pos - 1):
            months[i] = months[i + 1]
        pos -= 1
    months[pos].period = period
    months[pos].dpd = dpd


@numba.njit(cache=True)
def _apply_payment(r, e, ts, key, oldest):
    at_min = ts // MINUTE_MS
    kind = np.int64(e.kind)
    if kind == _PAYMENT_FAILED:
        _count(r, _bucket(r, _week_of_day(ts // DAY_MS), oldest), _C_FAILED_DD)
    k = _product(r, np.int64(e.account_key), np.int64(e.product), at_min)
    if k < 0:
        return
    p = r.products[k]
    if at_min > np.int64(p.last_activity_min):
        p.last_activity_min = at_min
    first = np.int64(p.first_seen_min)
    if first == 0 or at_min < first:
        p.first_seen_min = at_min
    if kind == _STATEMENT_ISSUED:
        _insert_statement(p, (at_min, _clamp(np.int64(e.statement_balance)),
                              _clamp(np.int64(e.minimum_due)), np.int64(e.due_date),
                              _clamp(np.int64(e.credit_limit))))
    elif kind == _INSTALMENT_DUE:
        _insert_instalment(p, (at_min, _clamp(np.int64(e.amount_due)), np.int64(e.due_date)))
    elif kind == _PAYMENT_RECEIVED:
        _insert_payment(p, at_min, _clamp(np.int64(e.amount)))
    elif kind == _DELINQUENCY_STATUS:
        _delinquency(p, ts, at_min, key & _LOW32, np.int64(e.days_past_due))


@numba.njit(cache=True)
def apply_one(states, index, events, j):  # noqa: PLR0912 - the reference's branches
    """Apply ``events[j]`` to ``states[index]`` in place; APPLIED, DUPLICATE, REREAD,
    TOO_LATE or IGNORED, as ``_update.apply_event``."""
    e = events[j]
    source = np.int64(e.source)
    if source == SOURCE_FLAGS:
        return IGNORED
    r = states[index]
    ts = np.int64(e.occurred_at)
    source_mark = np.int64(r.watermarks[source])
    partition = np.int64(e.partition)
    if (partition >= 0 and np.int64(r.input_partitions[source]) == partition + 1
            and np.int64(e.offset) < np.int64(r.input_next[source]) and ts <= source_mark):
        return REREAD  # read again from an older committed offset
    if source_mark != 0 and ts < source_mark - LATENESS_MS:
        return TOO_LATE
    key = np.int64(e.key)
    short_key = key & _LOW32
    n_ids = np.int64(r.n_ids[source])
    for i in range(n_ids):
        if np.int64(r.ids[source, i]) == short_key:
            return DUPLICATE
    if n_ids < MAX_DEDUP_IDS:
        r.ids[source, n_ids] = short_key
        r.n_ids[source] = n_ids + 1
    else:
        for i in range(MAX_DEDUP_IDS - 1):
            r.ids[source, i] = r.ids[source, i + 1]
        r.ids[source, MAX_DEDUP_IDS - 1] = short_key
    if partition >= 0:
        r.input_partitions[source] = partition + 1
        r.input_next[source] = np.int64(e.offset) + 1
    watermark = max(np.int64(r.watermarks[0]), np.int64(r.watermarks[1]))
    if ts > source_mark:
        r.watermarks[source] = ts
    oldest = _week_of_day(watermark // DAY_MS) - HORIZON_WEEKS + 1
    if ts > watermark:
        new_week = _week_of_day(ts // DAY_MS) > _week_of_day(watermark // DAY_MS)
        watermark = ts
        oldest = _week_of_day(watermark // DAY_MS) - HORIZON_WEEKS + 1
        if new_week:
            _prune_weeks(r, oldest)
    first_seen = np.int64(r.first_seen)
    if first_seen == 0 or ts < first_seen:
        r.first_seen = ts
    if source == SOURCE_TRANSACTION:
        _apply_transaction(r, e, ts, key, oldest)
    else:
        _apply_payment(r, e, ts, key, oldest)
    return APPLIED


@numba.njit(cache=True)
def apply_all(states, index, events, start, stop, outcomes):  # noqa: PLR0917 - njit: positional
    """``outcomes[j] = apply_one(states, index[j], events, j)`` for ``start <= j < stop``
    (``index``: an integer array, the state row of each event), in order."""
    for j in range(start, stop):
        outcomes[j] = apply_one(states, index[j], events, j)
