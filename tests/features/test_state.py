"""CustomerState: weekly buckets, the codec (the fixed layout of version 5 and the struct
layout of versions 3 and 4: round trip, refusal of unreadable bytes), saturating int32 amounts
and the size bound."""

from __future__ import annotations

import datetime as dt
import statistics
import struct
from collections.abc import Sequence

import pytest

from stream_app.events import InputEvent
from stream_app.features import (
    FEATURE_NAMES,
    HORIZON_WEEKS,
    LATENESS_MS,
    MAX_DEDUP_IDS,
    Applied,
    CustomerState,
    StateFormatError,
    apply_event,
    feature_index,
    feature_vector,
)
from stream_app.features import _state as _state_module
from stream_app.features._layout import CORE_BYTES, PRODUCT_BYTES, STATE_BYTES_MAX
from stream_app.features._state import (
    BALANCE_NONE,
    INT32_MAX,
    INT32_MIN,
    MAX_INSTALMENTS,
    MAX_PAYMENTS,
    MAX_PRODUCTS,
    MAX_SALARIES,
    MAX_STATEMENTS,
    Col,
    week_of_day,
)
from stream_app.offline import to_event
from stream_app.simulate import BankSimulator, SimulationConfig
from tests.support.events import (
    DAY_MS,
    FRIDAY,
    MONDAY,
    SATURDAY,
    SUNDAY,
    THURSDAY,
    TUESDAY,
    WEDNESDAY,
    at,
    day_in,
    end_of,
    epoch_day,
    pay,
    salary,
    statement,
    tx,
)

EMPTY_BYTES = 1 + CORE_BYTES  # version 6: the version byte and the fixed core, no product
# Sizes of the v4 layout (little-endian, no padding), from the struct formats in _state.py:
HEAD_BYTES = 1 + 8 + 8 + 8 + 4 + 8 + 5  # version, 2 watermarks, first seen, close, key, 5 counts
WEEK_HEAD_BYTES = 4 + 2  # week index, mask of the columns present
# key, code + 4 counts, dpd_latest (3), last activity, first seen (new in v4)
PRODUCT_HEAD_BYTES = 4 + 5 * 1 + 4 + 4 + 4 + 4 + 4
V3_PRODUCT_HEAD_BYTES = PRODUCT_HEAD_BYTES - 4  # v3: no first seen
STATEMENT_BYTES, INSTALMENT_BYTES, PAYMENT_BYTES, DPD_MONTH_BYTES = 5 * 4, 3 * 4, 2 * 4, 2 * 4
SALARY_BYTES = 2 * 4
DEDUP_ID_BYTES = 4 + 2  # 48 bits in v4 (32 of them kept since v5)
BUCKET_COLUMNS = 15  # v4: SAVINGS_IN (12) before MIN_BALANCE (13) and OVERDRAWN_DAYS (14)
DPD_MONTHS = 13  # 30-day periods: a year of arrears history and the current period


def week(w: int) -> int:
    """The state's week index of test week ``w``."""
    return week_of_day(epoch_day(day_in(w)))


def _apply_all(state: CustomerState, events: list[InputEvent]) -> CustomerState:
    for event in events:
        assert apply_event(state, event) is Applied.APPLIED, event
    return state


# --- weeks -------------------------------------------------------------------------------------

def test_week_of_day_is_monday_based() -> None:
    # 1970-01-01 (epoch day 0) was a Thursday: days -3 (Monday) .. 3 (Sunday) are week 0
    assert [week_of_day(d) for d in (-4, -3, 0, 3, 4, 10, 11)] == [-1, 0, 0, 0, 1, 1, 2]
    # the test calendar agrees with the real one
    for w in (-2, 0, 1, 12):
        for weekday in range(7):
            day = day_in(w, weekday)
            date = dt.datetime.fromtimestamp(at(day) / 1000, tz=dt.UTC).date()
            assert date == dt.date(2026, 1, 5) + dt.timedelta(days=7 * w + weekday)
            assert date.weekday() == weekday
            assert week_of_day(epoch_day(day)) == week(0) + w


def test_events_are_bucketed_by_week_and_only_13_weeks_are_kept() -> None:
    state = CustomerState()
    # one 100 debit on Monday and one 10 debit on Sunday (23:59) of each of weeks 0..19
    for w in range(20):
        _apply_all(state, [tx(day_in(w, MONDAY), 100, hour=0),
                           tx(day_in(w, SUNDAY), 10, hour=23, minute=59)])
    assert HORIZON_WEEKS == 13
    assert sorted(state.weeks) == [week(w) for w in range(7, 20)]  # weeks 7..19
    for bucket in state.weeks.values():
        assert bucket[Col.DEBITS] == 110
        assert bucket[Col.ESSENTIAL] == 110  # GROCERIES
        assert bucket[Col.MIN_BALANCE] == BALANCE_NONE  # no balance carried
    # payments read far ahead (week 40) move the customer's watermark: the oldest week kept
    # is now week 28, so every transaction week is dropped ...
    assert apply_event(state, pay(day_in(40), "PAYMENT_RECEIVED", amount=1)) is Applied.APPLIED
    assert state.weeks == {}
    # ... and a transaction of week 20 (not late for its own source) is applied without
    # creating a bucket behind the horizon; its salary history is still kept
    assert apply_event(state, salary(day_in(20), 123_000)) is Applied.APPLIED
    assert state.weeks == {}
    assert state.salaries == [[epoch_day(day_in(20)), 123_000]]


