"""Property tests: the features after a set of events do not depend on arrival order or on
re-deliveries (events of one source within 35 days of each other, so none is too late).

The saved state does depend on arrival order in one place only: the dedup memory lists the
last events applied per source in arrival order. Everything else is compared byte for byte
with those lists cleared.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream_app.events import (
    CATEGORIES,
    CHANNELS,
    DIRECTIONS,
    TRANSACTION_STATUSES,
    InputEvent,
    Payment,
    Transaction,
)
from stream_app.features import (
    ARREARS,
    DAY_MS,
    FEATURE_NAMES,
    PRE_DELINQUENCY,
    Applied,
    CustomerState,
    apply_event,
    event_key,
    feature_vector,
    in_arrears,
    track_of,
)
from stream_app.features._state import MAX_DEDUP_IDS, Col
from tests.features.test_state import _as_v3
from tests.support.events import DAY0, at

# at most MAX_PRODUCTS (4) accounts: beyond that the least recently active is dropped, and
# what it held depends on when it was dropped
ACCOUNTS = {"CC-1": "CREDIT_CARD", "OD-1": "OVERDRAFT", "LN-1": "PERSONAL_LOAN",
            "BN-1": "BNPL"}
PROPERTY_SETTINGS = settings(max_examples=80, deadline=None,
                             suppress_health_check=[HealthCheck.too_slow])

# days 0..34 of 2026 (Thursday 1 January to Thursday 5 February): six Monday-based weeks, all
# within the 35-day lateness bound of each other
times = st.builds(at, st.integers(0, 34), st.integers(0, 23), st.sampled_from([0, 30]))
amounts = st.integers(1, 500_000)
# few distinct due dates and round amounts: ties and exact (minimum) payments are frequent
due_days = st.sampled_from([DAY0 + d for d in (-5, 3, 10, 20, 29, 40)])
dues = st.sampled_from([0, 1_000, 5_000, 20_000]) | st.integers(0, 50_000)
paid = st.sampled_from([1_000, 5_000, 5_500, 20_000]) | st.integers(1, 50_000)
# statement balances: negative (card in credit), zero and owing, with small values frequent
balances = (st.sampled_from([-20_000, -1, 0, 1, 5_000, 20_000])
            | st.integers(-500_000, 500_000))


@st.composite
def transactions(draw: st.DrawFn) -> dict[str, object]:
    status = draw(st.sampled_from(sorted(TRANSACTION_STATUSES)))
    return {
        "source": "tx",
        "occurred_at": draw(times),
        "amount_minor": draw(amounts),
        "direction": draw(st.sampled_from(sorted(DIRECTIONS))),
        "channel": draw(st.sampled_from(sorted(CHANNELS))),
        "category": draw(st.sampled_from(sorted(CATEGORIES))),
        "status": status,
        "decline_reason": None if status == "POSTED" else draw(
            st.sampled_from([None, "INSUFFICIENT_FUNDS", "CARD_BLOCKED"])),
        "balance_after_minor": draw(st.none() | st.integers(-1_000_000, 1_000_000)),
    }


@st.composite
def payments(draw: st.DrawFn) -> dict[str, object]:
    account = draw(st.sampled_from(sorted(ACCOUNTS)))
    kind = draw(st.sampled_from(["STATEMENT_ISSUED", "INSTALMENT_DUE", "PAYMENT_RECEIVED",
                                 "PAYMENT_FAILED", "DELINQUENCY_STATUS"]))
    fields: dict[str, object] = {"source": "payment", "kind": kind, "account_id": account,
                                 "product": ACCOUNTS[account], "occurred_at": draw(times)}
    if kind == "STATEMENT_ISSUED":
        # a card in credit (after an overpayment or a refund) has a negative balance and, as
        # validation requires, no minimum due; otherwise the minimum is at most the balance
        balance = draw(balances)
        fields |= {"statement_balance_minor": balance,
                   "minimum_due_minor": min(draw(dues), balance) if balance > 0 else 0,
                   "credit_limit_minor": draw(st.none() | st.integers(0, 1_000_000)),
                   "due_date": draw(due_days)}
    elif kind == "INSTALMENT_DUE":
        fields |= {"amount_due_minor": draw(dues), "due_date": draw(due_days)}
    elif kind in ("PAYMENT_RECEIVED", "PAYMENT_FAILED"):
        fields |= {"amount_minor": draw(paid)}
        if kind == "PAYMENT_FAILED":
            fields["failure_reason"] = "INSUFFICIENT_FUNDS"
    else:
        fields["days_past_due"] = draw(st.integers(0, 120))
    return fields


def _event(index: int, fields: dict[str, object], prefix: str = "E") -> InputEvent:
    """The event of drawn ``fields`` (a "source" and the event's fields), id prefix+index."""
    data = dict(fields)
    if data.pop("source") == "tx":
        return Transaction(event_id=f"{prefix}{index}", customer_id="C1", account_id="CA-1",
                           currency="EUR", **data)  # type: ignore[arg-type]
    return Payment(event_id=f"{prefix}{index}", customer_id="C1", currency="EUR",
                   **data)  # type: ignore[arg-type]


event_sets = st.lists(st.one_of(transactions(), payments()), min_size=1,
                      max_size=MAX_DEDUP_IDS).map(
    lambda items: [_event(i, f) for i, f in enumerate(items)])


def _apply_all(events: list[InputEvent]) -> CustomerState:
    state = CustomerState()
    for event in events:
        assert apply_event(state, event) in (Applied.APPLIED, Applied.DUPLICATE)
    return state


def _as_of_points(events: list[InputEvent]) -> list[int]:
    newest = max(e.occurred_at for e in events)
    return [newest, newest + 4 * DAY_MS, newest + 15 * DAY_MS, newest + 60 * DAY_MS]


def _without_dedup(state: CustomerState) -> bytes:
    """The state's bytes with the (arrival-ordered) dedup memory cleared."""
    copy = CustomerState.from_bytes(state.to_bytes())
    copy.ids = [[] for _ in copy.ids]
    return copy.to_bytes()


def _first_arrivals(events: list[InputEvent], source: type) -> list[int]:
    keys: list[int] = []
    for event in events:
        key = event_key(event) & 0xFFFFFFFF  # the memory keeps 32 bits
        if isinstance(event, source) and key not in keys:
            keys.append(key)
    return keys


def _assert_same_features(state: CustomerState, other: CustomerState,
                          events: list[InputEvent]) -> None:
    for as_of in _as_of_points(events):
        assert feature_vector(state, as_of) == feature_vector(other, as_of)


@PROPERTY_SETTINGS
@given(events=event_sets, data=st.data())
def test_any_arrival_order_gives_the_same_features(events: list[InputEvent],
                                                   data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(events))
    in_order = _apply_all(events)
    reordered = _apply_all(list(shuffled))
    _assert_same_features(reordered, in_order, events)
    assert _without_dedup(reordered) == _without_dedup(in_order)
    # the dedup memory (at most MAX_DEDUP_IDS events: none forgotten) lists them in arrival order
    for source, kind in enumerate((Transaction, Payment)):
        assert in_order.ids[source] == _first_arrivals(events, kind)
        assert reordered.ids[source] == _first_arrivals(list(shuffled), kind)


@PROPERTY_SETTINGS
@given(events=event_sets, data=st.data())
def test_re_delivered_events_change_nothing(events: list[InputEvent],
                                            data: st.DataObject) -> None:
    again = data.draw(st.lists(st.sampled_from(events), min_size=1, max_size=20))
    delivered = data.draw(st.permutations([*events, *again]))
    once = _apply_all(events)
    state = CustomerState()
    outcomes = [apply_event(state, event) for event in delivered]
    assert outcomes.count(Applied.APPLIED) == len(events)
    assert outcomes.count(Applied.DUPLICATE) == len(again)
    _assert_same_features(state, once, events)
    assert _without_dedup(state) == _without_dedup(once)
    for source, kind in enumerate((Transaction, Payment)):
        assert state.ids[source] == _first_arrivals(list(delivered), kind)


@PROPERTY_SETTINGS
@given(events=event_sets, lag_days=st.integers(0, 150), data=st.data())
def test_any_order_across_sources_skewed_far_apart_gives_the_same_features(
        events: list[InputEvent], lag_days: int, data: st.DataObject) -> None:
    # payments shifted up to 150 days after the transactions: each source stays within its own
    # lateness bound, but whole weeks of transactions fall behind the 13 weeks kept
    skewed = [dataclasses.replace(e, occurred_at=e.occurred_at + lag_days * DAY_MS)
              if isinstance(e, Payment) else e for e in events]
    shuffled = data.draw(st.permutations(skewed))
    in_order = _apply_all(skewed)
    reordered = _apply_all(list(shuffled))
    _assert_same_features(reordered, in_order, skewed)
    assert _without_dedup(reordered) == _without_dedup(in_order)


@PROPERTY_SETTINGS
@given(events=event_sets)
def test_round_trip_of_any_state(events: list[InputEvent]) -> None:
    state = _apply_all(events)
    restored = CustomerState.from_bytes(state.to_bytes())
    assert restored == state
    assert restored.ids == state.ids
    _assert_same_features(restored, state, events)


@PROPERTY_SETTINGS
@given(events=event_sets)
def test_features_stay_in_their_ranges_and_the_track_follows_them(
        events: list[InputEvent]) -> None:
    state = _apply_all(events)
    rows = []
    for as_of in _as_of_points(events):
        row = feature_vector(state, as_of)
        rows.append(row)
        assert all(math.isfinite(v) for v in row)
        f = dict(zip(FEATURE_NAMES, row, strict=True))
        # cards in credit count as 0: utilisation and its slope are never negative
        assert f["revolving_utilisation"] >= 0
        assert f["utilisation_slope_6s"] >= 0
        assert f["credit_limit_minor"] >= 0
        assert f["credit_limit_change_ratio"] <= 0  # cuts only
        assert f["statement_balance_growth_6s"] >= 1.0
        assert 0.0 <= f["statement_paid_share"] <= 1.0
        assert 0.0 <= f["statement_paid_share_6s"] <= 1.0
        assert 0.0 < f["payment_amount_trend_6s"] <= 1.0
        assert 0.0 <= f["runway_days"] <= 90.0
        assert 0.0 <= f["next_due_cover_ratio"] <= 10.0
        assert 0.0 <= f["last_salary_ratio"] <= 3.0
        assert 0 <= f["new_credit_90d"] <= f["credit_products"]
        assert 0 <= f["late_payments_received_6m"] <= f["late_payments_6m"]
        assert 0 <= f["months_in_arrears_6m"] <= f["months_in_arrears_12m"] <= 12
        assert f["dpd_current"] <= f["dpd_max_6m"] <= f["dpd_max_12m"]
        assert f["amount_past_due_minor"] >= 0
        assert f["savings_drawdown_30d_minor"] >= 0
        assert track_of(row) == (ARREARS if f["dpd_current"] > 0
                                 or f["amount_past_due_minor"] > 0 else PRE_DELINQUENCY)
    mask = in_arrears(np.array(rows, dtype=np.float64))
    assert mask.tolist() == [track_of(row) == ARREARS for row in rows]


@PROPERTY_SETTINGS
@given(events=event_sets)
def test_a_version_3_copy_of_any_state_reads_back_but_for_first_seen(
        events: list[InputEvent]) -> None:
    state = _apply_all(events)
    for bucket in state.weeks.values():  # v3 had no savings column
        bucket[Col.SAVINGS_IN] = 0
    restored = CustomerState.from_bytes(_as_v3(state))
    # v3 did not store the product's first event: it is taken from the oldest history row
    # (or the last activity), never older than the true first event
    for key, product in state.products.items():
        assert restored.products[key].first_seen_min >= product.first_seen_min
        restored.products[key].first_seen_min = product.first_seen_min
    assert restored == state
