"""The bank simulator: determinism, event order, valid events, believable delinquency, labels."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from stream_app.events import Payment
from stream_app.offline import to_event
from stream_app.simulate import (
    BankSimulator,
    CustomerTruth,
    SimulationConfig,
    labels_from_truth,
)

DAY_MS = 86_400_000
START_MS = SimulationConfig().start_ms


class Run:
    """One simulation and everything it produced."""

    def __init__(self, config: SimulationConfig) -> None:
        simulator = BankSimulator(config)
        self.config = config
        self.days = list(simulator.days())
        self.events = [event for _, events in self.days for event in events]
        self.truths = simulator.truths


@pytest.fixture(scope="module")
def large() -> Run:
    """800 customers over 200 days: enough for the delinquency rates to mean something."""
    return Run(SimulationConfig(customers=800, days=200, seed=11))


def _by_customer(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        grouped[event["customer_id"]].append(event)
    return grouped


# --- determinism -------------------------------------------------------------------------


def test_same_seed_gives_the_same_events() -> None:
    config = SimulationConfig(customers=40, days=120, seed=5)
    first = list(BankSimulator(config).events())
    second = list(BankSimulator(config).events())
    assert first
    assert first == second


def test_another_seed_gives_other_events() -> None:
    first = list(BankSimulator(SimulationConfig(customers=20, days=60, seed=5)).events())
    other = list(BankSimulator(SimulationConfig(customers=20, days=60, seed=6)).events())
    assert first != other


def test_a_customer_is_the_same_whatever_the_number_of_customers() -> None:
    few = BankSimulator(SimulationConfig(customers=3, days=150, seed=9))
    many = BankSimulator(SimulationConfig(customers=60, days=150, seed=9))
    few_events = _by_customer(list(few.events()))
    many_events = _by_customer(list(many.events()))
    for index in range(3):
        customer = f"CUST-{index:07d}"
        assert few_events[customer]
        assert few_events[customer] == many_events[customer]
        assert few.truths[index] == many.truths[index]
    assert len(many_events) > len(few_events)


# --- shape of the stream -----------------------------------------------------------------


def test_events_come_in_event_time_order(large: Run) -> None:
    times = [event["occurred_at"] for event in large.events]
    assert times == sorted(times)
    assert [day for day, _ in large.days] == list(range(large.config.days))
    for day, events in large.days:
        start = large.config.start_ms + day * DAY_MS
        assert all(start <= e["occurred_at"] < start + DAY_MS for e in events)


def test_every_generated_record_is_a_valid_event(large: Run) -> None:
    kinds: set[str] = set()
    types: set[str] = set()
    for record in large.events:
        event = to_event(record)  # raises an InputError for anything off-contract
        assert event.customer_id == record["customer_id"]
        assert event.event_id == record["event_id"]
        types.add(record["type"])
        if isinstance(event, Payment):
            kinds.add(event.kind)
    assert types == {"transaction", "payment"}
    assert kinds == {"STATEMENT_ISSUED", "INSTALMENT_DUE", "PAYMENT_RECEIVED", "PAYMENT_FAILED",
                     "DELINQUENCY_STATUS"}


def test_event_ids_are_unique(large: Run) -> None:
    ids = [event["event_id"] for event in large.events]
    assert len(ids) == len(set(ids))


def test_reported_days_past_due_are_the_ground_truth(large: Run) -> None:
    reported: dict[tuple[str, int], int] = defaultdict(int)
    for event in large.events:
        if event.get("kind") == "DELINQUENCY_STATUS":
            day = (event["occurred_at"] - large.config.start_ms) // DAY_MS
            key = (event["customer_id"], day)
            reported[key] = max(reported[key], event["days_past_due"])
    truth = {(t.customer_id, day): dpd for t in large.truths for day, dpd in t.dpd_by_day.items()}
    assert truth
    assert {key: dpd for key, dpd in reported.items() if dpd > 0} == truth


# --- delinquency -------------------------------------------------------------------------


def _reaches_30(truth: CustomerTruth) -> bool:
    return any(dpd >= 30 for dpd in truth.dpd_by_day.values())


def test_some_customers_reach_30_days_past_due_and_most_do_not(large: Run) -> None:
    delinquent = sum(_reaches_30(t) for t in large.truths)
    assert delinquent >= 10
    assert delinquent < len(large.truths) * 0.25


def test_stressed_customers_become_delinquent_more_often(large: Run) -> None:
    stressed = [t for t in large.truths if t.stress_kind is not None]
    calm = [t for t in large.truths if t.stress_kind is None]
    assert len(stressed) >= 80
    assert len(calm) >= 400
    stressed_rate = sum(map(_reaches_30, stressed)) / len(stressed)
    calm_rate = sum(map(_reaches_30, calm)) / len(calm)
    assert stressed_rate > 2 * calm_rate
    assert calm_rate > 0  # confounders: not every delinquency is announced by a stress episode


def test_delinquency_of_stressed_customers_follows_the_stress(large: Run) -> None:
    stressed_delinquent = [t for t in large.truths
                           if t.stress_kind is not None and _reaches_30(t)]
    assert stressed_delinquent
    after_stress = 0
    for truth in stressed_delinquent:
        assert truth.stress_day is not None
        first = truth.first_day_at_dpd(30)
        assert first is not None
        after_stress += first > truth.stress_day
    assert after_stress >= 0.8 * len(stressed_delinquent)


def test_first_day_at_dpd() -> None:
    truth = CustomerTruth("C1", dpd_by_day={10: 5, 40: 30, 41: 31, 90: 45})
    assert truth.first_day_at_dpd(30) == 40
    assert truth.first_day_at_dpd(30, after_day=41) == 90
    assert truth.first_day_at_dpd(60) is None
    assert truth.first_day_at_dpd(1) == 10


# --- labels ------------------------------------------------------------------------------


def test_labels_from_a_hand_made_truth() -> None:
    reaches_30_on_day_100 = CustomerTruth(
        "C-LATE", dpd_by_day={d: d - 70 for d in range(71, 121)}  # 30 dpd on day 100
    )
    already_delinquent_at_88 = CustomerTruth(
        "C-EARLY", dpd_by_day={d: d - 50 for d in range(51, 95)}  # 30 dpd from day 80 to 94
    )
    never = CustomerTruth("C-NEVER", dpd_by_day={20: 29, 21: 12})
    labels = labels_from_truth(
        [reaches_30_on_day_100, already_delinquent_at_88, never], start_ms=START_MS, days=200
    )

    def end_of(day: int) -> int:
        return START_MS + (day + 1) * DAY_MS - 1

    # as-of days 60, 74, ..., 130: the 60-day outcome window must end by day 199
    assert {lb.as_of for lb in labels} == {end_of(d) for d in (60, 74, 88, 102, 116, 130)}
    late = [(lb.as_of, lb.label) for lb in labels if lb.customer_id == "C-LATE"]
    # days 60-88 see day 100 within 60 days; 102 and 116 are already at 32 and 46 dpd: left out
    assert late == [(end_of(60), 1), (end_of(74), 1), (end_of(88), 1), (end_of(130), 0)]
    early = [(lb.as_of, lb.label) for lb in labels if lb.customer_id == "C-EARLY"]
    # day 60: reaches 30 on day 80 (within 60 days); 74: on day 80; 88: already at 38, left out
    assert early == [(end_of(60), 1), (end_of(74), 1), (end_of(102), 0), (end_of(116), 0),
                     (end_of(130), 0)]
    never_labels = [lb for lb in labels if lb.customer_id == "C-NEVER"]
    assert [lb.label for lb in never_labels] == [0] * 6


def test_label_horizon_and_threshold_are_respected() -> None:
    truth = CustomerTruth("C1", dpd_by_day={100: 30})
    labels = labels_from_truth([truth], start_ms=START_MS, days=200, first_day=39,
                               every_days=1, horizon_days=60, threshold_dpd=30)
    positive_days = [(lb.as_of + 1 - START_MS) // DAY_MS - 1 for lb in labels if lb.label]
    assert positive_days == list(range(40, 100))  # window (d, d + 60] contains day 100
    assert all(lb.label == 0 for lb in labels_from_truth(
        [truth], start_ms=START_MS, days=200, threshold_dpd=31))


def test_labels_from_the_simulation_match_the_truth(large: Run) -> None:
    config = large.config
    labels = labels_from_truth(large.truths, start_ms=config.start_ms, days=config.days)
    truths = {t.customer_id: t for t in large.truths}
    seen: dict[str, list[int]] = defaultdict(list)
    for label in labels:
        assert (label.as_of + 1 - config.start_ms) % DAY_MS == 0  # last ms of a day
        day = (label.as_of + 1 - config.start_ms) // DAY_MS - 1
        assert day + 60 <= config.days - 1  # the outcome is known
        dpd = truths[label.customer_id].dpd_by_day
        assert dpd.get(day, 0) < 30  # already delinquent points are excluded
        expected = int(any(dpd.get(d, 0) >= 30 for d in range(day + 1, day + 61)))
        assert label.label == expected
        seen[label.customer_id].append(day)
    for customer, truth in truths.items():
        candidates = [d for d in range(60, config.days - 60, 14)
                      if truth.dpd_by_day.get(d, 0) < 30]
        assert seen[customer] == candidates
    positives = sum(label.label for label in labels)
    assert 0 < positives < len(labels) / 4
