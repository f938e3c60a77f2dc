"""`predelinq evaluate` and the report `predelinq train` stores, run as an operator runs them:
metrics on current points and capture while current at the operating points."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from model_registry import open_version, resolve_alias
from stream_app.offline import Point, write_jsonl_log, write_points
from stream_app.simulate import BankSimulator, SimulationConfig, labels_from_truth
from tests.support.models import TrainedFixture

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PLOTS = ("roc.png", "precision_recall.png", "calibration.png", "reason_codes.png")
CAPTURE_PLOT = "capture_vs_contacts.png"


def _run(*args: str, cwd: Path,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("MODEL_PATH", "MODEL_REGISTRY_DIR")}
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "stream_app", *args], capture_output=True,
                          text=True, cwd=cwd, env=environment, timeout=240, check=False)


def _refused(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    """An expected failure: the exit code, one line on stderr, no traceback."""
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def _assert_report(directory: Path, version: str, *, capture: bool = True) -> str:
    text = (directory / "report.md").read_text()
    assert text.startswith(f"# Model evaluation: {version}")
    for plot in (*PLOTS, CAPTURE_PLOT) if capture else PLOTS:
        assert (directory / "plots" / plot).read_bytes().startswith(PNG_SIGNATURE)
        assert f"(plots/{plot})" in text
    if not capture:
        assert not (directory / "plots" / CAPTURE_PLOT).exists()
    return text


_CAPTURE_LINE = (r"^{name}: score >= (\d+): (\d+)/(\d+) future 30-DPD customers flagged while "
                 r"current \(\d+%\)(, median \d+ days before the missed due date \(p25 \d+\))?; "
                 r"\d+\.\d% false alarms; \d+\.\d contacts per 1,000 per month$")


def _capture_line(stdout: str, name: str) -> tuple[int, int, int]:
    match = re.search(_CAPTURE_LINE.format(name=re.escape(name)), stdout, flags=re.MULTILINE)
    assert match, (name, stdout)
    return int(match[1]), int(match[2]), int(match[3])


def test_evaluate_on_a_simulation(tmp_path: Path, trained: TrainedFixture,
                                  repo_root: Path) -> None:
    out = tmp_path / "report"
    result = _run("evaluate", "--model", str(trained.path), "--simulate", "200", "--days", "200",
                  "--seed", "21", "--threshold", "70", "--out", str(out), cwd=repo_root)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    version = trained.model.version
    source = "200 simulated customers x 200 days, seed 21, scenario reference"
    assert f"model {version} evaluated on {source}" in result.stdout
    assert re.search(r"current rows, \d+ positives: ROC-AUC 0\.\d{4}", result.stdout)
    # capture while current at three operating points, the threshold given by --threshold
    target, captured, positives = _capture_line(result.stdout, "false alarms <= 5%")
    high = _capture_line(result.stdout, "HIGH band")
    auto = _capture_line(result.stdout, "AUTO_TRIGGER_THRESHOLD")
    assert (high[0], auto[0]) == (60, 70)
    assert positives == high[2] == auto[2] > 0  # the same future delinquents at every point
    assert auto[1] <= high[1]  # a higher threshold captures no more
    assert 0 <= captured <= positives
    assert 0 <= target <= 101
    assert f"report: {out / 'report.md'}" in result.stdout
    text = _assert_report(out, version)
    assert f"| evaluated on | {source} |" in text
    assert "The window is the last 110 days, after 90 days of history." in text
    assert "200 customers scored as the stream scores them" in text
    assert re.search(r"^\| false alarms <= 5% \| \d+ \| ", text, flags=re.MULTILINE)
    assert re.search(r"^\| HIGH band \| 60 \| ", text, flags=re.MULTILINE)
    assert re.search(r"^\| AUTO_TRIGGER_THRESHOLD \| 70 \| ", text, flags=re.MULTILINE)
    assert "## Score scale" in text


def test_evaluate_on_the_hard_scenario_with_another_warm_up(tmp_path: Path,
                                                            trained: TrainedFixture,
                                                            repo_root: Path) -> None:
    out = tmp_path / "hard"
    result = _run("evaluate", "--model", str(trained.path), "--simulate", "200", "--days", "200",
                  "--seed", "22", "--scenario", "hard", "--warmup-days", "60", "--out", str(out),
                  cwd=repo_root)
    assert result.returncode == 0, result.stderr
    assert "200 simulated customers x 200 days, seed 22, scenario hard" in result.stdout
    text = _assert_report(out, trained.model.version)
    assert "The window is the last 140 days, after 60 days of history." in text


def test_evaluate_refuses_days_without_labels_or_a_window(tmp_path: Path,
                                                          trained: TrainedFixture,
                                                          repo_root: Path) -> None:
    out = tmp_path / "out"
    short = _refused(_run("evaluate", "--model", str(trained.path), "--simulate", "60",
                          "--days", "150", "--out", str(out), cwd=repo_root), code=2)
    assert "--days must be at least 151" in short
    no_window = _refused(_run("evaluate", "--model", str(trained.path), "--simulate", "50",
                              "--days", "200", "--seed", "21", "--warmup-days", "200",
                              "--out", str(out), cwd=repo_root), code=2)
    assert "the data cover 200 days" in no_window
    assert "--warmup-days" in no_window
    assert not out.exists()


@pytest.fixture(scope="module")
def event_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], int]:
    config = SimulationConfig(customers=10, days=40, seed=31)
    directory = tmp_path_factory.mktemp("log")
    write_jsonl_log(directory / "events.jsonl", BankSimulator(config).events())
    customers = [f"CUST-{i:07d}" for i in range(config.customers)]
    return directory / "events.jsonl", customers, config.start_ms + 30 * 86_400_000


def _labelled_log(directory: Path, *, arrears_statuses: bool) -> tuple[Path, Path]:
    config = SimulationConfig(customers=250, days=200, seed=33,
                              arrears_statuses=arrears_statuses)
    simulator = BankSimulator(config)
    log = directory / "events.jsonl"
    write_jsonl_log(log, simulator.events())
    labels = directory / "labels.csv"
    write_points(labels, [Point(lab.customer_id, lab.as_of, lab.label) for lab in
                          labels_from_truth(simulator.truths, start_ms=config.start_ms,
                                            days=config.days)])
    return log, labels


@pytest.mark.parametrize("arrears_statuses", [True, False])
def test_evaluate_a_logged_stream(tmp_path: Path, trained: TrainedFixture, repo_root: Path,
                                  arrears_statuses: bool) -> None:
    log, labels = _labelled_log(tmp_path, arrears_statuses=arrears_statuses)
    out = tmp_path / "report"
    result = _run("evaluate", "--model", str(trained.path), "--events", str(log), "--labels",
                  str(labels), "--out", str(out), cwd=repo_root)
    assert result.returncode == 0, result.stderr
    assert f"evaluated on event log {log}, labels {labels}" in result.stdout
    text = _assert_report(out, trained.model.version, capture=arrears_statuses)
    if arrears_statuses:
        # the log's DELINQUENCY_STATUS events give the days past due: capture is measured
        _capture_line(result.stdout, "HIGH band")
        assert "250 customers scored as the stream scores them" in text
        assert "The window is the last 110 days, after 90 days of history." in text
    else:
        assert "flagged while current" not in result.stdout
        assert "> The event log has no DELINQUENCY_STATUS event with days past due" in text
        assert "Capture needs a days-past-due history" in text


def test_evaluate_refuses_a_label_file_without_positives(
        tmp_path: Path, trained: TrainedFixture, repo_root: Path,
        event_log: tuple[Path, list[str], int]) -> None:
    log, customers, as_of = event_log
    labels = tmp_path / "labels.csv"
    write_points(labels, [Point(c, as_of, 0) for c in customers])
    message = _refused(_run("evaluate", "--model", str(trained.path), "--events", str(log),
                            "--labels", str(labels), "--out", str(tmp_path / "out"),
                            cwd=repo_root))
    assert "no positive (label=1) row" in message
    assert not (tmp_path / "out").exists()


def test_evaluate_refuses_bad_inputs_clearly(tmp_path: Path, trained: TrainedFixture,
                                             repo_root: Path,
                                             event_log: tuple[Path, list[str], int]) -> None:
    log, customers, as_of = event_log
    out = str(tmp_path / "out")
    missing = _refused(_run("evaluate", "--model", str(tmp_path / "nope"), "--simulate", "60",
                            "--out", out, cwd=repo_root))
    assert f"no model at {tmp_path / 'nope'}" in missing
    assert "--model" in missing
    from_settings = _refused(_run("evaluate", "--simulate", "60", "--out", out, cwd=repo_root,
                                  env={"MODEL_PATH": str(tmp_path / "unset")}))
    assert f"no model at {tmp_path / 'unset'}" in from_settings
    bad = tmp_path / "bad.csv"
    bad.write_text(f"customer_id,as_of,label\n{customers[0]},{as_of},yes\n")
    assert _refused(_run("evaluate", "--model", str(trained.path), "--events", str(log),
                         "--labels", str(bad), "--out", out, cwd=repo_root)) \
        == f"predelinq evaluate: {bad}:2: label must be 0 or 1"
    unknown = tmp_path / "unknown.csv"
    write_points(unknown, [Point("CUST-9999999", as_of, 1), Point(customers[0], as_of, 0)])
    assert "never appear in the events" in _refused(_run(
        "evaluate", "--model", str(trained.path), "--events", str(log), "--labels",
        str(unknown), "--out", out, cwd=repo_root))
    usage = _refused(_run("evaluate", "--model", str(trained.path), "--events", str(log),
                          "--out", out, cwd=repo_root), code=2)
    assert "--events needs --labels" in usage


def test_train_stores_the_report_with_the_version(tmp_path: Path, repo_root: Path) -> None:
    registry = tmp_path / "registry"
    result = _run("train", "--simulate", "300", "--days", "240", "--iterations", "40",
                  "--scenario", "hard", "--target", "first_miss", "--registry", str(registry),
                  cwd=repo_root)
    assert result.returncode == 0, result.stderr
    version = resolve_alias(registry, "champion")
    assert version is not None
    directory = registry / "versions" / version
    assert f"report: {directory / 'report.md'}" in result.stdout
    assert "held-out rows (validation and out-of-time):" in result.stdout
    high = _capture_line(result.stdout, "  HIGH band")
    assert high[0] == 60
    text = _assert_report(directory, version)
    assert "| evaluated on | held-out rows of the training data: " in text
    # capture on customers the model never saw, of the same scenario
    assert "a fresh simulation, not the training customers: 300 simulated customers x 240 " \
           "days, seed 8, scenario hard" in text
    assert "The window is the last 150 days, after 90 days of history." in text
    assert "| train (at training) |" in text
    assert re.search(r"^\| HIGH band \| 60 \| ", text, flags=re.MULTILINE)
    metadata = open_version(directory).metadata  # every checksum verifies
    assert metadata["training_source"] == {"simulated_customers": 300, "days": 240, "seed": 7,
                                           "scenario": "hard"}
    assert metadata["target"]["name"] == "first_miss"
    assert metadata["target"]["horizon_days"] == 90
    assert metadata["target"]["population"] == "points where the customer is current"
    assert metadata["split"]["arrears_rows_dropped"] == 0  # simulated labels are current
    assert metadata["score_scale"]["unit"] == "customer-months"
    assert metadata["arrears_assessment"]["method"] == "roll_rate_table"
    # the report and plots are part of the version: listed in SHA256SUMS with their hashes
    sums = dict(reversed(line.split("  ", 1))
                for line in (directory / "SHA256SUMS").read_text().splitlines())
    for name in ("report.md", *(f"plots/{plot}" for plot in (*PLOTS, CAPTURE_PLOT))):
        assert sums[name] == hashlib.sha256((directory / name).read_bytes()).hexdigest()
