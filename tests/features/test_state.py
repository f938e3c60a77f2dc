"""CustomerState: serialisation round trip, refusal of unreadable bytes, bounded size."""

from __future__ import annotations

import orjson
import pytest

from stream_app.features import (
    DAY_MS,
    HORIZON_DAYS,
    LATENESS_MS,
    MAX_DEDUP_IDS,
    Applied,
    CustomerState,
    StateFormatError,
    apply_event,
    feature_vector,
)
from stream_app.offline import to_event
from stream_app.simulate import BankSimulator, SimulationConfig
from tests.support.events import at, pay, salary, statement, tx


def _rich_state() -> CustomerState:
    state = CustomerState()
    events = [
        salary(0), salary(30),
        tx(1, 90_000, category="RENT", channel="DIRECT_DEBIT", balance=200_000),
        tx(5, 3_000, category="GAMBLING", balance=-1_500),
        tx(6, 4_000, channel="DIRECT_DEBIT", category="UTILITIES", status="RETURNED",
           decline_reason="INSUFFICIENT_FUNDS", balance=-1_500),
        statement(10, 60_000, 3_000, due_day=30, limit=100_000),
        pay(20, "PAYMENT_RECEIVED", amount=3_000),
        pay(25, "INSTALMENT_DUE", product="PERSONAL_LOAN", account="LN-1", amount_due=12_000,
            due_day=28),
        pay(29, "PAYMENT_FAILED", product="PERSONAL_LOAN", account="LN-1", amount=12_000,
            failure_reason="INSUFFICIENT_FUNDS"),
        pay(40, "DELINQUENCY_STATUS", product="PERSONAL_LOAN", account="LN-1", dpd=12),
        salary(60, 280_000),
        tx(61, 2_500, balance=10_000),
    ]
    for event in events:
        assert apply_event(state, event) is Applied.APPLIED
    return state


def test_round_trip_keeps_state_and_features() -> None:
    state = _rich_state()
    data = state.to_bytes()
    restored = CustomerState.from_bytes(data)
    assert restored == state
    assert restored.to_bytes() == data
    assert restored.watermark == state.watermark
    assert restored.watermarks == state.watermarks
    for as_of in (at(15), at(45), state.watermark):
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


def test_empty_state_round_trip() -> None:
    empty = CustomerState()
    restored = CustomerState.from_bytes(empty.to_bytes())
    assert restored == empty
    assert feature_vector(restored, at(0)) == feature_vector(empty, at(0))


def test_continuing_after_a_round_trip_equals_never_serialising() -> None:
    events = [tx(d, 1_000 + d, balance=50_000 - 700 * d) for d in range(40)]
    direct, hopping = CustomerState(), CustomerState()
    for i, event in enumerate(events):
        apply_event(direct, event)
        apply_event(hopping, event)
        if i % 7 == 0:
            hopping = CustomerState.from_bytes(hopping.to_bytes())
    assert hopping == direct


@pytest.mark.parametrize("data", [
    b"",
    b"not json at all",
    b"\x00\x01\x02\xff",
    b"{}",
    b"[]",
    b"42",
    b'"text"',
    b"[2]",
    b'[2, "x", 0, [], [], [], [[], []]]',
])
def test_garbage_raises_state_format_error(data: bytes) -> None:
    with pytest.raises(StateFormatError):
        CustomerState.from_bytes(data)


def test_other_format_version_raises_state_format_error() -> None:
    raw = orjson.loads(_rich_state().to_bytes())
    for version in (1, 3, 0, "2"):
        raw[0] = version
        with pytest.raises(StateFormatError, match="format"):
            CustomerState.from_bytes(orjson.dumps(raw))


def _busy_year(seed: int) -> list[object]:
    return [to_event(r) for r in
            BankSimulator(SimulationConfig(customers=1, days=365, seed=seed)).events()]


def test_simulated_year_of_one_busy_customer_stays_bounded() -> None:
    # the busiest of a few simulated customers
    events = max((_busy_year(seed) for seed in range(6)), key=len)
    state = CustomerState()
    sizes = []
    for event in events:
        assert apply_event(state, event) is Applied.APPLIED  # type: ignore[arg-type]
        sizes.append(len(state.to_bytes()))
    size = len(state.to_bytes())
    print(f"\n{len(events)} events in a simulated year; state {size} bytes "
          f"(max during the year {max(sizes)}), {len(state.days)} days kept")
    assert size < 16 * 1024
    assert max(sizes) < 16 * 1024
    newest_day = state.watermark // DAY_MS
    assert len(state.days) <= HORIZON_DAYS
    assert min(state.days) > newest_day - HORIZON_DAYS
    assert all(len(ids) <= MAX_DEDUP_IDS for ids in state.ids)
    # the dedup memory holds only ids inside the lateness bound of their source
    for source, ids in enumerate(state.ids):
        assert all(t >= state.watermarks[source] - LATENESS_MS for t in ids.values())
    # the second half of the year is no bigger than the size reached after ~5 months
    assert size < 1.5 * sizes[len(sizes) * 5 // 12]


def test_state_of_a_very_busy_customer_is_bounded_by_the_caps() -> None:
    # 40 card transactions a day for a year: far beyond the dedup cap
    state = CustomerState()
    for day in range(365):
        for i in range(40):
            event = tx(day, 100 + i, balance=1_000_000 - i, occurred_at=at(day, 8) + i * 60_000)
            assert apply_event(state, event) is Applied.APPLIED
    size = len(state.to_bytes())
    print(f"\nvery busy customer: state {size} bytes")
    assert len(state.ids[0]) <= MAX_DEDUP_IDS
    assert len(state.days) <= HORIZON_DAYS
    assert size < 64 * 1024
