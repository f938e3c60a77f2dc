"""Apply one validated event to a customer's state (pure, no I/O).

``apply_event`` is idempotent on the event's id (per input kind) and order-tolerant within
``LATENESS_MS`` of the newest event from the same source; it reports what happened so that the
caller can count duplicates and dead-letter late events.
"""

from __future__ import annotations

import enum
import hashlib
from bisect import insort

from stream_app.events import CustomerFlags, InputEvent, Payment, Transaction

from ._state import (
    BALANCE_NONE,
    DAY_MS,
    DPD_MONTHS,
    HORIZON_DAYS,
    LATENESS_MS,
    MAX_DEDUP_IDS,
    MAX_FAILURES,
    MAX_PAYMENTS,
    MAX_PRODUCTS,
    MAX_SALARIES,
    MAX_STATEMENTS,
    Col,
    CustomerState,
    ProductState,
)

__all__ = ["Applied", "apply_event", "event_key"]

_INCOME = frozenset({"SALARY", "BENEFITS"})
_DEBIT_COLUMN = {
    "RENT": Col.ESSENTIAL,
    "UTILITIES": Col.ESSENTIAL,
    "GROCERIES": Col.ESSENTIAL,
    "LOAN_REPAYMENT": Col.ESSENTIAL,
    "DISCRETIONARY": Col.DISCRETIONARY,
    "LENDING_APP": Col.LENDING_APP_OUT,
    "BNPL": Col.BNPL,
    "GAMBLING": Col.GAMBLING,
}
_KIND_TAG = {Transaction: b"t", Payment: b"p", CustomerFlags: b"f"}
_SOURCE = {Transaction: 0, Payment: 1}


