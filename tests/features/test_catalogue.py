"""The feature catalogue: names, reason codes and texts, and the vector it describes."""

from __future__ import annotations

from stream_app.features import (
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
