"""The retraining gate: does a candidate replace the champion? (pure logic, no I/O)

``predelinq retrain`` trains a candidate on the earlier part of an event archive and measures
the candidate and the champion on the same later, out-of-time part: ROC-AUC on its labelled
current points and capture while current at the operating threshold (the share of future
30-days-past-due customers flagged before the missed due date that led there). The candidate
is promoted when it is no worse than the champion beyond a tolerance on both figures, or, when
there is no champion yet, when its AUC reaches a floor.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["GateCheck", "GateDecision", "GateFigures", "GateRules", "decide", "gate_cutoff",
           "gate_markdown", "gate_report"]


@dataclass(frozen=True)
class GateFigures:
    """One model measured on the gate slice."""

    version: str
    roc_auc: float
    capture_rate: float | None  # None: no future delinquent in the gate window
    captured: int
    positives: int  # future delinquents whose missed due date is in the gate window
    false_alarm_rate: float
    contacts_per_1000_month: float


@dataclass(frozen=True)
class GateRules:
    auc_tolerance: float = 0.01  # candidate AUC >= champion AUC - this
    capture_tolerance: float = 0.02  # candidate capture >= champion capture - this
    min_auc: float = 0.6  # without a champion: candidate AUC >= this

    def __post_init__(self) -> None:
        for name in ("auc_tolerance", "capture_tolerance", "min_auc"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")


@dataclass(frozen=True)
class GateCheck:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    checks: tuple[GateCheck, ...]

    @property
    def failed(self) -> tuple[GateCheck, ...]:
        return tuple(c for c in self.checks if not c.passed)


def decide(candidate: GateFigures, champion: GateFigures | None,
           rules: GateRules = GateRules()) -> GateDecision:
    """Promote when every check passes. A capture that cannot be compared (no future
    delinquent in the gate window) fails its check: the champion is kept without evidence."""
    if champion is None:
        passed = candidate.roc_auc >= rules.min_auc
        return GateDecision(passed, (GateCheck(
            "auc_floor", passed, f"no champion: candidate AUC {candidate.roc_auc:.4f} "
                                 f"{'>=' if passed else '<'} floor {rules.min_auc:.4f}"),))
    auc_bar = champion.roc_auc - rules.auc_tolerance
    auc_ok = candidate.roc_auc >= auc_bar
    checks = [GateCheck("auc", auc_ok, (
        f"candidate AUC {candidate.roc_auc:.4f} {'>=' if auc_ok else '<'} champion "
        f"{champion.roc_auc:.4f} - {rules.auc_tolerance:.4f}"))]
    if candidate.capture_rate is None or champion.capture_rate is None:
        checks.append(GateCheck("capture", False, "no future delinquent in the gate window: "
                                                  "capture cannot be compared"))
    else:
        capture_ok = candidate.capture_rate >= champion.capture_rate - rules.capture_tolerance
        checks.append(GateCheck("capture", capture_ok, (
            f"candidate capture {candidate.capture_rate:.4f} {'>=' if capture_ok else '<'} "
            f"champion {champion.capture_rate:.4f} - {rules.capture_tolerance:.4f}")))
    return GateDecision(all(c.passed for c in checks), tuple(checks))


def gate_cutoff(as_of: Iterable[int], share: float) -> int | None:
    """The first as-of time of the latest ``share`` of the distinct as-of times: points from
    it on are the gate slice, earlier ones train the candidate. None when either side would
    hold fewer than 2 distinct times."""
    if not 0.0 < share < 1.0:
        raise ValueError(f"the gate share must be between 0 and 1, got {share}")
    times = sorted(set(as_of))
    if len(times) < 4:
        return None
    return times[min(len(times) - 2, max(2, round(len(times) * (1 - share))))]


def gate_report(candidate: GateFigures, champion: GateFigures | None, rules: GateRules,
                decision: GateDecision, **context: Any) -> dict[str, Any]:
    """The JSON report: both models' figures, the rules, every check and the decision."""
    return {
        "decision": "promoted" if decision.promote else "kept_champion",
        "candidate": asdict(candidate),
        "champion": asdict(champion) if champion is not None else None,
        "rules": asdict(rules),
        "checks": [asdict(c) for c in decision.checks],
        **context,
    }


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def gate_markdown(report: dict[str, Any]) -> str:
    """A short Markdown rendering of :func:`gate_report`'s dictionary."""
    candidate, champion = report["candidate"], report["champion"]
    lines = [f"# Retraining gate: {report['decision'].replace('_', ' ')}", ""]
    for key in ("archive", "gate_slice", "threshold"):
        if key in report:
            lines.append(f"* {key.replace('_', ' ')}: {report[key]}")
    lines += ["", "| model | version | ROC-AUC | capture while current | captured / positives "
                  "| false alarms | contacts per 1,000 per month |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, figures in (("candidate", candidate), ("champion", champion)):
        if figures is None:
            lines.append(f"| {name} | none | | | | | |")
            continue
        lines.append(
            f"| {name} | `{figures['version']}` | {figures['roc_auc']:.4f} | "
            f"{_rate(figures['capture_rate'])} | {figures['captured']} / "
            f"{figures['positives']} | {_rate(figures['false_alarm_rate'])} | "
            f"{figures['contacts_per_1000_month']:.1f} |")
    lines += ["", "Checks:", ""]
    lines += [f"* {'pass' if c['passed'] else 'FAIL'} {c['name']}: {c['detail']}"
              for c in report["checks"]]
    return "\n".join(lines) + "\n"
