"""reason_text: the human text of a reason names the values of the scored vector.

Expected texts are written from the documented formats: amounts in major units (minor / 100,
two decimals, thousands separated), ratios against a baseline as "N% below/above", shares as
percentages, counts with a singular or plural noun.
"""

from __future__ import annotations

import math
import random

import pytest

from stream_app.features import (
    FEATURE_NAMES,
    FEATURES,
    CustomerState,
    feature_index,
    feature_vector,
    reason_text,
)
from tests.features.test_vector import credit, features
from tests.support.events import SUNDAY, at, day_in, end_of

# texts that do not show the column's own value: a flag shown by its static text, and the
# missed-salary flag shown by the delay it follows from
VALUE_FREE = {"due_soon_shortfall", "salary_missed"}


def empty_row() -> list[float]:
    return feature_vector(CustomerState(), at(0))


def row_with(**values: float) -> list[float]:
    row = empty_row()
    for name, value in values.items():
        row[feature_index(name)] = value
    return row


def text(name: str, **values: float) -> str:
    return reason_text(feature_index(name), row_with(**values))


def test_every_column_has_a_text_for_the_empty_state() -> None:
    row = empty_row()
    assert len(row) == len(FEATURES) == 51
    for column, spec in enumerate(FEATURES):
        value = reason_text(column, row)
        assert isinstance(value, str), spec.name
        assert value.strip(), spec.name
        assert "nan" not in value, spec.name
        assert "inf" not in value, spec.name


@pytest.mark.parametrize("seed", range(5))
def test_every_column_has_a_text_for_a_random_finite_vector(seed: int) -> None:
    rng = random.Random(seed)
    scales = (1.0, 100.0, 1e6, 1e12)
    row = [rng.uniform(-1, 1) * rng.choice(scales) for _ in FEATURE_NAMES]
    for column, spec in enumerate(FEATURES):
        value = reason_text(column, row)
        assert value.strip(), spec.name
        assert "nan" not in value, spec.name
        assert "inf" not in value, spec.name
        assert value != spec.reason_text or spec.name in VALUE_FREE, spec.name


@pytest.mark.parametrize("name", [n for n in FEATURE_NAMES if n not in VALUE_FREE])
def test_every_text_changes_with_its_own_value(name: str) -> None:
    # two values in the range where the text shows them (a limit cut is negative, the cover
    # of dues is shown up to 100%)
    low, high = {"credit_limit_change_ratio": (-0.2, -0.5),
                 "next_due_cover_ratio": (0.2, 0.5)}.get(name, (2.0, 7.0))
    assert text(name, **{name: low}) != text(name, **{name: high})


