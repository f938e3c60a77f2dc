"""Per-customer state: event-time buckets and short, capped histories.

Everything here is bounded: daily buckets cover ``HORIZON_DAYS`` behind the customer's
watermark (the latest event time seen), histories keep the newest N entries by
``(time, tiebreak)``, and the deduplication memory keeps only ids inside the lateness bound.

Lateness is measured per source (transactions, payments): each upstream system's events are
compared with the newest event *of the same source*. Comparing with the newest event of any
source would turn ordinary consumer skew (one topic's backlog read faster than another's)
into false "late" events.
All aggregates are commutative (sums, minimums, newest-wins with a deterministic tie-break), so
the state after a set of events does not depend on their arrival order.

Serialisation is a compact orjson array (version-tagged), one write per customer per batch.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = [
    "DAY_MS",
    "HORIZON_DAYS",
    "LATENESS_MS",
    "MAX_DEDUP_IDS",
    "Col",
    "CustomerState",
    "ProductState",
    "StateFormatError",
]

DAY_MS = 86_400_000
HORIZON_DAYS = 128  # >= the 90-day feature windows + the 35-day lateness bound
LATENESS_MS = 35 * DAY_MS  # events older than watermark - 35 days are rejected (dead letter)
MAX_DEDUP_IDS = 512
MAX_SALARIES = 8
MAX_PRODUCTS = 8
MAX_STATEMENTS = 7
MAX_PAYMENTS = 24
MAX_FAILURES = 12
DPD_MONTHS = 7  # 30-day periods of max days-past-due kept
_FORMAT_VERSION = 2
SOURCES = 2  # 0: transactions, 1: credit-product payments


class StateFormatError(ValueError):
    """Stored state bytes are not a state this code can read."""


class Col:
    """Columns of a daily bucket (minor units, counts, balances)."""

    INCOME = 0  # SALARY + BENEFITS credits, posted
    ESSENTIAL = 1  # RENT, UTILITIES, GROCERIES, LOAN_REPAYMENT debits, posted
    DISCRETIONARY = 2  # DISCRETIONARY debits, posted
    ATM_CASH = 3  # ATM_CASH category or ATM channel debits, posted
    LENDING_APP_OUT = 4  # LENDING_APP debits (repayments to payday/app lenders)
    LENDING_APP_IN = 5  # LENDING_APP credits (money borrowed from app lenders)
    BNPL = 6  # BNPL debits
    GAMBLING = 7  # GAMBLING debits
    FAILED_DD = 8  # direct debits declined/returned + PAYMENT_FAILED on credit products (count)
    NSF_DECLINES = 9  # declines for INSUFFICIENT_FUNDS, any channel (count)
    DEBITS = 10  # all posted debits
    CREDITS = 11  # all posted credits
    TX_COUNT = 12  # posted transactions (count)
    MIN_BALANCE = 13  # lowest balance_after of the day (BALANCE_NONE if none seen)
    CLOSE_BALANCE = 14  # balance_after of the day's newest event
    CLOSE_KEY = 15  # (occurred_at, tiebreak) of that event folded into one int
    WIDTH = 16


BALANCE_NONE = -(2**62)  # sentinel: "no balance seen that day"
_ADDITIVE_WIDTH = 13  # columns 0..12 are sums


class ProductState:
    """One credit product (card, loan, ...) of the customer, keyed by a hash of account_id."""

    __slots__ = ("dpd_latest", "dpd_monthly", "failures", "instalments", "payments", "product",
                 "statements")

    def __init__(self, product: str) -> None:
        self.product = product
        # (occurred_at, balance, minimum_due, due_day, credit_limit or 0), newest last
        self.statements: list[list[int]] = []
        # (occurred_at, amount_due, due_day), newest last
        self.instalments: list[list[int]] = []
        # (occurred_at, amount, tiebreak), newest last
        self.payments: list[list[int]] = []
        # (occurred_at, amount, tiebreak), newest last
        self.failures: list[list[int]] = []
        # [occurred_at, tiebreak, dpd] of the newest DELINQUENCY_STATUS
        self.dpd_latest: list[int] = [0, 0, 0]
        # {30-day period index: max dpd}
        self.dpd_monthly: dict[int, int] = {}

    def to_list(self) -> list[Any]:
        return [self.product, self.statements, self.instalments, self.payments, self.failures,
                self.dpd_latest, sorted(self.dpd_monthly.items())]

    @classmethod
    def from_list(cls, data: list[Any]) -> ProductState:
        state = cls(data[0])
        state.statements, state.instalments, state.payments, state.failures = (
            data[1], data[2], data[3], data[4])
        state.dpd_latest = data[5]
        state.dpd_monthly = {int(k): int(v) for k, v in data[6]}
        return state


class CustomerState:
    """Everything the feature vector of one customer is computed from."""

    __slots__ = ("days", "first_seen", "ids", "products", "salaries", "watermark",
                 "watermarks")

    def __init__(self) -> None:
        self.watermark = 0  # newest occurred_at applied, any source (ms): the as-of of scores
        self.watermarks = [0] * SOURCES  # newest occurred_at applied, per source (ms)
        self.first_seen = 0  # oldest occurred_at applied (ms), for history length
        self.days: dict[int, list[int]] = {}  # epoch day -> bucket of Col.WIDTH ints
        self.salaries: list[list[int]] = []  # [epoch day, amount], newest last, one per day
        self.products: dict[int, ProductState] = {}
        # per source: event-id hash -> occurred_at, for ids inside that source's lateness bound
        self.ids: list[dict[int, int]] = [{} for _ in range(SOURCES)]

    @staticmethod
    def new_bucket() -> list[int]:
        bucket = [0] * Col.WIDTH
        bucket[Col.MIN_BALANCE] = BALANCE_NONE
        bucket[Col.CLOSE_BALANCE] = BALANCE_NONE
        bucket[Col.CLOSE_KEY] = -1
        return bucket

    def to_bytes(self) -> bytes:
        return orjson.dumps([
            _FORMAT_VERSION,
            self.watermarks,
            self.first_seen,
            sorted(self.days.items()),
            self.salaries,
            sorted((k, p.to_list()) for k, p in self.products.items()),
            [sorted(ids.items()) for ids in self.ids],
        ])

    @classmethod
    def from_bytes(cls, data: bytes) -> CustomerState:
        try:
            raw = orjson.loads(data)
            if raw[0] != _FORMAT_VERSION:
                raise StateFormatError(f"state format {raw[0]} is not {_FORMAT_VERSION}")
            state = cls()
            state.watermarks = [int(w) for w in raw[1]]
            state.watermark = max(state.watermarks)
            state.first_seen = int(raw[2])
            state.days = {int(day): bucket for day, bucket in raw[3]}
            state.salaries = raw[4]
            state.products = {int(k): ProductState.from_list(v) for k, v in raw[5]}
            state.ids = [{int(k): int(v) for k, v in ids} for ids in raw[6]]
        except StateFormatError:
            raise
        except Exception as exc:
            raise StateFormatError(f"unreadable customer state ({type(exc).__name__})") from None
        return state

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CustomerState):
            return NotImplemented
        return self.to_bytes() == other.to_bytes()

    __hash__ = None  # type: ignore[assignment]  # mutable
