"""feature_vector: the meaning of each feature on small hand-built histories.

Windows are Monday-based weeks counted back from the as-of week. Most tests place events with
``day_in(week, weekday)`` and score as of a day of test week 12 (``W``), so that:

* 30d = weeks 8..12 (the as-of week and the 4 before),
* 60d = weeks 4..12, 90d = weeks 0..12,
* prior (the baseline of ratios) = weeks 0..7 (the 8 weeks before the 30d window).
"""

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
    event_key,
    feature_vector,
)
from stream_app.features._vector import SMOOTHING_MINOR
from tests.support.events import (
    DAY_MS,
    FRIDAY,
    MONDAY,
    SUNDAY,
    THURSDAY,
    TUESDAY,
    WEDNESDAY,
    at,
    day_in,
    end_of,
    flags,
    pay,
    salary,
    statement,
    tx,
)

RATIO_FEATURES = ("income_drop_ratio", "atm_cash_ratio", "lending_app_ratio", "bnpl_ratio",
                  "gambling_ratio", "discretionary_ratio")
W = 12  # the as-of week of most tests


def build(events: Iterable[InputEvent]) -> CustomerState:
    state = CustomerState()
    for event in events:
        assert apply_event(state, event) is Applied.APPLIED, event
    return state


def features(events: Iterable[InputEvent], as_of: int) -> dict[str, float]:
    return dict(zip(FEATURE_NAMES, feature_vector(build(events), as_of), strict=True))


def expected_ratio(recent: float, prior: float, as_of_weekday: int) -> float:
    """The documented smoothed ratio: the recent (30d) sum against the prior sum (8 weeks,
    56 days) scaled to the days the recent window covers (28 + weekday + 1)."""
    recent_days = 28 + as_of_weekday + 1
    return (recent + SMOOTHING_MINOR) / (prior * recent_days / 56 + SMOOTHING_MINOR)


def in_time_order(*events: InputEvent) -> list[InputEvent]:
    """Events sorted by event time (so that none is too late for its source)."""
    return sorted(events, key=lambda e: e.occurred_at)


def credit(day: int, amount: int, category: str = "BENEFITS", **kwargs: object) -> InputEvent:
    return tx(day, amount, direction="CREDIT", channel="TRANSFER", category=category,
              **kwargs)  # type: ignore[arg-type]


def failed_dd(day: int, **kwargs: object) -> InputEvent:
    return tx(day, 4_000, channel="DIRECT_DEBIT", category="RENT", status="RETURNED",
              **kwargs)  # type: ignore[arg-type]


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
    events = [salary(day_in(0)), salary(day_in(4, FRIDAY), 200_000, hour=9),
              salary(day_in(4, FRIDAY), 100_000, hour=15)]
    f = features(events, end_of(day_in(5)))
    assert f["salary_cadence_days"] == 32  # 4 weeks and 4 days
    assert f["days_since_salary"] == 3
    assert f["income_30d_minor"] == 300_000  # weeks 1..5: both credits of week 4


def test_a_single_salary_gives_no_delay() -> None:
    f = features([tx(0, 500), salary(5)], end_of(80))
    assert f["days_since_salary"] == 75
    assert f["salary_delay_days"] == 0
    assert f["salary_missed"] == 0


def test_without_salary_days_since_salary_is_history_capped_at_90() -> None:
    assert features([tx(0, 500, hour=0)], end_of(20))["days_since_salary"] == pytest.approx(
        21, abs=1e-6)
    assert features([tx(0, 500), tx(150, 500)], end_of(150))["days_since_salary"] == 90


def test_salaries_after_as_of_are_not_seen() -> None:
    f = features([salary(day_in(0)), salary(day_in(4)), salary(day_in(9))],
                 end_of(day_in(6, WEDNESDAY)))
    assert f["days_since_salary"] == 7 * 2 + 2
    assert f["salary_cadence_days"] == 28
    assert f["income_30d_minor"] == 300_000  # weeks 2..6: week 4 only


# --- windows -----------------------------------------------------------------------------------

@pytest.mark.parametrize("weekday", range(7))
def test_windows_are_whole_weeks_counted_back_from_the_as_of_week(weekday: int) -> None:
    events = [
        failed_dd(day_in(-1, SUNDAY), hour=23, minute=59),  # week -1: outside 90d
        failed_dd(day_in(0, MONDAY), hour=0),  # week 0: 90d
        credit(day_in(3, SUNDAY), 100, hour=23, minute=59),  # week 3: outside 60d
        credit(day_in(4, MONDAY), 200, hour=0),  # week 4: 60d
        credit(day_in(7, SUNDAY), 400, hour=23, minute=50),  # week 7: 60d, not 30d
        failed_dd(day_in(7, SUNDAY), hour=23, minute=55, balance=-5_000),  # 90d, not 30d
        tx(day_in(7, SUNDAY), 10, status="DECLINED", decline_reason="INSUFFICIENT_FUNDS",
           hour=23, minute=59),
        credit(day_in(8, MONDAY), 800, hour=0, balance=3_000),  # week 8: 30d
        failed_dd(day_in(8, MONDAY), hour=0, minute=1),
        tx(day_in(8, MONDAY), 10, status="DECLINED", decline_reason="INSUFFICIENT_FUNDS",
           hour=0, minute=2),
        tx(day_in(W, MONDAY), 10, hour=0, balance=7_000),  # the newest event
    ]
    f = features(events, end_of(day_in(W, weekday)))
    assert f["income_30d_minor"] == 800
    assert f["income_60d_minor"] == 200 + 400 + 800
    assert f["failed_dd_30d"] == 1
    assert f["failed_dd_90d"] == 3  # weeks 0, 7 and 8
    assert f["nsf_declines_30d"] == 1
    assert f["balance_min_30d_minor"] == 3_000
    assert f["overdrawn_days_30d"] == 0
    assert f["balance_close_minor"] == 7_000


def test_income_windows_count_salary_and_benefits_only() -> None:
    events = [
        salary(day_in(3)),  # outside 60d
        salary(day_in(4)),  # 60d
        salary(day_in(8)),  # 30d
        credit(day_in(10), 20_000, "BENEFITS"),
        credit(day_in(11), 70_000, "OTHER"),
        credit(day_in(11, TUESDAY), 30_000, "LENDING_APP"),
        credit(day_in(12), 50_000, "SALARY", status="RETURNED"),
    ]
    f = features(events, end_of(day_in(W, SUNDAY)))
    assert f["income_30d_minor"] == 300_000 + 20_000
    assert f["income_60d_minor"] == 2 * 300_000 + 20_000
    assert f["lending_app_borrowed_30d_minor"] == 30_000


# --- ratios against the own baseline -----------------------------------------------------------

@pytest.mark.parametrize("weekday", range(7))
def test_ratio_of_steady_daily_spending_is_neutral_on_every_weekday(weekday: int) -> None:
    # the same spend every day from Monday of week 0 to the as-of day: the recent window has
    # 28 + weekday + 1 days of it, the prior 56; the scaling makes the ratio exactly 1
    last = day_in(W, weekday)
    events = [tx(d, 2_000, category="DISCRETIONARY") for d in range(day_in(0), last + 1)]
    assert features(events, end_of(last))["discretionary_ratio"] == pytest.approx(1.0)