def test_overdrawn_days_are_a_weekday_mask_per_week() -> None:
    state = _apply_all(CustomerState(), [
        tx(day_in(3, MONDAY), balance=-100, hour=9),
        tx(day_in(3, MONDAY), balance=500, hour=18),  # dipped below zero during Monday
        tx(day_in(3, TUESDAY), balance=-700, hour=9),
        tx(day_in(3, TUESDAY), balance=-900, hour=18),  # still one day
        tx(day_in(3, WEDNESDAY), balance=0),  # zero is not overdrawn
        tx(day_in(3, THURSDAY), status="DECLINED", decline_reason="INSUFFICIENT_FUNDS",
           balance=-50),  # a declined payment's balance counts too
        tx(day_in(3, SUNDAY), balance=-1, hour=23, minute=59),
        tx(day_in(4, MONDAY), balance=-1, hour=0, minute=0),  # next week
    ])
    assert state.weeks[week(3)][Col.OVERDRAWN_DAYS] == 0b1001011  # Mon, Tue, Thu, Sun
    assert state.weeks[week(3)][Col.MIN_BALANCE] == -900
    assert state.weeks[week(4)][Col.OVERDRAWN_DAYS] == 0b0000001  # Monday
    assert state.close_balance == -1


# --- codec -------------------------------------------------------------------------------------

def _rich_events() -> list[InputEvent]:
    return [
        salary(day_in(0)), salary(day_in(4, TUESDAY)),
        tx(day_in(0, TUESDAY), 90_000, category="RENT", channel="DIRECT_DEBIT", balance=200_000),
        tx(day_in(1, FRIDAY), 3_000, category="GAMBLING", balance=-1_500),
        tx(day_in(1, SUNDAY), 4_000, channel="DIRECT_DEBIT", category="UTILITIES",
           status="RETURNED", decline_reason="INSUFFICIENT_FUNDS", balance=-1_500),
        statement(day_in(1), 60_000, 3_000, due_day=day_in(4), limit=100_000),
        pay(day_in(2, WEDNESDAY), "PAYMENT_RECEIVED", amount=3_000),
        pay(day_in(3), "INSTALMENT_DUE", product="PERSONAL_LOAN", account="LN-1",
            amount_due=12_000, due_day=day_in(3, SUNDAY)),
        pay(day_in(4), "PAYMENT_FAILED", product="PERSONAL_LOAN", account="LN-1",
            amount=12_000, failure_reason="INSUFFICIENT_FUNDS"),
        pay(day_in(5), "DELINQUENCY_STATUS", product="PERSONAL_LOAN", account="LN-1", dpd=12),
        salary(day_in(8, TUESDAY), 280_000),
        tx(day_in(8, WEDNESDAY), 2_500, balance=10_000),
    ]


def _rich_state() -> CustomerState:
    return _apply_all(CustomerState(), _rich_events())


PRODUCT_SLOTS = ("product", "statements", "instalments", "payments", "dpd_latest",
                 "dpd_monthly", "last_activity_min", "first_seen_min")


def test_round_trip_keeps_state_and_features() -> None:
    state = _rich_state()
    data = state.to_bytes()
    restored = CustomerState.from_bytes(data)
    assert restored == state
    assert restored.to_bytes() == data
    assert restored.watermark == state.watermark
    assert restored.watermarks == state.watermarks
    assert restored.first_seen == state.first_seen
    assert (restored.close_balance, restored.close_key) == (state.close_balance, state.close_key)
    assert restored.weeks == state.weeks
    assert restored.salaries == state.salaries
    assert restored.ids == state.ids
    assert restored.products.keys() == state.products.keys()
    for key, product in state.products.items():
        other = restored.products[key]
        for slot in PRODUCT_SLOTS:
            assert getattr(other, slot) == getattr(product, slot), slot
    for as_of in (end_of(day_in(2)), end_of(day_in(6)), state.watermark, end_of(day_in(20))):
        assert feature_vector(restored, as_of) == feature_vector(state, as_of)


def test_restored_state_still_deduplicates_and_keeps_lateness() -> None:
    state = CustomerState()
    event = tx(50, 1_000)
    apply_event(state, event)
    restored = CustomerState.from_bytes(state.to_bytes())
    assert apply_event(restored, event) is Applied.DUPLICATE
    late = tx(0, 1_000, occurred_at=event.occurred_at - LATENESS_MS - 1)
    assert apply_event(restored, late) is Applied.TOO_LATE
    # per-source watermarks survive: a payment is not late against transactions
    assert apply_event(restored, pay(0, "PAYMENT_RECEIVED", amount=5)) is Applied.APPLIED


