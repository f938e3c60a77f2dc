"""The two tracks: a customer is on the ARREARS track when an amount is past due (a reported
days-past-due above 0, or a due item whose due date has passed and is still unpaid, counted
when no arrears status was reported after that due date), otherwise PRE_DELINQUENCY.

The customers below are built by hand from events, day by day around one due date (day 20 of
the test calendar), so that each row says when the track changes and why.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pytest

from stream_app.events import InputEvent
from stream_app.features import (
    ARREARS,
    FEATURE_NAMES,
    PRE_DELINQUENCY,
    TRACKS,
    Applied,
    CustomerState,
    apply_event,
    feature_index,
    feature_vector,
    in_arrears,
    track_of,
)
from tests.support.events import at, end_of, pay, statement

DPD = feature_index("dpd_current")
PAST_DUE = feature_index("amount_past_due_minor")
DUE_DAY = 20


def build(events: Iterable[InputEvent]) -> CustomerState:
    state = CustomerState()
    for event in sorted(events, key=lambda e: e.occurred_at):
        assert apply_event(state, event) is Applied.APPLIED, event
    return state


def track(events: Iterable[InputEvent], as_of: int) -> str:
    return track_of(feature_vector(build(events), as_of))


def vector(events: Iterable[InputEvent], as_of: int) -> dict[str, float]:
    return dict(zip(FEATURE_NAMES, feature_vector(build(events), as_of), strict=True))


def instalment(day: int = 5, due: int = 10_000, due_day: int = DUE_DAY,
               account: str = "LN-1") -> InputEvent:
    return pay(day, "INSTALMENT_DUE", product="PERSONAL_LOAN", account=account,
               amount_due=due, due_day=due_day)


def paid(day: int, amount: int, account: str = "LN-1", hour: int = 12) -> InputEvent:
    return pay(day, "PAYMENT_RECEIVED", product="PERSONAL_LOAN", account=account,
               amount=amount, hour=hour)


def failed(day: int, amount: int = 10_000) -> InputEvent:
    return pay(day, "PAYMENT_FAILED", product="PERSONAL_LOAN", account="LN-1", amount=amount,
               failure_reason="INSUFFICIENT_FUNDS", hour=6)


def status(day: int, dpd: int, hour: int = 12, account: str = "LN-1") -> InputEvent:
    return pay(day, "DELINQUENCY_STATUS", product="PERSONAL_LOAN", account=account, dpd=dpd,
               hour=hour)


# --- the rule on vectors ----------------------------------------------------------------------

def _row(**values: float) -> list[float]:
    row = feature_vector(CustomerState(), at(0))
    for name, value in values.items():
        row[feature_index(name)] = value
    return row


@pytest.mark.parametrize(("values", "expected"), [
    pytest.param({}, PRE_DELINQUENCY, id="empty-state"),
    pytest.param({"dpd_current": 1}, ARREARS, id="one-day-past-due"),
    pytest.param({"amount_past_due_minor": 1}, ARREARS, id="one-minor-unit-past-due"),
    pytest.param({"dpd_current": 45, "amount_past_due_minor": 9_000}, ARREARS, id="both"),
    # arrears in the past (cured) are history, not the arrears track
    pytest.param({"dpd_max_6m": 60, "dpd_max_12m": 90, "months_in_arrears_6m": 3,
                  "months_in_arrears_12m": 5, "late_payments_6m": 4,
                  "late_payments_received_6m": 4}, PRE_DELINQUENCY, id="cured-history"),
    pytest.param({"products_in_arrears": 2}, PRE_DELINQUENCY,
                 id="products-in-arrears-alone-is-not-the-rule"),
    pytest.param({"payment_to_due_ratio": 0.0, "due_soon_shortfall": 1.0,
                  "failed_dd_30d": 3}, PRE_DELINQUENCY, id="warning-signs-are-pre-delinquency"),
])
def test_track_of_a_vector(values: dict[str, float], expected: str) -> None:
    assert TRACKS == (PRE_DELINQUENCY, ARREARS)
    row = _row(**values)
    assert track_of(row) == expected
    assert bool(in_arrears(np.array([row]))[0]) is (expected == ARREARS)


def test_in_arrears_is_track_of_row_by_row() -> None:
    rows = [_row(), _row(dpd_current=3), _row(amount_past_due_minor=500), _row(dpd_max_12m=30),
            _row(dpd_current=2, amount_past_due_minor=1)]
    matrix = np.array(rows, dtype=np.float64)
    mask = in_arrears(matrix)
    assert mask.dtype == np.bool_
    assert mask.tolist() == [False, True, True, False, True]
    assert mask.tolist() == [track_of(r) == ARREARS for r in rows]
    assert in_arrears(np.empty((0, len(FEATURE_NAMES)))).tolist() == []


# --- a customer around one due date ------------------------------------------------------------

def test_current_before_the_due_date() -> None:
    events = [instalment()]
    for day in (5, 10, DUE_DAY - 1):
        assert track(events, end_of(day)) == PRE_DELINQUENCY, day


def test_a_failed_payment_on_the_due_date_is_not_yet_arrears() -> None:
    # the customer can still pay on the due date itself: due_day < as-of day is required
    events = [instalment(), failed(DUE_DAY)]
    f = vector(events, end_of(DUE_DAY))
    assert (f["amount_past_due_minor"], f["dpd_current"]) == (0, 0)
    assert track(events, end_of(DUE_DAY)) == PRE_DELINQUENCY
    assert f["failed_dd_30d"] == 1  # a warning sign, on the pre-delinquency track


def test_the_day_after_a_missed_due_date_is_arrears_without_an_arrears_status() -> None:
    events = [instalment(), failed(DUE_DAY)]
    first_ms_after = at(DUE_DAY + 1, 0)
    assert first_ms_after == end_of(DUE_DAY) + 1
    f = vector(events, first_ms_after)
    assert (f["amount_past_due_minor"], f["dpd_current"]) == (10_000, 0)
    assert track(events, first_ms_after) == ARREARS
    assert track(events, end_of(DUE_DAY + 10)) == ARREARS
    # without even a failed payment: nothing paid is just as past due
    assert track([instalment()], first_ms_after) == ARREARS


def test_a_partial_payment_leaves_the_rest_past_due() -> None:
    events = [instalment(), paid(DUE_DAY, 9_999)]
    assert vector(events, end_of(DUE_DAY + 1))["amount_past_due_minor"] == 1
    assert track(events, end_of(DUE_DAY + 1)) == ARREARS
    assert track([instalment(), paid(DUE_DAY, 10_000)], end_of(DUE_DAY + 1)) == PRE_DELINQUENCY


def test_a_zero_status_after_the_due_date_makes_the_computed_shortfall_not_count() -> None:
    # the arrears system reports 0 days past due on the day after the due date (at noon): it
    # knows of the due item, and its figure wins over the shortfall computed here
    events = [instalment(), failed(DUE_DAY), status(DUE_DAY + 1, 0)]
    assert track(events, at(DUE_DAY + 1, 11)) == ARREARS  # before the status was reported
    f = vector(events, at(DUE_DAY + 1, 12))
    assert (f["amount_past_due_minor"], f["dpd_current"]) == (0, 0)
    assert track(events, at(DUE_DAY + 1, 12)) == PRE_DELINQUENCY
    assert track(events, end_of(DUE_DAY + 5)) == PRE_DELINQUENCY


def test_a_zero_status_on_the_due_date_itself_does_not_cover_the_miss() -> None:
    # reported during the due date (before the day ended): the item was not past due then
    events = [instalment(), failed(DUE_DAY), status(DUE_DAY, 0, hour=23)]
    assert track(events, end_of(DUE_DAY + 1)) == ARREARS


def test_a_reported_days_past_due_is_arrears_until_a_status_reports_the_cure() -> None:
    events = [instalment(), status(DUE_DAY + 5, 5)]
    f = vector(events, end_of(DUE_DAY + 5))
    assert (f["dpd_current"], f["amount_past_due_minor"]) == (5, 0)  # the status covers it
    assert track(events, end_of(DUE_DAY + 5)) == ARREARS
    # a payment alone does not end arrears that the arrears system reports
    assert track([*events, paid(DUE_DAY + 6, 10_000)], end_of(DUE_DAY + 7)) == ARREARS
    cured = [*events, paid(DUE_DAY + 6, 10_000), status(DUE_DAY + 7, 0)]
    assert track(cured, end_of(DUE_DAY + 7)) == PRE_DELINQUENCY


def test_a_later_payment_that_covers_the_shortfall_cures_it_without_a_status_system() -> None:
    events = [instalment(), failed(DUE_DAY), paid(DUE_DAY + 3, 10_000)]
    assert track(events, end_of(DUE_DAY + 2)) == ARREARS
    assert track(events, at(DUE_DAY + 3, 11)) == ARREARS  # paid at noon
    assert track(events, at(DUE_DAY + 3, 12)) == PRE_DELINQUENCY
    # two smaller payments that only together cover it
    split = [instalment(), paid(DUE_DAY + 2, 6_000), paid(DUE_DAY + 4, 4_000)]
    assert vector(split, end_of(DUE_DAY + 3))["amount_past_due_minor"] == 4_000
    assert track(split, end_of(DUE_DAY + 3)) == ARREARS
    assert track(split, end_of(DUE_DAY + 4)) == PRE_DELINQUENCY


def test_a_shortfall_on_another_product_is_still_arrears() -> None:
    # the zero status of the card says nothing of the loan
    events = [instalment(), statement(0, 50_000, 2_500, due_day=DUE_DAY),
              paid(10, 2_500, account="CC-1"), status(DUE_DAY + 1, 0, account="CC-1")]
    f = vector(events, end_of(DUE_DAY + 2))
    assert f["amount_past_due_minor"] == 10_000
    assert track(events, end_of(DUE_DAY + 2)) == ARREARS


def test_a_card_minimum_unpaid_after_its_due_date_is_arrears() -> None:
    card = statement(0, 100_000, 5_000, due_day=DUE_DAY)
    assert track([card, pay(15, "PAYMENT_RECEIVED", amount=5_000)],
                 end_of(DUE_DAY + 1)) == PRE_DELINQUENCY
    assert track([card, pay(15, "PAYMENT_RECEIVED", amount=4_000)],
                 end_of(DUE_DAY + 1)) == ARREARS
    # a card in credit asks nothing: current after its due date
    assert track([statement(0, -3_000, 0, due_day=DUE_DAY)],
                 end_of(DUE_DAY + 1)) == PRE_DELINQUENCY


def test_one_payment_does_not_cover_two_instalments() -> None:
    # two instalments of 10_000 (due days 20 and 50), one payment of 10_000 on day 45: as of
    # day 51, 20_000 fell due and 10_000 was paid, so 10_000 is past due
    events = [instalment(5, 10_000, 20), instalment(35, 10_000, 50), paid(45, 10_000)]
    f = vector(events, end_of(51))
    assert f["amount_past_due_minor"] == 10_000
    assert track(events, end_of(51)) == ARREARS
