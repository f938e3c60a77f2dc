"""Builders of typed input events for unit tests (hand-made histories, no serializers)."""

from __future__ import annotations

import itertools
from typing import Any

from stream_app.events import CustomerFlags, Payment, Transaction

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z, a day boundary
DAY0 = T0 // DAY_MS  # epoch day of T0

_ids = itertools.count(1)


def at(day: int, hour: int = 12, minute: int = 0) -> int:
    """Epoch ms of ``day`` days after T0 at ``hour:minute`` UTC."""
    return T0 + day * DAY_MS + hour * HOUR_MS + minute * 60_000


def end_of(day: int) -> int:
    """The last millisecond of ``day`` (how label as-of times are given)."""
    return T0 + (day + 1) * DAY_MS - 1


def epoch_day(day: int) -> int:
    return DAY0 + day


# Monday-based weeks, as the feature state buckets them. T0 (2026-01-01) is a Thursday, so
# the first Monday after it, 2026-01-05, is day 4; it starts "week 0" of the tests.
MONDAY0 = 4
MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY, SUNDAY = range(7)


def day_in(week: int, weekday: int = MONDAY) -> int:
    """The day (relative to T0, as taken by ``at``, ``tx``, ...) of ``weekday`` (0 = Monday,
    6 = Sunday) in test ``week`` (week 0 starts on Monday 2026-01-05; negative weeks are
    before it)."""
    if not 0 <= weekday <= 6:
        raise ValueError(f"weekday {weekday} is not 0..6")
    return MONDAY0 + 7 * week + weekday


def tx(
    day: int,
    amount: int = 1_000,
    *,
    direction: str = "DEBIT",
    channel: str = "CARD",
    category: str = "GROCERIES",
    status: str = "POSTED",
    decline_reason: str | None = None,
    balance: int | None = None,
    hour: int = 12,
    minute: int = 0,
    occurred_at: int | None = None,
    event_id: str | None = None,
    customer: str = "C1",
    account: str = "CA-1",
) -> Transaction:
    return Transaction(
        event_id=event_id or f"tx-{next(_ids)}",
        customer_id=customer,
        account_id=account,
        occurred_at=at(day, hour, minute) if occurred_at is None else occurred_at,
        amount_minor=amount,
        currency="EUR",
        direction=direction,
        channel=channel,
        category=category,
        status=status,
        decline_reason=decline_reason,
        balance_after_minor=balance,
    )


def salary(day: int, amount: int = 300_000, **kwargs: Any) -> Transaction:
    return tx(day, amount, direction="CREDIT", channel="TRANSFER", category="SALARY",
              **kwargs)


def pay(
    day: int,
    kind: str,
    *,
    product: str = "CREDIT_CARD",
    account: str = "CC-1",
    hour: int = 12,
    occurred_at: int | None = None,
    event_id: str | None = None,
    customer: str = "C1",
    statement_balance: int | None = None,
    minimum_due: int | None = None,
    credit_limit: int | None = None,
    due_day: int | None = None,
    amount_due: int | None = None,
    amount: int | None = None,
    failure_reason: str | None = None,
    dpd: int | None = None,
) -> Payment:
    return Payment(
        event_id=event_id or f"pm-{next(_ids)}",
        customer_id=customer,
        account_id=account,
        occurred_at=at(day, hour) if occurred_at is None else occurred_at,
        product=product,
        currency="EUR",
        kind=kind,
        statement_balance_minor=statement_balance,
        minimum_due_minor=minimum_due,
        credit_limit_minor=credit_limit,
        due_date=None if due_day is None else epoch_day(due_day),
        amount_due_minor=amount_due,
        amount_minor=amount,
        failure_reason=failure_reason,
        days_past_due=dpd,
    )


def statement(day: int, balance: int, minimum: int, due_day: int, limit: int | None = 100_000,
              **kwargs: Any) -> Payment:
    return pay(day, "STATEMENT_ISSUED", statement_balance=balance, minimum_due=minimum,
               due_day=due_day, credit_limit=limit, **kwargs)


def flags(day: int, *, customer: str = "C1") -> CustomerFlags:
    return CustomerFlags(event_id=f"fl-{next(_ids)}", customer_id=customer,
                         occurred_at=at(day), vulnerable=True)