def test_empty_state_round_trip_is_the_header_only() -> None:
    empty = CustomerState()
    data = empty.to_bytes()
    assert len(data) == EMPTY_BYTES
    assert data[0] == 6  # format version
    assert len(empty.to_bytes_v4()) == HEAD_BYTES
    restored = CustomerState.from_bytes(data)
    assert restored == empty
    assert restored.close_key == -1
    assert feature_vector(restored, at(0)) == feature_vector(empty, at(0))


def test_layout_size_of_a_small_state() -> None:
    # one week with DEBITS, ESSENTIAL and MIN_BALANCE; one dedup id
    state = _apply_all(CustomerState(), [tx(day_in(0), 100, balance=5_000)])
    assert len(state.to_bytes()) == EMPTY_BYTES  # fixed: no product
    assert len(state.to_bytes_v4()) == HEAD_BYTES + WEEK_HEAD_BYTES + 3 * 4 + DEDUP_ID_BYTES
    with_card = _apply_all(state, [statement(day_in(0), 1_000, 100, due_day=day_in(3))])
    assert len(with_card.to_bytes()) == EMPTY_BYTES + PRODUCT_BYTES


def test_continuing_after_a_round_trip_equals_never_serialising() -> None:
    events: list[InputEvent] = [tx(d, 1_000 + d, balance=50_000 - 700 * d) for d in range(40)]
    events += [pay(d, "PAYMENT_RECEIVED", amount=100 + d) for d in range(0, 40, 3)]
    events.sort(key=lambda e: e.occurred_at)
    direct, hopping = CustomerState(), CustomerState()
    for i, event in enumerate(events):
        apply_event(direct, event)
        apply_event(hopping, event)
        if i % 7 == 0:
            hopping = CustomerState.from_bytes(hopping.to_bytes())
    assert hopping == direct


@pytest.mark.parametrize("data", [
    b"",
    b"\x03",  # the version byte alone (the older readable format)
    b"\x04",  # the version byte alone (the struct format)
    b"\x05",  # the version byte alone (the current format)
    b"not a state at all",
    b"\x00\x01\x02\xff",
    b"{}",
    b"[]",
    b"42",
    b'"text"',
    b"[2]",
    b'[2, "x", 0, [], [], [], [[], []]]',  # the former (v2) JSON format
])
def test_garbage_raises_state_format_error(data: bytes) -> None:
    with pytest.raises(StateFormatError):
        CustomerState.from_bytes(data)


@pytest.mark.parametrize("version", [0, 1, 2, 7, 255])
@pytest.mark.parametrize("encoding", ["to_bytes", "to_bytes_v4"])
def test_other_format_version_raises_state_format_error(version: int, encoding: str) -> None:
    data = bytearray(getattr(_rich_state(), encoding)())
    data[0] = version
    with pytest.raises(StateFormatError, match="format"):
        CustomerState.from_bytes(bytes(data))


@pytest.mark.parametrize("encoding", ["to_bytes", "to_bytes_v4"])
def test_every_truncation_raises_state_format_error(encoding: str) -> None:
    data = getattr(_rich_state(), encoding)()
    for length in range(len(data)):
        with pytest.raises(StateFormatError):
            CustomerState.from_bytes(data[:length])


@pytest.mark.parametrize("extra", [b"\x00", b"\x03", b"\xff" * 6])
def test_trailing_bytes_raise_state_format_error(extra: bytes) -> None:
    with pytest.raises(StateFormatError, match="unexpected bytes"):
        CustomerState.from_bytes(_rich_state().to_bytes_v4() + extra)
    with pytest.raises(StateFormatError, match=f"not 1 \\+ {CORE_BYTES} \\+ n x"):
        CustomerState.from_bytes(_rich_state().to_bytes() + extra)


def test_a_version_6_state_with_a_count_beyond_its_cap_raises_state_format_error() -> None:
    # the kernels index by these counts: a damaged one must never reach them
    from stream_app.features._layout import STATE, decode_records, empty_records

    state = _apply_all(CustomerState(), [tx(day_in(0), 100, balance=5_000),
                                         statement(day_in(0), 1_000, 100, due_day=day_in(3))])
    data = state.to_bytes()
    records = empty_records(1)
    decode_records([data], records)
    for field, value in (("n_salaries", MAX_SALARIES + 1), ("n_ids", MAX_DEDUP_IDS + 1)):
        bad = records.copy()
        bad[field] = value
        damaged = b"\x06" + bad.tobytes()[:len(data) - 1]
        with pytest.raises(StateFormatError, match="beyond its cap"):
            CustomerState.from_bytes(damaged)
    for field, value in (("code", 200), ("n_statements", MAX_STATEMENTS + 1),
                         ("n_payments", MAX_PAYMENTS + 1), ("n_dpd", DPD_MONTHS + 1),
                         ("n_instalments", MAX_INSTALMENTS + 1)):
        bad = records.copy()
        bad["products"][field][0, 0] = value
        damaged = b"\x06" + bad.tobytes()[:len(data) - 1]
        with pytest.raises(StateFormatError, match=r"beyond its cap|product code"):
            CustomerState.from_bytes(damaged)
    lying = records.copy()
    lying["n_products"] = 2  # one product's bytes
    with pytest.raises(StateFormatError, match="product count"):
        CustomerState.from_bytes(b"\x06" + lying.tobytes()[:len(data) - 1])
    assert STATE.itemsize == CORE_BYTES + MAX_PRODUCTS * PRODUCT_BYTES


