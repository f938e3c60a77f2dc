"""The retraining gate's rules (stream_app.training._gate): pure, no model needed."""

from __future__ import annotations

import pytest

from stream_app.training._gate import (
    GateFigures,
    GateRules,
    decide,
    gate_cutoff,
    gate_markdown,
    gate_report,
)


def _figures(version: str, auc: float, capture: float | None) -> GateFigures:
    return GateFigures(version, auc, capture, 0 if capture is None else round(capture * 10),
                       10, 0.02, 20.0)


def test_without_a_champion_the_auc_floor_decides() -> None:
    assert decide(_figures("c", 0.6, 0.1), None, GateRules(min_auc=0.6)).promote
    refused = decide(_figures("c", 0.59, 0.9), None, GateRules(min_auc=0.6))
    assert not refused.promote
    assert [c.name for c in refused.failed] == ["auc_floor"]


@pytest.mark.parametrize(("auc", "capture", "failed"), [
    (0.80, 0.50, []),          # equal: promoted
    (0.79, 0.48, []),          # within both tolerances
    (0.7899, 0.50, ["auc"]),   # AUC just beyond its tolerance
    (0.85, 0.4799, ["capture"]),
    (0.70, 0.30, ["auc", "capture"]),
])
def test_the_candidate_may_be_worse_only_within_the_tolerances(
        auc: float, capture: float, failed: list[str]) -> None:
    rules = GateRules(auc_tolerance=0.01, capture_tolerance=0.02)
    decision = decide(_figures("new", auc, capture), _figures("old", 0.80, 0.50), rules)
    assert [c.name for c in decision.failed] == failed
    assert decision.promote is (not failed)


def test_a_capture_that_cannot_be_compared_keeps_the_champion() -> None:
    decision = decide(_figures("new", 0.9, None), _figures("old", 0.8, None))
    assert not decision.promote
    assert [c.name for c in decision.failed] == ["capture"]


def test_tolerances_are_shares() -> None:
    with pytest.raises(ValueError, match="auc_tolerance"):
        GateRules(auc_tolerance=-0.1)
    with pytest.raises(ValueError, match="min_auc"):
        GateRules(min_auc=1.5)


def test_the_cut_leaves_at_least_two_dates_on_each_side() -> None:
    days = [d * 7 for d in range(10)]
    assert gate_cutoff(days * 3, 0.3) == 49  # the latest 3 of 10 dates
    assert gate_cutoff(days, 0.01) == 56  # never fewer than 2 for the gate
    assert gate_cutoff(days, 0.99) == 14  # never fewer than 2 for training
    assert gate_cutoff(days[:3], 0.3) is None
    with pytest.raises(ValueError, match="gate share"):
        gate_cutoff(days, 1.0)


def test_the_report_names_both_models_and_the_decision() -> None:
    candidate, champion = _figures("new", 0.7, 0.3), _figures("old", 0.8, 0.5)
    rules = GateRules()
    decision = decide(candidate, champion, rules)
    report = gate_report(candidate, champion, rules, decision, archive="a.jsonl")
    assert report["decision"] == "kept_champion"
    assert report["champion"]["version"] == "old"
    assert report["archive"] == "a.jsonl"
    text = gate_markdown(report)
    assert text.startswith("# Retraining gate: kept champion")
    assert "| champion | `old` | 0.8000 | 50.0% |" in text
    assert "FAIL auc" in text
