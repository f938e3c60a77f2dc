"""apply_event: outcomes (applied, duplicate, too late, ignored), per-source lateness, the
dedup memory of the last 48 events applied per source, capped histories and products."""

from __future__ import annotations

import itertools

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
from stream_app.features._state import (
    DPD_MONTHS,
    INT32_MAX,
    MAX_INSTALMENTS,
    MAX_PAYMENTS,
    MAX_PRODUCTS,
    MAX_SALARIES,
    MAX_STATEMENTS,
    MINUTE_MS,
    Col,
    week_of_day,
)
from tests.support.events import (
    WEDNESDAY,
    at,
    day_in,
    end_of,
    epoch_day,
    flags,
    pay,
    salary,
    statement,
    tx,
)


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


def test_lateness_bound_is_35_days() -> None:
    assert LATENESS_MS == 35 * DAY_MS


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
    # payments lag transactions by weeks: a failed payment 3 weeks behind the transaction
    # watermark is in the 30-day window (as-of week and the 4 before) of the score as of it
    state = _state_with(tx(day_in(0), 1_000), tx(day_in(8), 1_000))
    assert apply_event(state, pay(day_in(5, WEDNESDAY), "PAYMENT_FAILED", amount=2_000,
                                  failure_reason="INSUFFICIENT_FUNDS")) is Applied.APPLIED
    vector = feature_vector(state, state.watermark)
    assert vector[feature_index("failed_dd_30d")] == 1.0
    assert vector[feature_index("failed_dd_90d")] == 1.0


# --- dedup memory: the last MAX_DEDUP_IDS events applied, per source ---------------------------

def test_event_key_is_a_48_bit_hash_of_kind_and_event_id() -> None:
    keys = {event_key(tx(1, event_id=f"E{i}")) for i in range(200)}
    assert len(keys) == 200
    assert all(0 <= k < 2**48 for k in keys)
    assert event_key(tx(1, 5, event_id="X")) == event_key(tx(9, 7, category="RENT",
                                                               event_id="X"))


def test_dedup_memory_holds_the_last_24_applied_in_arrival_order() -> None:
    assert MAX_DEDUP_IDS == 24
    state = CustomerState()
    # out of time order on purpose: the memory is by arrival, not by event time
    events = [tx(0, 10, occurred_at=at(10) - i * 60_000) for i in range(MAX_DEDUP_IDS + 200)]
    for event in events:
        assert apply_event(state, event) is Applied.APPLIED
    # 32 bits of each key (the fixed layout's width)
    assert state.ids[0] == [event_key(e) & 0xFFFFFFFF for e in events[-MAX_DEDUP_IDS:]]
    assert state.ids[1] == []


