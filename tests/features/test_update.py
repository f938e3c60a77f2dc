"""apply_event: outcomes (applied, duplicate, too late, ignored) and per-source lateness."""

from __future__ import annotations

import pytest

from stream_app.events import InputEvent
from stream_app.features import (
    DAY_MS,
    LATENESS_MS,
    MAX_DEDUP_IDS,
    Applied,
    CustomerState,
    apply_event,
    event_key,
    feature_index,
    feature_vector,
)
from stream_app.features._state import MAX_PRODUCTS
from tests.support.events import at, flags, pay, salary, statement, tx


def _state_with(*events: InputEvent) -> CustomerState:
    state = CustomerState()
    for event in events:
        assert apply_event(state, event) is Applied.APPLIED
    return state


def test_a_new_event_is_applied_and_changes_the_state() -> None:
    state = CustomerState()
    before = state.to_bytes()
    event = salary(0, 250_000)
    assert apply_event(state, event) is Applied.APPLIED
    assert state.to_bytes() != before
    assert state.watermark == event.occurred_at
    assert feature_vector(state, event.occurred_at)[feature_index("income_30d_minor")] == 250_000


def test_the_same_event_twice_is_a_duplicate_and_changes_nothing() -> None:
    state = _state_with(salary(0), tx(1, 5_000, balance=10_000))
    repeated = tx(2, 7_000, channel="DIRECT_DEBIT", category="RENT", status="RETURNED",
                  balance=-500)
    assert apply_event(state, repeated) is Applied.APPLIED
    as_of = state.watermark
    vector, stored = feature_vector(state, as_of), state.to_bytes()
    assert apply_event(state, repeated) is Applied.DUPLICATE
    assert feature_vector(state, as_of) == vector
    assert state.to_bytes() == stored


def test_a_duplicate_is_recognised_by_event_id_not_by_content() -> None:
    first = tx(1, 5_000, event_id="same-id")
    other_content = tx(3, 9_999, category="GAMBLING", event_id="same-id")
    state = _state_with(first)
    stored = state.to_bytes()
    assert apply_event(state, other_content) is Applied.DUPLICATE
    assert state.to_bytes() == stored
    # equal content under another id is a different event
    assert apply_event(state, tx(1, 5_000, event_id="another-id")) is Applied.APPLIED


def test_transaction_and_payment_with_the_same_event_id_are_different_events() -> None:
    assert event_key(tx(1, event_id="E1")) != event_key(pay(1, "PAYMENT_RECEIVED", amount=1,
                                                            event_id="E1"))
    state = _state_with(tx(1, event_id="E1"))
    assert apply_event(state, pay(1, "PAYMENT_RECEIVED", amount=100, event_id="E1")) is (
        Applied.APPLIED)


def test_duplicate_of_a_payment_changes_nothing() -> None:
    state = _state_with(statement(0, 50_000, 2_500, due_day=20))
    payment = pay(5, "PAYMENT_RECEIVED", amount=2_500)
    assert apply_event(state, payment) is Applied.APPLIED
    stored, vector = state.to_bytes(), feature_vector(state, at(30))
    assert apply_event(state, payment) is Applied.DUPLICATE
    assert state.to_bytes() == stored
    assert feature_vector(state, at(30)) == vector


def test_event_older_than_same_source_watermark_minus_lateness_is_too_late() -> None:
    newest = tx(100, 1_000)
    state = _state_with(newest)
    stored = state.to_bytes()
    late = tx(0, 1_000, occurred_at=newest.occurred_at - LATENESS_MS - 1)
    assert apply_event(state, late) is Applied.TOO_LATE
    assert state.to_bytes() == stored


def test_event_exactly_at_the_lateness_bound_is_still_applied() -> None:
    newest = tx(100, 1_000)
    state = _state_with(newest)
    on_bound = tx(0, 1_000, occurred_at=newest.occurred_at - LATENESS_MS)
    assert apply_event(state, on_bound) is Applied.APPLIED
    # and a merely out-of-order event (a day older) is applied too
    assert apply_event(state, tx(99, 1_000)) is Applied.APPLIED


def test_late_payment_is_judged_against_payments_only() -> None:
    state = _state_with(pay(100, "PAYMENT_RECEIVED", amount=1_000))
    late = pay(0, "PAYMENT_RECEIVED", amount=1_000,
               occurred_at=at(100) - LATENESS_MS - DAY_MS)
    assert apply_event(state, late) is Applied.TOO_LATE


