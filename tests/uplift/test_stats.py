"""The uplift statistics (pure): Wilson and Newcombe intervals, subjects, the report."""

from __future__ import annotations

import random

import pytest

from stream_app.uplift import (
    ALL,
    DAY_MS,
    Decision,
    Subject,
    newcombe_difference,
    subjects,
    uplift_report,
    wilson,
)


def test_wilson_matches_published_values() -> None:
    # Newcombe (1998), table I: 81/263 -> 0.2553 to 0.3662; 15/148 -> 0.0624 to 0.1605
    assert wilson(81, 263) == pytest.approx((0.2553, 0.3662), abs=5e-5)
    assert wilson(15, 148) == pytest.approx((0.0624, 0.1605), abs=5e-5)
    assert wilson(0, 10)[0] == 0.0
    assert wilson(10, 10)[1] == 1.0
    assert wilson(0, 0) == (0.0, 1.0)


def test_newcombe_hybrid_matches_the_papers_examples() -> None:
    # Newcombe (1998), table II, method 10: 56/70 - 48/80 -> 0.0524 to 0.3339;
    # 9/10 - 3/10 -> 0.1705 to 0.8090
    assert newcombe_difference(56, 70, 48, 80)[1:] == pytest.approx((0.0524, 0.3339),
                                                                     abs=5e-4)
    assert newcombe_difference(9, 10, 3, 10)[1:] == pytest.approx((0.1705, 0.8090), abs=5e-4)
    difference, low, high = newcombe_difference(5, 100, 5, 100)
    assert difference == 0.0
    assert low < 0 < high


def test_the_interval_covers_the_true_difference_about_95_percent_of_the_time() -> None:
    rng = random.Random(3)
    covered = 0
    trials = 400
    for _ in range(trials):
        x1 = sum(rng.random() < 0.30 for _ in range(300))
        x2 = sum(rng.random() < 0.20 for _ in range(200))
        _, low, high = newcombe_difference(x1, 300, x2, 200)
        covered += low <= 0.10 <= high
    assert 0.92 <= covered / trials <= 0.98


def _d(customer: str, day: int, arm: str = "TREATMENT", *, action: str = "PAYMENT_REMINDER",
       rule: str | None = None, dpd: int | None = None) -> Decision:
    return Decision(customer, day * DAY_MS, action, arm, rule, dpd)


def test_subjects_take_each_customers_first_contacting_decision() -> None:
    decisions = [
        _d("a", 5), _d("a", 1, action="INSTALMENT_PLAN"),  # a: first is day 1
        _d("b", 2, "CONTROL", rule="cooldown"), _d("b", 3, "CONTROL"),  # b: day 3 counts
        _d("c", 1, rule="opt_out"),  # c: only suppressed
        _d("d", 1, "CONTROL", rule="vulnerable"),  # d: a reroute would still contact
        _d("e", 1, dpd=31),  # e: already 30+ DPD when decided
        _d("f", 100),  # f: its 60 days end after the newest score
    ]
    reached = {"a": [62 * DAY_MS], "b": [3 * DAY_MS, 63 * DAY_MS], "d": [70 * DAY_MS]}
    members, excluded = subjects(decisions, reached, observed_until=120 * DAY_MS)
    assert members == [Subject("a", "TREATMENT", "INSTALMENT_PLAN", False),  # day 62 > 1 + 60
                       Subject("b", "CONTROL", "PAYMENT_REMINDER", True),  # day 63 <= 3 + 60
                       Subject("d", "CONTROL", "PAYMENT_REMINDER", False)]
    assert excluded == {"suppressed": 1, "already_past_due": 1, "immature": 1}
    with pytest.raises(ValueError, match="experiment_arm"):
        subjects([_d("x", 1, "SHADOW")], {})


def test_the_report_has_a_row_per_action_and_an_overall_row() -> None:
    members = ([Subject(f"t{i}", "TREATMENT", "PAYMENT_REMINDER", i < 10) for i in range(100)]
               + [Subject(f"c{i}", "CONTROL", "PAYMENT_REMINDER", i < 20) for i in range(100)]
               + [Subject(f"x{i}", "TREATMENT", "SPECIALIST_CALL", i < 1) for i in range(5)])
    rows = {row.group: row for row in uplift_report(members)}
    assert list(rows) == ["PAYMENT_REMINDER", "SPECIALIST_CALL", ALL]
    reminder = rows["PAYMENT_REMINDER"]
    assert (reminder.treatment.customers, reminder.treatment.reached) == (100, 10)
    assert (reminder.control.customers, reminder.control.reached) == (100, 20)
    assert reminder.uplift == pytest.approx(0.10)
    assert reminder.ci_low is not None
    assert reminder.ci_high is not None
    assert reminder.ci_low < 0.10 < reminder.ci_high
    call = rows["SPECIALIST_CALL"]  # no control customers: no uplift
    assert (call.uplift, call.ci_low, call.control.rate) == (None, None, None)
    overall = rows[ALL]
    assert (overall.treatment.customers, overall.treatment.reached) == (105, 11)
    assert overall.to_json()["control"] == {"customers": 100, "reached": 20, "rate": 0.2}