def test_ratio_scales_the_prior_sum_to_the_days_of_the_recent_window() -> None:
    events = [tx(day_in(w), 7_000, category="GAMBLING") for w in range(8)]  # prior: 56_000
    events += [tx(day_in(w), 10_000, category="GAMBLING") for w in range(8, W + 1)]  # 50_000
    f = features(events, end_of(day_in(W, WEDNESDAY)))
    # 31 days recent: (50_000 + 10_000) / (56_000 * 31 / 56 + 10_000) = 60_000 / 41_000
    assert f["gambling_ratio"] == pytest.approx(60_000 / 41_000)
    assert f["gambling_ratio"] == pytest.approx(expected_ratio(50_000, 56_000, WEDNESDAY))


def test_steady_weekly_income_has_neutral_drop_ratio_at_the_end_of_a_week() -> None:
    events = [credit(day_in(w), 20_000) for w in range(W + 1)]
    # Sunday: 35 recent days; (100_000 + 10_000) / (160_000 * 35 / 56 + 10_000) = 1
    assert features(events, end_of(day_in(W, SUNDAY)))["income_drop_ratio"] == pytest.approx(
        1.0)


def test_income_drop_ratio_falls_when_income_falls() -> None:
    events = [credit(day_in(w), 80_000) for w in range(8)]  # prior: 640_000
    events += [credit(day_in(w), 20_000) for w in range(8, W + 1)]  # recent: 100_000
    f = features(events, end_of(day_in(W, SUNDAY)))
    # (100_000 + 10_000) / (640_000 * 35 / 56 + 10_000) = 110_000 / 410_000
    assert f["income_drop_ratio"] == pytest.approx(110_000 / 410_000)
    assert f["income_drop_ratio"] < 0.5


def test_ratios_are_neutral_below_60_days_of_history() -> None:
    first = at(day_in(0), 0)
    events = [credit(0, 80_000, occurred_at=first + w * 7 * 86_400_000) for w in range(4)]
    events.append(credit(day_in(8), 20_000, hour=0))
    sixty_days = first + 60 * 86_400_000  # Friday of week 8, 00:00
    assert sixty_days == at(day_in(8, FRIDAY), 0)
    f = features(events, sixty_days)
    assert f["history_days"] == 60
    # recent weeks 4..8: 20_000; prior weeks 0..3 (and -4..-1): 320_000; 33 recent days
    assert f["income_drop_ratio"] == pytest.approx(
        30_000 / (320_000 * 33 / 56 + 10_000))
    young = features(events, sixty_days - 1)
    assert young["history_days"] < 60
    assert young["income_drop_ratio"] == 1.0


def test_spending_ratios_and_mix_compare_with_the_own_baseline() -> None:
    events: list[InputEvent] = []
    for w in range(8):  # prior: 16_000 of each
        events += [tx(day_in(w), 2_000, category=c, hour=h)
                   for h, c in enumerate(("GAMBLING", "DISCRETIONARY", "GROCERIES"), 9)]
    for w in range(8, W + 1):  # recent: gambling 100_000, discretionary 5_000, groceries 10_000
        events += [tx(day_in(w), 20_000, category="GAMBLING", hour=9),
                   tx(day_in(w), 1_000, category="DISCRETIONARY", hour=10),
                   tx(day_in(w), 2_000, category="GROCERIES", hour=11)]
    f = features(events, end_of(day_in(W, SUNDAY)))  # 35 recent days: prior x 0.625
    assert f["gambling_ratio"] == pytest.approx(110_000 / 20_000)
    assert f["discretionary_ratio"] == pytest.approx(15_000 / 20_000)
    assert f["essential_share_shift"] == pytest.approx(10_000 / 15_000 - 16_000 / 32_000)
    assert f["gambling_share_30d"] == pytest.approx(100_000 / 115_000)
    assert f["net_cashflow_30d_ratio"] == -1.0  # only money out
    assert f["bnpl_ratio"] == 1.0  # nothing either side


def test_cash_lending_app_and_bnpl_ratios() -> None:
    events: list[InputEvent] = []
    for w in range(8):  # prior
        events += [tx(day_in(w), 4_000, channel="ATM", category="OTHER", hour=9),
                   tx(day_in(w), 2_000, category="BNPL", hour=10)]
    events.append(tx(day_in(0), 8_000, category="LENDING_APP", hour=11))
    for w in range(8, W + 1):  # recent
        events.append(tx(day_in(w), 6_000, channel="CARD", category="ATM_CASH", hour=9))
    events += [
        credit(day_in(9), 20_000, "LENDING_APP"),  # borrowed
        tx(day_in(11), 5_000, category="LENDING_APP"),  # repaid
        tx(day_in(12), 50_000, channel="ATM", category="ATM_CASH", status="DECLINED",
           hour=13),  # not posted
        tx(day_in(12), 9_000, direction="CREDIT", channel="ATM", category="OTHER",
           hour=14),  # a deposit, not a withdrawal
    ]
    events.sort(key=lambda e: e.occurred_at)
    f = features(events, end_of(day_in(W, SUNDAY)))  # prior x 0.625
    # cash: recent 30_000, prior 32_000 -> 40_000 / 30_000
    assert f["atm_cash_ratio"] == pytest.approx(4 / 3)
    # lending apps, money in and out: recent 25_000, prior 8_000 -> 35_000 / 15_000
    assert f["lending_app_ratio"] == pytest.approx(7 / 3)
    assert f["lending_app_borrowed_30d_minor"] == 20_000
    # BNPL: recent 0, prior 16_000 -> 10_000 / 20_000
    assert f["bnpl_ratio"] == pytest.approx(0.5)


def test_net_cashflow_ratio_is_relative_to_debits_with_a_floor() -> None:
    events = [tx(day_in(0), 100), credit(day_in(10), 50_000, "OTHER"),
              tx(day_in(11), 20_000, category="RENT")]
    assert features(events, end_of(day_in(W)))["net_cashflow_30d_ratio"] == pytest.approx(1.5)
    small = [credit(day_in(9), 1, "OTHER"), tx(day_in(10), 5_001)]
    # (1 - 5_001) / max(5_001, 10_000)
    assert features(small, end_of(day_in(W)))["net_cashflow_30d_ratio"] == pytest.approx(-0.5)


# --- balance -----------------------------------------------------------------------------------

def test_balance_close_is_the_newest_event_and_minimum_includes_intraday_lows() -> None:
    d = day_in(10, WEDNESDAY)
    day_events = [tx(d, 100, balance=50_000, hour=8), tx(d, 100, balance=20_000, hour=14),
                  tx(d, 100, balance=30_000, hour=20)]
    for order in (day_events, day_events[::-1], day_events[1:] + day_events[:1]):
        f = features([tx(day_in(0), 100, balance=90_000), *order], end_of(d))
        assert f["balance_close_minor"] == 30_000
        assert f["balance_min_30d_minor"] == 20_000


def test_balance_minimum_looks_back_over_the_30d_weeks_only() -> None:
    events = [tx(day_in(0), 100, balance=-50_000), tx(day_in(5), 100, balance=10_000),
              tx(day_in(6, WEDNESDAY), 100, balance=12_000)]
    f = features(events, end_of(day_in(6, WEDNESDAY)))
    assert f["balance_min_30d_minor"] == 10_000  # weeks 2..6
    assert f["overdrawn_days_30d"] == 0
    assert f["balance_close_minor"] == 12_000
    # as of Sunday of week 4 the recent weeks are 0..4; as of Monday of week 5, 1..5
    state = build(events)
    low = FEATURE_NAMES.index("balance_min_30d_minor")
    assert feature_vector(state, end_of(day_in(4, SUNDAY)))[low] == -50_000
    assert feature_vector(state, end_of(day_in(5, MONDAY)))[low] == 10_000


