"""The feature catalogue: names, reason codes and texts, and the vector it describes."""

from __future__ import annotations

from stream_app.features import (
    ARREARS_NOW,
    FEATURE_NAMES,
    FEATURES,
    CustomerState,
    feature_index,
    feature_vector,
)
from stream_app.policy import load_policy
from tests.support.events import at


def test_feature_names_are_unique_and_in_catalogue_order() -> None:
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    assert tuple(spec.name for spec in FEATURES) == FEATURE_NAMES
    for position, name in enumerate(FEATURE_NAMES):
        assert feature_index(name) == position


def test_every_feature_has_a_reason_code_and_text() -> None:
    for spec in FEATURES:
        assert spec.reason_code.startswith("R_"), spec.name
        assert spec.reason_code == spec.reason_code.upper(), spec.name
        assert spec.reason_text.strip(), spec.name
        assert spec.unit.strip(), spec.name
        assert spec.window.strip(), spec.name


def test_reason_codes_and_texts_are_unique() -> None:
    codes = [spec.reason_code for spec in FEATURES]
    texts = [spec.reason_text for spec in FEATURES]
    assert len(set(codes)) == len(codes)
    assert len(set(texts)) == len(texts)


def test_vector_length_equals_catalogue_length() -> None:
    assert len(feature_vector(CustomerState(), at(0))) == len(FEATURES)


def test_policy_actions_refer_to_catalogue_reason_codes() -> None:
    codes = {spec.reason_code for spec in FEATURES}
    assert set(load_policy().actions_by_reason) <= codes


def test_catalogue_windows_of_the_weekly_features() -> None:
    specs = {spec.name: spec for spec in FEATURES}
    trend = specs["balance_trend_minor_per_week"]
    assert (trend.unit, trend.window) == ("minor units/week", "90d")
    assert "balance_trend_30d_minor_per_day" not in specs
    assert specs["overdrawn_days_30d"].unit == "days"
    for name in ("income_30d_minor", "balance_min_30d_minor", "failed_dd_30d",
                 "nsf_declines_30d", "gambling_share_30d"):
        assert specs[name].window == "30d", name
    assert specs["income_60d_minor"].window == "60d"
    assert specs["failed_dd_90d"].window == "90d"


NEW_FEATURES = ("last_salary_ratio", "runway_days", "next_due_cover_ratio",
                "savings_drawdown_30d_minor", "new_credit_90d", "credit_limit_minor",
                "credit_limit_change_ratio", "utilisation_slope_6s",
                "statement_balance_growth_6s", "statement_paid_share", "statement_paid_share_6s",
                "payment_amount_trend_6s", "late_payments_received_6m", "months_in_arrears_6m",
                "months_in_arrears_12m", "dpd_max_12m", "amount_past_due_minor")


def test_the_catalogue_has_51_features_with_the_new_ones() -> None:
    assert len(FEATURES) == 51
    assert set(NEW_FEATURES) <= set(FEATURE_NAMES)
    assert len(NEW_FEATURES) == 17


def test_groups_and_the_arrears_now_columns() -> None:
    groups = {spec.name: spec.group for spec in FEATURES}
    assert set(groups.values()) == {"behaviour", "credit", "arrears_history", "arrears_now"}
    # only an amount past due today makes the arrears track: never a pre-delinquency reason
    assert [FEATURE_NAMES[i] for i in ARREARS_NOW] == [
        "dpd_current", "products_in_arrears", "amount_past_due_minor"]
    for name in ("late_payments_6m", "late_payments_received_6m", "months_in_arrears_6m",
                 "months_in_arrears_12m", "dpd_max_6m", "dpd_max_12m"):
        assert groups[name] == "arrears_history", name  # cured arrears: a leading signal
    for name in ("new_credit_90d", "credit_limit_minor", "credit_limit_change_ratio",
                 "utilisation_slope_6s", "statement_balance_growth_6s", "statement_paid_share",
                 "statement_paid_share_6s", "payment_amount_trend_6s"):
        assert groups[name] == "credit", name


def test_the_policy_maps_no_arrears_now_reason() -> None:
    mapped = set(load_policy().actions_by_reason)
    assert not {FEATURES[i].reason_code for i in ARREARS_NOW} & mapped
