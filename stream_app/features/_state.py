"""Per-customer state: weekly event-time buckets and short, capped histories.

Bounded by construction:

* **weekly buckets** (Monday-based epoch weeks) covering ``HORIZON_WEEKS`` = 13 weeks (91
  days) behind the customer's watermark (the newest event time seen). Features never look
  further back, so older weeks are dropped;
* **newest-N histories**: salaries (8), and per credit product (at most 4 products) its
  statements (6), instalment notices (6), payments (12) and monthly maxima of days past due
  (13 periods of 30 days: a year of arrears history);
* **deduplication memory**: the 32-bit hashes of the last ``MAX_DEDUP_IDS`` = 24 events applied
  per source, in arrival order (a producer's retry comes soon after the original), and the
  input position (partition, offset) of the newest record applied per source: a record read
  again at or before that position (a consumer that resumes from an older committed offset
  after a crash, however many records back) is a duplicate, whatever the window holds. A
  duplicate under another offset arriving later than the window is applied again; documented
  in docs/features.md.

All aggregates are commutative (saturating sums, minima, bit masks, newest-wins with a
deterministic tie-break), so the features after a set of events do not depend on their
arrival order (within the lateness bound).

Lateness is measured per source (transactions, payments): each upstream system's events are
compared with the newest event *of the same source*. Comparing with the newest event of any
source would turn ordinary consumer skew (one topic's backlog read faster than another's)
into false "late" events.

Serialisation is the fixed layout of ``_layout`` (version 6, what the worker's batch kernels
read and write), with int32 amounts (saturating at +/-2^31-1 minor units, i.e. 21 million in
major units) and epoch minutes for product event times: at most 2 KiB up to three credit
products (see docs/performance.md). Version 5 (the same layout without input positions)
restores with no position known; versions 3 and 4 (a variable-width ``struct`` layout) still
restore: their 48-bit ids keep their low 32 bits, and what exceeds today's caps (products,
ids, weekly counts) is cut as the caps would have cut it.
"""

from __future__ import annotations

import struct

__all__ = [
    "BALANCE_NONE",
    "DAY_MS",
    "HORIZON_WEEKS",
    "INT32_MAX",
    "INT32_MIN",
    "LATENESS_MS",
    "MAX_DEDUP_IDS",
    "MINUTE_MS",
    "SOURCES",
    "Col",
    "CustomerState",
    "ProductState",
    "StateFormatError",
    "week_of_day",
]

DAY_MS = 86_400_000
MINUTE_MS = 60_000
HORIZON_WEEKS = 13  # 91 days: the longest feature window
LATENESS_MS = 35 * DAY_MS  # older than the newest event of its source minus 35 days: too late
MAX_DEDUP_IDS = 24  # per source, last applied
MAX_SALARIES = 8
MAX_PRODUCTS = 4  # the most recently active ones
MAX_STATEMENTS = 6
MAX_INSTALMENTS = 6
MAX_PAYMENTS = 12
DPD_MONTHS = 13  # 30-day periods of max days-past-due kept (12 months and the current one)
SOURCES = 2  # 0: transactions, 1: credit-product payments
INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)
COUNT_MAX = 2**16 - 1  # the weekly counts (failed direct debits, NSF declines) saturate here
BALANCE_NONE = INT32_MIN  # "no balance seen that week" (balances are clamped above it)
_FIXED_VERSIONS = (5, 6)  # stream_app.features._layout: LAYOUT_VERSION and the one before
_LEGACY_VERSION = 4  # the struct layout (``to_bytes_v4``)
_READABLE_VERSIONS = (3, 4, 5, 6)  # version 3: no savings column, no product first-seen time
# version, watermark per source, first seen, close balance, close key, and the counts of
# weeks, salaries, products and dedup ids of each source
_HEAD = struct.Struct("<BqqqiqBBBBB")
_PRODUCT_HEAD = struct.Struct("<IBBBBBiIiiI")  # version 4: + first seen (epoch minutes)
_PRODUCT_HEAD_V3 = struct.Struct("<IBBBBBiIii")
_BIT = [1 << c for c in range(16)]
_WEEK_FORMATS = ["iH" + "i" * n for n in range(16)]
_PRESENT = [[c for c in range(15) if mask >> c & 1] for mask in range(1 << 15)]
# version 3 buckets had 14 columns: the minimum balance and the overdrawn days were 12 and 13
_V3_COLUMNS = [*range(12), 13, 14]


