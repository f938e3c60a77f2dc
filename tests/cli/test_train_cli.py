"""`predelinq train` from an event log and labels: success, determinism, arrears points dropped,
and clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from model_registry import list_versions, open_version, resolve_alias
from stream_app.offline import Point, write_jsonl_log, write_points
from stream_app.simulate import BankSimulator, SimulationConfig, labels_from_truth


def _train(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stream_app", "train", *args],
                          capture_output=True, text=True, cwd=cwd, env={**os.environ},
                          check=False)


DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[Point], int]:
    """A 200-day log, its current labels and, labelled 1, points where a customer is past
    due (a bank's label file may hold them: training drops them)."""
    folder = tmp_path_factory.mktemp("train-cli")
    config = SimulationConfig(customers=400, days=200, seed=29)
    simulator = BankSimulator(config)
    log = folder / "events.jsonl"
    write_jsonl_log(log, simulator.events())
    points = [Point(lab.customer_id, lab.as_of, lab.label) for lab in
              labels_from_truth(simulator.truths, start_ms=config.start_ms, days=config.days)]
    in_arrears = [Point(t.customer_id, config.start_ms + (day + 1) * DAY_MS - 1, 1)
                  for t in simulator.truths for day in sorted(t.dpd_by_day)[::10]]
    labels = folder / "labels.csv"
    write_points(labels, points + in_arrears)
    return log, labels, points, len(in_arrears)


def test_train_from_a_log_registers_a_promoted_version_and_is_deterministic(
        logged: tuple[Path, Path, list[Point], int], tmp_path: Path, repo_root: Path) -> None:
    log, labels, points, arrears_points = logged
    assert sum(p.label or 0 for p in points) > 5
    assert arrears_points > 20
    registry = tmp_path / "registry"
    args = ("--events", str(log), "--labels", str(labels), "--iterations", "40",
            "--registry", str(registry))
    first = _train(*args, cwd=repo_root)
    assert first.returncode == 0, first.stderr
    versions = list_versions(registry)
    assert len(versions) == 1
    assert resolve_alias(registry, "champion") == versions[0]
    version = open_version(registry / "versions" / versions[0])
    metadata = version.metadata
    assert metadata["training_source"] == {"events": str(log), "labels": str(labels)}
    assert (version.path / "report.md").exists()
    # the points in arrears were dropped and counted; every part of the split is current
    split = metadata["split"]
    assert split["arrears_rows_dropped"] == arrears_points
    assert sum(split["rows"].values()) == len(points)
    # the roll-rate table comes from the log's DELINQUENCY_STATUS events
    table = metadata["arrears_assessment"]
    assert table["method"] == "roll_rate_table"
    assert sum(a + b for a, b in table["counts"]) > 50
    # the score scale was refitted on the validation customers' stream
    assert metadata["score_scale"]["method"] == "risk_rank"
    assert metadata["score_scale"]["unit"] == "customer-months"
    assert metadata["track"] == "PRE_DELINQUENCY"
    # the report: held-out rows, no capture (a logged run measures it with evaluate)
    report = (version.path / "report.md").read_text()
    assert "## Pre-delinquency capture" in report
    assert "Capture needs a days-past-due history" in report
    history = [json.loads(line) for line in (registry / "aliases.jsonl").read_text().splitlines()]
    assert [(h["action"], h["version"]) for h in history] == [("promote", versions[0])]
    # same data, same seed: the same trees, recognised instead of failing or duplicating
    again = _train(*args, cwd=repo_root)
    assert again.returncode == 0, again.stderr
    assert f"already registered as {versions[0]}" in again.stdout
    assert list_versions(registry) == versions


def test_train_reports_bad_inputs_without_a_traceback(
        logged: tuple[Path, Path, list[Point], int], tmp_path: Path, repo_root: Path) -> None:
    log, labels, points, _ = logged
    unknown = tmp_path / "unknown.csv"
    write_points(unknown, [*points, Point("NOT-A-CUSTOMER", points[0].as_of, 1)])
    garbled = tmp_path / "garbled.csv"
    garbled.write_text("customer_id,as_of,label\nCUST-0000001,yesterday,1\n")
    negatives = tmp_path / "negatives.csv"
    write_points(negatives, [Point(p.customer_id, p.as_of, 0) for p in points])
    bad_log = tmp_path / "bad.jsonl"
    bad_log.write_text('{"type": "transaction"}\nnot json\n')
    cases = {
        unknown: (str(log), "never appear in the events"),
        garbled: (str(log), "garbled.csv:2: as_of must be epoch milliseconds"),
        negatives: (str(log), "no positive"),
        labels: (str(bad_log), "bad.jsonl:2: not valid JSON"),
    }
    for label_file, (events, message) in cases.items():
        result = _train("--events", events, "--labels", str(label_file), "--iterations", "5",
                        "--registry", str(tmp_path / "never"), cwd=repo_root)
        assert result.returncode == 1, (label_file, result.stdout)
        assert message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
        assert not (tmp_path / "never" / "versions").exists() or not list_versions(
            tmp_path / "never")
    missing = _train("--events", str(tmp_path / "nope.jsonl"), "--labels", str(labels),
                     cwd=repo_root)
    assert missing.returncode == 1
    assert "file not found" in missing.stderr
    # every labelled point in arrears: nothing for the pre-delinquency model to learn from
    overdue = tmp_path / "overdue.csv"
    arrears_only = [p for p in _read(labels) if p not in set(points)]
    write_points(overdue, arrears_only)
    result = _train("--events", str(log), "--labels", str(overdue), "--iterations", "5",
                    "--registry", str(tmp_path / "never"), cwd=repo_root)
    assert result.returncode == 1
    assert "every labelled point is in arrears" in result.stderr
    assert "Traceback" not in result.stderr


def _read(labels: Path) -> list[Point]:
    from stream_app.offline import read_points

    return read_points(labels, require_label=True)


def test_train_refuses_a_simulation_too_short_for_labels(tmp_path: Path,
                                                          repo_root: Path) -> None:
    # labels start on day 60 and need 90 days of outcome: 150 days leave none
    result = _train("--simulate", "60", "--days", "150", "--iterations", "5",
                    "--registry", str(tmp_path / "never"), cwd=repo_root)
    assert result.returncode == 2, result.stderr
    assert "--days must be at least 151" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "never").exists()
