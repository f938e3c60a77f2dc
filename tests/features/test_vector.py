"""feature_vector: the meaning of each feature on small hand-built histories."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable

import pytest

from stream_app.events import InputEvent
from stream_app.features import (
    FEATURE_NAMES,
    Applied,
    CustomerState,
    apply_event,
    feature_vector,
)
from stream_app.features._vector import SMOOTHING_MINOR
from tests.support.events import at, end_of, flags, pay, salary, statement, tx

RATIO_FEATURES = ("income_drop_ratio", "atm_cash_ratio", "lending_app_ratio", "bnpl_ratio",
                  "gambling_ratio", "discretionary_ratio")


def build(events: Iterable[InputEvent]) -> CustomerState:
    state = CustomerState()
    for event in events:
        assert apply_event(state, event) is Applied.APPLIED, event
    return state


def features(events: Iterable[InputEvent], as_of: int) -> dict[str, float]:
    return dict(zip(FEATURE_NAMES, feature_vector(build(events), as_of), strict=True))


def expected_ratio(recent: float, prior_60d: float) -> float:
    """The documented smoothed ratio: last 30 days vs the 60 days before, per 30 days."""
    return (recent + SMOOTHING_MINOR) / (prior_60d / 2 + SMOOTHING_MINOR)


# --- salary ------------------------------------------------------------------------------------

def test_regular_salary_on_time() -> None:
    f = features([salary(0), salary(30), salary(60), salary(90)], end_of(100))
    assert f["days_since_salary"] == 10
    assert f["salary_cadence_days"] == 30
    assert f["salary_delay_days"] == 0
    assert f["salary_missed"] == 0


@pytest.mark.parametrize(("as_of_day", "delay", "missed"), [
    (120, 0, 0),  # exactly on the usual payday
    (122, 2, 0),
    (123, 3, 0),  # inside the 3-day grace
    (124, 4, 1),  # past the grace: missed
    (140, 20, 1),
])
def test_salary_delay_and_missed_flag(as_of_day: int, delay: int, missed: int) -> None:
    f = features([salary(0), salary(30), salary(60), salary(90)], end_of(as_of_day))
    assert f["days_since_salary"] == as_of_day - 90
    assert f["salary_delay_days"] == delay
    assert f["salary_missed"] == missed


def test_salary_cadence_is_the_median_gap() -> None:
    f = features([salary(0), salary(20), salary(50), salary(60)], end_of(61))
    assert f["salary_cadence_days"] == 20  # gaps 20, 30, 10


def test_two_salary_credits_on_one_day_are_one_payday() -> None:
    events = [salary(0), salary(30, 200_000, hour=9), salary(30, 100_000, hour=15)]
    f = features(events, end_of(35))
    assert f["salary_cadence_days"] == 30
    assert f["income_30d_minor"] == 300_000


def test_a_single_salary_gives_no_delay() -> None:
    f = features([tx(0, 500), salary(5)], end_of(80))
    assert f["days_since_salary"] == 75
    assert f["salary_delay_days"] == 0
    assert f["salary_missed"] == 0


def test_without_salary_days_since_salary_is_history_capped_at_90() -> None:
    assert features([tx(0, 500)], end_of(20))["days_since_salary"] == pytest.approx(21, abs=1)
    assert features([tx(0, 500), tx(150, 500)], end_of(150))["days_since_salary"] == 90


def test_salaries_after_as_of_are_not_seen() -> None:
    f = features([salary(0), salary(30), salary(60)], end_of(45))
    assert f["days_since_salary"] == 15
    assert f["income_30d_minor"] == 300_000


# --- income ------------------------------------------------------------------------------------

def test_income_windows_count_salary_and_benefits_only() -> None:
    events = [
        salary(0), salary(30), salary(60), salary(90),
        tx(95, 20_000, direction="CREDIT", channel="TRANSFER", category="BENEFITS"),
        tx(96, 70_000, direction="CREDIT", channel="TRANSFER", category="OTHER"),
        tx(97, 30_000, direction="CREDIT", channel="TRANSFER", category="LENDING_APP"),
        tx(98, 50_000, direction="CREDIT", channel="TRANSFER", category="SALARY",
           status="RETURNED"),
    ]
    f = features(events, end_of(100))
    assert f["income_30d_minor"] == 300_000 + 20_000  # days 71..100
    assert f["income_60d_minor"] == 2 * 300_000 + 20_000  # days 41..100
    assert f["lending_app_borrowed_30d_minor"] == 30_000


def test_steady_income_has_neutral_drop_ratio() -> None:
    f = features([salary(d) for d in (0, 30, 60, 90)], end_of(100))
    assert f["income_drop_ratio"] == pytest.approx(1.0)


def test_income_drop_ratio_falls_when_income_falls() -> None:
    f = features([salary(0), salary(30), salary(60), salary(90, 100_000)], end_of(100))
    # 30 days: 100k; the 60 days before (days 11..70): 600k
    assert f["income_drop_ratio"] == pytest.approx(expected_ratio(100_000, 600_000))
    assert f["income_drop_ratio"] < 0.5


def test_income_drop_ratio_is_neutral_below_60_days_of_history() -> None:
    f = features([salary(0), salary(30, 20_000)], end_of(45))
    assert f["income_drop_ratio"] == 1.0
    # the same collapse with a mature history is seen
    f = features([salary(0), salary(30), salary(60, 20_000)], end_of(75))
    assert f["income_drop_ratio"] < 0.5


# --- balance -----------------------------------------------------------------------------------

def test_balance_close_is_the_newest_event_and_minimum_includes_intraday_lows() -> None:
    day_events = [tx(80, 100, balance=50_000, hour=8), tx(80, 100, balance=20_000, hour=14),
                  tx(80, 100, balance=30_000, hour=20)]
    for order in (day_events, day_events[::-1], day_events[1:] + day_events[:1]):
        f = features([tx(0, 100, balance=90_000), *order], end_of(80))
        assert f["balance_close_minor"] == 30_000
        assert f["balance_min_30d_minor"] == 20_000


def test_balance_minimum_looks_back_30_days_only() -> None:
    events = [tx(0, 100, balance=-50_000), tx(40, 100, balance=10_000),
              tx(50, 100, balance=12_000)]
    f = features(events, end_of(50))
    assert f["balance_min_30d_minor"] == 10_000
    assert f["overdrawn_days_30d"] == 0
    assert features(events, end_of(29))["balance_min_30d_minor"] == -50_000


def test_overdrawn_days_count_days_not_events() -> None:
    events = [
        tx(70, 100, balance=5_000),
        tx(82, 100, balance=-100, hour=9), tx(82, 100, balance=500, hour=18),  # dipped below
        tx(83, 100, balance=-700, hour=9), tx(83, 100, balance=-900, hour=18),  # one day
        tx(84, 100, balance=0),  # zero is not overdrawn
        tx(85, 100, status="DECLINED", decline_reason="INSUFFICIENT_FUNDS", balance=-900),
    ]
    f = features(events, end_of(90))
    assert f["overdrawn_days_30d"] == 3
    assert f["balance_close_minor"] == -900
    assert f["balance_min_30d_minor"] == -900


def test_balance_trend_sign_follows_the_daily_closes() -> None:
    falling = [tx(d, 100, balance=100_000 - 10_000 * (d - 70)) for d in range(70, 80)]
    rising = [tx(d, 100, balance=10_000 + 5_000 * (d - 70)) for d in range(70, 80)]
    flat = [tx(d, 100, balance=42_000) for d in range(70, 80)]
    assert features(falling, end_of(80))["balance_trend_30d_minor_per_day"] == pytest.approx(
        -10_000)
    assert features(rising, end_of(80))["balance_trend_30d_minor_per_day"] == pytest.approx(
        5_000)
    assert features(flat, end_of(80))["balance_trend_30d_minor_per_day"] == 0
    # fewer than three closes: no trend
    assert features(falling[:2], end_of(80))["balance_trend_30d_minor_per_day"] == 0


# --- failed payments and declines --------------------------------------------------------------

def test_failed_direct_debits_in_30_and_90_days() -> None:
    events = [
        tx(5, 4_000, channel="DIRECT_DEBIT", category="RENT", status="RETURNED"),  # > 90 days
        pay(40, "PAYMENT_FAILED", amount=2_000, failure_reason="INSUFFICIENT_FUNDS"),  # 90d
        tx(70, 4_000, channel="DIRECT_DEBIT", category="UTILITIES", status="DECLINED"),  # 90d
        tx(71, 4_000, channel="DIRECT_DEBIT", category="UTILITIES", status="RETURNED"),  # 30d
        tx(80, 4_000, channel="DIRECT_DEBIT", category="RENT", status="DECLINED"),
        pay(90, "PAYMENT_FAILED", product="PERSONAL_LOAN", account="LN-1", amount=9_000,
            failure_reason="ACCOUNT_CLOSED"),
        tx(95, 4_000, channel="DIRECT_DEBIT", category="RENT", status="RETURNED"),
        # not failed direct debits
        tx(96, 4_000, channel="DIRECT_DEBIT", category="RENT"),  # posted
        tx(97, 4_000, channel="CARD", category="GROCERIES", status="DECLINED",
           decline_reason="INSUFFICIENT_FUNDS"),
        tx(98, 4_000, direction="CREDIT", channel="DIRECT_DEBIT", category="OTHER",
           status="RETURNED"),
    ]
    f = features(events, end_of(100))
    assert f["failed_dd_30d"] == 4  # days 71, 80, 90, 95
    assert f["failed_dd_90d"] == 6  # + days 40 and 70


def test_nsf_declines_count_insufficient_funds_on_any_channel() -> None:
    events = [
        tx(80, 2_000, channel="CARD", status="DECLINED", decline_reason="INSUFFICIENT_FUNDS"),
        tx(81, 2_000, channel="ATM", category="ATM_CASH", status="DECLINED",
           decline_reason="INSUFFICIENT_FUNDS"),
        tx(82, 2_000, channel="DIRECT_DEBIT", category="RENT", status="RETURNED",
           decline_reason="INSUFFICIENT_FUNDS"),
        tx(83, 2_000, channel="CARD", status="DECLINED", decline_reason="CARD_BLOCKED"),
        tx(84, 2_000, channel="CARD", status="DECLINED"),
        tx(85, 2_000, channel="CARD"),
    ]
    f = features([tx(0, 1), *events], end_of(90))
    assert f["nsf_declines_30d"] == 3
    assert f["failed_dd_30d"] == 1
    assert features([tx(0, 1), *events], end_of(120))["nsf_declines_30d"] == 0


# --- credit products ---------------------------------------------------------------------------

def test_revolving_utilisation_over_all_cards() -> None:
    one = [statement(10, 80_000, 4_000, due_day=30, limit=100_000)]
    assert features(one, end_of(12))["revolving_utilisation"] == pytest.approx(0.8)
    two = [*one, statement(11, 20_000, 1_000, due_day=31, limit=100_000, account="CC-2"),
           pay(11, "STATEMENT_ISSUED", product="PERSONAL_LOAN", account="LN-1",
               statement_balance=500_000, minimum_due=10_000, due_day=30, credit_limit=500_000)]
    f = features(two, end_of(12))
    assert f["revolving_utilisation"] == pytest.approx(0.5)  # the loan is not revolving
    assert f["credit_products"] == 3
    assert features([], end_of(12))["revolving_utilisation"] == 0


def test_utilisation_uses_the_latest_statement_at_as_of() -> None:
    events = [statement(10, 30_000, 1_500, due_day=30), statement(40, 90_000, 4_500, due_day=60)]
    assert features(events, end_of(20))["revolving_utilisation"] == pytest.approx(0.3)
    assert features(events, end_of(45))["revolving_utilisation"] == pytest.approx(0.9)


def test_utilisation_trend_over_the_last_three_statements() -> None:
    rising = [statement(10 + 30 * i, b, 1_000, due_day=30 + 30 * i)
              for i, b in enumerate((10_000, 20_000, 50_000, 80_000))]
    assert features(rising, end_of(105))["utilisation_trend_3s"] == pytest.approx(0.6)
    falling = [statement(10 + 30 * i, b, 1_000, due_day=30 + 30 * i)
               for i, b in enumerate((80_000, 50_000, 20_000))]
    assert features(falling, end_of(75))["utilisation_trend_3s"] == 0
    assert features(rising[:1], end_of(15))["utilisation_trend_3s"] == 0


def _card_cycles(paid: list[int], balance: int = 100_000, minimum: int = 5_000) -> list[
        InputEvent]:
    """Monthly statements on days 0, 30, 60, ... (due 20 days later), each followed by a
    payment of ``paid[i]`` on day 15 of its cycle; one extra statement not yet due."""
    events: list[InputEvent] = []
    for i, amount in enumerate(paid):
        events.append(statement(30 * i, balance, minimum, due_day=30 * i + 20, limit=200_000))
        if amount:
            events.append(pay(30 * i + 15, "PAYMENT_RECEIVED", amount=amount))
    events.append(statement(30 * len(paid), balance, minimum, due_day=30 * len(paid) + 20,
                            limit=200_000))
    return events


def test_minimum_payment_only_streak() -> None:
    as_of = end_of(95)  # statements of days 0, 30, 60 are due; day 90's is not yet
    assert features(_card_cycles([5_000, 5_000, 5_000]), as_of)["min_payment_only_streak"] == 3
    # within 10% above the minimum still counts; a larger payment breaks the streak
    assert features(_card_cycles([5_000, 5_500, 5_000]), as_of)["min_payment_only_streak"] == 3
    assert features(_card_cycles([5_000, 100_000, 5_000]), as_of)[
        "min_payment_only_streak"] == 1
    assert features(_card_cycles([5_000, 5_000, 40_000]), as_of)[
        "min_payment_only_streak"] == 0
    # paying less than the minimum is not a minimum payment
    assert features(_card_cycles([5_000, 5_000, 4_000]), as_of)[
        "min_payment_only_streak"] == 0
    # a balance close to the minimum: paying the minimum is (nearly) paying in full
    assert features(_card_cycles([5_000] * 3, balance=7_000), as_of)[
        "min_payment_only_streak"] == 0


def _instalment(day: int, due: int, due_day: int) -> InputEvent:
    return pay(day, "INSTALMENT_DUE", product="PERSONAL_LOAN", account="LN-1",
               amount_due=due, due_day=due_day)


def _loan_payment(day: int, amount: int) -> InputEvent:
    return pay(day, "PAYMENT_RECEIVED", product="PERSONAL_LOAN", account="LN-1", amount=amount)


def test_payment_to_due_ratio_at_the_latest_due_date() -> None:
    assert features([tx(0, 1)], end_of(25))["payment_to_due_ratio"] == 1.0  # nothing due
    half = [_instalment(5, 10_000, 20), _loan_payment(10, 5_000)]
    assert features(half, end_of(25))["payment_to_due_ratio"] == pytest.approx(0.5)
    # paid after the due date does not count for that due date
    assert features([*half, _loan_payment(22, 5_000)], end_of(25))[
        "payment_to_due_ratio"] == pytest.approx(0.5)
    # paid on the due date counts
    assert features([*half, _loan_payment(20, 5_000)], end_of(25))[
        "payment_to_due_ratio"] == pytest.approx(1.0)
    # overpayment is capped
    assert features([_instalment(5, 10_000, 20), _loan_payment(10, 50_000)], end_of(25))[
        "payment_to_due_ratio"] == 2.0
    # not yet due: the ratio speaks of the previous due date only
    assert features(half, end_of(15))["payment_to_due_ratio"] == 1.0


def test_payment_to_due_ratio_follows_the_newest_due_date() -> None:
    events = [_instalment(5, 10_000, 20), _loan_payment(15, 10_000),
              _instalment(35, 10_000, 50)]
    assert features(events, end_of(30))["payment_to_due_ratio"] == pytest.approx(1.0)
    assert features(events, end_of(55))["payment_to_due_ratio"] == 0.0


def test_card_payment_ratio_uses_the_minimum_due() -> None:
    events = [statement(0, 100_000, 5_000, due_day=20), pay(10, "PAYMENT_RECEIVED", amount=2_500)]
    assert features(events, end_of(25))["payment_to_due_ratio"] == pytest.approx(0.5)


def test_late_payments_in_six_months() -> None:
    events = [
        _instalment(0, 10_000, 10), _loan_payment(5, 10_000),  # paid
        _instalment(30, 10_000, 40), _loan_payment(35, 9_000),  # short
        _instalment(60, 10_000, 70),  # unpaid
        _instalment(90, 10_000, 100), _loan_payment(95, 10_000),  # paid
        _instalment(120, 10_000, 130),  # not yet due at as_of
    ]
    assert features(events, end_of(125))["late_payments_6m"] == 2
    # both late due dates age out after 180 days
    assert features([*events, tx(250, 1)], end_of(250))["late_payments_6m"] == 1


def test_days_past_due_current_max_and_products_in_arrears() -> None:
    def status(day: int, dpd: int, account: str = "CC-1", product: str = "CREDIT_CARD") -> (
            InputEvent):
        return pay(day, "DELINQUENCY_STATUS", product=product, account=account, dpd=dpd)

    cured = [status(10, 45), status(40, 0)]
    f = features(cured, end_of(50))
    assert (f["dpd_current"], f["dpd_max_6m"], f["products_in_arrears"]) == (0, 45, 0)
    f = features(cured[:1], end_of(20))
    assert (f["dpd_current"], f["dpd_max_6m"], f["products_in_arrears"]) == (45, 45, 1)

    both = [status(10, 5), status(12, 15, "LN-1", "PERSONAL_LOAN")]
    f = features(both, end_of(20))
    assert (f["dpd_current"], f["dpd_max_6m"], f["products_in_arrears"]) == (15, 15, 2)

    old = [status(0, 60), status(100, 0), tx(250, 1)]
    f = features(old, end_of(250))
    assert (f["dpd_current"], f["dpd_max_6m"]) == (0, 0)  # 60 dpd was ~8 months ago


def test_due_soon_shortfall() -> None:
    card = statement(0, 100_000, 50_000, due_day=12)

    def shortfall(*events: InputEvent, as_of_day: int) -> float:
        return features([card, *events], end_of(as_of_day))["due_soon_shortfall"]

    assert shortfall(tx(9, 100, balance=10_000), as_of_day=10) == 1.0  # due in 2 days
    assert shortfall(tx(9, 100, balance=10_000), as_of_day=12) == 1.0  # due today
    assert shortfall(tx(9, 100, balance=100_000), as_of_day=10) == 0.0  # balance covers it
    assert shortfall(tx(6, 100, balance=10_000), as_of_day=7) == 0.0  # due in 5 days
    assert shortfall(tx(9, 100, balance=10_000), as_of_day=13) == 0.0  # already past due
    # mostly paid: the rest (5,000) is covered by the balance
    assert shortfall(pay(5, "PAYMENT_RECEIVED", amount=45_000), tx(9, 100, balance=10_000),
                     as_of_day=10) == 0.0
    # an overdrawn account covers nothing
    assert shortfall(tx(9, 100, balance=-10_000), as_of_day=10) == 1.0


def test_spending_ratios_compare_with_the_own_baseline() -> None:
    baseline = [tx(d, 2_000, category=c) for d in range(0, 70, 5)
                for c in ("GAMBLING", "DISCRETIONARY", "GROCERIES")]
    surge = [tx(d, 20_000, category="GAMBLING") for d in range(72, 100, 3)]
    f = features([*baseline, *surge], end_of(100))
    assert f["gambling_ratio"] > 2
    assert f["discretionary_ratio"] < 1
    assert 0 < f["gambling_share_30d"] <= 1
    assert f["net_cashflow_30d_ratio"] == -1.0  # only money out


# --- cold start and point in time --------------------------------------------------------------

def _assert_finite(vector: list[float]) -> None:
    assert len(vector) == len(FEATURE_NAMES)
    for name, value in zip(FEATURE_NAMES, vector, strict=True):
        assert isinstance(value, float), name
        assert math.isfinite(value), name


def test_empty_state_gives_finite_neutral_features() -> None:
    vector = feature_vector(CustomerState(), at(0))
    _assert_finite(vector)
    f = dict(zip(FEATURE_NAMES, vector, strict=True))
    for name in RATIO_FEATURES:
        assert f[name] == 1.0, name
    assert f["history_days"] == 0
    assert f["payment_to_due_ratio"] == 1.0
    assert f["credit_products"] == 0


@pytest.mark.parametrize("event", [
    tx(0, 1_000),
    tx(0, 1_000, balance=-5_000),
    tx(0, 1_000, status="DECLINED", decline_reason="INSUFFICIENT_FUNDS"),
    salary(0),
    statement(0, 0, 0, due_day=1, limit=0),
    statement(0, 10_000, 0, due_day=0, limit=None),
    pay(0, "INSTALMENT_DUE", product="PERSONAL_LOAN", account="LN-1", amount_due=0, due_day=0),
    pay(0, "PAYMENT_RECEIVED", amount=1),
    pay(0, "PAYMENT_FAILED", amount=1, failure_reason="X"),
    pay(0, "DELINQUENCY_STATUS", dpd=0),
    flags(0),
], ids=lambda e: f"{type(e).__name__}-{getattr(e, 'kind', getattr(e, 'status', ''))}")
def test_one_event_state_gives_finite_features(event: InputEvent) -> None:
    state = CustomerState()
    apply_event(state, event)
    for as_of in (event.occurred_at, end_of(0), end_of(3), end_of(200)):
        vector = feature_vector(state, as_of)
        _assert_finite(vector)
        f = dict(zip(FEATURE_NAMES, vector, strict=True))
        for name in RATIO_FEATURES:
            assert f[name] == 1.0, name


def _changing_behaviour(last_day: int) -> list[InputEvent]:
    events: list[InputEvent] = []
    for d in range(last_day + 1):
        heavy = d > last_day - 30
        events.append(tx(d, 9_000 if heavy else 1_000, category="GAMBLING", hour=10))
        events.append(tx(d, 8_000 if heavy else 1_000, channel="ATM", category="ATM_CASH",
                         hour=11))
        events.append(tx(d, 7_000 if heavy else 1_000, category="BNPL", hour=12))
        events.append(tx(d, 100 if heavy else 3_000, category="DISCRETIONARY", hour=13))
        events.append(tx(d, 6_000 if heavy else 500, direction="CREDIT", channel="TRANSFER",
                         category="LENDING_APP", hour=14))
        if d % 30 == 0:
            events.append(salary(d, 50_000 if heavy else 300_000))
    return events


def test_ratios_are_neutral_below_60_days_of_history_and_not_after() -> None:
    young = features(_changing_behaviour(58), end_of(58))
    assert young["history_days"] < 60
    for name in RATIO_FEATURES:
        assert young[name] == 1.0, name
    assert young["essential_share_shift"] == 0.0
    mature = features(_changing_behaviour(95), end_of(95))
    for name in RATIO_FEATURES:
        assert mature[name] != pytest.approx(1.0), name


def test_feature_vector_ignores_buckets_and_histories_after_as_of() -> None:
    before = [
        salary(0), salary(30), salary(60),
        tx(10, 5_000, balance=40_000), tx(45, 3_000, balance=-2_000),
        tx(50, 2_000, channel="DIRECT_DEBIT", category="RENT", status="RETURNED"),
        statement(20, 40_000, 2_000, due_day=40), pay(30, "PAYMENT_RECEIVED", amount=2_000),
        statement(50, 60_000, 3_000, due_day=70),
        pay(40, "DELINQUENCY_STATUS", dpd=3),
    ]
    after = [
        salary(61, 10_000), tx(61, 90_000, category="GAMBLING", balance=-80_000),
        tx(62, 2_000, channel="DIRECT_DEBIT", category="RENT", status="RETURNED",
           decline_reason="INSUFFICIENT_FUNDS"),
        pay(63, "PAYMENT_RECEIVED", amount=60_000), statement(64, 99_000, 5_000, due_day=80),
        pay(65, "PAYMENT_FAILED", amount=5_000, failure_reason="INSUFFICIENT_FUNDS"),
    ]  # later events of products already held (a new product would count in credit_products)
    before.sort(key=lambda e: e.occurred_at)
    after.sort(key=lambda e: e.occurred_at)
    as_of = end_of(60)
    expected = feature_vector(build(before), as_of)
    assert feature_vector(build([*before, *after]), as_of) == expected
    # the later events do change the vector at a later as-of (the test can see them)
    assert feature_vector(build([*before, *after]), end_of(66)) != feature_vector(
        build(before), end_of(66))


# --- arrival order (regressions found by the property tests) -----------------------------------

def test_balance_trend_does_not_depend_on_the_arrival_order_of_days() -> None:
    events = [tx(0, 1, balance=3), tx(1, 1, balance=-2), tx(3, 1, balance=0)]
    trends = {features(list(order), end_of(3))["balance_trend_30d_minor_per_day"]
              for order in itertools.permutations(events)}
    assert len(trends) == 1


def test_payment_ratio_with_two_items_due_on_one_day_does_not_depend_on_order() -> None:
    card_nothing_due = statement(0, 0, 0, due_day=20)
    loan_overpaid = [_instalment(1, 10_000, 20), _loan_payment(10, 15_000)]
    ratios = {features(list(order), end_of(25))["payment_to_due_ratio"]
              for order in itertools.permutations([card_nothing_due, *loan_overpaid])}
    assert len(ratios) == 1
    # the lowest ratio of the day: nothing due counts as neutral (1.0)
    assert ratios == {1.0}
    short = [_instalment(1, 10_000, 20), _loan_payment(10, 4_000)]
    assert features([card_nothing_due, *short], end_of(25))["payment_to_due_ratio"] == (
        pytest.approx(0.4))
