"""Reason codes: only risk-raising contributions, at most three, largest first."""

from __future__ import annotations

import numpy as np
import pytest

from stream_app.features import FEATURE_NAMES, FEATURES, feature_index
from stream_app.scoring import MAX_REASONS, top_reasons
from tests.support.models import TrainedFixture

WIDTH = len(FEATURE_NAMES)


def _row(contributions: dict[str, float]) -> np.ndarray:
    row = np.zeros(WIDTH)
    for name, value in contributions.items():
        row[feature_index(name)] = value
    return row


def test_reasons_are_the_largest_positive_contributions_in_order() -> None:
    contributions = _row({"income_drop_ratio": 0.4, "failed_dd_30d": 0.9, "dpd_current": -2.0,
                          "revolving_utilisation": 0.1, "salary_missed": 0.6})
    values = np.arange(WIDTH, dtype=np.float64) * 10
    (reasons,) = top_reasons(contributions[None, :], values[None, :])
    assert [r.feature for r in reasons] == ["failed_dd_30d", "salary_missed",
                                            "income_drop_ratio"]
    for reason in reasons:
        spec = FEATURES[feature_index(reason.feature)]
        assert reason.code == spec.reason_code
        assert reason.text == spec.reason_text
        assert reason.value == values[feature_index(reason.feature)]
        assert reason.contribution == contributions[feature_index(reason.feature)]


def test_only_positive_contributions_are_reasons() -> None:
    contributions = np.vstack([
        _row({"failed_dd_30d": 0.5, "dpd_current": -0.5}),
        _row({"failed_dd_30d": -0.1, "dpd_current": -0.5}),
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


def test_reasons_from_real_model_contributions(trained: TrainedFixture) -> None:
    rng = np.random.default_rng(5)
    rows = np.abs(rng.normal(0, 1, (400, WIDTH))) * rng.choice([0, 1, 10, 1e4, 1e5],
                                                               (400, WIDTH))
    scored = trained.model.score(rows)
    all_reasons = top_reasons(scored.contributions, rows)
    assert len(all_reasons) == len(rows)
    assert any(all_reasons)
    for i, reasons in enumerate(all_reasons):
        positive = scored.contributions[i][scored.contributions[i] > 0]
        assert len(reasons) == min(MAX_REASONS, len(positive))
        shown = [r.contribution for r in reasons]
        assert all(c > 0 for c in shown)
        assert shown == sorted(shown, reverse=True)
        assert shown == pytest.approx(sorted(positive, reverse=True)[:MAX_REASONS])
        assert len({r.code for r in reasons}) == len(reasons)
