"""The bank simulator: determinism, event order, valid events, scenarios, believable
delinquency and signals, and labels only where the customer is current."""

from __future__ import annotations

from collections import Counter, defaultdict
from statistics import median
from typing import Any

import pytest

from stream_app.events import Payment
from stream_app.offline import to_event
from stream_app.simulate import (
    SCENARIOS,
    TARGETS,
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
    """800 customers over 300 days: enough for the delinquency rates to mean something."""
    return Run(SimulationConfig(customers=800, days=300, seed=11))


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



def test_card_statements_in_credit_occur_and_are_valid_events(large: Run) -> None:
    # refunds and returned purchases can leave a card in credit: a negative statement balance
    in_credit = [e for e in large.events if e.get("kind") == "STATEMENT_ISSUED"
                 and e["statement_balance_minor"] < 0]
    assert len(in_credit) >= 20
    for record in in_credit:
        assert record["minimum_due_minor"] == 0  # nothing to pay on a card in credit
        event = to_event(record)
        assert isinstance(event, Payment)
        assert event.statement_balance_minor == record["statement_balance_minor"] < 0


def test_events_per_customer_per_month_are_realistic(large: Run) -> None:
    months = large.config.days / 30
    transactions: Counter[str] = Counter()
    payments: Counter[str] = Counter()
    for event in large.events:
        (transactions if event["type"] == "transaction" else payments)[event["customer_id"]] += 1
    assert len(transactions) == large.config.customers  # every customer is active
    per_month = sorted(n / months for n in transactions.values())
    # a current account with a card: a few dozen transactions a month, rarely under 15
    assert 30 <= median(per_month) <= 90
    assert per_month[len(per_month) // 20] >= 15
    assert per_month[-1] <= 200
    # credit products: statements, instalments, payments and arrears statuses
    assert 1 <= sum(payments.values()) / len(transactions) / months <= 10


# --- scenarios ---------------------------------------------------------------------------


def test_scenarios_and_their_overrides() -> None:
    assert set(SCENARIOS) == {"reference", "hard"}
    assert SimulationConfig().profile == SCENARIOS["reference"]
    assert SimulationConfig(scenario="hard").profile == SCENARIOS["hard"]
    overridden = SimulationConfig(scenario="hard", stress_share=0.5).profile
    assert overridden.stress_share == 0.5
    assert overridden.technical_miss == SCENARIOS["hard"].technical_miss
    with pytest.raises(ValueError, match="unknown scenario 'easy'"):
        SimulationConfig(scenario="easy")
    with pytest.raises(ValueError, match="stress_share"):
        SimulationConfig(stress_share=1.5)


def test_the_stress_share_decides_who_is_stressed() -> None:
    nobody = BankSimulator(SimulationConfig(customers=60, days=200, seed=4, stress_share=0.0))
    everybody = BankSimulator(SimulationConfig(customers=60, days=200, seed=4, stress_share=1.0))
    assert all(t.stress_kind is None for t in nobody.truths)
    kinds = [t.stress_kind for t in everybody.truths]
    assert None not in kinds
    assert len(set(kinds)) == 4  # every kind of stress occurs
    for truth in everybody.truths:  # after a month, leaving 90 days to see what follows
        assert truth.stress_day is not None
        assert 30 <= truth.stress_day <= 200 - 90
    # too short a run for an episode and its outcome: nobody is stressed
    short = BankSimulator(SimulationConfig(customers=20, days=75, seed=4, stress_share=1.0))
    assert all(t.stress_kind is None for t in short.truths)


def _miss_share(truths: list[CustomerTruth]) -> float:
    return sum(bool(t.dpd_by_day) for t in truths) / len(truths)


def test_the_hard_scenario_is_noisier_than_the_reference(large: Run) -> None:
    config = SimulationConfig(customers=large.config.customers, days=large.config.days,
                              seed=large.config.seed, scenario="hard")
    simulator = BankSimulator(config)
    bnpl = 0
    events = 0
    first_day: list[dict[str, Any]] = []
    for day, day_events in simulator.days():
        events += len(day_events)
        bnpl += sum(1 for e in day_events if e.get("category") == "BNPL")
        if day == 0:
            first_day = day_events
    assert first_day != large.days[0][1]
    hard_calm = [t for t in simulator.truths if t.stress_kind is None]
    reference_calm = [t for t in large.truths if t.stress_kind is None]
    # twice the forgetful payers and three times the late salaries: customers without any
    # stress miss payments more often
    assert _miss_share(hard_calm) > 1.3 * _miss_share(reference_calm)
    # more healthy buy-now-pay-later users (a signal that is noise)
    reference_bnpl = sum(1 for e in large.events if e.get("category") == "BNPL")
    assert bnpl > 1.3 * reference_bnpl
    # fewer customers stressed
    hard_stressed = sum(t.stress_kind is not None for t in simulator.truths)
    reference_stressed = sum(t.stress_kind is not None for t in large.truths)
    assert hard_stressed < reference_stressed
    assert 0.5 < events / len(large.events) < 1.5  # the same bank, otherwise


# --- delinquency -------------------------------------------------------------------------


def _reaches_30(truth: CustomerTruth) -> bool:
    return any(dpd >= 30 for dpd in truth.dpd_by_day.values())


def _missed_due_day(truth: CustomerTruth) -> int | None:
    """The due date whose miss led to 30 DPD: the first 30-DPD day minus its DPD."""
    reached = [d for d, dpd in truth.dpd_by_day.items() if dpd >= 30]
    if not reached:
        return None
    return min(reached) - truth.dpd_by_day[min(reached)]


def test_some_customers_reach_30_days_past_due_and_most_do_not(large: Run) -> None:
    delinquent = sum(_reaches_30(t) for t in large.truths)
    # a few percent of a retail book over ten months
    assert 0.01 * len(large.truths) <= delinquent <= 0.12 * len(large.truths)
    # many more miss a payment than reach 30 DPD: most misses are cured
    missed = sum(bool(t.dpd_by_day) for t in large.truths)
    assert missed > 2 * delinquent


def test_stressed_customers_become_delinquent_more_often(large: Run) -> None:
    stressed = [t for t in large.truths if t.stress_kind is not None]
    calm = [t for t in large.truths if t.stress_kind is None]
    assert 0.15 * len(large.truths) <= len(stressed) <= 0.35 * len(large.truths)
    stressed_rate = sum(map(_reaches_30, stressed)) / len(stressed)
    calm_rate = sum(map(_reaches_30, calm)) / len(calm)
    assert stressed_rate > 4 * calm_rate
    assert stressed_rate > 0.05
    # confounders: customers without stress miss payments too (and mostly cure)
    assert _miss_share(calm) > 0.03
    assert calm_rate < _miss_share(calm) / 3


def test_delinquency_of_stressed_customers_follows_the_stress(large: Run) -> None:
    stressed_delinquent = [t for t in large.truths
                           if t.stress_kind is not None and _reaches_30(t)]
    assert len(stressed_delinquent) >= 10
    after_stress = 0
    for truth in stressed_delinquent:
        assert truth.stress_day is not None
        missed = _missed_due_day(truth)
        assert missed is not None
        after_stress += missed > truth.stress_day
    assert after_stress >= 0.8 * len(stressed_delinquent)


def _distress_days(events: list[dict[str, Any]], start_ms: int) -> dict[str, set[int]]:
    """Days each customer shows a signal the bank can see: a direct debit returned unpaid,
    a payment declined for insufficient funds, or the account overdrawn."""
    days: dict[str, set[int]] = defaultdict(set)
    for e in events:
        returned = e.get("channel") == "DIRECT_DEBIT" and e.get("status") == "RETURNED"
        declined = e.get("status") == "DECLINED" and e.get("decline_reason") == \
            "INSUFFICIENT_FUNDS"
        overdrawn = e["type"] == "transaction" and e["balance_after_minor"] < 0
        if returned or declined or overdrawn:
            days[e["customer_id"]].add((e["occurred_at"] - start_ms) // DAY_MS)
    return days


def test_signals_precede_the_miss_of_stressed_customers(large: Run) -> None:
    signals = _distress_days(large.events, large.config.start_ms)
    cases = [(t, day) for t in large.truths if t.stress_kind is not None
             and (day := _missed_due_day(t)) is not None and day >= 90]
    assert len(cases) >= 10
    shown = sum(any(day - 90 <= d < day for d in signals[t.customer_id]) for t, day in cases)
    # customers who never miss show the same signals in a 90-day window far less often
    clean = [t for t in large.truths if not t.dpd_by_day and t.stress_kind is None]
    noise = sum(any(150 <= d < 240 for d in signals[t.customer_id]) for t in clean)
    assert shown / len(cases) >= 0.7
    assert shown / len(cases) > 2 * noise / len(clean)
    assert noise > 0  # the signals are noisy: healthy customers show them too


def test_first_day_at_dpd() -> None:
    truth = CustomerTruth("C1", dpd_by_day={10: 5, 40: 30, 41: 31, 90: 45})
    assert truth.first_day_at_dpd(30) == 40
    assert truth.first_day_at_dpd(30, after_day=41) == 90
    assert truth.first_day_at_dpd(60) is None
    assert truth.first_day_at_dpd(1) == 10


# --- labels ------------------------------------------------------------------------------


def _end_of(day: int) -> int:
    return START_MS + (day + 1) * DAY_MS - 1


def _day_of(as_of: int) -> int:
    return (as_of + 1 - START_MS) // DAY_MS - 1


def _labels_by_customer(truths: list[CustomerTruth], days: int,
                        target: str = "dpd30") -> dict[str, list[tuple[int, int]]]:
    result: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for label in labels_from_truth(truths, start_ms=START_MS, days=days, target=target):
        result[label.customer_id].append((_day_of(label.as_of), label.label))
    return result


# 250 days: the 90-day outcome window of an as-of day must end by day 249, so the as-of days
# are 60, 67, ..., 158 (every 7 days from day 60)
GRID = list(range(60, 159, 7))


def test_labels_are_taken_every_7_days_from_day_60_while_the_outcome_is_known() -> None:
    labels = labels_from_truth([CustomerTruth("C-NEVER")], start_ms=START_MS, days=250)
    assert [_day_of(lb.as_of) for lb in labels] == GRID
    # two days fewer: day 158 + 90 is past the last day (247), so the grid ends at 151
    shorter = labels_from_truth([CustomerTruth("C-NEVER")], start_ms=START_MS, days=248)
    assert [_day_of(lb.as_of) for lb in shorter] == GRID[:-1]
    assert all(lb.as_of == _end_of(_day_of(lb.as_of)) for lb in labels)  # last ms of a day
    assert all(lb.label == 0 for lb in labels)


def test_labels_only_where_the_customer_is_current() -> None:
    # missed due date day 100: 1 DPD on day 101 ... 30 DPD on day 130, then cured
    late = CustomerTruth("C-LATE", dpd_by_day={100 + k: k for k in range(1, 31)})
    labels = _labels_by_customer([late], 250)["C-LATE"]
    # 109, 116, 123 and 130 are in arrears: the arrears track, not pre-delinquency points;
    # 102 is too (2 DPD)
    assert [d for d, _ in labels] == [60, 67, 74, 81, 88, 95, 137, 144, 151, 158]
    # day 130 (30 DPD) is within 90 days of every current point before the miss
    assert labels == [(60, 1), (67, 1), (74, 1), (81, 1), (88, 1), (95, 1),
                      (137, 0), (144, 0), (151, 0), (158, 0)]


def test_label_horizon_is_90_days() -> None:
    inside = CustomerTruth("IN", dpd_by_day={150: 30})  # sparse: 30 DPD on day 150 only
    outside = CustomerTruth("OUT", dpd_by_day={151: 30})
    labels = _labels_by_customer([inside, outside], 250)
    # as-of day 60: the window (60, 150] holds day 150 but not day 151
    assert labels["IN"][0] == (60, 1)
    assert labels["OUT"][0] == (60, 0)
    assert labels["IN"] == [(d, int(d < 150)) for d in GRID]
    # day 151 is on the grid and in arrears for OUT: left out
    assert [d for d, _ in labels["OUT"]] == [d for d in GRID if d != 151]
    assert [lb for d, lb in labels["OUT"] if d in (67, 144, 158)] == [1, 1, 0]


def test_the_two_targets() -> None:
    assert TARGETS == ("dpd30", "first_miss")
    # a short miss cured at 6 DPD (due day 69), and a miss that goes on to 30 DPD
    short = CustomerTruth("SHORT", dpd_by_day={69 + k: k for k in range(1, 7)})
    serious = CustomerTruth("SERIOUS", dpd_by_day={100 + k: k for k in range(1, 31)})
    dpd30 = _labels_by_customer([short, serious], 250, "dpd30")
    first_miss = _labels_by_customer([short, serious], 250, "first_miss")
    # day 74 is in arrears (5 DPD): no point; the cured miss is never a 30-DPD positive
    assert dpd30["SHORT"] == [(d, 0) for d in GRID if d != 74]
    # ... but it is a missed payment: positive from the points within 90 days before it
    assert first_miss["SHORT"] == [(60, 1), (67, 1), *((d, 0) for d in GRID if d > 74)]
    # first_miss: 1 DPD on day 101 is within 90 days of days 11-100
    assert first_miss["SERIOUS"] == dpd30["SERIOUS"]
    with pytest.raises(ValueError, match="target"):
        labels_from_truth([short], start_ms=START_MS, days=250, target="dpd60")


def test_label_parameters_are_respected() -> None:
    truth = CustomerTruth("C1", dpd_by_day={100: 30})
    labels = labels_from_truth([truth], start_ms=START_MS, days=200, first_day=39,
                               every_days=1, horizon_days=60, threshold_dpd=30)
    positive_days = [_day_of(lb.as_of) for lb in labels if lb.label]
    assert positive_days == list(range(40, 100))  # window (d, d + 60] contains day 100
    assert all(lb.label == 0 for lb in labels_from_truth(
        [truth], start_ms=START_MS, days=200, threshold_dpd=31))
    # too short a run for any 90-day outcome after day 60: no labels
    assert labels_from_truth([truth], start_ms=START_MS, days=150) == []
    assert len(labels_from_truth([truth], start_ms=START_MS, days=151)) == 1


@pytest.mark.parametrize("target", TARGETS)
def test_labels_from_the_simulation_match_the_truth(large: Run, target: str) -> None:
    config = large.config
    threshold = 30 if target == "dpd30" else 1
    labels = labels_from_truth(large.truths, start_ms=config.start_ms, days=config.days,
                               target=target)
    truths = {t.customer_id: t for t in large.truths}
    seen: dict[str, list[int]] = defaultdict(list)
    for label in labels:
        assert (label.as_of + 1 - config.start_ms) % DAY_MS == 0  # last ms of a day
        day = (label.as_of + 1 - config.start_ms) // DAY_MS - 1
        assert day + 90 <= config.days - 1  # the outcome is known
        dpd = truths[label.customer_id].dpd_by_day
        assert dpd.get(day, 0) == 0  # current on the as-of day
        expected = int(any(dpd.get(d, 0) >= threshold for d in range(day + 1, day + 91)))
        assert label.label == expected
        seen[label.customer_id].append(day)
    for customer, truth in truths.items():
        candidates = [d for d in range(60, config.days - 90, 7)
                      if truth.dpd_by_day.get(d, 0) == 0]
        assert seen[customer] == candidates
    share = sum(label.label for label in labels) / len(labels)
    assert 0 < share < (0.05 if target == "dpd30" else 0.25)


def test_a_missed_payment_is_more_common_than_30_days_past_due(large: Run) -> None:
    def share(target: str) -> float:
        labels = labels_from_truth(large.truths, start_ms=START_MS, days=large.config.days,
                                   target=target)
        return sum(lb.label for lb in labels) / len(labels)

    assert share("first_miss") > 3 * share("dpd30")