# offsets in the header: version (0), 3 x q (1..24), close balance i (25..28), close key q
# (29..36), then the counts of weeks (37), salaries (38), products (39), ids of source 0 (40)
# and source 1 (41)
N_WEEKS, N_SALARIES, N_PRODUCTS, N_IDS0, N_IDS1 = 37, 38, 39, 40, 41


def test_damaged_counts_or_codes_raise_state_format_error() -> None:
    # one transaction (one week, one id) and one card statement (one product, one payment id)
    state = _apply_all(CustomerState(), [tx(day_in(0), 100, balance=5_000),
                                         statement(day_in(0), 1_000, 100, due_day=day_in(3))])
    data = state.to_bytes_v4()
    assert data[N_WEEKS:N_IDS1 + 1] == bytes([1, 0, 1, 1, 1])

    def damaged(offset: int, value: int) -> bytes:
        copy = bytearray(data)
        copy[offset] = value
        return bytes(copy)

    week_end = HEAD_BYTES + WEEK_HEAD_BYTES + 3 * 4
    product_code = week_end + 4  # after the product key
    assert data[product_code] == 0  # CREDIT_CARD
    for bad in (
        damaged(N_WEEKS, 2),  # reads the product as a week, then runs out of bytes
        damaged(N_WEEKS, 0),  # reads the week as a product
        damaged(N_PRODUCTS, 2),
        damaged(N_PRODUCTS, 0),
        damaged(N_SALARIES, 1),
        damaged(N_IDS0, 2),
        damaged(N_IDS1, 0),  # one id left over
        damaged(product_code, 200),  # no such product code
    ):
        with pytest.raises(StateFormatError):
            CustomerState.from_bytes(bad)


# --- the v4 layout and reading version 3 -------------------------------------------------------

def _minute(day: int, hour: int = 12) -> int:
    return at(day, hour) // 60_000


def test_a_savings_week_and_the_product_first_seen_are_in_the_v4_bytes() -> None:
    state = _apply_all(CustomerState(), [
        tx(day_in(0), 7_000, direction="CREDIT", channel="TRANSFER",
           category="SAVINGS_TRANSFER"),
        pay(day_in(0, TUESDAY), "PAYMENT_RECEIVED", amount=5),
    ])
    data = state.to_bytes_v4()
    assert data[0] == 4
    # the week: SAVINGS_IN and CREDITS, mask bits 12 and 11
    week_index, mask = struct.unpack_from("<iH", data, HEAD_BYTES)
    assert week_index == week(0)
    assert mask == 1 << 11 | 1 << 12
    assert struct.unpack_from("<ii", data, HEAD_BYTES + WEEK_HEAD_BYTES) == (7_000, 7_000)
    # the product head ends with the first-seen minute
    product_at = HEAD_BYTES + WEEK_HEAD_BYTES + 2 * 4
    head = struct.unpack_from("<IBBBBBiIiiI", data, product_at)
    assert head[1:6] == (0, 0, 0, 1, 0)  # CREDIT_CARD; 0 statements, 0 instalments, 1 payment
    assert head[9] == head[10] == _minute(day_in(0, TUESDAY))  # last activity, first seen
    assert len(data) == (HEAD_BYTES + WEEK_HEAD_BYTES + 2 * 4 + PRODUCT_HEAD_BYTES
                         + PAYMENT_BYTES + 2 * DEDUP_ID_BYTES)
    assert CustomerState.from_bytes(data) == state


# v3 week buckets had 14 columns: 0..11 as today, then MIN_BALANCE (12) and OVERDRAWN_DAYS (13)
V3_MIN_BALANCE, V3_OVERDRAWN_DAYS = 12, 13


def _v3_week(week_index: int, columns: dict[int, int]) -> bytes:
    """A v3 week: index, mask of the (v3) columns present, their values in column order."""
    present = sorted(columns)
    return struct.pack(f"<iH{len(present)}i", week_index, sum(1 << c for c in present),
                       *(columns[c] for c in present))


def _v3_product(key: int, code: int, *, statements: Sequence[Sequence[int]] = (),
                instalments: Sequence[Sequence[int]] = (),
                payments: Sequence[Sequence[int]] = (), monthly: dict[int, int] | None = None,
                dpd_latest: Sequence[int], last_activity: int) -> bytes:
    """A v3 product: key u32, code u8, 4 counts u8, dpd_latest (i32 at, u32 tiebreak, i32 dpd),
    last activity i32, then the rows (i32 each)."""
    months = sorted((monthly or {}).items())
    out = struct.pack("<IBBBBBiIii", key, code, len(statements), len(instalments),
                      len(payments), len(months), *dpd_latest, last_activity)
    for row in (*statements, *instalments, *payments, *months):
        out += struct.pack(f"<{len(row)}i", *row)
    return out


def _v3_ids(ids: list[int]) -> bytes:
    return b"".join(struct.pack("<IH", i >> 16, i & 0xFFFF) for i in ids)