def test_balance_minimum_falls_back_to_the_close_without_a_recent_balance() -> None:
    f = features([tx(day_in(0), 100, balance=4_000), tx(day_in(9), 100)], end_of(day_in(9)))
    assert f["balance_close_minor"] == 4_000
    assert f["balance_min_30d_minor"] == 4_000


def test_overdrawn_days_count_days_not_events() -> None:
    events = [
        tx(day_in(0, SUNDAY), 100, balance=-5),  # week 0: outside the window
        tx(day_in(3, MONDAY), 100, balance=-100, hour=9),
        tx(day_in(3, MONDAY), 100, balance=500, hour=18),  # dipped below zero on Monday
        tx(day_in(3, TUESDAY), 100, balance=-700, hour=9),
        tx(day_in(3, TUESDAY), 100, balance=-900, hour=18),  # one day
        tx(day_in(3, WEDNESDAY), 100, balance=0),  # zero is not overdrawn
        tx(day_in(3, THURSDAY), 100, status="DECLINED", decline_reason="INSUFFICIENT_FUNDS",
           balance=-900),
        tx(day_in(4, MONDAY), 100, balance=-1, hour=10),  # Monday again, another week
        tx(day_in(4, SUNDAY), 100, balance=-1, hour=23, minute=59),
        tx(day_in(5, MONDAY), 100, balance=2_000, hour=0),
    ]
    f = features(events, end_of(day_in(5, WEDNESDAY)))  # weeks 1..5
    assert f["overdrawn_days_30d"] == 3 + 2  # Mon, Tue, Thu of week 3; Mon, Sun of week 4
    assert f["balance_close_minor"] == 2_000
    assert f["balance_min_30d_minor"] == -900
    # as of Sunday of week 4 (weeks 0..4) the Sunday of week 0 counts too
    assert features(events[:-1], end_of(day_in(4, SUNDAY)))["overdrawn_days_30d"] == 6


def _weekly_lows(lows: dict[int, int]) -> list[InputEvent]:
    """For each week: the low on Friday, and a higher balance on Monday."""
    events: list[InputEvent] = []
    for w, low in sorted(lows.items()):
        events += [tx(day_in(w, MONDAY), 100, balance=low + 7_000),
                   tx(day_in(w, FRIDAY), 100, balance=low)]
    return events


def test_balance_trend_is_the_slope_of_the_weekly_minimum_per_week() -> None:
    def trend(lows: dict[int, int], as_of_week: int = 9) -> float:
        return features(_weekly_lows(lows), end_of(day_in(as_of_week, SUNDAY)))[
            "balance_trend_minor_per_week"]

    assert trend({w: 100_000 - 10_000 * w for w in range(10)}) == pytest.approx(-10_000)
    assert trend({w: 10_000 + 5_000 * w for w in range(10)}) == pytest.approx(5_000)
    assert trend(dict.fromkeys(range(10), 42_000)) == 0
    # weeks without a balance are no points: weeks 0, 1, 5
    assert trend({0: 0, 1: 10_000, 5: 50_000}) == pytest.approx(10_000)
    # least squares through (0, 0), (1, 0), (2, 60): mean (1, 20), Sxy = 60, Sxx = 2
    assert trend({0: 0, 1: 0, 2: 60}) == pytest.approx(30)
    # fewer than three weeks: no trend
    assert trend({0: 100_000, 1: 0}) == 0


def test_balance_trend_looks_back_13_weeks() -> None:
    lows = {0: 1_000_000, 1: 1_000_000} | {w: 10_000 * w for w in range(2, W + 1)}
    state = build(_weekly_lows(lows))
    index = FEATURE_NAMES.index("balance_trend_minor_per_week")
    # as of week 12, weeks 0..12: the two high weeks pull the slope down
    assert feature_vector(state, end_of(day_in(W, SUNDAY)))[index] < 0
    # as of week 14, weeks 2..14: only the straight line of weeks 2..12 is seen
    assert feature_vector(state, end_of(day_in(W + 2, SUNDAY)))[index] == pytest.approx(10_000)


# --- failed payments and declines --------------------------------------------------------------

def test_failed_direct_debits_in_30_and_90_days() -> None:
    events = [
        failed_dd(day_in(-1, SUNDAY), hour=23, minute=59),  # week -1: outside 90d
        pay(day_in(0, MONDAY), "PAYMENT_FAILED", amount=2_000, hour=0,
            failure_reason="INSUFFICIENT_FUNDS"),  # week 0: 90d
        tx(day_in(7, SUNDAY), 4_000, channel="DIRECT_DEBIT", category="UTILITIES",
           status="DECLINED", hour=23),  # week 7: 90d
        tx(day_in(8, MONDAY), 4_000, channel="DIRECT_DEBIT", category="UTILITIES",
           status="RETURNED", hour=0),  # week 8: 30d
        tx(day_in(10, TUESDAY), 4_000, channel="DIRECT_DEBIT", category="RENT",
           status="DECLINED"),
        pay(day_in(11, FRIDAY), "PAYMENT_FAILED", product="PERSONAL_LOAN", account="LN-1",
            amount=9_000, failure_reason="ACCOUNT_CLOSED"),
        failed_dd(day_in(12, MONDAY)),
        # not failed direct debits
        tx(day_in(12, TUESDAY), 4_000, channel="DIRECT_DEBIT", category="RENT"),  # posted
        tx(day_in(12, TUESDAY), 4_000, channel="CARD", category="GROCERIES", status="DECLINED",
           decline_reason="INSUFFICIENT_FUNDS", hour=13),
        tx(day_in(12, WEDNESDAY), 4_000, direction="CREDIT", channel="DIRECT_DEBIT",
           category="OTHER", status="RETURNED"),
    ]
    f = features(events, end_of(day_in(W, THURSDAY)))
    assert f["failed_dd_30d"] == 4  # weeks 8, 10, 11, 12
    assert f["failed_dd_90d"] == 6  # + weeks 0 and 7


def test_nsf_declines_count_insufficient_funds_on_any_channel() -> None:
    events = [
        tx(day_in(8), 2_000, channel="CARD", status="DECLINED",
           decline_reason="INSUFFICIENT_FUNDS"),
        tx(day_in(9), 2_000, channel="ATM", category="ATM_CASH", status="DECLINED",
           decline_reason="INSUFFICIENT_FUNDS"),
        tx(day_in(10), 2_000, channel="DIRECT_DEBIT", category="RENT", status="RETURNED",
           decline_reason="INSUFFICIENT_FUNDS"),
        tx(day_in(11), 2_000, channel="CARD", status="DECLINED", decline_reason="CARD_BLOCKED"),
        tx(day_in(11, TUESDAY), 2_000, channel="CARD", status="DECLINED"),
        tx(day_in(12), 2_000, channel="CARD"),
    ]
    state = build([tx(day_in(0), 1), *events])
    f = dict(zip(FEATURE_NAMES, feature_vector(state, end_of(day_in(W))), strict=True))
    assert f["nsf_declines_30d"] == 3
    assert f["failed_dd_30d"] == 1
    # as of week 17 the events of weeks 8..12 are all older than the 30d window
    assert feature_vector(state, end_of(day_in(17)))[FEATURE_NAMES.index(
        "nsf_declines_30d")] == 0


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
    assert f["dpd_max_12m"] == 60  # ... within the year


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


# --- income and buffers (new leading signals) --------------------------------------------------

