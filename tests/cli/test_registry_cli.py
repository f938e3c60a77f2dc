"""``predelinq registry`` as an operator runs it: a subprocess against a temporary registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from model_registry import (
    ALIAS_HISTORY_FILE,
    MODEL_FILE,
    resolve_alias,
    set_alias,
    write_version,
)
from stream_app.features import FEATURE_CODE_SHA256, FEATURE_NAMES

REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str, registry: Path | None = None,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "MODEL_REGISTRY_DIR"}
    environment.update(env or {})
    prefix = ["registry"] if registry is None else ["registry", "--registry", str(registry)]
    return subprocess.run([sys.executable, "-m", "stream_app", *prefix, *args],
                          capture_output=True, text=True, cwd=REPO, env=environment,
                          timeout=120, check=False)


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def _refused(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    """An expected failure: the exit code, one line on stderr, no traceback."""
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def _version(root: Path, version: str, *, feature_names: list[str] | None = None,
             feature_code_sha256: str = FEATURE_CODE_SHA256, auc: float | None = 0.8123,
             created_at: str = "2026-02-01T09:00:00+00:00") -> Path:
    metadata: dict[str, object] = {
        "created_at": created_at,
        "feature_names": list(FEATURE_NAMES) if feature_names is None else feature_names,
        "feature_code_sha256": feature_code_sha256,
        "params": {"iterations": 80},
    }
    if auc is not None:
        metadata["metrics"] = {"validation": {"roc_auc": auc, "pr_auc": 0.4}}
    return write_version(root, version, lambda p: p.write_bytes(b"fake cbm " + version.encode()),
                         metadata).path


def _corrupt(path: Path) -> None:
    model = path / MODEL_FILE
    model.write_bytes(model.read_bytes()[:-1])


def _table(stdout: str) -> dict[str, list[str]]:
    """Rows of the `list` table by version (cells split on runs of two or more spaces)."""
    import re

    lines = [line for line in stdout.splitlines() if line and not line.startswith("!")]
    assert re.split(r"\s{2,}", lines[0]) == [
        "VERSION", "CREATED", "VAL ROC-AUC", "FEATURES", "CHECKSUM", "ALIASES"]
    rows = [re.split(r"\s{2,}", line) for line in lines[1:]]
    return {row[0]: row[1:] for row in rows}


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    root = tmp_path / "registry"
    _version(root, "20260201-aaaa", auc=0.8123)
    _version(root, "20260202-bbbb", auc=0.83456, created_at="2026-02-02T09:00:00+00:00")
    return root


# --- list ------------------------------------------------------------------------------------


def test_list_shows_versions_metrics_compatibility_checksums_and_aliases(registry: Path) -> None:
    _version(registry, "20260203-cccc", auc=None, feature_code_sha256="0" * 64)
    _version(registry, "20260204-dddd", feature_names=[*FEATURE_NAMES[:-1], "legacy_feature"])
    _corrupt(_version(registry, "20260205-eeee"))
    set_alias(registry, "champion", "20260201-aaaa")
    set_alias(registry, "challenger", "20260201-aaaa")

    result = _cli("list", registry=registry)
    rows = _table(_ok(result))
    assert rows == {
        "20260201-aaaa": ["2026-02-01T09:00:00+00:00", "0.8123", "ok", "OK",
                          "challenger,champion"],
        "20260202-bbbb": ["2026-02-02T09:00:00+00:00", "0.8346", "ok", "OK", "-"],
        "20260203-cccc": ["2026-02-01T09:00:00+00:00", "-", "code-changed", "OK", "-"],
        "20260204-dddd": ["2026-02-01T09:00:00+00:00", "0.8123", "NO", "OK", "-"],
        "20260205-eeee": ["-", "-", "-", "CORRUPT", "-"],
    }
    notes = [line for line in result.stdout.splitlines() if line.startswith("!")]
    assert len(notes) == 1
    assert "20260205-eeee" in notes[0]
    assert "does not match its sha256 checksum" in notes[0]


def test_list_reports_an_alias_pointing_at_a_missing_version(registry: Path) -> None:
    (registry / "champion").symlink_to(Path("versions") / "20990101-gone")
    stdout = _ok(_cli("list", registry=registry))
    assert "! alias champion points at 20990101-gone, which is not in the registry" in stdout


def test_list_defaults_to_model_registry_dir(registry: Path) -> None:
    rows = _table(_ok(_cli("list", env={"MODEL_REGISTRY_DIR": str(registry)})))
    assert set(rows) == {"20260201-aaaa", "20260202-bbbb"}


def test_list_of_an_empty_registry(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert _ok(_cli("list", registry=tmp_path / "empty")).strip() == (
        f"no model versions in {tmp_path / 'empty'}")


def test_a_missing_registry_directory_is_one_clear_line(tmp_path: Path) -> None:
    for action in (["list"], ["show", "v1"], ["promote", "v1"], ["rollback"]):
        line = _refused(_cli(*action, registry=tmp_path / "nowhere"))
        assert line == (f"predelinq registry: no model registry at {tmp_path / 'nowhere'} "
                        "(set MODEL_REGISTRY_DIR or pass --registry)")


def test_an_invalid_configuration_is_reported_without_a_traceback(registry: Path) -> None:
    result = _cli("list", env={"MODEL_REGISTRY_DIR": str(registry), "LOG_LEVEL": "chatty"})
    assert result.returncode == 2
    assert "LOG_LEVEL" in result.stderr
    assert "Traceback" not in result.stderr


# --- show ------------------------------------------------------------------------------------


def test_show_prints_the_metadata_checksum_status_and_aliases(registry: Path) -> None:
    set_alias(registry, "champion", "20260202-bbbb")
    stdout = _ok(_cli("show", "20260202-bbbb", registry=registry))
    head, _, body = stdout.partition("metadata:\n")
    assert "version:   20260202-bbbb" in head
    assert f"path:      {registry / 'versions' / '20260202-bbbb'}" in head
    assert "aliases:   champion" in head
    assert "checksum:  OK" in head
    assert "features:  ok" in head
    metadata = json.loads(body)
    assert metadata["version"] == "20260202-bbbb"
    assert metadata["metrics"]["validation"]["roc_auc"] == 0.83456
    assert metadata["feature_names"] == list(FEATURE_NAMES)
    assert body.startswith('{\n  "created_at"')  # pretty and sorted


def test_show_of_an_incompatible_version_says_what_differs(registry: Path) -> None:
    _version(registry, "20260204-dddd", feature_names=list(reversed(FEATURE_NAMES)))
    stdout = _ok(_cli("show", "20260204-dddd", registry=registry))
    assert "features:  NO (same features in another order, first at column 0: " in stdout


def test_show_of_a_corrupt_version_fails_and_marks_the_metadata_unverified(
        registry: Path) -> None:
    _corrupt(registry / "versions" / "20260201-aaaa")
    result = _cli("show", "20260201-aaaa", registry=registry)
    line = _refused(result)
    assert line.startswith("predelinq registry: version 20260201-aaaa is corrupt: ")
    assert line.endswith("model.cbm does not match its sha256 checksum")
    assert "checksum:  CORRUPT" in result.stdout
    assert "metadata (UNVERIFIED):" in result.stdout
    assert "checksum:  OK" not in result.stdout


@pytest.mark.parametrize(("version", "message"), [
    ("20990101-none", "no version 20990101-none in"),
    ("../registry", "invalid version name '../registry'"),
    (".hidden", "invalid version name '.hidden'"),
])
def test_show_of_an_unknown_or_invalid_version(registry: Path, version: str,
                                               message: str) -> None:
    assert message in _refused(_cli("show", version, registry=registry))


# --- promote ---------------------------------------------------------------------------------


def test_promote_points_the_alias_and_records_it(registry: Path) -> None:
    assert _ok(_cli("promote", "20260201-aaaa", registry=registry)) == (
        "champion -> 20260201-aaaa (was unset)\n")
    assert _ok(_cli("promote", "20260202-bbbb", "--alias", "champion", registry=registry)) == (
        "champion -> 20260202-bbbb (was 20260201-aaaa)\n")
    assert _ok(_cli("promote", "20260201-aaaa", "--alias", "challenger",
                    registry=registry)) == "challenger -> 20260201-aaaa (was unset)\n"
    assert resolve_alias(registry, "champion") == "20260202-bbbb"
    assert resolve_alias(registry, "challenger") == "20260201-aaaa"
    records = [json.loads(line)
               for line in (registry / ALIAS_HISTORY_FILE).read_text().splitlines()]
    assert [(r["alias"], r["action"], r["previous"], r["version"]) for r in records] == [
        ("champion", "promote", None, "20260201-aaaa"),
        ("champion", "promote", "20260201-aaaa", "20260202-bbbb"),
        ("challenger", "promote", None, "20260201-aaaa"),
    ]


def test_promoting_the_current_version_changes_nothing(registry: Path) -> None:
    _ok(_cli("promote", "20260201-aaaa", registry=registry))
    before = (registry / ALIAS_HISTORY_FILE).read_text()
    assert _ok(_cli("promote", "20260201-aaaa", registry=registry)) == (
        "champion already points at 20260201-aaaa; nothing changed\n")
    assert (registry / ALIAS_HISTORY_FILE).read_text() == before


def test_promote_refuses_a_model_trained_on_another_feature_list(registry: Path) -> None:
    _ok(_cli("promote", "20260201-aaaa", registry=registry))
    _version(registry, "20260204-dddd",
             feature_names=[name for name in FEATURE_NAMES if name != "dpd_current"]
             + ["legacy_feature"])
    line = _refused(_cli("promote", "20260204-dddd", registry=registry))
    assert line == (
        "predelinq registry: refusing to promote 20260204-dddd: model 20260204-dddd was "
        "trained on another feature list than the running feature code computes (missing "
        "from the model: dpd_current; not computed by the running code: legacy_feature); "
        "retrain it with this code")
    assert resolve_alias(registry, "champion") == "20260201-aaaa"
    assert len((registry / ALIAS_HISTORY_FILE).read_text().splitlines()) == 1


def test_promote_refuses_a_model_without_a_feature_list(registry: Path) -> None:
    write_version(registry, "20260206-ffff", lambda p: p.write_bytes(b"x"), {"metrics": {}})
    line = _refused(_cli("promote", "20260206-ffff", "--alias", "challenger",
                         registry=registry))
    assert "its metadata has no feature list" in line
    assert resolve_alias(registry, "challenger") is None


def test_promote_warns_but_accepts_a_changed_feature_code_with_the_same_list(
        registry: Path) -> None:
    _version(registry, "20260203-cccc", feature_code_sha256="0" * 64)
    result = _cli("promote", "20260203-cccc", registry=registry)
    assert _ok(result) == "champion -> 20260203-cccc (was unset)\n"
    assert "warning: 20260203-cccc: same feature list, but the feature code changed" in (
        result.stderr)


def test_promote_refuses_a_corrupt_version(registry: Path) -> None:
    _ok(_cli("promote", "20260201-aaaa", registry=registry))
    _corrupt(registry / "versions" / "20260202-bbbb")
    line = _refused(_cli("promote", "20260202-bbbb", registry=registry))
    assert line.startswith("predelinq registry: refusing to promote 20260202-bbbb: ")
    assert line.endswith("model.cbm does not match its sha256 checksum")
    assert resolve_alias(registry, "champion") == "20260201-aaaa"


def test_promote_refuses_a_partial_version(registry: Path) -> None:
    partial = registry / "versions" / "20260207-part"
    partial.mkdir()
    (partial / MODEL_FILE).write_bytes(b"half")
    line = _refused(_cli("promote", "20260207-part", registry=registry))
    assert "refusing to promote 20260207-part" in line
    assert "SHA256SUMS" in line
    assert resolve_alias(registry, "champion") is None


def test_promote_refuses_a_missing_version(registry: Path) -> None:
    line = _refused(_cli("promote", "20990101-none", registry=registry))
    assert line == (f"predelinq registry: no version 20990101-none in {registry} "
                    "(see `predelinq registry list`)")
    assert not (registry / "champion").exists()


def test_an_unknown_alias_is_a_usage_error(registry: Path) -> None:
    result = _cli("promote", "20260201-aaaa", "--alias", "staging", registry=registry)
    assert result.returncode == 2
    assert "invalid choice: 'staging'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (registry / "staging").exists()


# --- rollback --------------------------------------------------------------------------------


def test_rollback_walks_back_through_the_promotes(registry: Path) -> None:
    _version(registry, "20260203-cccc")
    for version in ("20260201-aaaa", "20260202-bbbb", "20260203-cccc"):
        _ok(_cli("promote", version, registry=registry))
    assert _ok(_cli("rollback", registry=registry)) == (
        "champion -> 20260202-bbbb (rolled back from 20260203-cccc)\n")
    assert _ok(_cli("rollback", "--alias", "champion", registry=registry)) == (
        "champion -> 20260201-aaaa (rolled back from 20260202-bbbb)\n")
    assert resolve_alias(registry, "champion") == "20260201-aaaa"
    line = _refused(_cli("rollback", registry=registry))
    assert line == ("predelinq registry: nothing to roll back to: 20260201-aaaa is the first "
                    "version recorded for champion")
    assert resolve_alias(registry, "champion") == "20260201-aaaa"


def test_rollback_undoes_a_link_set_by_train(registry: Path) -> None:
    _ok(_cli("promote", "20260201-aaaa", registry=registry))
    set_alias(registry, "champion", "20260202-bbbb")  # what `predelinq train` does
    assert _ok(_cli("rollback", registry=registry)) == (
        "champion -> 20260201-aaaa (rolled back from 20260202-bbbb)\n")


def test_rollback_of_an_unset_alias(registry: Path) -> None:
    line = _refused(_cli("rollback", "--alias", "challenger", registry=registry))
    assert line == f"predelinq registry: alias challenger is not set in {registry}: nothing to " \
                   "roll back"


def test_rollback_refuses_a_previous_version_that_is_now_corrupt(registry: Path) -> None:
    _ok(_cli("promote", "20260201-aaaa", registry=registry))
    _ok(_cli("promote", "20260202-bbbb", registry=registry))
    _corrupt(registry / "versions" / "20260201-aaaa")
    line = _refused(_cli("rollback", registry=registry))
    assert line.startswith("predelinq registry: cannot roll champion back from 20260202-bbbb "
                           "to 20260201-aaaa: ")
    assert line.endswith("model.cbm does not match its sha256 checksum")
    assert resolve_alias(registry, "champion") == "20260202-bbbb"


def test_rollback_refuses_a_previous_version_the_running_code_cannot_load(
        registry: Path) -> None:
    _version(registry, "20260204-dddd", feature_names=list(FEATURE_NAMES[:-1]))
    set_alias(registry, "champion", "20260204-dddd")  # before the feature code changed
    _ok(_cli("promote", "20260201-aaaa", registry=registry))
    line = _refused(_cli("rollback", registry=registry))
    assert "cannot roll champion back from 20260201-aaaa to 20260204-dddd: model " in line
    assert f"missing from the model: {FEATURE_NAMES[-1]}" in line
    assert resolve_alias(registry, "champion") == "20260201-aaaa"


def test_a_damaged_alias_history_is_one_clear_line(registry: Path) -> None:
    _ok(_cli("promote", "20260201-aaaa", registry=registry))
    (registry / ALIAS_HISTORY_FILE).write_text("{broken\n")
    line = _refused(_cli("promote", "20260202-bbbb", registry=registry))
    assert "aliases.jsonl is corrupt at line 1" in line
    assert "aliases.jsonl is corrupt at line 1" in _refused(_cli("rollback", registry=registry))
    assert resolve_alias(registry, "champion") == "20260201-aaaa"