def week_of_day(day: int) -> int:
    """Monday-based week index of an epoch day (1970-01-01 was a Thursday)."""
    return (day + 3) // 7


class StateFormatError(ValueError):
    """Stored state bytes are not a state this code can read."""


class Col:
    """Columns of a weekly bucket: sums in minor units or counts, a minimum, a day mask."""

    INCOME = 0  # SALARY + BENEFITS credits, posted
    ESSENTIAL = 1  # RENT, UTILITIES, GROCERIES, LOAN_REPAYMENT debits, posted
    DISCRETIONARY = 2  # DISCRETIONARY debits, posted
    ATM_CASH = 3  # ATM_CASH category or ATM channel debits, posted
    LENDING_APP_OUT = 4  # LENDING_APP debits (repayments to payday/app lenders)
    LENDING_APP_IN = 5  # LENDING_APP credits (money borrowed from app lenders)
    BNPL = 6  # BNPL debits
    GAMBLING = 7  # GAMBLING debits
    FAILED_DD = 8  # direct debits returned/declined + PAYMENT_FAILED on credit products (count)
    NSF_DECLINES = 9  # declines for INSUFFICIENT_FUNDS, any channel (count)
    DEBITS = 10  # all posted debits
    CREDITS = 11  # all posted credits
    SAVINGS_IN = 12  # SAVINGS_TRANSFER credits: money brought in from the customer's savings
    MIN_BALANCE = 13  # lowest balance_after of the week (BALANCE_NONE if none seen)
    OVERDRAWN_DAYS = 14  # bit d set: a balance below zero was seen on weekday d (0 = Monday)
    WIDTH = 15


SUM_COLUMNS = range(Col.MIN_BALANCE)  # saturating sums


class ProductState:
    """One credit product (card, loan, ...) of the customer, keyed by a hash of account_id.

    Times are epoch minutes (``*_min``), due dates epoch days.
    """

    __slots__ = ("dpd_latest", "dpd_monthly", "first_seen_min", "instalments",
                 "last_activity_min", "payments", "product", "statements")

    PRODUCT_CODES = ("CREDIT_CARD", "PERSONAL_LOAN", "MORTGAGE", "AUTO_LOAN", "BNPL",
                     "OVERDRAFT", "OTHER")

    def __init__(self, product: str) -> None:
        self.product = product
        # [issued_min, balance, minimum_due, due_day, credit_limit or 0], oldest first
        self.statements: list[list[int]] = []
        # [issued_min, amount_due, due_day], oldest first
        self.instalments: list[list[int]] = []
        # [paid_min, amount], oldest first
        self.payments: list[list[int]] = []
        # [at_min, tiebreak (32 bits), days past due] of the newest DELINQUENCY_STATUS
        self.dpd_latest: list[int] = [0, 0, 0]
        # {30-day period index: max days past due}
        self.dpd_monthly: dict[int, int] = {}
        self.last_activity_min = 0
        self.first_seen_min = 0  # oldest event time of the product (new credit), 0: none