@pytest.mark.parametrize(("amounts", "ratio"), [
    pytest.param([300_000, 300_000, 150_000], 0.5, id="half-of-the-usual"),
    # the usual salary is the median of the ones before the last
    pytest.param([100_000, 300_000, 200_000, 250_000], 1.25, id="median-of-three-before"),
    pytest.param([100_000, 300_000, 100_000], 0.5, id="median-of-two-before-is-their-mean"),
    # the median, not the mean: one large salary among the earlier ones does not move it
    pytest.param([100_000, 100_000, 400_000, 200_000], 2.0, id="median-not-mean"),
    pytest.param([200_000, 200_000, 200_000], 1.0, id="steady"),
    pytest.param([100_000, 100_000, 500_000], 3.0, id="capped-at-3"),
    # fewer than three salaries: no usual salary to compare with
    pytest.param([300_000, 100_000], 1.0, id="two-salaries-neutral"),
    pytest.param([300_000], 1.0, id="one-salary-neutral"),
])
def test_last_salary_ratio_against_the_median_of_the_ones_before(amounts: list[int],
                                                                 ratio: float) -> None:
    events = [salary(30 * i, amount) for i, amount in enumerate(amounts)]
    f = features(events, end_of(30 * len(amounts)))
    assert f["last_salary_ratio"] == pytest.approx(ratio)


def test_last_salary_ratio_sees_only_salaries_up_to_as_of() -> None:
    events = [salary(0, 300_000), salary(30, 300_000), salary(60, 300_000),
              salary(90, 60_000)]
    assert features(events, end_of(89))["last_salary_ratio"] == pytest.approx(1.0)
    assert features(events, end_of(90))["last_salary_ratio"] == pytest.approx(0.2)
    # two credits of one day are one payday: 2 x 150_000 is the usual 300_000
    split = [*events[:3], salary(90, 150_000, hour=9), salary(90, 150_000, hour=15)]
    assert features(split, end_of(90))["last_salary_ratio"] == pytest.approx(1.0)
    # other income is not a salary
    benefits = [*events[:3], credit(90, 60_000, "BENEFITS")]
    assert features(benefits, end_of(90))["last_salary_ratio"] == pytest.approx(1.0)


@pytest.mark.parametrize(("weekday", "debits", "credits", "balance", "runway"), [
    # 35 recent days (Sunday): 70_000 out net is 2_000 a day; 35_000 lasts 17.5 days
    pytest.param(SUNDAY, 70_000, 0, 35_000, 17.5, id="sunday-35-days"),
    # 31 recent days (Wednesday): 62_000 out is 2_000 a day
    pytest.param(WEDNESDAY, 62_000, 0, 31_000, 15.5, id="wednesday-31-days"),
    # credits are netted against debits: 90_000 - 20_000 = 70_000 out
    pytest.param(SUNDAY, 90_000, 20_000, 35_000, 17.5, id="net-of-credits"),
    pytest.param(SUNDAY, 70_000, 70_000, 35_000, 90.0, id="no-net-outflow"),
    pytest.param(SUNDAY, 10_000, 50_000, 0, 90.0, id="net-inflow"),
    pytest.param(SUNDAY, 70_000, 0, 10_000_000, 90.0, id="capped-at-90"),
    # an overdrawn account has nothing to run on
    pytest.param(SUNDAY, 70_000, 0, -5_000, 0.0, id="overdrawn"),
    pytest.param(SUNDAY, 70_000, 0, 0, 0.0, id="zero-balance"),
])
def test_runway_days_at_the_recent_net_outflow(weekday: int, debits: int, credits: int,
                                               balance: int, runway: float) -> None:
    events = [tx(day_in(0), 100),  # history start
              tx(day_in(5), 500_000, category="RENT"),  # prior window: not in the outflow
              credit(day_in(9), credits, "OTHER") if credits else tx(day_in(9), 0),
              tx(day_in(W, MONDAY), debits, category="RENT", balance=balance)]
    f = features(events, end_of(day_in(W, weekday)))
    assert f["runway_days"] == pytest.approx(runway)


def test_runway_of_an_empty_or_quiet_state_is_the_cap() -> None:
    assert features([], end_of(0))["runway_days"] == 90.0
    assert features([tx(day_in(0), 100, balance=1_000)], end_of(day_in(W)))[
        "runway_days"] == 90.0  # the debit is outside the 30d window


def _loan_due(day: int, due: int, due_day: int) -> InputEvent:
    return pay(day, "INSTALMENT_DUE", product="PERSONAL_LOAN", account="LN-1", amount_due=due,
               due_day=due_day)


def test_next_due_cover_ratio_over_the_next_14_days() -> None:
    card = statement(0, 100_000, 20_000, due_day=20)
    loan = _loan_due(2, 10_000, 25)
    balance = tx(9, 100, balance=15_000)

    def cover(*extra: InputEvent, as_of_day: int, events: tuple[InputEvent, ...] = (
            card, loan, balance)) -> float:
        return features([*events, *extra], end_of(as_of_day))["next_due_cover_ratio"]

    # day 10: the card is due in 10 days, the loan in 15 (beyond the 14 days)
    assert cover(as_of_day=10) == pytest.approx(15_000 / 20_000)
    # day 11: both, the loan in exactly 14 days
    assert cover(as_of_day=11) == pytest.approx(15_000 / 30_000)
    # what is already paid towards an item is not due any more
    assert cover(pay(5, "PAYMENT_RECEIVED", amount=12_000), as_of_day=10) == pytest.approx(
        15_000 / 8_000)
    # an item paid in full (or more) leaves nothing due: the ratio is the cap
    assert cover(pay(5, "PAYMENT_RECEIVED", amount=30_000), as_of_day=10) == 10.0
    # due today still counts; past due does not
    assert cover(as_of_day=20) == pytest.approx(15_000 / 30_000)
    assert cover(as_of_day=21) == pytest.approx(15_000 / 10_000)
    assert cover(as_of_day=26) == 10.0
    # capped at 10, and an overdrawn account covers nothing
    assert cover(as_of_day=10, events=(card, loan, tx(9, 100, balance=10_000_000))) == 10.0
    assert cover(as_of_day=10, events=(card, loan, tx(9, 100, balance=-3_000))) == 0.0
    # nothing falling due: the cap, whatever the balance
    assert features([tx(9, 100, balance=-3_000)], end_of(10))["next_due_cover_ratio"] == 10.0
    assert features([], end_of(10))["next_due_cover_ratio"] == 10.0


def test_next_due_cover_ignores_a_card_in_credit() -> None:
    # a card in credit (negative balance) asks no minimum: nothing is falling due
    in_credit = statement(0, -20_000, 0, due_day=20)
    f = features([in_credit, tx(9, 100, balance=1_000)], end_of(10))
    assert f["next_due_cover_ratio"] == 10.0
    assert f["due_soon_shortfall"] == 0.0


def savings(day: int, amount: int, **kwargs: object) -> InputEvent:
    return credit(day, amount, "SAVINGS_TRANSFER", **kwargs)