def _v3_head(*, watermarks: tuple[int, int], first_seen: int, close: tuple[int, int],
             counts: tuple[int, int, int, int, int]) -> bytes:
    return struct.pack("<BqqqiqBBBBB", 3, *watermarks, first_seen, *close, *counts)


def test_a_hand_built_version_3_state_decodes_to_the_v4_state() -> None:
    statement_at, first_payment_at = _minute(day_in(2)), _minute(day_in(1))
    loan_status_at = _minute(day_in(5))
    period = at(day_in(5)) // (30 * DAY_MS)
    close_key = at(day_in(5)) * 1024 + 7
    data = (
        _v3_head(watermarks=(at(day_in(5)), at(day_in(6))), first_seen=at(day_in(0)),
                 close=(-1_500, close_key), counts=(2, 1, 2, 1, 2))
        + _v3_week(week(0), {Col.INCOME: 300_000, Col.CREDITS: 300_000,
                             V3_MIN_BALANCE: -1_500, V3_OVERDRAWN_DAYS: 0b101})
        + _v3_week(week(1), {Col.ESSENTIAL: 2_000, Col.DEBITS: 2_000})
        + struct.pack("<ii", epoch_day(day_in(0)), 300_000)
        # a card whose oldest item is a payment (older than its statement)
        + _v3_product(111, 0, statements=[[statement_at, 60_000, 3_000, epoch_day(day_in(4)),
                                           100_000]],
                      payments=[[first_payment_at, 500], [_minute(day_in(3)), 1_000]],
                      monthly={period: 3}, dpd_latest=(_minute(day_in(6)), 0xABCD, 3),
                      last_activity=_minute(day_in(6)))
        # a loan known only from an arrears status: no rows, the activity is all there is
        + _v3_product(222, 1, monthly={period: 12}, dpd_latest=(loan_status_at, 1, 12),
                      last_activity=loan_status_at)
        + _v3_ids([0x1234_5678_9ABC])
        + _v3_ids([0xFFFF_FFFF_FFFF, 1])
    )
    state = CustomerState.from_bytes(data)

    assert state.watermarks == [at(day_in(5)), at(day_in(6))]
    assert state.watermark == at(day_in(6))
    assert state.first_seen == at(day_in(0))
    assert (state.close_balance, state.close_key) == (-1_500, close_key)
    first = [0] * Col.WIDTH
    first[Col.INCOME] = first[Col.CREDITS] = 300_000
    first[Col.MIN_BALANCE] = -1_500  # v3 column 12 is column 13 now
    first[Col.OVERDRAWN_DAYS] = 0b101  # v3 column 13 is column 14 now
    second = [0] * Col.WIDTH
    second[Col.ESSENTIAL] = second[Col.DEBITS] = 2_000
    second[Col.MIN_BALANCE] = BALANCE_NONE
    assert state.weeks == {week(0): first, week(1): second}
    assert state.weeks[week(0)][Col.SAVINGS_IN] == 0  # v3 had no savings column
    assert state.salaries == [[epoch_day(day_in(0)), 300_000]]
    card, loan = state.products[111], state.products[222]
    assert card.product == "CREDIT_CARD"
    assert card.statements == [[statement_at, 60_000, 3_000, epoch_day(day_in(4)), 100_000]]
    assert card.instalments == []
    assert card.payments == [[first_payment_at, 500], [_minute(day_in(3)), 1_000]]
    assert card.dpd_monthly == {period: 3}
    assert card.dpd_latest == [_minute(day_in(6)), 0xABCD, 3]
    assert card.last_activity_min == _minute(day_in(6))
    # not stored in v3: the oldest time of the kept history (here the first payment)
    assert card.first_seen_min == first_payment_at
    assert loan.product == "PERSONAL_LOAN"
    assert (loan.statements, loan.instalments, loan.payments) == ([], [], [])
    assert loan.first_seen_min == loan_status_at
    assert state.ids == [[0x5678_9ABC], [0xFFFF_FFFF, 1]]  # their low 32 bits

    # written back as v4: same weeks (same columns present), 4 more bytes per product head
    again = state.to_bytes_v4()
    assert again[0] == 4
    assert len(again) == len(data) + 2 * (PRODUCT_HEAD_BYTES - V3_PRODUCT_HEAD_BYTES)
    assert CustomerState.from_bytes(again) == state
    # and the features read the remapped columns
    f = dict(zip(FEATURE_NAMES, feature_vector(state, end_of(day_in(1, SUNDAY))), strict=True))
    assert f["balance_min_30d_minor"] == -1_500
    assert f["overdrawn_days_30d"] == 2
    assert f["savings_drawdown_30d_minor"] == 0
    assert f["income_30d_minor"] == 300_000
    later = dict(zip(FEATURE_NAMES, feature_vector(state, end_of(day_in(6))), strict=True))
    assert (later["dpd_current"], later["products_in_arrears"]) == (12, 2)