def test_duplicate_within_the_last_24_applied_of_its_source_is_ignored() -> None:
    original = salary(day_in(0), 100_000)
    state = _state_with(original)
    # 23 more transactions, spread over four weeks (within the lateness bound)
    _apply(state, [tx(day_in(0) + i // 2, 10, hour=13 + i % 2) for i in range(MAX_DEDUP_IDS - 1)])
    assert state.ids[0][0] == event_key(original) & 0xFFFFFFFF
    assert apply_event(state, original) is Applied.DUPLICATE
    assert apply_event(state, original) is Applied.DUPLICATE
    assert _income_30d(state) == 100_000


def test_duplicate_arriving_after_24_newer_applied_events_is_applied_again() -> None:
    # the documented limit of the memory: a re-delivery later than 24 applied events of its
    # source is counted twice
    original = salary(day_in(0), 100_000)
    state = _state_with(original)
    _apply(state, [tx(day_in(0) + i // 2, 10, hour=13 + i % 2) for i in range(MAX_DEDUP_IDS)])
    assert event_key(original) & 0xFFFFFFFF not in state.ids[0]
    assert apply_event(state, original) is Applied.APPLIED
    assert _income_30d(state) == 200_000
    # ... and it is remembered again from then on
    assert apply_event(state, original) is Applied.DUPLICATE


def test_a_duplicate_does_not_refresh_its_place_in_the_memory() -> None:
    original = tx(day_in(0), 10)
    state = _state_with(original)
    _apply(state, [tx(day_in(0), 10, hour=13, minute=i) for i in range(MAX_DEDUP_IDS - 1)])
    assert apply_event(state, original) is Applied.DUPLICATE  # 47 applied since
    assert apply_event(state, tx(day_in(0), 10, hour=14)) is Applied.APPLIED  # the 48th
    assert apply_event(state, original) is Applied.APPLIED


def test_rejected_events_do_not_push_ids_out_of_the_memory() -> None:
    original = tx(day_in(6), 10)
    state = _state_with(original)
    others: list[InputEvent] = [tx(day_in(6), 10, hour=13, minute=i)
                                for i in range(MAX_DEDUP_IDS - 1)]
    _apply(state, others)
    # duplicates, too-late events and customer flags are not remembered
    for event in others:
        assert apply_event(state, event) is Applied.DUPLICATE
    for i in range(10):
        late = tx(0, 10, occurred_at=state.watermarks[0] - LATENESS_MS - 1 - i)
        assert apply_event(state, late) is Applied.TOO_LATE
        assert apply_event(state, flags(day_in(6))) is Applied.IGNORED
    assert apply_event(state, original) is Applied.DUPLICATE


def test_each_source_has_its_own_dedup_memory() -> None:
    transaction = tx(day_in(0), 10)
    state = _state_with(transaction)
    _apply(state, [pay(day_in(0), "PAYMENT_RECEIVED", amount=1, hour=13,
                       occurred_at=at(day_in(0), 13) + i) for i in range(MAX_DEDUP_IDS + 10)])
    assert len(state.ids[1]) == MAX_DEDUP_IDS
    assert state.ids[0] == [event_key(transaction) & 0xFFFFFFFF]
    assert apply_event(state, transaction) is Applied.DUPLICATE


def _apply(state: CustomerState, events: list[InputEvent]) -> None:
    for event in events:
        assert apply_event(state, event) is Applied.APPLIED, event


def _income_30d(state: CustomerState) -> float:
    return feature_vector(state, state.watermark)[feature_index("income_30d_minor")]


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


def test_a_payment_of_a_product_is_recorded_in_minutes_and_marks_its_activity() -> None:
    issued = at(day_in(2), 9, 30) + 59_999  # the minute 9:30 of that day
    state = _state_with(
        statement(0, 60_000, 3_000, due_day=day_in(5), limit=100_000, occurred_at=issued),
        pay(0, "INSTALMENT_DUE", amount_due=4_000, due_day=day_in(6),
            occurred_at=issued + MINUTE_MS),
        pay(0, "PAYMENT_RECEIVED", amount=3_000, occurred_at=issued + 2 * MINUTE_MS),
    )
    (product,) = state.products.values()
    minute = issued // MINUTE_MS
    assert minute * MINUTE_MS == at(day_in(2), 9, 30)
    assert product.statements == [[minute, 60_000, 3_000, epoch_day(day_in(5)), 100_000]]
    assert product.instalments == [[minute + 1, 4_000, epoch_day(day_in(6))]]
    assert product.payments == [[minute + 2, 3_000]]
    assert product.last_activity_min == minute + 2
    # a failed payment keeps no history of its own: it counts in the week's FAILED_DD column
    # and marks the product active
    failed = pay(day_in(3), "PAYMENT_FAILED", amount=3_000, failure_reason="INSUFFICIENT_FUNDS")
    assert apply_event(state, failed) is Applied.APPLIED
    assert state.weeks[week_of_day(epoch_day(day_in(3)))][Col.FAILED_DD] == 1
    assert product.last_activity_min == failed.occurred_at // MINUTE_MS
    assert len(product.payments) == 1


def test_product_histories_keep_the_newest_6_statements_6_instalments_12_payments() -> None:
    assert (MAX_STATEMENTS, MAX_INSTALMENTS, MAX_PAYMENTS) == (6, 6, 12)
    events: list[InputEvent] = []
    for i in range(10):  # ten short cycles, three days apart (all within the lateness bound)
        events += [statement(3 * i, 1_000 + i, 100, due_day=3 * i + 20, hour=9),
                   pay(3 * i, "INSTALMENT_DUE", amount_due=2_000 + i, due_day=3 * i + 20,
                       hour=13),
                   pay(3 * i + 1, "PAYMENT_RECEIVED", amount=10 * i + 1, hour=10),
                   pay(3 * i + 1, "PAYMENT_RECEIVED", amount=10 * i + 2, hour=14)]
    in_order = _state_with(*events)
    # the newest N whatever the arrival order
    state = _state_with(*reversed(events))
    for built in (state, in_order):
        (product,) = built.products.values()
        assert [s[1] for s in product.statements] == [1_004, 1_005, 1_006, 1_007, 1_008,
                                                      1_009]
        assert [i[1] for i in product.instalments] == [2_004, 2_005, 2_006, 2_007, 2_008,
                                                       2_009]
        assert [p[1] for p in product.payments] == [41, 42, 51, 52, 61, 62, 71, 72, 81, 82,
                                                    91, 92]


def test_salary_history_keeps_the_newest_8_paydays() -> None:
    assert MAX_SALARIES == 8
    state = _state_with(*[salary(30 * i, 100_000 + i) for i in range(11)])
    assert state.salaries == [[epoch_day(30 * i), 100_000 + i] for i in range(3, 11)]


def test_delinquency_keeps_the_maximum_of_each_of_the_newest_13_periods() -> None:
    # a year of arrears history and the current period: 13 periods of 30 days
    assert DPD_MONTHS == 13
    events = []
    for period in range(15):
        events += [pay(30 * period + 1, "DELINQUENCY_STATUS", dpd=period),
                   pay(30 * period + 2, "DELINQUENCY_STATUS", dpd=50 + period),
                   pay(30 * period + 3, "DELINQUENCY_STATUS", dpd=0)]
    state = _state_with(*events)
    (product,) = state.products.values()
    first_period = at(1) // (30 * DAY_MS)
    assert at(3) // (30 * DAY_MS) == first_period  # the three statuses share a 30-day period
    assert at(30 * 14 + 1) // (30 * DAY_MS) == first_period + 14
    # periods 0 and 1 were dropped when periods 13 and 14 came
    assert product.dpd_monthly == {first_period + p: 50 + p for p in range(2, 15)}
    assert product.dpd_latest[2] == 0
    assert feature_vector(state, end_of(30 * 14 + 3))[feature_index("dpd_current")] == 0


def test_a_late_status_raises_the_maximum_of_its_kept_period() -> None:
    events = [pay(30 * p + 1, "DELINQUENCY_STATUS", dpd=10 + p) for p in range(1, 14)]
    state = _state_with(*events)
    (product,) = state.products.values()
    first_period = at(1) // (30 * DAY_MS)
    assert sorted(product.dpd_monthly) == [first_period + p for p in range(1, 14)]
    # period 12 (day 361 is in it), 30 days behind the newest status: not too late
    assert at(361) // (30 * DAY_MS) == first_period + 12
    assert apply_event(state, pay(361, "DELINQUENCY_STATUS", dpd=99, hour=15)) is (
        Applied.APPLIED)
    assert product.dpd_monthly[first_period + 12] == 99
    assert apply_event(state, pay(362, "DELINQUENCY_STATUS", dpd=1)) is Applied.APPLIED
    assert product.dpd_monthly[first_period + 12] == 99  # a maximum: a lower one changes nothing
    assert len(product.dpd_monthly) == DPD_MONTHS
    # the newest status is still the one of day 391 (not the late ones)
    assert product.dpd_latest[2] == 10 + 13


# --- savings transfers -------------------------------------------------------------------------

def _week_of(day: int) -> int:
    return week_of_day(epoch_day(day))


def test_savings_transfer_credits_go_to_the_savings_column() -> None:
    d = day_in(2)
    state = _state_with(
        tx(d, 40_000, direction="CREDIT", channel="TRANSFER", category="SAVINGS_TRANSFER"),
        tx(d + 1, 15_000, direction="CREDIT", channel="TRANSFER", category="SAVINGS_TRANSFER"),
        # money put away into savings is a debit, not a drawdown
        tx(d + 2, 9_000, direction="DEBIT", channel="TRANSFER", category="SAVINGS_TRANSFER"),
        # a transfer from savings that did not post brings nothing in
        tx(d + 3, 70_000, direction="CREDIT", channel="TRANSFER", category="SAVINGS_TRANSFER",
           status="RETURNED"),
        # other credits are not savings
        tx(d + 4, 5_000, direction="CREDIT", channel="TRANSFER", category="OTHER"),
    )
    bucket = state.weeks[_week_of(d)]
    assert bucket[Col.SAVINGS_IN] == 40_000 + 15_000
    assert bucket[Col.CREDITS] == 40_000 + 15_000 + 5_000
    assert bucket[Col.INCOME] == 0  # not income
    assert bucket[Col.DEBITS] == 9_000
    assert Col.SAVINGS_IN == 12
    assert (Col.MIN_BALANCE, Col.OVERDRAWN_DAYS, Col.WIDTH) == (13, 14, 15)


def test_savings_transfers_saturate_at_int32() -> None:
    d = day_in(0)
    state = _state_with(*[tx(d, 10**12, direction="CREDIT", channel="TRANSFER",
                             category="SAVINGS_TRANSFER", hour=h) for h in (9, 10)])
    assert state.weeks[_week_of(d)][Col.SAVINGS_IN] == INT32_MAX


# --- product first seen ------------------------------------------------------------------------

def _card_history() -> list[InputEvent]:
    return [
        pay(12, "PAYMENT_FAILED", amount=3_000, failure_reason="INSUFFICIENT_FUNDS", hour=9),
        statement(14, 60_000, 3_000, due_day=30),
        pay(16, "PAYMENT_RECEIVED", amount=3_000),
        pay(20, "DELINQUENCY_STATUS", dpd=0),
        pay(22, "INSTALMENT_DUE", amount_due=1_000, due_day=40),
    ]


@pytest.mark.parametrize("order", list(itertools.permutations(range(5)))[::7])
def test_product_first_seen_is_its_oldest_event_in_any_arrival_order(
        order: tuple[int, ...]) -> None:
    history = _card_history()
    # the customer's own first event (a transaction) is older still: not the product's
    state = _state_with(tx(0, 100), *[history[i] for i in order])
    (product,) = state.products.values()
    assert product.first_seen_min == at(12, 9) // MINUTE_MS  # the failed payment
    assert product.last_activity_min == at(22) // MINUTE_MS
    assert state.first_seen == at(0)


def test_each_product_has_its_own_first_seen() -> None:
    state = _state_with(
        statement(5, 10_000, 500, due_day=25, account="CC-1"),
        pay(9, "INSTALMENT_DUE", product="PERSONAL_LOAN", account="LN-1", amount_due=2_000,
            due_day=30),
        pay(20, "PAYMENT_RECEIVED", amount=500, account="CC-1"),
        pay(21, "PAYMENT_RECEIVED", product="PERSONAL_LOAN", account="LN-1", amount=2_000),
    )
    first_seen = {p.product: p.first_seen_min for p in state.products.values()}
    assert first_seen == {"CREDIT_CARD": at(5) // MINUTE_MS,
                          "PERSONAL_LOAN": at(9) // MINUTE_MS}


def test_a_duplicate_or_too_late_event_does_not_move_first_seen() -> None:
    old = statement(40, 10_000, 500, due_day=60)
    state = _state_with(pay(80, "PAYMENT_RECEIVED", amount=500))
    (product,) = state.products.values()
    assert product.first_seen_min == at(80) // MINUTE_MS
    assert apply_event(state, old) is Applied.TOO_LATE  # 40 days behind the payments
    assert product.first_seen_min == at(80) // MINUTE_MS
    in_bound = statement(50, 10_000, 500, due_day=60)
    assert apply_event(state, in_bound) is Applied.APPLIED
    assert product.first_seen_min == at(50) // MINUTE_MS
    assert apply_event(state, in_bound) is Applied.DUPLICATE
    assert product.first_seen_min == at(50) // MINUTE_MS