class CustomerState:
    """Everything the feature vector of one customer is computed from."""

    __slots__ = ("close_balance", "close_key", "first_seen", "ids", "positions", "products",
                 "salaries", "watermark", "watermarks", "weeks")

    def __init__(self) -> None:
        self.watermark = 0  # newest occurred_at applied, any source (ms): the as-of of scores
        self.watermarks = [0] * SOURCES  # newest occurred_at applied, per source (ms)
        self.first_seen = 0  # oldest occurred_at applied (ms), for history length
        self.weeks: dict[int, list[int]] = {}  # week index -> bucket of Col.WIDTH ints
        self.close_balance = 0  # balance_after of the newest event that carried one
        self.close_key = -1  # its (occurred_at, tiebreak) folded into one int; -1: none
        self.salaries: list[list[int]] = []  # [epoch day, amount], oldest first, one per day
        self.products: dict[int, ProductState] = {}
        # per source: 48-bit event-id hashes of the last MAX_DEDUP_IDS applied, oldest first
        self.ids: list[list[int]] = [[] for _ in range(SOURCES)]
        # per source: [partition + 1, offset + 1] of the newest input record applied ([0, 0]:
        # none known, e.g. offline replays, which have no input positions)
        self.positions: list[list[int]] = [[0, 0] for _ in range(SOURCES)]

    def cap_watermarks(self, latest_ms: int) -> bool:
        """Lower the watermarks beyond ``latest_ms`` to it; True when one was lowered.

        For a state that applied an event dated in the future (before such events were
        refused): its watermark would make the customer's real events "too late" and date its
        scores in the future. The weekly buckets after the new watermark's week are dropped
        (the weeks kept always fit the 13-week window of the fixed layout); what that event
        added to the histories stays, ignored by features as of earlier times, and counts
        from its claimed time on."""
        if self.watermark <= latest_ms:
            return False
        self.watermarks = [min(mark, latest_ms) for mark in self.watermarks]
        self.watermark = max(self.watermarks)
        self.first_seen = min(self.first_seen, latest_ms)
        last_week = week_of_day(self.watermark // DAY_MS)
        self.weeks = {w: b for w, b in self.weeks.items() if w <= last_week}
        return True

    @staticmethod
    def new_bucket() -> list[int]:
        bucket = [0] * Col.WIDTH
        bucket[Col.MIN_BALANCE] = BALANCE_NONE
        return bucket

    # --- serialisation ---------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """The changelog value: the fixed layout (version 6)."""
        from ._layout import empty_records, record_bytes, state_to_record

        records = empty_records(1)
        state_to_record(self, records, 0)
        return record_bytes(records, 0)

    def to_bytes_v4(self) -> bytes:
        """The version-4 bytes (the variable-width struct layout before the fixed one): what
        older workers wrote, for tests that restore them."""
        fmt = [_HEAD.format]
        values: list[int] = [
            _LEGACY_VERSION, self.watermarks[0], self.watermarks[1], self.first_seen,
            self.close_balance, self.close_key, len(self.weeks), len(self.salaries),
            len(self.products), len(self.ids[0]), len(self.ids[1]),
        ]
        for week in sorted(self.weeks):
            bucket = self.weeks[week]
            present = [c for c, v in enumerate(bucket) if v and c != Col.MIN_BALANCE]
            if bucket[Col.MIN_BALANCE] != BALANCE_NONE:
                present.append(Col.MIN_BALANCE)
                present.sort()
            mask = sum(_BIT[c] for c in present)
            fmt.append(_WEEK_FORMATS[len(present)])
            values.append(week)
            values.append(mask)
            values += [bucket[c] for c in present]
        fmt.append("ii" * len(self.salaries))
        for day, amount in self.salaries:
            values.extend((day, amount))
        for key in sorted(self.products):
            product = self.products[key]
            monthly = sorted(product.dpd_monthly.items())
            fmt.append(_PRODUCT_HEAD.format[1:] + "iiiii" * len(product.statements)
                       + "iii" * len(product.instalments) + "ii" * len(product.payments)
                       + "ii" * len(monthly))
            values.extend((key, ProductState.PRODUCT_CODES.index(product.product),
                           len(product.statements), len(product.instalments),
                           len(product.payments), len(monthly), product.dpd_latest[0],
                           product.dpd_latest[1], product.dpd_latest[2],
                           product.last_activity_min, product.first_seen_min))
            for statement in product.statements:
                values.extend(statement)
            for instalment in product.instalments:
                values.extend(instalment)
            for payment in product.payments:
                values.extend(payment)
            for period, dpd in monthly:
                values.extend((period, dpd))
        for ids in self.ids:
            fmt.append("IH" * len(ids))
            values += [part for hashed in ids for part in (hashed >> 16, hashed & 0xFFFF)]
        return struct.pack("".join(fmt), *values)

    @classmethod
    def from_bytes(cls, data: bytes) -> CustomerState:
        try:
            return cls._decode(data)
        except StateFormatError:
            raise
        except Exception as exc:  # struct.error, IndexError, ValueError on damaged bytes
            raise StateFormatError(f"unreadable customer state ({type(exc).__name__})") from None

    @classmethod
    def _decode(cls, data: bytes) -> CustomerState:
        if not data or data[0] not in _READABLE_VERSIONS:
            raise StateFormatError(f"state format {data[:1]!r} is not one of "
                                   f"{_READABLE_VERSIONS}")
        version = data[0]
        if version in _FIXED_VERSIONS:
            from ._layout import decode_records, empty_records, record_to_state

            records = empty_records(1)
            try:
                decode_records([data], records)
            except ValueError as exc:
                raise StateFormatError(f"unreadable customer state: {exc}") from None
            return record_to_state(records, 0)
        state = cls._decode_struct(data, version)
        state.fit_caps()
        return state

    def fit_caps(self) -> None:
        """Cut what a version-3/4 state holds beyond today's caps, as the caps would have:
        the most recently active products, the newest ids (their low 32 bits), the weekly
        counts saturated."""
        while len(self.products) > MAX_PRODUCTS:
            stale = min(self.products, key=lambda k: (self.products[k].last_activity_min, k))
            del self.products[stale]
        self.ids = [[key & 0xFFFFFFFF for key in ids[-MAX_DEDUP_IDS:]] for ids in self.ids]
        for bucket in self.weeks.values():
            for column in (Col.FAILED_DD, Col.NSF_DECLINES):
                bucket[column] = min(bucket[column], COUNT_MAX)

    @classmethod
    def _decode_struct(cls, data: bytes, version: int) -> CustomerState:
        columns = _V3_COLUMNS if version == 3 else None
        product_head = _PRODUCT_HEAD_V3 if version == 3 else _PRODUCT_HEAD
        (_, wm0, wm1, first_seen, close_balance, close_key, n_weeks, n_salaries,
         n_products, n_ids0, n_ids1) = _HEAD.unpack_from(data, 0)
        offset = _HEAD.size
        state = cls()
        state.watermarks = [wm0, wm1]
        state.watermark = max(wm0, wm1)
        state.first_seen = first_seen
        state.close_balance = close_balance
        state.close_key = close_key
        for _ in range(n_weeks):
            week, mask = struct.unpack_from("<iH", data, offset)
            offset += 6
            present = _PRESENT[mask & 0x7FFF]
            values = struct.unpack_from(f"<{len(present)}i", data, offset)
            offset += 4 * len(present)
            if columns is not None:
                present = [columns[c] for c in present]
            bucket = cls.new_bucket()
            for c, v in zip(present, values, strict=True):
                bucket[c] = v
            state.weeks[week] = bucket
        flat = struct.unpack_from(f"<{2 * n_salaries}i", data, offset)
        offset += 8 * n_salaries
        state.salaries = [[flat[i], flat[i + 1]] for i in range(0, len(flat), 2)]
        for _ in range(n_products):
            head = product_head.unpack_from(data, offset)
            (key, code, n_st, n_in, n_pay, n_dpd, dpd_at, dpd_tie, dpd,
             last_activity) = head[:10]
            offset += product_head.size
            product = ProductState(ProductState.PRODUCT_CODES[code])
            product.dpd_latest = [dpd_at, dpd_tie, dpd]
            product.last_activity_min = last_activity
            product.statements, offset = _rows(data, offset, n_st, 5)
            product.instalments, offset = _rows(data, offset, n_in, 3)
            product.payments, offset = _rows(data, offset, n_pay, 2)
            monthly, offset = _rows(data, offset, n_dpd, 2)
            product.dpd_monthly = {p: v for p, v in monthly}  # noqa: C416 - rows are lists
            if version == 3:  # not recorded: the oldest time the product's history shows
                times = [row[0] for row in (*product.statements, *product.instalments,
                                            *product.payments)]
                product.first_seen_min = min([*times, last_activity])
            else:
                product.first_seen_min = head[10]
            state.products[key] = product
        for source, count in enumerate((n_ids0, n_ids1)):
            flat = struct.unpack_from("<" + "IH" * count, data, offset)
            offset += 6 * count
            state.ids[source] = [hi << 16 | lo for hi, lo in zip(flat[::2], flat[1::2],
                                                                  strict=True)]
        if offset != len(data):
            raise StateFormatError(f"{len(data) - offset} unexpected bytes after the state")
        return state

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CustomerState):
            return NotImplemented
        return self.to_bytes() == other.to_bytes()

    __hash__ = None  # type: ignore[assignment]  # mutable


def _rows(data: bytes, offset: int, count: int, width: int) -> tuple[list[list[int]], int]:
    flat = struct.unpack_from(f"<{count * width}i", data, offset)
    rows = [list(flat[i:i + width]) for i in range(0, len(flat), width)]
    return rows, offset + 4 * count * width
