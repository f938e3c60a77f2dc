"""Apply one validated event to a customer's state (pure, no I/O).

``apply_event`` is idempotent on the input record's position when it is given (a record read
again from an older offset, however far back: ``REREAD``) and on the event's id (per source,
for the last ``MAX_DEDUP_IDS`` events applied: ``DUPLICATE``), and order-tolerant within
``LATENESS_MS`` of the newest event from the same source; it reports what happened so that
the caller can count duplicates and dead-letter late events.
"""

from __future__ import annotations

import enum
import hashlib
from bisect import insort

from stream_app.events import CustomerFlags, InputEvent, Payment, Transaction

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
    CustomerState,
    ProductState,
    week_of_day,
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
    DUPLICATE = "duplicate"  # its event id is among the last applied (a producer's retry)
    REREAD = "reread"  # its input record was read before (a resume from an older offset)
    TOO_LATE = "too_late"
    IGNORED = "ignored"  # valid, but carries nothing for the features (e.g. customer flags)


def event_key(event: InputEvent) -> int:
    """Deduplication key: 48-bit hash of the input kind and event_id."""
    digest = hashlib.blake2b(_KIND_TAG[type(event)] + event.event_id.encode(), digest_size=6)
    return int.from_bytes(digest.digest(), "big")


def _account_key(account_id: str) -> int:
    digest = hashlib.blake2b(b"a" + account_id.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big")


def _clamp(value: int) -> int:
    return INT32_MAX if value > INT32_MAX else INT32_MIN + 1 if value <= INT32_MIN else value


def _keep_newest(items: list[list[int]], item: list[int], cap: int) -> None:
    insort(items, item)
    if len(items) > cap:
        del items[0]


def apply_event(state: CustomerState, event: InputEvent,
                position: tuple[int, int] | None = None) -> Applied:
    """Fold ``event`` into ``state`` in place.

    ``position`` is the ``(partition, offset)`` of the input record that carried the event
    (None offline): a record at or before the newest one applied from the same partition of
    its source, and not newer than what that source has applied, was read again (a consumer
    resuming from an older committed offset) and is a REREAD, however far back; a topic
    recreated with new events (offsets from 0, later event times) is applied."""
    if isinstance(event, CustomerFlags):
        return Applied.IGNORED
    ts = event.occurred_at
    source = _SOURCE[type(event)]
    source_mark = state.watermarks[source]
    seen = state.positions[source]
    if (position is not None and seen[0] == position[0] + 1 and position[1] < seen[1]
            and ts <= source_mark):
        return Applied.REREAD
    if source_mark and ts < source_mark - LATENESS_MS:
        return Applied.TOO_LATE
    key = event_key(event)
    ids = state.ids[source]
    short_key = key & 0xFFFFFFFF  # the dedup memory keeps 32 bits of the key
    if short_key in ids:
        return Applied.DUPLICATE
    ids.append(short_key)
    if len(ids) > MAX_DEDUP_IDS:
        del ids[0]
    if position is not None:
        state.positions[source] = [position[0] + 1, position[1] + 1]
    if ts > source_mark:
        state.watermarks[source] = ts
    if ts > state.watermark:
        new_week = week_of_day(ts // DAY_MS) > week_of_day(state.watermark // DAY_MS)
        state.watermark = ts
        if new_week:
            _prune_weeks(state)
    if state.first_seen == 0 or ts < state.first_seen:
        state.first_seen = ts
    if isinstance(event, Transaction):
        _apply_transaction(state, event, key)
    else:
        _apply_payment(state, event, key)
    return Applied.APPLIED


def _oldest_week(state: CustomerState) -> int:
    return week_of_day(state.watermark // DAY_MS) - HORIZON_WEEKS + 1


def _prune_weeks(state: CustomerState) -> None:
    oldest = _oldest_week(state)
    if state.weeks and min(state.weeks) < oldest:
        state.weeks = {w: b for w, b in state.weeks.items() if w >= oldest}


def _bucket(state: CustomerState, week: int) -> list[int]:
    bucket = state.weeks.get(week)
    if bucket is None:
        bucket = CustomerState.new_bucket()
        if week >= _oldest_week(state):
            state.weeks[week] = bucket
        # else: behind the horizon, no feature at or after the watermark reads this week,
        # so the throw-away bucket absorbs the event's contributions
    return bucket


def _add(bucket: list[int], column: int, amount: int) -> None:
    total = bucket[column] + amount
    bucket[column] = INT32_MAX if total > INT32_MAX else total


def _count(bucket: list[int], column: int) -> None:
    if bucket[column] < COUNT_MAX:
        bucket[column] += 1


def _apply_transaction(state: CustomerState, tx: Transaction, key: int) -> None:
    day = tx.occurred_at // DAY_MS
    bucket = _bucket(state, week_of_day(day))
    if tx.balance_after_minor is not None:
        _apply_balance(state, bucket, tx, key)
    if tx.status != "POSTED":
        if tx.decline_reason == "INSUFFICIENT_FUNDS":
            _count(bucket, Col.NSF_DECLINES)
        if tx.channel == "DIRECT_DEBIT" and tx.direction == "DEBIT":
            _count(bucket, Col.FAILED_DD)
        return
    amount = tx.amount_minor
    category = tx.category
    if tx.direction == "CREDIT":
        _add(bucket, Col.CREDITS, amount)
        if category in _INCOME:
            _add(bucket, Col.INCOME, amount)
            if category == "SALARY":
                _add_salary(state, day, amount)
        elif category == "LENDING_APP":
            _add(bucket, Col.LENDING_APP_IN, amount)
        elif category == "SAVINGS_TRANSFER":
            _add(bucket, Col.SAVINGS_IN, amount)
        return
    _add(bucket, Col.DEBITS, amount)
    column = _DEBIT_COLUMN.get(category)
    if column is not None:
        _add(bucket, column, amount)
    if category == "ATM_CASH" or tx.channel == "ATM":
        _add(bucket, Col.ATM_CASH, amount)


def _apply_balance(state: CustomerState, bucket: list[int], tx: Transaction, key: int) -> None:
    balance = _clamp(tx.balance_after_minor or 0)
    if bucket[Col.MIN_BALANCE] == BALANCE_NONE or balance < bucket[Col.MIN_BALANCE]:
        bucket[Col.MIN_BALANCE] = balance
    if balance < 0:
        bucket[Col.OVERDRAWN_DAYS] |= 1 << ((tx.occurred_at // DAY_MS + 3) % 7)
    # newest wins, ties by 10 bits of the event-id hash, then by the lower balance (so that the
    # result does not depend on the arrival order even when those 10 bits collide)
    close_key = tx.occurred_at * 1024 + (key & 1023)
    if close_key > state.close_key or (close_key == state.close_key
                                       and balance < state.close_balance):
        state.close_key = close_key
        state.close_balance = balance


def _add_salary(state: CustomerState, day: int, amount: int) -> None:
    for entry in state.salaries:
        if entry[0] == day:  # two salary credits on one day count as one payday
            entry[1] = _clamp(entry[1] + amount)
            return
    _keep_newest(state.salaries, [day, _clamp(amount)], MAX_SALARIES)


def _product(state: CustomerState, payment: Payment, at_min: int) -> ProductState | None:
    """The product of this payment, created if new; None when it cannot be kept."""
    key = _account_key(payment.account_id)
    product = state.products.get(key)
    if product is not None:
        return product
    if len(state.products) >= MAX_PRODUCTS:
        # keep the MAX_PRODUCTS most recently active products (ties: the larger key)
        stale = min(state.products, key=lambda k: (state.products[k].last_activity_min, k))
        if (state.products[stale].last_activity_min, stale) > (at_min, key):
            return None  # older than every product kept: drop it
        del state.products[stale]
    product = state.products[key] = ProductState(payment.product)
    return product


def _apply_payment(state: CustomerState, payment: Payment, key: int) -> None:
    at_min = payment.occurred_at // MINUTE_MS
    if payment.kind == "PAYMENT_FAILED":
        _count(_bucket(state, week_of_day(payment.occurred_at // DAY_MS)), Col.FAILED_DD)
    product = _product(state, payment, at_min)
    if product is None:
        return
    product.last_activity_min = max(product.last_activity_min, at_min)
    if product.first_seen_min == 0 or at_min < product.first_seen_min:
        product.first_seen_min = at_min
    kind = payment.kind
    if kind == "STATEMENT_ISSUED":
        _keep_newest(product.statements, [
            at_min,
            _clamp(payment.statement_balance_minor or 0),
            _clamp(payment.minimum_due_minor or 0),
            payment.due_date or 0,
            _clamp(payment.credit_limit_minor or 0),
        ], MAX_STATEMENTS)
    elif kind == "INSTALMENT_DUE":
        _keep_newest(product.instalments,
                     [at_min, _clamp(payment.amount_due_minor or 0), payment.due_date or 0],
                     MAX_INSTALMENTS)
    elif kind == "PAYMENT_RECEIVED":
        _keep_newest(product.payments, [at_min, _clamp(payment.amount_minor or 0)],
                     MAX_PAYMENTS)
    elif kind == "DELINQUENCY_STATUS":
        dpd = payment.days_past_due or 0
        tiebreak = key & 0xFFFFFFFF
        if (at_min, tiebreak) > (product.dpd_latest[0], product.dpd_latest[1]):
            product.dpd_latest = [at_min, tiebreak, dpd]
        period = payment.occurred_at // (30 * DAY_MS)
        if dpd > product.dpd_monthly.get(period, -1):
            product.dpd_monthly[period] = dpd
        if len(product.dpd_monthly) > DPD_MONTHS:
            del product.dpd_monthly[min(product.dpd_monthly)]
