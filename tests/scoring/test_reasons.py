"""Reason codes: only risk-raising leading signals, at most three, largest first, with texts
that name the values; the arrears track's reasons come from its roll-rate table."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stream_app.features import ARREARS_NOW, FEATURE_NAMES, FEATURES, feature_index, reason_text
from stream_app.scoring import MAX_REASONS, ArrearsAssessment, arrears_reasons, top_reasons
from tests.support.models import TrainedFixture

WIDTH = len(FEATURE_NAMES)
ARREARS_NOW_NAMES = {"dpd_current", "products_in_arrears", "amount_past_due_minor"}


def _row(values: dict[str, float], base: float = 0.0) -> np.ndarray:
    row = np.full(WIDTH, base)
    for name, value in values.items():
        row[feature_index(name)] = value
    return row


def test_arrears_now_features_are_the_three_past_due_ones() -> None:
    assert {FEATURES[i].name for i in ARREARS_NOW} == ARREARS_NOW_NAMES


def test_reasons_are_the_largest_positive_contributions_in_order() -> None:
    contributions = _row({"income_drop_ratio": 0.4, "failed_dd_30d": 0.9, "dpd_current": -2.0,
                          "revolving_utilisation": 0.1, "salary_missed": 0.6})
    values = _row({"income_drop_ratio": 0.55, "failed_dd_30d": 2, "failed_dd_90d": 5,
                   "salary_missed": 1, "salary_delay_days": 6, "revolving_utilisation": 0.9})
    (reasons,) = top_reasons(contributions[None, :], values[None, :])
    assert [r.feature for r in reasons] == ["failed_dd_30d", "salary_missed",
                                            "income_drop_ratio"]
    for reason in reasons:
        column = feature_index(reason.feature)
        assert reason.code == FEATURES[column].reason_code
        assert reason.value == values[column]
        assert reason.contribution == contributions[column]
        assert reason.text == reason_text(column, values)
    # the texts say what changed and by how much
    assert [r.text for r in reasons] == [
        "2 direct debits or automatic payments failed in the last 30 days (5 in 90 days)",
        "The expected salary has not arrived: 6 days past the usual payday",
        "Income in the last 30 days is 45% below the customer's usual level",
    ]


@pytest.mark.parametrize(("values", "column", "text"), [
    ({"balance_close_minor": -12_345}, "balance_close_minor",
     "Current account balance is -123.45"),
    ({"overdrawn_days_30d": 1}, "overdrawn_days_30d",
     "Overdrawn on 1 day in the last 30 days"),
    ({"revolving_utilisation": 0.93}, "revolving_utilisation",
     "Card balances are at 93% of their limits"),
    ({"dpd_max_6m": 24}, "dpd_max_6m",
     "Was 24 days past due within the last 6 months; cured since"),
    ({"lending_app_borrowed_30d_minor": 45_000}, "lending_app_borrowed_30d_minor",
     "Borrowed 450.00 from lending apps in the last 30 days"),
])
def test_reason_texts_name_the_values(values: dict[str, float], column: str, text: str) -> None:
    row = _row(values)
    (reasons,) = top_reasons(_row({column: 1.0})[None, :], row[None, :])
    assert [(r.feature, r.text) for r in reasons] == [(column, text)]


def test_arrears_now_features_are_never_reasons() -> None:
    # the three past-due features raise the risk the most, and are still never reasons
    contributions = _row({"dpd_current": 5.0, "products_in_arrears": 4.0,
                          "amount_past_due_minor": 3.0, "failed_dd_30d": 0.1})
    values = _row({"dpd_current": 40, "products_in_arrears": 2,
                   "amount_past_due_minor": 30_000, "failed_dd_30d": 1})
    (reasons,) = top_reasons(contributions[None, :], values[None, :])
    assert [r.feature for r in reasons] == ["failed_dd_30d"]
    only_arrears = _row({"dpd_current": 5.0, "products_in_arrears": 4.0,
                         "amount_past_due_minor": 3.0})
    assert top_reasons(only_arrears[None, :], values[None, :]) == [()]


def test_only_positive_contributions_are_reasons() -> None:
    contributions = np.vstack([
        _row({"failed_dd_30d": 0.5, "nsf_declines_30d": -0.5}),
        _row({"failed_dd_30d": -0.1, "nsf_declines_30d": -0.5}),
        _row({}),  # all zero: nothing raised the risk
    ])
    reasons = top_reasons(contributions, np.ones_like(contributions))
    assert [[r.feature for r in row] for row in reasons] == [["failed_dd_30d"], [], []]


def test_limit_and_ties_broken_by_feature_order() -> None:
    contributions = np.full((1, WIDTH), 0.25)
    (reasons,) = top_reasons(contributions, np.zeros((1, WIDTH)))
    assert len(reasons) == MAX_REASONS == 3
    assert [r.feature for r in reasons] == list(FEATURE_NAMES[:3])
    (two,) = top_reasons(contributions, np.zeros((1, WIDTH)), limit=2)
    assert len(two) == 2


@pytest.mark.parametrize("value", [math.inf, math.nan])
def test_a_count_that_is_not_finite_gets_the_generic_text(value: float) -> None:
    (reasons,) = top_reasons(_row({"overdrawn_days_30d": 1.0})[None, :],
                             _row({"overdrawn_days_30d": value})[None, :])
    assert reasons[0].text == FEATURES[feature_index("overdrawn_days_30d")].reason_text


def test_reasons_from_real_model_contributions(trained: TrainedFixture) -> None:
    rng = np.random.default_rng(5)
    rows = np.abs(rng.normal(0, 1, (400, WIDTH))) * rng.choice([0, 1, 10, 1e4, 1e5],
                                                               (400, WIDTH))
    scored = trained.model.score(rows)
    all_reasons = top_reasons(scored.contributions, rows)
    assert len(all_reasons) == len(rows)
    assert any(all_reasons)
    eligible = np.ones(WIDTH, dtype=bool)
    eligible[list(ARREARS_NOW)] = False
    for i, reasons in enumerate(all_reasons):
        row = scored.contributions[i]
        positive = row[eligible & (row > 0)]
        assert len(reasons) == min(MAX_REASONS, len(positive))
        shown = [r.contribution for r in reasons]
        assert all(c > 0 for c in shown)
        assert shown == sorted(shown, reverse=True)
        assert shown == pytest.approx(sorted(positive, reverse=True)[:MAX_REASONS])
        assert len({r.code for r in reasons}) == len(reasons)
        assert not {r.feature for r in reasons} & ARREARS_NOW_NAMES


# --- the arrears track -------------------------------------------------------------------------

TABLE = ArrearsAssessment(roll=((0.2, 0.5), (0.4, 0.6), (0.6, 0.8), (0.7, 0.9)),
                          cure=((0.6, 0.3), (0.25, 0.1), (0.1, 0.05), (0.05, 0.01)),
                          counts=((10, 10), (10, 0), (0, 0), (5, 5)))


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _customer(**values: float) -> np.ndarray:
    base = {"history_days": 200, "income_30d_minor": 250_000, "income_60d_minor": 500_000,
            "income_drop_ratio": 1.0}
    return _row({**base, **values})


def test_arrears_reasons_name_bucket_amount_and_products() -> None:
    row = _customer(dpd_current=35, amount_past_due_minor=12_000, products_in_arrears=2)
    ((bucket, amount, products),) = arrears_reasons(TABLE, row[None, :])
    assert (bucket.code, bucket.feature, bucket.value) == ("R_PAST_DUE", "dpd_current", 35)
    assert bucket.text == ("35 days past due (bucket 30-59; rolls to the next bucket within 30 "
                           "days with probability 40%)")
    # the bucket's roll rate (0.4) against the lowest bucket's ((0.2 * 10 + 0.5 * 10) / 20)
    assert bucket.contribution == pytest.approx(_logit(0.4) - _logit(0.35))
    assert (amount.code, amount.value, amount.text) == (
        "R_AMOUNT_PAST_DUE", 12_000, "120.00 fell due and is still unpaid")
    assert (products.code, products.value, products.text) == (
        "R_MULTIPLE_ARREARS", 2, "2 credit products in arrears")


def test_arrears_reasons_name_the_hardship_signal() -> None:
    rows = np.vstack([
        _customer(dpd_current=10, amount_past_due_minor=5_000, products_in_arrears=3,
                  salary_missed=1, salary_delay_days=9),
        _customer(dpd_current=95, income_drop_ratio=0.3),
    ])
    missed, dropped = arrears_reasons(TABLE, rows)
    assert [r.feature for r in missed] == ["dpd_current", "salary_missed",
                                           "amount_past_due_minor"]  # three at most
    assert missed[0].contribution == pytest.approx(0.0)  # the lowest bucket itself
    assert missed[0].text.endswith("with probability 50%)")  # the hardship cell's roll
    assert missed[1].text == ("The expected salary has not arrived: 9 days past the usual "
                              "payday: hardship assessment")
    # the hardship cell's roll rate against the bucket's
    assert missed[1].contribution == pytest.approx(_logit(0.5) - _logit(0.35))
    assert [r.feature for r in dropped] == ["dpd_current", "income_drop_ratio"]
    assert dropped[0].text.startswith("95 days past due (bucket 90+;")
    assert dropped[1].text == ("Income in the last 30 days is 70% below the customer's usual "
                               "level: hardship assessment")
    assert dropped[1].contribution == pytest.approx(_logit(0.9) - _logit(0.8))


def test_arrears_reasons_without_an_amount_or_several_products() -> None:
    # a reported status without the unpaid amount, on one product
    ((only,),) = arrears_reasons(TABLE, _customer(dpd_current=5, products_in_arrears=1)[None, :])
    assert only.feature == "dpd_current"
    assert only.text == ("5 days past due (bucket 1-29; rolls to the next bucket within 30 days "
                         "with probability 20%)")
