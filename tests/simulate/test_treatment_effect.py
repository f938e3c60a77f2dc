"""The simulator's true treatment effect, recovered by the uplift statistics (no Kafka)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest

from stream_app.cli import main
from stream_app.events import RecordType
from stream_app.policy import in_control_group, load_policy
from stream_app.serializers import OutputEncoder, SchemaCatalog
from stream_app.simulate import (
    DAY_MS,
    BankSimulator,
    CustomerTruth,
    SimulationConfig,
    outcome_events,
    uplift_subjects,
)
from stream_app.sink import RowDecoder
from stream_app.uplift import ALL, uplift_report

# every customer stressed and half of them in the control arm: enough misses in both arms
# for a narrow interval in a few seconds
BASE: dict[str, Any] = {"customers": 1000, "days": 180, "seed": 11, "stress_share": 1.0,
                        "control_fraction": 0.5}
EFFECT = 0.5
BASE_START = SimulationConfig().start_ms
Run = tuple[list[CustomerTruth], dict[str, list[dict[str, Any]]]]


def _run(effect: float) -> Run:
    simulator = BankSimulator(SimulationConfig(**BASE, treatment_effect=effect))
    by_customer: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in simulator.events():
        by_customer[event["customer_id"]].append(event)
    return simulator.truths, by_customer


@pytest.fixture(scope="module")
def runs() -> dict[float, Run]:
    return {0.0: _run(0.0), EFFECT: _run(EFFECT)}


def test_arms_are_the_workers_and_the_default_effect_changes_nothing() -> None:
    config = SimulationConfig(customers=50, days=10, seed=3)
    policy = load_policy().experiment
    assert config.experiment == (policy.id, policy.control_fraction)
    simulator = BankSimulator(config)
    events = list(simulator.events())
    for truth in simulator.truths:
        control = in_control_group(truth.customer_id, policy.id, policy.control_fraction)
        assert truth.arm == ("CONTROL" if control else "TREATMENT")
        assert truth.cured is None
    assert events == list(BankSimulator(SimulationConfig(customers=50, days=10, seed=3,
                                                         treatment_effect=0.0)).events())
    with pytest.raises(ValueError, match="treatment_effect"):
        SimulationConfig(treatment_effect=1.5)


def test_the_effect_touches_only_treated_customers_after_their_first_miss(
        runs: dict[float, Run]) -> None:
    (truths0, events0), (truths1, events1) = runs[0.0], runs[EFFECT]
    changed = 0
    for before, after in zip(truths0, truths1, strict=True):
        first_miss = before.first_day_at_dpd(1)
        assert after.first_day_at_dpd(1) == first_miss  # the same first miss
        if before.arm == "CONTROL" or first_miss is None:
            assert events1[before.customer_id] == events0[before.customer_id]
            assert after.dpd_by_day == before.dpd_by_day
            continue
        cutoff = BASE_START + first_miss * DAY_MS
        assert [e for e in events1[before.customer_id] if e["occurred_at"] < cutoff] == [
            e for e in events0[before.customer_id] if e["occurred_at"] < cutoff]
        if after.cured:
            assert max(after.dpd_by_day.values()) < 30  # cured before reaching 30 DPD
            changed += after.dpd_by_day != before.dpd_by_day
    assert changed > 0



def test_uplift_recovers_the_true_effect_within_its_interval(runs: dict[float, Run]) -> None:
    days = BASE["days"]
    untreated = uplift_subjects(runs[0.0][0], days)
    treated = uplift_subjects(runs[EFFECT][0], days)
    assert [(s.customer_id, s.arm) for s in treated] == [
        (s.customer_id, s.arm) for s in untreated]  # the same subjects, the same arms
    arms = {s.arm for s in treated}
    assert arms == {"TREATMENT", "CONTROL"}

    # effect 0: the arms differ by chance only
    null = next(r for r in uplift_report(untreated) if r.group == ALL)
    assert null.ci_low is not None
    assert null.ci_high is not None
    assert null.ci_low < 0 < null.ci_high

    # the truth: without treatment a share p0 of these customers reaches 30+ DPD; a treated
    # customer is cured with probability EFFECT, so the population uplift is EFFECT * p0
    p0 = sum(s.reached for s in untreated) / len(untreated)
    true_uplift = EFFECT * p0
    row = next(r for r in uplift_report(treated) if r.group == ALL)
    assert row.uplift is not None
    assert row.ci_low is not None
    assert row.ci_high is not None
    assert row.ci_low <= true_uplift <= row.ci_high
    # and detected: about 90 customers per arm give this size of effect a power of about
    # 0.7, so this holds for the fixed seed, not for every seed
    assert row.ci_low > 0
    assert row.control.customers > 50
    assert row.treatment.customers > 50
    # about EFFECT of the treated customers who miss are cured
    cured = [t.cured for t in runs[EFFECT][0] if t.arm == "TREATMENT" and t.cured is not None]
    assert abs(sum(cured) / len(cured) - EFFECT) < 0.1


def test_outcome_events_follow_the_contacts_and_fit_the_contract() -> None:
    interventions = [
        {"intervention_id": f"0b6f4d52-3f1e-5d3a-9a6e-{i:012d}", "customer_id": f"CUST-{i}",
         "created_at": BASE_START + i * DAY_MS, "action": "INSTALMENT_PLAN",
         "channel": "CALL" if i % 2 else "SMS",
         "experiment_arm": "CONTROL" if i % 10 == 0 else "TREATMENT",
         "actionable": i % 7 != 0}
        for i in range(200)]
    outcomes = outcome_events(interventions, seed=5)
    assert outcomes == outcome_events(interventions, seed=5)  # deterministic
    contacted = {i["intervention_id"] for i in interventions
                 if i["experiment_arm"] == "TREATMENT" and i["actionable"]}
    assert {o["intervention_id"] for o in outcomes if o["outcome"] == "CONTACTED"} == contacted
    assert {o["intervention_id"] for o in outcomes} == contacted  # nobody else hears from us
    kinds = {o["outcome"] for o in outcomes}
    assert {"CONTACTED", "REACHED", "ACCEPTED_PLAN", "PAYMENT_MADE"} <= kinds
    assert len({o["event_id"] for o in outcomes}) == len(outcomes)
    created = {i["intervention_id"]: i["created_at"] for i in interventions}
    assert all(o["occurred_at"] > created[o["intervention_id"]] for o in outcomes)
    # every outcome is a valid InterventionOutcome the audit sink stores
    encoder, decoder = OutputEncoder(SchemaCatalog.default(), "avro"), RowDecoder()
    for o in outcomes:
        row = decoder.outcome_row(encoder.encode(RecordType.INTERVENTION_OUTCOME, o))
        assert (row.amount_minor is not None) == (o["outcome"] == "PAYMENT_MADE")


def test_the_cli_writes_outcomes_for_published_interventions(tmp_path: Path) -> None:
    decisions = tmp_path / "interventions.jsonl"
    decisions.write_bytes(b"".join(orjson.dumps({
        "intervention_id": f"0b6f4d52-3f1e-5d3a-9a6e-{i:012d}", "customer_id": f"CUST-{i}",
        "created_at": BASE_START, "action": "PAYMENT_REMINDER", "channel": "SMS",
        "experiment_arm": "TREATMENT", "actionable": True}) + b"\n" for i in range(20)))
    out = tmp_path / "outcomes.jsonl"
    assert main(["simulate", "--outcomes-for", str(decisions), "--out", str(out)]) == 0
    written = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert sum(o["outcome"] == "CONTACTED" for o in written) == 20
    assert main(["simulate", "--outcomes-for", str(tmp_path / "missing.jsonl"),
                 "--out", str(out)]) == 2
    events = tmp_path / "events.jsonl"
    assert main(["simulate", "--customers", "5", "--days", "3", "--treatment-effect", "0.5",
                 "--out", str(events)]) == 0
    assert main(["simulate", "--customers", "5", "--days", "3", "--treatment-effect", "2",
                 "--out", str(events)]) == 2