class Applied(enum.Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    TOO_LATE = "too_late"
    IGNORED = "ignored"  # valid, but carries nothing for the features (e.g. customer flags)


def _hash64(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big", signed=True)


def event_key(event: InputEvent) -> int:
    """Deduplication key: 64-bit hash of the input kind and event_id."""
    return _hash64(_KIND_TAG[type(event)] + event.event_id.encode())


def _account_key(account_id: str) -> int:
    return _hash64(b"a" + account_id.encode()) >> 33  # 31 bits: small in JSON, ample per customer


def _keep_newest(items: list[list[int]], item: list[int], cap: int) -> None:
    insort(items, item)
    if len(items) > cap:
        del items[0]


def apply_event(state: CustomerState, event: InputEvent) -> Applied:
    """Fold ``event`` into ``state`` in place."""
    if isinstance(event, CustomerFlags):
        return Applied.IGNORED
    ts = event.occurred_at
    source = _SOURCE[type(event)]
    source_mark = state.watermarks[source]
    if source_mark and ts < source_mark - LATENESS_MS:
        return Applied.TOO_LATE
    key = event_key(event)
    ids = state.ids[source]
    if key in ids:
        return Applied.DUPLICATE
    ids[key] = ts
    if ts > source_mark:
        state.watermarks[source] = ts
        if ts // DAY_MS > source_mark // DAY_MS:
            _prune_ids(state, source)
    if ts > state.watermark:
        new_day = ts // DAY_MS > state.watermark // DAY_MS
        state.watermark = ts
        if new_day:
            _prune_days(state)
    if len(ids) > MAX_DEDUP_IDS:
        _prune_ids(state, source)
    if state.first_seen == 0 or ts < state.first_seen:
        state.first_seen = ts
    if isinstance(event, Transaction):
        _apply_transaction(state, event, key)
    else:
        _apply_payment(state, event, key)
    return Applied.APPLIED


def _oldest_day(state: CustomerState) -> int:
    return state.watermark // DAY_MS - HORIZON_DAYS + 1


def _prune_days(state: CustomerState) -> None:
    oldest_day = _oldest_day(state)
    if state.days and min(state.days) < oldest_day:
        state.days = {d: b for d, b in state.days.items() if d >= oldest_day}


def _prune_ids(state: CustomerState, source: int) -> None:
    horizon = state.watermarks[source] - LATENESS_MS
    ids = {k: t for k, t in state.ids[source].items() if t >= horizon}
    if len(ids) > MAX_DEDUP_IDS:  # keep the newest; documented bound of the dedup memory
        ids = dict(sorted(ids.items(), key=lambda kv: (kv[1], kv[0]))[-MAX_DEDUP_IDS:])
    state.ids[source] = ids


def _bucket(state: CustomerState, ts: int) -> list[int]:
    day = ts // DAY_MS
    bucket = state.days.get(day)
    if bucket is None:
        if day < _oldest_day(state):
            # behind the horizon: no feature at or after the watermark reads this day, so a
            # throw-away bucket absorbs the event's contributions
            return CustomerState.new_bucket()
        bucket = state.days[day] = CustomerState.new_bucket()
    return bucket


def _apply_transaction(state: CustomerState, tx: Transaction, key: int) -> None:
    bucket = _bucket(state, tx.occurred_at)
    balance = tx.balance_after_minor
    if balance is not None:
        if bucket[Col.MIN_BALANCE] == BALANCE_NONE or balance < bucket[Col.MIN_BALANCE]:
            bucket[Col.MIN_BALANCE] = balance
        close_key = (tx.occurred_at % DAY_MS) * 1024 + (key & 1023)
        if close_key > bucket[Col.CLOSE_KEY]:
            bucket[Col.CLOSE_KEY] = close_key
            bucket[Col.CLOSE_BALANCE] = balance
    if tx.status != "POSTED":
        if tx.decline_reason == "INSUFFICIENT_FUNDS":
            bucket[Col.NSF_DECLINES] += 1
        if tx.channel == "DIRECT_DEBIT" and tx.direction == "DEBIT":
            bucket[Col.FAILED_DD] += 1
        return
    amount = tx.amount_minor
    category = tx.category
    bucket[Col.TX_COUNT] += 1
    if tx.direction == "CREDIT":
        bucket[Col.CREDITS] += amount
        if category in _INCOME:
            bucket[Col.INCOME] += amount
            if category == "SALARY":
                _add_salary(state, tx.occurred_at // DAY_MS, amount)
        elif category == "LENDING_APP":
            bucket[Col.LENDING_APP_IN] += amount
        return
    bucket[Col.DEBITS] += amount
    column = _DEBIT_COLUMN.get(category)
    if column is not None:
        bucket[column] += amount
    if category == "ATM_CASH" or tx.channel == "ATM":
        bucket[Col.ATM_CASH] += amount


def _add_salary(state: CustomerState, day: int, amount: int) -> None:
    for entry in state.salaries:
        if entry[0] == day:  # two salary credits on one day count as one payday
            entry[1] += amount
            return
    _keep_newest(state.salaries, [day, amount], MAX_SALARIES)


def _product(state: CustomerState, payment: Payment) -> ProductState:
    key = _account_key(payment.account_id)
    product = state.products.get(key)
    if product is None:
        product = ProductState(payment.product)
        if len(state.products) >= MAX_PRODUCTS:  # drop the product with the oldest activity
            # the new product's activity is this event (an empty ProductState would always
            # look oldest, so a new product could never replace a dormant one)
            stale = min(state.products, key=lambda k: (_last_activity(state.products[k]), k))
            if (_last_activity(state.products[stale]), stale) > (payment.occurred_at, key):
                return product  # older than every kept product: not kept
            del state.products[stale]
        state.products[key] = product
    return product


def _last_activity(product: ProductState) -> int:
    stamps = [product.dpd_latest[0]]
    for history in (product.statements, product.instalments, product.payments, product.failures):
        if history:
            stamps.append(history[-1][0])
    return max(stamps)


def _apply_payment(state: CustomerState, payment: Payment, key: int) -> None:
    product = _product(state, payment)
    ts = payment.occurred_at
    kind = payment.kind
    if kind == "STATEMENT_ISSUED":
        _keep_newest(product.statements, [
            ts,
            payment.statement_balance_minor or 0,
            payment.minimum_due_minor or 0,
            payment.due_date or 0,
            payment.credit_limit_minor or 0,
        ], MAX_STATEMENTS)
    elif kind == "INSTALMENT_DUE":
        _keep_newest(product.instalments,
                     [ts, payment.amount_due_minor or 0, payment.due_date or 0], MAX_STATEMENTS)
    elif kind == "PAYMENT_RECEIVED":
        _keep_newest(product.payments, [ts, payment.amount_minor or 0, key], MAX_PAYMENTS)
    elif kind == "PAYMENT_FAILED":
        _keep_newest(product.failures, [ts, payment.amount_minor or 0, key], MAX_FAILURES)
        _bucket(state, ts)[Col.FAILED_DD] += 1
    else:  # DELINQUENCY_STATUS
        dpd = payment.days_past_due or 0
        if (ts, key) > (product.dpd_latest[0], product.dpd_latest[1]):
            product.dpd_latest = [ts, key, dpd]
        period = ts // (30 * DAY_MS)
        if dpd > product.dpd_monthly.get(period, -1):
            product.dpd_monthly[period] = dpd
        if len(product.dpd_monthly) > DPD_MONTHS:
            del product.dpd_monthly[min(product.dpd_monthly)]