def test_savings_drawdown_counts_transfers_from_savings_in_the_30d_window() -> None:
    events = [
        savings(day_in(7, SUNDAY), 90_000, hour=23),  # week 7: before the 30d window
        savings(day_in(8), 40_000, hour=0),  # week 8: in it
        savings(day_in(11), 15_000),
        tx(day_in(11, TUESDAY), 25_000, channel="TRANSFER", category="SAVINGS_TRANSFER"),
        savings(day_in(12), 70_000, status="RETURNED"),  # did not post
        credit(day_in(12, TUESDAY), 5_000, "OTHER"),
    ]
    f = features(events, end_of(day_in(W, WEDNESDAY)))
    assert f["savings_drawdown_30d_minor"] == 40_000 + 15_000
    assert features(events, end_of(day_in(W + 4)))["savings_drawdown_30d_minor"] == 0
    assert features([], end_of(0))["savings_drawdown_30d_minor"] == 0


# --- credit products: new credit, limits --------------------------------------------------------

def test_new_credit_counts_products_first_seen_in_the_last_90_days() -> None:
    start = tx(0, 100)  # the customer's history starts on day 0
    card = statement(40, 10_000, 500, due_day=60)
    loan = _loan_due(45, 10_000, 70)
    assert features([start, card], end_of(50))["new_credit_90d"] == 1
    assert features([start, card, loan], end_of(50))["new_credit_90d"] == 2
    # seen first after as-of: not yet known
    assert features([start, card, loan], end_of(44))["new_credit_90d"] == 1
    assert features([start, card], end_of(39))["new_credit_90d"] == 0


def test_new_credit_window_ends_90_days_after_the_product_was_first_seen() -> None:
    card = statement(40, 10_000, 500, due_day=60)
    state = build([tx(0, 100), card])
    index = FEATURE_NAMES.index("new_credit_90d")
    assert feature_vector(state, at(40) + 90 * DAY_MS)[index] == 1
    assert feature_vector(state, at(40) + 90 * DAY_MS + 60_000)[index] == 0


def test_a_product_seen_in_the_first_30_days_of_history_is_not_new_credit() -> None:
    # held before the bank's history of the customer began: not evidence of new borrowing
    start = tx(0, 100)
    assert features([start, statement(29, 10_000, 500, due_day=50)], end_of(40))[
        "new_credit_90d"] == 0
    at_30_days = statement(0, 10_000, 500, due_day=50, occurred_at=at(30))
    just_before = statement(0, 10_000, 500, due_day=50, occurred_at=at(30) - 60_000)
    assert features([start, at_30_days], end_of(40))["new_credit_90d"] == 1
    assert features([start, just_before], end_of(40))["new_credit_90d"] == 0
    # a customer known only through the product: never new
    assert features([statement(40, 10_000, 500, due_day=60)], end_of(50))["new_credit_90d"] == 0


def test_new_credit_is_the_first_event_of_the_product_not_its_latest() -> None:
    start = tx(0, 100)
    old_card = [statement(10, 10_000, 500, due_day=30), statement(40, 10_000, 500, due_day=60),
                pay(45, "PAYMENT_RECEIVED", amount=500)]
    assert features([start, *old_card], end_of(50))["new_credit_90d"] == 0


def _revolving(day: int, balance: int, limit: int | None, *, product: str = "CREDIT_CARD",
               account: str = "CC-1", minimum: int = 0) -> InputEvent:
    return pay(day, "STATEMENT_ISSUED", product=product, account=account,
               statement_balance=balance, minimum_due=minimum, due_day=day + 20,
               credit_limit=limit)


def test_credit_limit_is_the_sum_of_the_latest_card_and_overdraft_limits() -> None:
    events = [
        _revolving(10, 30_000, 100_000),
        _revolving(11, 10_000, 50_000, account="CC-2"),
        _revolving(12, 5_000, 20_000, product="OVERDRAFT", account="OD-1"),
        # a loan's statement limit is not a revolving limit
        _revolving(12, 400_000, 500_000, product="PERSONAL_LOAN", account="LN-1"),
    ]
    f = features(events, end_of(15))
    assert f["credit_limit_minor"] == 170_000
    assert f["revolving_utilisation"] == pytest.approx(45_000 / 170_000)
    assert features([], end_of(15))["credit_limit_minor"] == 0


def test_credit_limit_follows_the_latest_statement_at_as_of() -> None:
    events = [_revolving(10, 30_000, 100_000), _revolving(40, 30_000, 60_000)]
    assert features(events, end_of(20))["credit_limit_minor"] == 100_000
    assert features(events, end_of(45))["credit_limit_minor"] == 60_000


def test_a_card_without_a_limit_on_its_latest_statement_counts_for_no_limit() -> None:
    no_limit = [_revolving(10, 30_000, None)]
    f = features(no_limit, end_of(15))
    assert (f["credit_limit_minor"], f["revolving_utilisation"]) == (0, 0)
    # with another card that has one, only that card counts
    f = features([*no_limit, _revolving(11, 50_000, 100_000, account="CC-2")], end_of(15))
    assert (f["credit_limit_minor"], f["revolving_utilisation"]) == (100_000, 0.5)
    # a zero limit is no limit either (no division by zero)
    f = features([_revolving(10, 30_000, 0)], end_of(15))
    assert (f["credit_limit_minor"], f["revolving_utilisation"]) == (0, 0)


@pytest.mark.parametrize(("limits", "change"), [
    pytest.param([100_000, 100_000, 60_000], -0.4, id="cut-by-40pct"),
    pytest.param([100_000, 150_000], 0.0, id="raise-is-not-a-cut"),
    pytest.param([100_000, 50_000, 100_000], 0.0, id="cut-and-restored"),
    pytest.param([100_000], 0.0, id="one-statement"),
    # statements without a limit are skipped: the first and the latest limited ones compare
    pytest.param([100_000, None, 50_000], -0.5, id="unlimited-statement-skipped"),
    # the last 6 statements are kept: a cut before them is forgotten
    pytest.param([200_000] + [100_000] * 6, 0.0, id="cut-before-the-last-6"),
    pytest.param([200_000] + [100_000] * 5, -0.5, id="cut-within-the-last-6"),
])
def test_credit_limit_change_ratio_shows_cuts_over_the_kept_statements(
        limits: list[int | None], change: float) -> None:
    events = [_revolving(30 * i, 10_000, limit) for i, limit in enumerate(limits)]
    f = features(events, end_of(30 * len(limits)))
    assert f["credit_limit_change_ratio"] == pytest.approx(change)


def test_credit_limit_change_ratio_is_the_largest_cut_of_any_card() -> None:
    events = [_revolving(0, 10_000, 100_000), _revolving(1, 10_000, 100_000, account="CC-2"),
              _revolving(30, 10_000, 50_000), _revolving(31, 10_000, 80_000, account="CC-2")]
    assert features(events, end_of(35))["credit_limit_change_ratio"] == pytest.approx(-0.5)
    # a loan's statement limits are not card limits
    loan = [_revolving(0, 10_000, 100_000, product="PERSONAL_LOAN", account="LN-1"),
            _revolving(30, 10_000, 10_000, product="PERSONAL_LOAN", account="LN-1")]
    assert features(loan, end_of(35))["credit_limit_change_ratio"] == 0.0


# --- credit products: cards in credit (negative statement balances) -----------------------------

def test_a_card_in_credit_counts_as_a_zero_balance_in_utilisation() -> None:
    in_credit = _revolving(10, -20_000, 100_000)
    owing = _revolving(11, 60_000, 100_000, account="CC-2")
    assert features([in_credit], end_of(15))["revolving_utilisation"] == 0.0
    # 0 + 60_000 over 200_000 (not -20_000 + 60_000)
    assert features([in_credit, owing], end_of(15))["revolving_utilisation"] == (
        pytest.approx(0.3))