def _as_v3(state: CustomerState) -> bytes:
    """``state`` in the version 3 layout, written independently of the product's encoder."""
    out = _v3_head(watermarks=(state.watermarks[0], state.watermarks[1]),
                   first_seen=state.first_seen, close=(state.close_balance, state.close_key),
                   counts=(len(state.weeks), len(state.salaries), len(state.products),
                           len(state.ids[0]), len(state.ids[1])))
    for index in sorted(state.weeks):
        bucket = state.weeks[index]
        assert bucket[Col.SAVINGS_IN] == 0, "v3 cannot hold savings"
        columns = {c: bucket[c] for c in range(12) if bucket[c]}
        if bucket[Col.MIN_BALANCE] != BALANCE_NONE:
            columns[V3_MIN_BALANCE] = bucket[Col.MIN_BALANCE]
        if bucket[Col.OVERDRAWN_DAYS]:
            columns[V3_OVERDRAWN_DAYS] = bucket[Col.OVERDRAWN_DAYS]
        out += _v3_week(index, columns)
    for day, amount in state.salaries:
        out += struct.pack("<ii", day, amount)
    codes = ("CREDIT_CARD", "PERSONAL_LOAN", "MORTGAGE", "AUTO_LOAN", "BNPL", "OVERDRAFT",
             "OTHER")
    for key in sorted(state.products):
        p = state.products[key]
        out += _v3_product(key, codes.index(p.product), statements=p.statements,
                           instalments=p.instalments, payments=p.payments,
                           monthly=p.dpd_monthly, dpd_latest=p.dpd_latest,
                           last_activity=p.last_activity_min)
    return out + _v3_ids(state.ids[0]) + _v3_ids(state.ids[1])


def test_a_version_3_state_reads_as_the_state_it_was_written_from() -> None:
    # every product of the rich history keeps its oldest event in its histories (the card its
    # statement, the loan its instalment notice), so v3 loses nothing of it
    state = _rich_state()
    data = _as_v3(state)
    assert data[0] == 3
    assert len(data) == len(state.to_bytes_v4()) - 4 * len(state.products)
    restored = CustomerState.from_bytes(data)
    assert restored == state
    for key, product in state.products.items():
        for slot in PRODUCT_SLOTS:
            assert getattr(restored.products[key], slot) == getattr(product, slot), slot
    for as_of in (end_of(day_in(2)), end_of(day_in(6)), state.watermark):
        assert feature_vector(restored, as_of) == feature_vector(state, as_of)


def test_a_version_3_product_whose_first_event_left_no_row_starts_at_its_oldest_row() -> None:
    # a failed payment leaves no history row: v3 cannot know it came first, so the product
    # starts at its statement (v4 keeps the true first event)
    state = _apply_all(CustomerState(), [
        pay(day_in(0), "PAYMENT_FAILED", amount=100, failure_reason="INSUFFICIENT_FUNDS"),
        statement(day_in(2), 10_000, 500, due_day=day_in(5)),
    ])
    (product,) = state.products.values()
    assert product.first_seen_min == _minute(day_in(0))
    (restored,) = CustomerState.from_bytes(_as_v3(state)).products.values()
    assert restored.first_seen_min == _minute(day_in(2))


def test_every_truncation_of_a_version_3_state_raises_state_format_error() -> None:
    data = _as_v3(_rich_state())
    for length in range(len(data)):
        with pytest.raises(StateFormatError):
            CustomerState.from_bytes(data[:length])
    with pytest.raises(StateFormatError, match="unexpected bytes"):
        CustomerState.from_bytes(data + b"\x00")


def test_a_version_3_week_with_a_15th_column_raises_state_format_error() -> None:
    # v3 buckets had 14 columns (bits 0..13): bit 14 is damage, not the v4 overdrawn days
    data = (_v3_head(watermarks=(at(0), 0), first_seen=at(0), close=(0, -1),
                     counts=(1, 0, 0, 0, 0))
            + _v3_week(week(0), {Col.DEBITS: 100, 14: 1}))
    with pytest.raises(StateFormatError):
        CustomerState.from_bytes(data)
    good = (_v3_head(watermarks=(at(0), 0), first_seen=at(0), close=(0, -1),
                     counts=(1, 0, 0, 0, 0))
            + _v3_week(week(0), {Col.DEBITS: 100, V3_OVERDRAWN_DAYS: 1}))
    assert CustomerState.from_bytes(good).weeks[week(0)][Col.OVERDRAWN_DAYS] == 1


# --- int32 saturation --------------------------------------------------------------------------

