"""The arrears track's roll-rate table: buckets, hardship, points, smoothing, metadata."""

from __future__ import annotations

import json

import numpy as np
import pytest

from stream_app.features import FEATURE_NAMES, feature_index
from stream_app.scoring import (
    BUCKETS,
    ArrearsAssessment,
    ArrearsPoint,
    arrears_points,
    bucket_of,
    fit_arrears_assessment,
    hardship,
)
from stream_app.scoring._arrears import PRIOR, PRIOR_WEIGHT

DAY_MS = 86_400_000
START = 1_767_225_600_000


def _vector(**values: float) -> np.ndarray:
    """A customer with a normal income (no hardship) and the given features."""
    row = np.zeros(len(FEATURE_NAMES))
    base = {"history_days": 200, "income_30d_minor": 250_000, "income_60d_minor": 500_000,
            "income_drop_ratio": 1.0}
    for name, value in {**base, **values}.items():
        row[feature_index(name)] = value
    return row


def _matrix(*rows: np.ndarray) -> np.ndarray:
    return np.vstack(rows)


# --- buckets and segments ----------------------------------------------------------------------

@pytest.mark.parametrize(("dpd", "bucket"), [
    (0, 0), (1, 0), (29, 0), (30, 1), (59, 1), (60, 2), (89, 2), (90, 3), (400, 3), (-3, 0),
])
def test_bucket_boundaries(dpd: int, bucket: int) -> None:
    assert bucket_of(dpd) == bucket
    # the table's lookup on feature vectors uses the same boundaries
    _, _, buckets = ArrearsAssessment.prior().assess(_matrix(_vector(dpd_current=dpd)))
    assert buckets.tolist() == [bucket]


def test_bucket_names() -> None:
    assert BUCKETS == ("1-29", "30-59", "60-89", "90+")


def test_hardship_rule() -> None:
    rows = _matrix(
        _vector(),  # 0: a normal income
        _vector(income_30d_minor=0),  # 1: no income in 30 days, 200 days of history
        _vector(income_30d_minor=0, history_days=60),  # 2: just mature enough to judge
        _vector(income_30d_minor=0, history_days=59),  # 3: too new to judge
        _vector(income_drop_ratio=0.49),  # 4: income below half the usual
        _vector(income_drop_ratio=0.5),  # 5: exactly half: not below
        _vector(salary_missed=1),  # 6: an expected salary missing
        _vector(income_30d_minor=-1),  # 7: reversed credits: nothing came in
    )
    assert hardship(rows).tolist() == [False, True, True, False, True, False, True, True]


# --- arrears points ----------------------------------------------------------------------------