def test_utilisation_trend_counts_a_card_in_credit_as_zero() -> None:
    # utilisation 0 (in credit), 0.1, 0.4: the trend over the last three is 0.4, not 0.9
    events = [_revolving(30 * i, b, 100_000) for i, b in enumerate((-50_000, 10_000, 40_000))]
    assert features(events, end_of(65))["utilisation_trend_3s"] == pytest.approx(0.4)


@pytest.mark.parametrize(("balances", "slope"), [
    pytest.param([10_000, 20_000, 30_000, 40_000], 0.1, id="steady-creep"),
    # least squares through (0, 0.2), (1, 0.2), (2, 0.5): Sxy = 0.3, Sxx = 2
    pytest.param([20_000, 20_000, 50_000], 0.15, id="least-squares"),
    pytest.param([50_000, 40_000, 30_000], 0.0, id="falling-is-no-creep"),
    pytest.param([10_000, 90_000], 0.0, id="two-statements-no-slope"),
    # in credit counts as 0: (0, 0), (1, 0), (2, 0.3) -> 0.15 (with -0.3 it would be 0.3)
    pytest.param([-30_000, 0, 30_000], 0.15, id="card-in-credit-is-zero"),
    # only the 6 kept statements: the first of 7 (90%) is gone, the rest rise by 0.1 each
    pytest.param([90_000, 10_000, 20_000, 30_000, 40_000, 50_000, 60_000], 0.1,
                 id="last-6-statements"),
])
def test_utilisation_slope_over_the_last_6_statements(balances: list[int],
                                                      slope: float) -> None:
    events = [_revolving(30 * i, b, 100_000) for i, b in enumerate(balances)]
    f = features(events, end_of(30 * len(balances)))
    assert f["utilisation_slope_6s"] == pytest.approx(slope)


def test_utilisation_slope_is_the_steepest_card_and_reads_statements_up_to_as_of() -> None:
    card = [_revolving(30 * i, b, 100_000) for i, b in enumerate((10_000, 20_000, 30_000))]
    steep = [_revolving(30 * i + 1, b, 100_000, account="CC-2")
             for i, b in enumerate((10_000, 30_000, 50_000, 90_000))]
    events = in_time_order(*card, *steep)
    # CC-1 rises 0.1 a statement; CC-2 through (0..3; .1 .3 .5 .9): mean (1.5, .45),
    # Sxy = 1.5 x .35 + .5 x .15 + .5 x .05 + 1.5 x .45 = 1.3, Sxx = 5
    assert features(events, end_of(95))["utilisation_slope_6s"] == pytest.approx(1.3 / 5)
    # as of day 65 the fourth statement of CC-2 is not issued yet: (0..2; .1 .3 .5)
    assert features(events, end_of(65))["utilisation_slope_6s"] == pytest.approx(0.2)


@pytest.mark.parametrize(("balances", "growth"), [
    # the last balance against the mean of the ones before, both + 10_000 (smoothing)
    pytest.param([20_000, 30_000, 40_000, 90_000], 100_000 / 40_000, id="growing"),
    pytest.param([90_000, 40_000, 30_000], 1.0, id="falling-is-neutral"),
    pytest.param([50_000], 1.0, id="one-statement"),
    # in credit counts as 0: before (0, 10_000), mean 5_000 -> 30_000 / 15_000
    pytest.param([-50_000, 10_000, 20_000], 2.0, id="earlier-in-credit-is-zero"),
    pytest.param([40_000, -10_000], 1.0, id="latest-in-credit"),
    # the 6 kept statements: the huge first one of 7 is gone
    pytest.param([900_000, 10_000, 10_000, 10_000, 10_000, 10_000, 30_000], 40_000 / 20_000,
                 id="last-6-statements"),
])
def test_statement_balance_growth(balances: list[int], growth: float) -> None:
    events = [_revolving(30 * i, b, 1_000_000) for i, b in enumerate(balances)]
    f = features(events, end_of(30 * len(balances)))
    assert f["statement_balance_growth_6s"] == pytest.approx(growth)


def test_statement_balance_growth_is_the_fastest_growing_product_up_to_as_of() -> None:
    slow = [_revolving(0, 10_000, 100_000), _revolving(30, 15_000, 100_000)]  # 25/20
    fast = [_revolving(1, 10_000, 100_000, account="CC-2"),
            _revolving(31, 30_000, 100_000, account="CC-2")]  # 40/20
    assert features([*slow, *fast], end_of(35))["statement_balance_growth_6s"] == (
        pytest.approx(2.0))
    assert features([*slow, *fast], end_of(30))["statement_balance_growth_6s"] == (
        pytest.approx(1.25))  # CC-2's second statement is issued on day 31


# --- credit products: what share of a statement is paid ----------------------------------------

@pytest.mark.parametrize(("paid", "share", "share_6s"), [
    # statements of days 0, 30, 60 are due as of day 95; the newest due is day 60's
    pytest.param([5_000, 5_000, 40_000], 0.4, (0.05 + 0.05 + 0.4) / 3, id="small-shares"),
    pytest.param([100_000, 100_000, 2_000], 0.02, (1 + 1 + 0.02) / 3, id="latest-small"),
    pytest.param([2_000, 100_000, 100_000], 1.0, (0.02 + 1 + 1) / 3, id="earliest-small"),
    pytest.param([150_000, 0, 100_000], 1.0, (1 + 0 + 1) / 3, id="overpaid-capped-unpaid-0"),
])
def test_statement_paid_share_of_the_latest_due_and_recent_statements(
        paid: list[int], share: float, share_6s: float) -> None:
    f = features(_card_cycles(paid), end_of(95))
    assert f["statement_paid_share"] == pytest.approx(share)
    assert f["statement_paid_share_6s"] == pytest.approx(share_6s)


def test_a_payment_counts_for_the_statement_cycle_it_falls_in() -> None:
    # paid on day 35: after the second statement was issued, so for the second cycle
    events = [statement(0, 100_000, 5_000, due_day=20), statement(30, 100_000, 5_000, due_day=50),
              pay(35, "PAYMENT_RECEIVED", amount=100_000)]
    f = features(events, end_of(55))
    assert (f["statement_paid_share"], f["statement_paid_share_6s"]) == (1.0, 0.5)
    # as of day 25 only the first statement is due, and nothing paid yet
    f = features(events, end_of(25))
    assert (f["statement_paid_share"], f["statement_paid_share_6s"]) == (0.0, 0.0)


def test_statement_paid_share_is_neutral_without_a_due_statement() -> None:
    for events, as_of_day in (([], 10), ([statement(0, 100_000, 5_000, due_day=20)], 19),
                              ([statement(0, 100_000, 5_000, due_day=20)], 20)):
        f = features(events, end_of(as_of_day))
        assert (f["statement_paid_share"], f["statement_paid_share_6s"]) == (1.0, 1.0)


def test_a_statement_in_credit_or_at_zero_is_fully_paid() -> None:
    for balance in (-20_000, 0):
        f = features([statement(0, balance, 0, due_day=20)], end_of(25))
        assert (f["statement_paid_share"], f["statement_paid_share_6s"]) == (1.0, 1.0), balance


def test_statement_paid_share_is_the_weakest_product() -> None:
    paid_in_full = _card_cycles([100_000, 100_000, 100_000])
    other = [statement(61, 50_000, 2_500, due_day=81, account="CC-2"),
             pay(70, "PAYMENT_RECEIVED", amount=10_000, account="CC-2")]
    f = features([*paid_in_full, *other], end_of(95))
    assert f["statement_paid_share"] == pytest.approx(0.2)
    assert f["statement_paid_share_6s"] == pytest.approx(0.2)