def test_amounts_saturate_at_int32() -> None:
    huge = 10**12  # the largest amount validation lets through, far above 2^31 - 1
    state = _apply_all(CustomerState(), [
        tx(day_in(0), huge, direction="CREDIT", channel="TRANSFER", category="BENEFITS"),
        tx(day_in(0, TUESDAY), huge, direction="CREDIT", channel="TRANSFER",
           category="BENEFITS"),
        tx(day_in(0, WEDNESDAY), INT32_MAX - 5, category="GAMBLING"),
        tx(day_in(0, WEDNESDAY), 10, category="GAMBLING", hour=13),  # sum crosses the limit
        tx(day_in(0, THURSDAY), 1, balance=-huge),
        salary(day_in(0, FRIDAY), huge),
        statement(day_in(0, FRIDAY), huge, huge, due_day=day_in(3), limit=huge),
        pay(day_in(0, SATURDAY), "PAYMENT_RECEIVED", amount=huge),
    ])
    bucket = state.weeks[week(0)]
    assert bucket[Col.INCOME] == INT32_MAX
    assert bucket[Col.CREDITS] == INT32_MAX
    assert bucket[Col.GAMBLING] == INT32_MAX
    assert bucket[Col.DEBITS] == INT32_MAX
    # the lowest balance is clamped one above BALANCE_NONE ("no balance"), so it stays visible
    assert BALANCE_NONE == INT32_MIN
    assert bucket[Col.MIN_BALANCE] == INT32_MIN + 1
    assert state.close_balance == INT32_MIN + 1
    assert bucket[Col.OVERDRAWN_DAYS] == 1 << THURSDAY
    assert state.salaries[0][1] == INT32_MAX
    (product,) = state.products.values()
    assert product.statements[0][1:3] == [INT32_MAX, INT32_MAX]
    assert product.statements[0][4] == INT32_MAX
    assert product.payments[0][1] == INT32_MAX
    # the codec takes the saturated values, and the features read them
    restored = CustomerState.from_bytes(state.to_bytes())
    assert restored == state
    f = feature_vector(restored, end_of(day_in(0, SUNDAY)))
    assert f[feature_index("income_30d_minor")] == INT32_MAX
    assert f[feature_index("balance_min_30d_minor")] == INT32_MIN + 1
    assert f[feature_index("balance_close_minor")] == INT32_MIN + 1
    assert f[feature_index("overdrawn_days_30d")] == 1


def test_a_positive_huge_balance_saturates_too() -> None:
    state = _apply_all(CustomerState(), [tx(day_in(0), 1, balance=10**12)])
    assert state.weeks[week(0)][Col.MIN_BALANCE] == INT32_MAX
    assert state.close_balance == INT32_MAX
    assert CustomerState.from_bytes(state.to_bytes()) == state


# --- bounded size ------------------------------------------------------------------------------