def test_points_are_past_due_days_with_a_known_30_day_outcome() -> None:
    # due day 9 missed: 1 DPD on day 10, 30 on day 39, 36 on day 45, cured on day 46
    rolls = {d: d - 9 for d in range(10, 46)}
    points = arrears_points({"A": rolls}, start_ms=START, days=100, every_days=1)
    assert [p.days_past_due for p in points] == list(range(1, 37))
    assert all(p.customer_id == "A" for p in points)
    assert points[0].as_of == START + 11 * DAY_MS - 1  # the last millisecond of day 10
    by_day = {(p.as_of + 1 - START) // DAY_MS - 1: p for p in points}
    # 1-29 DPD: 30 DPD (day 39) is within 30 days of every one of them
    assert all(by_day[d].rolled for d in range(10, 39))
    # the cure on day 46 is within 30 days from day 16 on, not before
    assert [d for d in range(10, 46) if by_day[d].cured] == list(range(16, 46))
    # from 30 DPD the next bucket is 60: never reached
    assert not any(by_day[d].rolled for d in range(39, 46))


def test_roll_counts_only_within_30_days() -> None:
    # sparse reports (days without a status count as 0 DPD)
    points = arrears_points({"IN": {5: 5, 35: 30}, "OUT": {5: 5, 36: 30}}, start_ms=START,
                            days=200, every_days=1)
    first = {p.customer_id: p for p in points if p.days_past_due == 5}
    assert first["IN"].rolled  # day 35 is 30 days after day 5
    assert not first["OUT"].rolled  # day 36 is 31 days after


def test_points_need_their_outcome_inside_the_data() -> None:
    dpd = {d: d - 49 for d in range(50, 80)}  # 1 DPD on day 50 ... 30 on day 79
    points = arrears_points({"A": dpd}, start_ms=START, days=100, every_days=1)
    days = [(p.as_of + 1 - START) // DAY_MS - 1 for p in points]
    assert days == list(range(50, 70))  # day 69 + 30 = 99 is the last day; 70 + 30 is not


def test_points_every_third_past_due_day() -> None:
    dpd = {d: d - 9 for d in range(10, 30)} | {d: d - 59 for d in range(60, 70)}
    points = arrears_points({"A": dpd}, start_ms=START, days=200)
    days = [(p.as_of + 1 - START) // DAY_MS - 1 for p in points]
    past_due = sorted(dpd)
    # every third day in arrears (not every third calendar day), across both episodes
    assert days == past_due[::3] == [10, 13, 16, 19, 22, 25, 28, 61, 64, 67]


# --- the fitted table --------------------------------------------------------------------------

def _point(dpd: int, rolled: bool, cured: bool) -> ArrearsPoint:
    return ArrearsPoint("C", START, dpd, rolled, cured)


def test_cells_are_smoothed_towards_the_prior() -> None:
    assert PRIOR_WEIGHT == 10.0
    calm = _vector(dpd_current=12)
    struggling = _vector(dpd_current=40, salary_missed=1)
    points = [
        # 1-29 DPD, no hardship: 4 points, 2 rolled, 1 cured
        (_point(3, True, False), calm), (_point(12, True, False), calm),
        (_point(20, False, True), calm), (_point(29, False, False), calm),
        # 30-59 DPD with hardship: 10 points, all rolled, none cured
        *[(_point(30 + i, True, False), struggling) for i in range(10)],
    ]
    table = fit_arrears_assessment(points)
    # (hits + 10 * prior) / (n + 10)
    assert table.roll[0][0] == pytest.approx((2 + 10 * 0.25) / 14)
    assert table.cure[0][0] == pytest.approx((1 + 10 * 0.55) / 14)
    assert table.roll[1][1] == pytest.approx((10 + 10 * 0.45) / 20)  # 0.725, not 1
    assert table.cure[1][1] == pytest.approx((0 + 10 * 0.2) / 20)  # 0.1, not 0
    # cells without data are the prior
    assert table.roll[0][1] == PRIOR["1-29"][0]
    assert table.roll[2] == (PRIOR["60-89"][0],) * 2
    assert table.cure[3] == (PRIOR["90+"][1],) * 2
    assert table.counts == ((4, 0), (0, 10), (0, 0), (0, 0))


def test_the_bucket_is_the_points_days_past_due_and_the_segment_its_features() -> None:
    # a point at 31 DPD whose feature vector still says 12: counted in 30-59
    table = fit_arrears_assessment([(_point(31, True, False), _vector(dpd_current=12))])
    assert table.counts[1] == (1, 0)
    assert table.roll[1][0] == pytest.approx((1 + 10 * 0.45) / 11)


def test_assess_looks_up_each_rows_cell() -> None:
    table = ArrearsAssessment(roll=((0.2, 0.5), (0.4, 0.6), (0.6, 0.8), (0.7, 0.9)),
                              cure=((0.6, 0.3), (0.25, 0.1), (0.1, 0.05), (0.05, 0.01)))
    rows = _matrix(_vector(dpd_current=29), _vector(dpd_current=30, salary_missed=1),
                   _vector(dpd_current=65), _vector(dpd_current=120, income_drop_ratio=0.2),
                   _vector(amount_past_due_minor=5_000))  # unpaid before any status: 1-29
    roll, cure, buckets = table.assess(rows)
    assert roll.tolist() == [0.2, 0.6, 0.6, 0.9, 0.2]
    assert cure.tolist() == [0.6, 0.1, 0.1, 0.01, 0.6]
    assert buckets.tolist() == [0, 1, 2, 3, 0]


def test_bucket_rate_weighs_segments_by_their_counts() -> None:
    table = ArrearsAssessment(roll=((0.2, 0.5), (0.4, 0.6), (0.6, 0.8), (0.7, 0.9)),
                              cure=((0.6, 0.3),) * 4,
                              counts=((30, 10), (10, 0), (0, 0), (1, 3)))
    assert table.bucket_rate(0) == pytest.approx((0.2 * 30 + 0.5 * 10) / 40)
    assert table.bucket_rate(1) == pytest.approx(0.4)
    assert table.bucket_rate(2) == pytest.approx(0.7)  # no counts: the plain mean
    assert table.bucket_rate(3) == pytest.approx((0.7 + 0.9 * 3) / 4)


# --- metadata ----------------------------------------------------------------------------------

def test_metadata_round_trip_through_json() -> None:
    points = [(_point(d, d % 3 == 0, d % 4 == 0), _vector(dpd_current=d, salary_missed=d % 2))
              for d in range(1, 120)]
    table = fit_arrears_assessment(points)
    metadata = json.loads(json.dumps(table.to_metadata()))
    assert metadata["method"] == "roll_rate_table"
    assert metadata["buckets"] == list(BUCKETS)
    assert metadata["segments"] == ["no_hardship", "hardship"]
    assert metadata["outcome_days"] == 30
    assert ArrearsAssessment.from_metadata(metadata) == table
    rows = _matrix(*(vector for _, vector in points))
    for ours, theirs in zip(ArrearsAssessment.from_metadata(metadata).assess(rows),
                            table.assess(rows), strict=True):
        assert ours.tolist() == theirs.tolist()


@pytest.mark.parametrize("metadata", [None, {}, {"method": "logistic"}, "roll_rate_table"])
def test_models_without_a_table_get_the_prior(metadata: object) -> None:
    table = ArrearsAssessment.from_metadata(metadata)
    assert table == ArrearsAssessment.prior()
    roll, cure, _ = table.assess(_matrix(_vector(dpd_current=5), _vector(dpd_current=45),
                                         _vector(dpd_current=75, salary_missed=1),
                                         _vector(dpd_current=95)))
    assert roll.tolist() == [0.25, 0.45, 0.6, 0.7]
    assert cure.tolist() == [0.55, 0.2, 0.1, 0.05]
    assert table.counts == ((0, 0),) * 4


def test_fitting_nothing_gives_the_prior_values() -> None:
    table = fit_arrears_assessment([])
    assert table.roll == ArrearsAssessment.prior().roll
    assert table.cure == ArrearsAssessment.prior().cure
