"""`predelinq evaluate` and the report `predelinq train` stores, run as an operator runs them."""

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
from stream_app.simulate import BankSimulator, SimulationConfig
from tests.support.models import TrainedFixture

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PLOTS = ("roc.png", "precision_recall.png", "calibration.png", "reason_codes.png")


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


def _assert_report(directory: Path, version: str) -> str:
    text = (directory / "report.md").read_text()
    assert text.startswith(f"# Model evaluation: {version}")
    for plot in PLOTS:
        assert (directory / "plots" / plot).read_bytes().startswith(PNG_SIGNATURE)
        assert f"(plots/{plot})" in text
    return text


def test_evaluate_on_a_simulation(tmp_path: Path, trained: TrainedFixture,
                                  repo_root: Path) -> None:
    out = tmp_path / "report"
    result = _run("evaluate", "--model", str(trained.path), "--simulate", "120", "--days", "150",
                  "--seed", "21", "--out", str(out), cwd=repo_root)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    version = trained.model.version
    assert f"model {version} evaluated on 120 simulated customers x 150 days, seed 21" \
        in result.stdout
    assert re.search(r"rows, \d+ positives: ROC-AUC 0\.\d{4}", result.stdout)
    assert "lead time at false-alarm rate <= 5%: score >= " in result.stdout
    assert "lead time at HIGH band: score >= 60" in result.stdout
    assert f"report: {out / 'report.md'}" in result.stdout
    text = _assert_report(out, version)
    assert "| evaluated on | 120 simulated customers x 150 days, seed 21 |" in text
    assert re.search(r"^\| false-alarm rate <= 5% \| \d+ \| ", text, flags=re.MULTILINE)
    assert "Every one of 120 simulated customers" in text


@pytest.fixture(scope="module")
def event_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], int]:
    config = SimulationConfig(customers=10, days=40, seed=31)
    directory = tmp_path_factory.mktemp("log")
    write_jsonl_log(directory / "events.jsonl", BankSimulator(config).events())
    customers = [f"CUST-{i:07d}" for i in range(config.customers)]
    return directory / "events.jsonl", customers, config.start_ms + 30 * 86_400_000


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
                  "--registry", str(registry), cwd=repo_root)
    assert result.returncode == 0, result.stderr
    version = resolve_alias(registry, "champion")
    assert version is not None
    directory = registry / "versions" / version
    assert f"report: {directory / 'report.md'}" in result.stdout
    assert "lead time at false-alarm rate <= 5%" in result.stdout
    text = _assert_report(directory, version)
    assert "| evaluated on | held-out rows of the training data: " in text
    assert "a fresh simulation, not the training customers: 300 simulated customers x 240 " \
           "days, seed 8" in text
    assert "| train (at training) |" in text
    assert re.search(r"^\| HIGH band \| 60 \| ", text, flags=re.MULTILINE)
    # the report and plots are part of the version: listed in SHA256SUMS with their hashes
    sums = dict(reversed(line.split("  ", 1))
                for line in (directory / "SHA256SUMS").read_text().splitlines())
    for name in ("report.md", *(f"plots/{plot}" for plot in PLOTS)):
        assert sums[name] == hashlib.sha256((directory / name).read_bytes()).hexdigest()
    open_version(directory)  # every checksum verifies
