"""`predelinq retrain`: a first candidate becomes champion, a weaker one is kept as challenger
only, and a bad archive is a clear error; the registry's aliases say what happened."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from model_registry import aliases, history, list_versions, open_version
from stream_app.cli.main import main
from stream_app.offline import write_jsonl_log
from stream_app.simulate import BankSimulator, SimulationConfig


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """220 days of 200 simulated customers: seed 1 has future delinquents among the training
    and the validation customers before the time cut and in the gate slice after it."""
    path = tmp_path_factory.mktemp("retrain") / "archive.jsonl"
    write_jsonl_log(path, BankSimulator(SimulationConfig(
        customers=200, days=220, seed=1)).events())
    return path


def _retrain(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["retrain", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _gate(registry: Path, version: str) -> dict[str, object]:
    report: dict[str, object] = json.loads(
        (registry / "gate-reports" / version / "gate.json").read_text())
    return report


def test_first_retrain_promotes_and_a_weaker_candidate_stays_challenger(
        archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    registry = tmp_path / "registry"
    code, out, err = _retrain(capsys, "--events", str(archive), "--registry", str(registry),
                              "--iterations", "30")
    assert code == 0, err
    [first] = list_versions(registry)
    assert aliases(registry) == {"champion": first, "challenger": first}
    assert f"PROMOTED: champion -> {first}" in out
    report = _gate(registry, first)
    assert report["decision"] == "promoted"
    assert report["champion"] is None
    assert [c["name"] for c in report["checks"]] == ["auc_floor"]  # type: ignore[attr-defined,index]
    candidate = report["candidate"]
    assert isinstance(candidate, dict)
    assert candidate["version"] == first
    assert candidate["roc_auc"] >= 0.6
    assert candidate["positives"] > 0
    # the gate report is part of the version (checksummed) and the metadata names the archive
    version = open_version(registry / "versions" / first)
    assert json.loads((version.path / "gate.json").read_text()) == report
    assert version.metadata["training_source"] == {"events": str(archive), "retrain": True}
    assert isinstance(report["training_rows"], int)
    assert report["training_rows"] > 0

    # one tree with no tolerance: worse than the champion on the same slice, kept aside
    code, out, err = _retrain(capsys, "--events", str(archive), "--registry", str(registry),
                              "--iterations", "1", "--auc-tolerance", "0",
                              "--capture-tolerance", "0")
    assert code == 0, err
    [second] = [v for v in list_versions(registry) if v != first]
    assert aliases(registry) == {"champion": first, "challenger": second}
    assert f"KEPT CHAMPION {first}: candidate {second} registered as challenger" in out
    report = _gate(registry, second)
    assert report["decision"] == "kept_champion"
    champion, candidate = report["champion"], report["candidate"]
    assert isinstance(champion, dict)
    assert isinstance(candidate, dict)
    assert champion["version"] == first
    assert candidate["roc_auc"] < champion["roc_auc"]
    assert champion["positives"] == candidate["positives"]  # the same slice for both
    checks = {c["name"]: c["passed"] for c in report["checks"]}  # type: ignore[attr-defined]
    assert checks["auc"] is False
    assert [(h.alias, h.version) for h in history(registry)] == [
        ("challenger", first), ("champion", first), ("challenger", second)]


def _write(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def test_bad_archives_are_clear_errors_and_leave_the_registry_alone(
        archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = [orjson.loads(line) for line in archive.read_bytes().splitlines()]
    no_status = [r for r in records if r.get("kind") != "DELINQUENCY_STATUS"]
    assert len(no_status) < len(records)
    start = min(r["occurred_at"] for r in records)
    short = [r for r in records if r["occurred_at"] < start + 100 * 86_400_000]
    garbled = tmp_path / "garbled.jsonl"
    garbled.write_text(archive.read_text().splitlines()[0] + "\nnot json\n")
    cases = {
        garbled: "garbled.jsonl:2: not valid JSON",
        _write(tmp_path / "empty.jsonl", []): "the archive holds no events",
        _write(tmp_path / "no-status.jsonl", no_status): "no DELINQUENCY_STATUS event",
        _write(tmp_path / "short.jsonl", short): "it covers 100 days",
        tmp_path / "missing.jsonl": "file not found",
    }
    registry = tmp_path / "registry"
    for path, message in cases.items():
        code, out, err = _retrain(capsys, "--events", str(path), "--registry", str(registry),
                                  "--iterations", "5")
        assert code == 1, (path, out)
        assert message in err, err
        assert "Traceback" not in err
        assert not list_versions(registry)
        assert aliases(registry) == {}
    code, _, err = _retrain(capsys, "--events", str(archive), "--registry", str(registry),
                            "--gate-share", "1.5")
    assert code == 2
    assert "--gate-share must be between 0 and 1" in err