def _card_payments(amounts: list[int], account: str = "CC-1",
                   product: str = "CREDIT_CARD") -> list[InputEvent]:
    return [pay(10 * i, "PAYMENT_RECEIVED", product=product, account=account, amount=amount)
            for i, amount in enumerate(amounts)]


@pytest.mark.parametrize(("amounts", "trend"), [
    # the last 2 against the 4 before them, both means + 10_000 (smoothing)
    pytest.param([50_000] * 4 + [20_000] * 2, 30_000 / 60_000, id="falling"),
    # with only 2 before the last 2: those 2 are the baseline
    pytest.param([40_000, 40_000, 10_000, 10_000], 20_000 / 50_000, id="four-payments"),
    # payments older than the 6 newest are not in the baseline
    pytest.param([1_000, 1_000] + [50_000] * 4 + [20_000] * 2, 30_000 / 60_000,
                 id="older-payments-ignored"),
    pytest.param([2_000] * 4 + [1_000] * 2, 11_000 / 12_000, id="smoothing-damps-small"),
    pytest.param([10_000] * 4 + [50_000] * 2, 1.0, id="rising-is-neutral"),
    pytest.param([50_000, 50_000, 1_000], 1.0, id="three-payments-neutral"),
])
def test_payment_amount_trend(amounts: list[int], trend: float) -> None:
    f = features(_card_payments(amounts), end_of(10 * len(amounts)))
    assert f["payment_amount_trend_6s"] == pytest.approx(trend)


def test_payment_amount_trend_is_the_weakest_product_up_to_as_of() -> None:
    card = _card_payments([50_000] * 4 + [20_000] * 2)  # 0.5
    loan = _card_payments([40_000, 40_000, 10_000, 10_000], account="LN-1",
                          product="PERSONAL_LOAN")  # 0.4
    events = in_time_order(*card, *loan)
    assert features(events, end_of(60))["payment_amount_trend_6s"] == pytest.approx(0.4)
    # as of day 35 the loan has made its 4 payments (days 0..30), the card 4 of 50_000
    assert features(events, end_of(35))["payment_amount_trend_6s"] == pytest.approx(0.4)
    assert features(card, end_of(35))["payment_amount_trend_6s"] == pytest.approx(1.0)


# --- arrears history --------------------------------------------------------------------------

def test_late_payments_received_after_the_due_date() -> None:
    events = [
        _instalment(0, 10_000, 10), _loan_payment(5, 10_000),  # on time
        _instalment(30, 10_000, 40), _loan_payment(35, 9_000),  # short ...
        _loan_payment(45, 1_000),  # ... made up after the due date
        _instalment(60, 10_000, 70), _loan_payment(75, 10_000),  # paid after the due date
        _instalment(90, 10_000, 100),  # unpaid
        _instalment(120, 10_000, 130),  # not yet due
    ]
    f = features(events, end_of(105))
    assert f["late_payments_6m"] == 3
    assert f["late_payments_received_6m"] == 2
    # as of day 230 the due date of day 40 is more than 180 days back
    f = features(events, end_of(230))
    assert f["late_payments_6m"] == 3  # due days 70, 100 and 130
    assert f["late_payments_received_6m"] == 1  # day 70's
    assert features([], end_of(10))["late_payments_received_6m"] == 0
    # paid after the due date, but not all of it: late, not received
    partly = [_instalment(0, 10_000, 10), _loan_payment(5, 4_000), _loan_payment(15, 3_000)]
    f = features(partly, end_of(20))
    assert (f["late_payments_6m"], f["late_payments_received_6m"]) == (1, 0)
    f = features([*partly, _loan_payment(18, 3_000)], end_of(20))
    assert (f["late_payments_6m"], f["late_payments_received_6m"]) == (1, 1)


def _status(day: int, dpd: int, account: str = "CC-1", product: str = "CREDIT_CARD",
            hour: int = 12) -> InputEvent:
    return pay(day, "DELINQUENCY_STATUS", product=product, account=account, dpd=dpd, hour=hour)


# 30-day periods: day 30 * p + 1 is in period p of the tests (periods are epoch days // 30)
ARREARS_HISTORY = [_status(1, 40), _status(31, 0), _status(61, 15), _status(62, 0),
                   _status(121, 3), _status(151, 0), _status(211, 0), _status(241, 0)]


def test_months_in_arrears_and_the_maxima_over_6_and_12_periods() -> None:
    # as of period 8: the 6 periods 3..8 hold period 4 (3 days); the 12 periods -3..8 hold
    # periods 0 (40 days), 2 (15 days) and 4
    f = features(ARREARS_HISTORY, end_of(241))
    assert (f["months_in_arrears_6m"], f["months_in_arrears_12m"]) == (1, 3)
    assert (f["dpd_max_6m"], f["dpd_max_12m"], f["dpd_current"]) == (3, 40, 0)
    # as of period 12: periods 1..12, so period 0's 40 days are out; 6 periods 7..12 are clean
    f = features([*ARREARS_HISTORY, tx(361, 1)], end_of(361))
    assert (f["months_in_arrears_6m"], f["months_in_arrears_12m"]) == (0, 2)
    assert (f["dpd_max_6m"], f["dpd_max_12m"]) == (0, 15)
    # as of period 11, period 0 is still the twelfth period back
    f = features(ARREARS_HISTORY, end_of(331))
    assert (f["months_in_arrears_12m"], f["dpd_max_12m"]) == (3, 40)


def test_a_period_in_arrears_on_several_products_counts_once() -> None:
    events = in_time_order(*ARREARS_HISTORY, _status(122, 7, "LN-1", "PERSONAL_LOAN"),
                           _status(152, 9, "LN-1", "PERSONAL_LOAN"),
                           _status(153, 0, "LN-1", "PERSONAL_LOAN"))
    f = features(events, end_of(241))
    assert (f["months_in_arrears_6m"], f["months_in_arrears_12m"]) == (2, 4)  # + period 5
    assert (f["dpd_max_6m"], f["dpd_max_12m"]) == (9, 40)


def test_the_current_arrears_count_in_the_history_and_the_maxima() -> None:
    f = features([*ARREARS_HISTORY, _status(242, 20)], end_of(242))
    assert (f["months_in_arrears_6m"], f["months_in_arrears_12m"]) == (2, 4)
    assert (f["dpd_max_6m"], f["dpd_max_12m"], f["dpd_current"]) == (20, 40, 20)


def test_dpd_maxima_are_at_least_the_current_days_past_due() -> None:
    # the newest status (30 days) is older than the 12 periods: the maxima still show it
    state = build([_status(1, 30)])
    f = dict(zip(FEATURE_NAMES, feature_vector(state, end_of(400)), strict=True))
    assert f["dpd_current"] == 30
    assert (f["dpd_max_6m"], f["dpd_max_12m"]) == (30, 30)
    assert (f["months_in_arrears_6m"], f["months_in_arrears_12m"]) == (0, 0)


# --- amount past due --------------------------------------------------------------------------