def test_payment_is_not_late_when_only_transactions_are_far_ahead() -> None:
    # transactions read far ahead of the payments topic (consumer skew)
    state = _state_with(tx(0, 1_000), tx(200, 1_000, balance=50_000))
    payment = pay(10, "PAYMENT_FAILED", amount=2_000, failure_reason="INSUFFICIENT_FUNDS")
    assert apply_event(state, payment) is Applied.APPLIED
    # and vice versa: payments far ahead do not make a transaction late
    other = _state_with(pay(0, "PAYMENT_RECEIVED", amount=1), pay(200, "PAYMENT_RECEIVED",
                                                                     amount=1))
    assert apply_event(other, tx(10, 1_000)) is Applied.APPLIED


def test_payment_accepted_behind_a_transaction_watermark_counts_in_its_own_window() -> None:
    # payments lag transactions by 50 days: a failed payment 20 days behind the transaction
    # watermark is in the 30-day window of the score as of that watermark
    state = _state_with(tx(0, 1_000), tx(60, 1_000))
    assert apply_event(state, pay(40, "PAYMENT_FAILED", amount=2_000,
                                  failure_reason="INSUFFICIENT_FUNDS")) is Applied.APPLIED
    vector = feature_vector(state, state.watermark)
    assert vector[feature_index("failed_dd_30d")] == 1.0
    assert vector[feature_index("failed_dd_90d")] == 1.0


def test_duplicate_inside_the_lateness_bound_is_remembered_across_days() -> None:
    event = tx(0, 1_000)
    state = _state_with(event)
    # advance the watermark by 30 days (inside the 35-day bound), day by day
    for day in range(1, 31):
        assert apply_event(state, tx(day, 10)) is Applied.APPLIED
    assert apply_event(state, event) is Applied.DUPLICATE


def test_dedup_memory_is_capped() -> None:
    state = CustomerState()
    for i in range(MAX_DEDUP_IDS + 200):
        assert apply_event(state, tx(0, 10, occurred_at=at(0) + i)) is Applied.APPLIED
    assert len(state.ids[0]) <= MAX_DEDUP_IDS


def test_customer_flags_are_ignored() -> None:
    state = _state_with(tx(1, 1_000))
    stored = state.to_bytes()
    assert apply_event(state, flags(2)) is Applied.IGNORED
    assert state.to_bytes() == stored
    empty = CustomerState()
    assert apply_event(empty, flags(2)) is Applied.IGNORED
    assert empty.to_bytes() == CustomerState().to_bytes()
    assert empty.watermark == 0


def _products_of(state: CustomerState) -> set[str]:
    return {p.product for p in state.products.values()}


def test_a_new_credit_product_replaces_the_one_with_the_oldest_activity() -> None:
    state = CustomerState()
    # eight BNPL plans, all dormant since their first instalment notice
    for i in range(MAX_PRODUCTS):
        assert apply_event(state, pay(i, "INSTALMENT_DUE", product="BNPL", account=f"BN-{i}",
                                      amount_due=1_000, due_day=i + 10)) is Applied.APPLIED
    assert apply_event(state, statement(50, 80_000, 4_000, due_day=70, limit=100_000)) is (
        Applied.APPLIED)
    vector = feature_vector(state, at(55))
    assert vector[feature_index("revolving_utilisation")] == pytest.approx(0.8)
    assert vector[feature_index("credit_products")] == MAX_PRODUCTS
    assert "CREDIT_CARD" in _products_of(state)


def test_an_old_event_of_a_new_product_does_not_evict_more_recent_products() -> None:
    state = CustomerState()
    for i in range(MAX_PRODUCTS):
        apply_event(state, statement(40 + i, 10_000 * (i + 1), 500, due_day=70, limit=100_000,
                                     account=f"CC-{i}"))
    kept = set(state.products)
    utilisation = feature_vector(state, at(50))[feature_index("revolving_utilisation")]
    # within the lateness bound, but older than every product kept
    late = pay(30, "INSTALMENT_DUE", product="PERSONAL_LOAN", account="LN-9", amount_due=1,
               due_day=60)
    assert apply_event(state, late) is Applied.APPLIED
    assert set(state.products) == kept
    assert feature_vector(state, at(50))[feature_index("revolving_utilisation")] == utilisation
