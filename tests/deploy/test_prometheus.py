"""Alert rules: `promtool check rules` and `promtool test rules` (Debian's `prometheus` package;
scripts/ensure-system.sh installs it), and the rules' coverage of the failure modes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

PROMETHEUS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: run scripts/ensure-system.sh "
                    "(apt-get install --no-install-recommends prometheus)")
    return path


def _rules() -> dict[str, dict[str, Any]]:
    rules: dict[str, dict[str, Any]] = {}
    for path in sorted((PROMETHEUS / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                rules[rule["alert"]] = rule
    return rules


def test_promtool_accepts_the_rules() -> None:
    files = sorted(str(p) for p in (PROMETHEUS / "rules").glob("*.yml"))
    assert files
    result = subprocess.run([_promtool(), "check", "rules", *files], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in result.stdout


def test_promtool_accepts_the_compose_scrape_config() -> None:
    result = subprocess.run([_promtool(), "check", "config", str(PROMETHEUS / "prometheus.yml")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rule_unit_tests_pass() -> None:
    tests = sorted(str(p) for p in (PROMETHEUS / "tests").glob("*.yml"))
    result = subprocess.run([_promtool(), "test", "rules", *tests], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_a_broken_expectation_fails_promtool(tmp_path: Path) -> None:
    """The unit tests can fail: the same file with one expected alert removed does."""
    source = PROMETHEUS / "tests" / "predelinq_test.yml"
    tests = yaml.safe_load(source.read_text())
    tests["rule_files"] = [str(PROMETHEUS / "rules" / "predelinq.yml")]
    first = tests["tests"][0]["alert_rule_test"][-1]
    assert first["exp_alerts"]
    first["exp_alerts"] = []
    broken = tmp_path / "broken_test.yml"
    broken.write_text(yaml.safe_dump(tests))
    result = subprocess.run([_promtool(), "test", "rules", str(broken)], capture_output=True,
                            text=True, check=False)
    assert result.returncode != 0


def test_at_least_three_alerts_have_unit_tests() -> None:
    tested: set[str] = set()
    for path in (PROMETHEUS / "tests").glob("*.yml"):
        for case in yaml.safe_load(path.read_text())["tests"]:
            tested.update(t["alertname"] for t in case.get("alert_rule_test", [])
                          if any(t.get("exp_alerts") or []))
    assert tested <= set(_rules())
    assert len(tested) >= 3
    assert {"PredelinqWorkerDown", "PredelinqDeadLetterRateHigh", "PredelinqDriftHigh",
            "PredelinqRecoveryStuck", "PredelinqSinkBehind"} <= tested


def test_the_failure_modes_of_the_issue_are_covered() -> None:
    rules = _rules()
    expressions = {name: " ".join(rule["expr"].split()) for name, rule in rules.items()}
    assert 'up{job="predelinq-worker"} == 0' in expressions["PredelinqWorkerDown"]
    assert expressions["PredelinqWorkerNotReady"] == "predelinq_ready == 0"
    assert rules["PredelinqWorkerNotReady"]["for"] == "10m"
    assert "predelinq_dead_letters_total" in expressions["PredelinqDeadLetterRateHigh"]
    assert "predelinq_model_loaded == 0" in expressions["PredelinqModelNotLoaded"]
    assert "predelinq_drift_psi > 0.2" in expressions["PredelinqDriftHigh"]
    assert "predelinq_recovery_remaining_records" in expressions["PredelinqRecoveryStuck"]
    assert "predelinq_sink_last_commit_timestamp_seconds" in expressions["PredelinqSinkBehind"]
    assert "predelinq_last_batch_timestamp_seconds" in expressions["PredelinqWorkerStalled"]
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        assert rule["annotations"]["summary"], name


def test_runbook_links_in_the_rules_exist() -> None:
    repo = PROMETHEUS.parents[1]
    for name, rule in _rules().items():
        text = " ".join(rule["annotations"].values())
        for link in (w.rstrip(".,") for w in text.split() if w.startswith("docs/")):
            path, _, anchor = link.partition("#")
            assert (repo / path).exists(), f"{name}: {path}"
            if anchor:
                headings = [line.lstrip("#").strip().lower().replace(" ", "-")
                            for line in (repo / path).read_text().splitlines()
                            if line.startswith("#")]
                assert anchor in headings, f"{name}: #{anchor} not in {path}"