@pytest.mark.parametrize(("name", "values", "expected"), [
    pytest.param("income_drop_ratio", {"income_drop_ratio": 0.45},
                 "Income in the last 30 days is 55% below the customer's usual level",
                 id="income-drop-below"),
    pytest.param("income_drop_ratio", {"income_drop_ratio": 1.3},
                 "Income in the last 30 days is 30% above the customer's usual level",
                 id="income-drop-above"),
    pytest.param("last_salary_ratio", {"last_salary_ratio": 0.5},
                 "The last salary was 50% below the usual salary", id="last-salary"),
    pytest.param("income_30d_minor", {"income_30d_minor": 123_456, "income_60d_minor": 250_000},
                 "Income of 1,234.56 in the last 30 days (2,500.00 in 60 days)",
                 id="income-amounts"),
    pytest.param("days_since_salary", {"days_since_salary": 40, "salary_cadence_days": 30},
                 "40 days since the last salary (usually every 30 days)", id="salary-gap"),
    pytest.param("salary_missed", {"salary_missed": 1, "salary_delay_days": 9},
                 "The expected salary has not arrived: 9 days past the usual payday",
                 id="salary-missed-names-the-delay"),
    pytest.param("balance_trend_minor_per_week", {"balance_trend_minor_per_week": -2_500},
                 "Balance is falling by 25.00 a week", id="balance-falling"),
    pytest.param("balance_trend_minor_per_week", {"balance_trend_minor_per_week": 1_000},
                 "Balance trend is 10.00 a week", id="balance-rising"),
    pytest.param("overdrawn_days_30d", {"overdrawn_days_30d": 1},
                 "Overdrawn on 1 day in the last 30 days", id="overdrawn-one-day"),
    pytest.param("overdrawn_days_30d", {"overdrawn_days_30d": 3},
                 "Overdrawn on 3 days in the last 30 days", id="overdrawn-days"),
    pytest.param("runway_days", {"runway_days": 12.4},
                 "At the last 30 days' net outflow the balance lasts about 12 days", id="runway"),
    pytest.param("next_due_cover_ratio", {"next_due_cover_ratio": 0.75},
                 "The balance covers 75% of the payments falling due in the next 14 days",
                 id="due-cover"),
    pytest.param("next_due_cover_ratio", {"next_due_cover_ratio": 4.0},
                 "The balance covers 100% of the payments falling due in the next 14 days",
                 id="due-cover-at-most-100pct"),
    pytest.param("savings_drawdown_30d_minor", {"savings_drawdown_30d_minor": 55_000},
                 "Moved 550.00 from savings into the current account in the last 30 days",
                 id="savings"),
    pytest.param("failed_dd_30d", {"failed_dd_30d": 1, "failed_dd_90d": 3},
                 "1 direct debit or automatic payment failed in the last 30 days (3 in 90 days)",
                 id="failed-dd-one"),
    pytest.param("failed_dd_30d", {"failed_dd_30d": 2, "failed_dd_90d": 2},
                 "2 direct debits or automatic payments failed in the last 30 days "
                 "(2 in 90 days)", id="failed-dd-plural"),
    pytest.param("atm_cash_ratio", {"atm_cash_ratio": 2.345},
                 "Cash withdrawals are 2.3 times the customer's usual level", id="cash"),
    pytest.param("gambling_share_30d", {"gambling_share_30d": 0.25},
                 "25% of spending in the last 30 days went to gambling", id="gambling-share"),
    pytest.param("new_credit_90d", {"new_credit_90d": 1},
                 "1 new credit product in the last 90 days", id="new-credit-one"),
    pytest.param("new_credit_90d", {"new_credit_90d": 2},
                 "2 new credit products in the last 90 days", id="new-credit-plural"),
    pytest.param("credit_limit_minor", {"credit_limit_minor": 500_000},
                 "Total card limit is 5,000.00", id="limit"),
    pytest.param("credit_limit_change_ratio", {"credit_limit_change_ratio": -0.4},
                 "A card limit was cut by 40%", id="limit-cut"),
    pytest.param("credit_limit_change_ratio", {"credit_limit_change_ratio": 0.0},
                 "Card limits unchanged or raised", id="limit-unchanged"),
    pytest.param("revolving_utilisation", {"revolving_utilisation": 0.85},
                 "Card balances are at 85% of their limits", id="utilisation"),
    pytest.param("utilisation_slope_6s", {"utilisation_slope_6s": 0.05},
                 "Card utilisation rises 5.0 points per statement", id="utilisation-slope"),
    pytest.param("statement_balance_growth_6s", {"statement_balance_growth_6s": 2.5},
                 "The last card statement balance is 150% above the earlier statements' average",
                 id="balance-growth"),
    pytest.param("statement_paid_share", {"statement_paid_share": 0.4},
                 "Paid 40% of the last card statement", id="paid-share"),
    pytest.param("statement_paid_share_6s", {"statement_paid_share_6s": 0.125},
                 "Paid 12% of recent card statements on average", id="paid-share-6s"),
    pytest.param("payment_amount_trend_6s", {"payment_amount_trend_6s": 0.5},
                 "Recent card and loan payments are 50% below the earlier ones",
                 id="payments-falling"),
    pytest.param("late_payments_received_6m", {"late_payments_received_6m": 1},
                 "1 payment received after the due date in the last 6 months",
                 id="paid-after-due"),
    pytest.param("months_in_arrears_6m", {"months_in_arrears_6m": 2},
                 "In arrears in 2 of the last 6 months; cured since", id="months-6"),
    pytest.param("months_in_arrears_12m", {"months_in_arrears_12m": 5},
                 "In arrears in 5 of the last 12 months; cured since", id="months-12"),
    pytest.param("dpd_max_12m", {"dpd_max_12m": 45},
                 "Was 45 days past due within the last year; cured since", id="dpd-max-12m"),
    pytest.param("dpd_current", {"dpd_current": 12}, "12 days past due", id="dpd-current"),
    pytest.param("products_in_arrears", {"products_in_arrears": 1},
                 "1 credit product in arrears", id="products-in-arrears"),
    pytest.param("amount_past_due_minor", {"amount_past_due_minor": 12_345},
                 "123.45 fell due and is still unpaid", id="amount-past-due"),
    pytest.param("history_days", {"history_days": 12.0}, "Only 12 days of account history",
                 id="history"),
])
def test_texts_name_the_values(name: str, values: dict[str, float], expected: str) -> None:
    assert text(name, **values) == expected


def test_the_text_of_a_scored_history_names_its_income_drop() -> None:
    # income fell from 80_000 to 20_000 a week: ratio 110_000 / 410_000 = 0.268 (see
    # test_vector), i.e. 73% below the usual level
    events = [credit(day_in(w), 80_000) for w in range(8)]
    events += [credit(day_in(w), 20_000) for w in range(8, 13)]
    f = features(events, end_of(day_in(12, SUNDAY)))
    row = [f[name] for name in FEATURE_NAMES]
    assert reason_text(feature_index("income_drop_ratio"), row) == (
        "Income in the last 30 days is 73% below the customer's usual level")
    # 30d: weeks 8..12, 5 x 20_000; 60d: weeks 4..12, also 4 x 80_000
    assert reason_text(feature_index("income_30d_minor"), row) == (
        "Income of 1,000.00 in the last 30 days (4,200.00 in 60 days)")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_non_finite_value_never_raises(value: float) -> None:
    for column, spec in enumerate(FEATURES):
        row = empty_row()
        row[column] = value
        assert reason_text(column, row).strip(), spec.name


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_a_non_finite_value_gives_the_generic_text(value: float) -> None:
    for column, spec in enumerate(FEATURES):
        row = empty_row()
        row[column] = value
        assert reason_text(column, row) == spec.reason_text, spec.name
