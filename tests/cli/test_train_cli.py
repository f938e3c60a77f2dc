"""`predelinq train` from an event log and labels: success, determinism and clear errors."""

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


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[Point]]:
    folder = tmp_path_factory.mktemp("train-cli")
    config = SimulationConfig(customers=400, days=200, seed=29)
    simulator = BankSimulator(config)
    log = folder / "events.jsonl"
    write_jsonl_log(log, simulator.events())
    points = [Point(lab.customer_id, lab.as_of, lab.label) for lab in
              labels_from_truth(simulator.truths, start_ms=config.start_ms, days=config.days)]
    labels = folder / "labels.csv"
    write_points(labels, points)
    return log, labels, points


def test_train_from_a_log_registers_a_promoted_version_and_is_deterministic(
        logged: tuple[Path, Path, list[Point]], tmp_path: Path, repo_root: Path) -> None:
    log, labels, points = logged
    assert sum(p.label or 0 for p in points) > 5
    registry = tmp_path / "registry"
    args = ("--events", str(log), "--labels", str(labels), "--iterations", "40",
            "--registry", str(registry))
    first = _train(*args, cwd=repo_root)
    assert first.returncode == 0, first.stderr
    versions = list_versions(registry)
    assert len(versions) == 1
    assert resolve_alias(registry, "champion") == versions[0]
    version = open_version(registry / "versions" / versions[0])
    assert version.metadata["training_source"] == {"events": str(log), "labels": str(labels)}
    assert (version.path / "report.md").exists()
    history = [json.loads(line) for line in (registry / "aliases.jsonl").read_text().splitlines()]
    assert [(h["action"], h["version"]) for h in history] == [("promote", versions[0])]
    # same data, same seed: the same trees, recognised instead of failing or duplicating
    again = _train(*args, cwd=repo_root)
    assert again.returncode == 0, again.stderr
    assert f"already registered as {versions[0]}" in again.stdout
    assert list_versions(registry) == versions


def test_train_reports_bad_inputs_without_a_traceback(
        logged: tuple[Path, Path, list[Point]], tmp_path: Path, repo_root: Path) -> None:
    log, labels, points = logged
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