def test_simulated_year_of_50_customers_stays_within_2_kib_each() -> None:
    simulator = BankSimulator(SimulationConfig(customers=50, days=365, seed=11))
    states: dict[str, CustomerState] = {}
    largest: dict[str, int] = {}
    events = 0
    for _, records in simulator.days():
        touched = set()
        for record in records:
            event = to_event(record)
            state = states.setdefault(event.customer_id, CustomerState())
            assert apply_event(state, event) is Applied.APPLIED
            touched.add(event.customer_id)
            events += 1
        for customer in touched:  # the size at the end of each simulated day
            size = len(states[customer].to_bytes())
            largest[customer] = max(largest.get(customer, 0), size)
    assert len(states) == 50
    final = sorted(len(s.to_bytes()) for s in states.values())
    print(f"\n{events} events, 50 customers x 365 days: state bytes at the end median "
          f"{statistics.median(final)}, max {final[-1]}; max during the year "
          f"{max(largest.values())}")
    assert max(largest.values()) <= 2048
    for state in states.values():
        newest = week_of_day(state.watermark // DAY_MS)
        assert len(state.weeks) <= HORIZON_WEEKS
        assert min(state.weeks) > newest - HORIZON_WEEKS
        assert all(len(ids) <= MAX_DEDUP_IDS for ids in state.ids)
        assert len(state.products) <= MAX_PRODUCTS
        assert len(state.salaries) <= MAX_SALARIES


def _every_column_of_a_week(w: int) -> list[InputEvent]:
    """Events that make every column of week ``w``'s bucket non-default."""
    d = day_in(w)
    return [
        tx(d, 10, direction="CREDIT", channel="TRANSFER", category="BENEFITS", hour=1,
           balance=1_000),  # INCOME, CREDITS, MIN_BALANCE
        tx(d, 10, category="GROCERIES", hour=2),  # ESSENTIAL, DEBITS
        tx(d, 10, category="DISCRETIONARY", hour=3),
        tx(d, 10, channel="ATM", category="ATM_CASH", hour=4),
        tx(d, 10, category="LENDING_APP", hour=5),  # LENDING_APP_OUT
        tx(d, 10, direction="CREDIT", channel="TRANSFER", category="LENDING_APP", hour=6),
        tx(d, 10, category="BNPL", hour=7),
        tx(d, 10, category="GAMBLING", hour=8),
        tx(d, 10, channel="DIRECT_DEBIT", category="RENT", status="RETURNED",
           decline_reason="INSUFFICIENT_FUNDS", balance=-10, hour=9),  # FAILED_DD, NSF, OVERDRAWN
        tx(d, 10, direction="CREDIT", channel="TRANSFER", category="SAVINGS_TRANSFER",
           hour=10),  # SAVINGS_IN
    ]


def _products_in_week(w: int, products: range) -> list[InputEvent]:
    """For each product: a statement, an instalment notice and two payments every 4 weeks,
    and a delinquency status every 30 days (one per 30-day period)."""
    events: list[InputEvent] = []
    for p in products:
        account = f"CC-{p}"
        if w % 4 == 0:
            d = day_in(w, TUESDAY)
            events += [
                statement(d, 50_000, 2_500, due_day=d + 20, limit=100_000, account=account),
                pay(d, "INSTALMENT_DUE", account=account, amount_due=1_000, due_day=d + 20,
                    hour=13),
                pay(d + 2, "PAYMENT_RECEIVED", account=account, amount=1_000),
                pay(d + 3, "PAYMENT_RECEIVED", account=account, amount=1_500),
            ]
    return events


def _statuses(first_day: int, last_day: int, products: range) -> list[InputEvent]:
    return [pay(d, "DELINQUENCY_STATUS", account=f"CC-{p}", dpd=d % 40, hour=20)
            for d in range(first_day, last_day, 30) for p in products]


def test_a_state_with_every_cap_filled_has_the_layout_size_and_stops_growing() -> None:
    events: list[InputEvent] = []
    for w in range(36):
        events += _every_column_of_a_week(w)
        events += _products_in_week(w, range(MAX_PRODUCTS))
    events += [salary(day_in(4 * w, WEDNESDAY)) for w in range(9)]
    # 36 weeks hold only 9 of the 13 periods of days past due: the statuses start 4 periods
    # (120 days) before week 0, so that every product keeps 13
    events += _statuses(day_in(0) - 4 * 30, day_in(35), range(MAX_PRODUCTS))
    events.sort(key=lambda e: e.occurred_at)
    state = _apply_all(CustomerState(), events)
    assert _state_module.DPD_MONTHS == DPD_MONTHS
    assert Col.WIDTH == BUCKET_COLUMNS

    assert len(state.weeks) == HORIZON_WEEKS
    assert all(b[c] != (BALANCE_NONE if c == Col.MIN_BALANCE else 0)
               for b in state.weeks.values() for c in range(Col.WIDTH))
    assert len(state.salaries) == MAX_SALARIES
    assert len(state.products) == MAX_PRODUCTS
    for product in state.products.values():
        assert len(product.statements) == MAX_STATEMENTS == 6
        assert len(product.instalments) == MAX_INSTALMENTS == 6
        assert len(product.payments) == MAX_PAYMENTS == 12
        assert len(product.dpd_monthly) == DPD_MONTHS
    assert [len(ids) for ids in state.ids] == [MAX_DEDUP_IDS, MAX_DEDUP_IDS]

    # the fixed layout: the version byte, the core and MAX_PRODUCTS product records
    full = len(state.to_bytes())
    assert full == STATE_BYTES_MAX == 1 + CORE_BYTES + MAX_PRODUCTS * PRODUCT_BYTES
    assert (CORE_BYTES, PRODUCT_BYTES) == (1015, 343)
    assert 1 + CORE_BYTES + 3 * PRODUCT_BYTES <= 2048  # up to three products: within 2 KiB
    print(f"\nevery cap filled: {full} bytes")

    # ten more weeks of everything: the size stays that of the full layout
    more: list[InputEvent] = []
    for w in range(36, 46):
        more += _every_column_of_a_week(w)
        more += _products_in_week(w, range(MAX_PRODUCTS))
    more += [salary(day_in(w, WEDNESDAY)) for w in (36, 40, 44)]
    more += _statuses(day_in(35) + 30, day_in(45), range(MAX_PRODUCTS))
    more.sort(key=lambda e: e.occurred_at)
    for event in more:
        assert apply_event(state, event) is Applied.APPLIED
        assert len(state.to_bytes()) == full
    # a fifth product (in the same week: no week is dropped) replaces the least recently
    # active product and its full histories
    fifth = pay(day_in(45, TUESDAY), "INSTALMENT_DUE", product="PERSONAL_LOAN", account="LN-9",
                amount_due=1_000, due_day=day_in(48))
    assert apply_event(state, fifth) is Applied.APPLIED
    assert len(state.products) == MAX_PRODUCTS
    assert sorted(len(p.instalments) for p in state.products.values()) == [1, 6, 6, 6]
    assert len(state.to_bytes()) == full
    assert CustomerState.from_bytes(state.to_bytes()) == state


def test_cap_watermarks_lowers_only_the_marks_beyond_the_cap() -> None:
    state = CustomerState()
    apply_event(state, tx(10))  # a transaction on day 10
    apply_event(state, pay(400, "PAYMENT_RECEIVED", amount=100))  # a payment dated ahead
    assert state.watermarks == [at(10), at(400)]
    cap = at(20)

    assert state.cap_watermarks(cap)

    assert (state.watermarks, state.watermark) == ([at(10), cap], cap)
    assert state.first_seen == at(10)
    assert not state.cap_watermarks(cap)  # nothing beyond it any more
    back = CustomerState.from_bytes(state.to_bytes())
    assert (back.watermarks, back.watermark) == ([at(10), cap], cap)
    # the payment source's lateness is measured from the cap again: day 0 is not too late
    assert apply_event(state, pay(0, "PAYMENT_RECEIVED", amount=100)) is Applied.APPLIED


def test_cap_watermarks_of_a_state_dated_entirely_ahead_moves_first_seen_too() -> None:
    state = CustomerState()
    apply_event(state, tx(400))
    assert state.cap_watermarks(at(20))
    assert state.first_seen == state.watermark == at(20)