def test_amount_past_due_is_what_fell_due_and_is_still_unpaid() -> None:
    loan = [_instalment(5, 10_000, 20), _loan_payment(10, 4_000)]
    card = [statement(0, 100_000, 5_000, due_day=20)]

    def past_due(*events: InputEvent, as_of_day: int) -> float:
        return features(list(events), end_of(as_of_day))["amount_past_due_minor"]

    assert past_due(*loan, as_of_day=20) == 0  # due today: not past due yet
    assert past_due(*loan, as_of_day=21) == 6_000
    assert past_due(*loan, *card, as_of_day=21) == 6_000 + 5_000
    # paying the rest after the due date cures it
    assert past_due(*loan, _loan_payment(23, 6_000), as_of_day=22) == 6_000
    assert past_due(*loan, _loan_payment(23, 6_000), as_of_day=23) == 0
    assert past_due(*loan, _loan_payment(23, 2_000), as_of_day=23) == 4_000
    # nothing due on a card in credit, or nothing asked
    assert past_due(statement(0, -5_000, 0, due_day=20), as_of_day=25) == 0
    assert past_due(as_of_day=25) == 0


def test_an_arrears_status_after_the_due_date_replaces_the_computed_shortfall() -> None:
    loan = [_instalment(5, 10_000, 20), _loan_payment(10, 4_000)]
    # reported the day after the due date: the arrears system's figure (0 days) wins
    f = features([*loan, _status(21, 0, "LN-1", "PERSONAL_LOAN", hour=6)], end_of(22))
    assert (f["amount_past_due_minor"], f["dpd_current"]) == (0, 0)
    # reported on the due date itself: it cannot know of the miss, the shortfall counts
    f = features([*loan, _status(20, 0, "LN-1", "PERSONAL_LOAN", hour=23)], end_of(22))
    assert (f["amount_past_due_minor"], f["dpd_current"]) == (6_000, 0)
    # a status of another product says nothing of this one
    f = features([*loan, _status(21, 0)], end_of(22))
    assert f["amount_past_due_minor"] == 6_000
    # a status reported after as-of is not known yet
    f = features([*loan, _status(23, 0, "LN-1", "PERSONAL_LOAN")], end_of(22))
    assert f["amount_past_due_minor"] == 6_000


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
    assert f["balance_trend_minor_per_week"] == 0
    assert f["overdrawn_days_30d"] == 0
    # the new leading signals and credit features: neutral (nothing seen, nothing at risk)
    assert f["last_salary_ratio"] == 1.0
    assert f["runway_days"] == 90.0  # no outflow: the cap
    assert f["next_due_cover_ratio"] == 10.0  # nothing falling due: the cap
    assert f["savings_drawdown_30d_minor"] == 0
    assert f["new_credit_90d"] == 0
    assert f["credit_limit_minor"] == 0
    assert f["credit_limit_change_ratio"] == 0
    assert f["utilisation_slope_6s"] == 0
    assert f["statement_balance_growth_6s"] == 1.0
    assert f["statement_paid_share"] == 1.0
    assert f["statement_paid_share_6s"] == 1.0
    assert f["payment_amount_trend_6s"] == 1.0
    for name in ("late_payments_6m", "late_payments_received_6m", "months_in_arrears_6m",
                 "months_in_arrears_12m", "dpd_max_6m", "dpd_max_12m", "dpd_current",
                 "products_in_arrears", "amount_past_due_minor"):
        assert f[name] == 0, name
    assert len(FEATURE_NAMES) == 51


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


def test_feature_vector_ignores_later_weeks_and_later_history_items() -> None:
    as_of = end_of(day_in(8, WEDNESDAY))
    before = [
        salary(day_in(0)), salary(day_in(4)), salary(day_in(8)),
        tx(day_in(1), 5_000, balance=40_000), tx(day_in(6), 3_000, balance=-2_000),
        tx(day_in(7), 2_000, channel="DIRECT_DEBIT", category="RENT", status="RETURNED"),
        statement(day_in(2), 40_000, 2_000, due_day=day_in(5)),
        pay(day_in(4, TUESDAY), "PAYMENT_RECEIVED", amount=2_000),
        pay(day_in(5), "DELINQUENCY_STATUS", dpd=3),
        statement(day_in(7), 60_000, 3_000, due_day=day_in(10)),
    ]
    after = [
        # product histories are kept by the minute: later items of the as-of week are ignored
        pay(day_in(8, THURSDAY), "PAYMENT_RECEIVED", amount=60_000),
        statement(day_in(8, FRIDAY), 99_000, 5_000, due_day=day_in(11)),
        # weekly buckets: later weeks are ignored
        salary(day_in(9), 10_000), tx(day_in(9), 90_000, category="GAMBLING"),
        tx(day_in(9), 2_000, channel="DIRECT_DEBIT", category="RENT", status="RETURNED",
           decline_reason="INSUFFICIENT_FUNDS", hour=13),
        pay(day_in(9, TUESDAY), "PAYMENT_FAILED", amount=5_000,
            failure_reason="INSUFFICIENT_FUNDS"),
    ]  # later events of products already held (a new product would count in credit_products)
    before.sort(key=lambda e: e.occurred_at)
    after.sort(key=lambda e: e.occurred_at)
    expected = feature_vector(build(before), as_of)
    assert feature_vector(build([*before, *after]), as_of) == expected
    # the later events do change the vector at a later as-of (the test can see them)
    later = end_of(day_in(10))
    assert feature_vector(build([*before, *after]), later) != feature_vector(build(before),
                                                                              later)


def test_a_closing_balance_newer_than_as_of_is_not_shown() -> None:
    # the state keeps the newest closing balance only: at an earlier as-of it is unknown (0),
    # never the future value
    state = build([tx(day_in(0), 100, balance=5_000), tx(day_in(1), 100, balance=7_000)])
    close = FEATURE_NAMES.index("balance_close_minor")
    assert feature_vector(state, end_of(day_in(0)))[close] == 0
    assert feature_vector(state, at(day_in(1)))[close] == 7_000
    assert feature_vector(state, end_of(day_in(3)))[close] == 7_000


# --- arrival order (regressions found by the property tests) -----------------------------------

def test_balance_trend_does_not_depend_on_the_arrival_order_of_weeks() -> None:
    events = [tx(day_in(0), 1, balance=3), tx(day_in(1), 1, balance=-2),
              tx(day_in(3), 1, balance=0)]
    trends = {features(list(order), end_of(day_in(3)))["balance_trend_minor_per_week"]
              for order in itertools.permutations(events)}
    assert len(trends) == 1
    # least squares through (0, 3), (1, -2), (3, 0): mean (4/3, 1/3),
    # Sxy = -32/9 + 7/9 - 5/9 = -10/3, Sxx = 16/9 + 1/9 + 25/9 = 14/3
    assert trends.pop() == pytest.approx(-5 / 7)


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


def _colliding_event_ids() -> tuple[str, str]:
    """Two event ids whose keys agree in the 10 low bits (the close balance tie-break)."""
    seen: dict[int, str] = {}
    for i in itertools.count():
        event_id = f"tie-{i}"
        low = event_key(tx(0, event_id=event_id)) & 1023
        if low in seen:
            return seen[low], event_id
        seen[low] = event_id
    raise AssertionError  # unreachable


def test_closing_balance_of_simultaneous_events_does_not_depend_on_order() -> None:
    first_id, second_id = _colliding_event_ids()
    moment = at(day_in(2), 10)
    a = tx(0, 100, balance=1_000, occurred_at=moment, event_id=first_id)
    b = tx(0, 100, balance=2_000, occurred_at=moment, event_id=second_id)
    closes = {features(order, end_of(day_in(2)))["balance_close_minor"]
              for order in ([a, b], [b, a])}
    assert closes == {1_000.0}  # a full tie goes to the lower balance
