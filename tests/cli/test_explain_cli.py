"""`predelinq explain-decision`: a stored decision bundle reproduced with the registry's model,
on the real (throwaway) PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import numpy as np
import pytest

from stream_app.cli import main
from stream_app.features import FEATURE_NAMES
from stream_app.offline import replay_events
from stream_app.policy import load_policy
from stream_app.scoring import DEFAULT_BANDS, top_reasons
from stream_app.simulate import BankSimulator, SimulationConfig
from tests.support.databases import fresh_database
from tests.support.models import TrainedFixture

pytestmark = pytest.mark.integration

NAMES_SHA256 = hashlib.sha256(",".join(FEATURE_NAMES).encode()).hexdigest()


@dataclass(frozen=True)
class Stored:
    database: str
    intervention_id: str
    registry: Path


@pytest.fixture(scope="module")
def risky_vector(trained: TrainedFixture) -> list[float]:
    """The feature vector, among a small simulation's, that the model scores highest."""
    events = BankSimulator(SimulationConfig(customers=60, days=150, seed=23)).events()
    matrix = np.asarray([row.vector for row in replay_events(events)], dtype=np.float64)
    best = int(np.argmax(trained.model.score(matrix).scores))
    return [float(v) for v in matrix[best]]


async def _insert(url: str, intervention_id: uuid.UUID, trained: TrainedFixture,
                  features: list[float]) -> None:
    """The row as the sink writes it from the worker's intervention."""
    matrix = np.asarray([features], dtype=np.float64)
    scored = trained.model.score(matrix)
    score = int(scored.scores[0])
    reasons = top_reasons(scored.contributions, matrix)[0]
    assert reasons, "the chosen vector should have reasons"
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "INSERT INTO interventions (intervention_id, customer_id, created_at, action, "
            "channel, priority, score, band, reasons, model_version, policy_version, expires_at, "
            "trigger_event_id, experiment_arm, actionable, rule, features, "
            "feature_names_sha256, schema_id) VALUES ($1, 'cust-explain', now(), "
            "'PAYMENT_REMINDER', 'SMS', 'HIGH', $2, $3, $4, $5, $6, now() + interval '7 days', "
            "'tx-1', 'TREATMENT', true, NULL, $7, $8, 8)",
            intervention_id, score, DEFAULT_BANDS.band(score),
            json.dumps([r.to_record() for r in reasons]), trained.model.version,
            load_policy().version, features, NAMES_SHA256)
    finally:
        await conn.close()


async def _execute(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def stored(postgres_url: str, trained: TrainedFixture, risky_vector: list[float],
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Stored]:
    with fresh_database(postgres_url) as url:
        intervention_id = uuid.uuid4()
        asyncio.run(_insert(url, intervention_id, trained, risky_vector))
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.delenv("POLICY_PATH", raising=False)
        yield Stored(url, str(intervention_id), trained.registry)


def _explain(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["explain-decision", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_decision_is_reproduced_from_its_bundle(stored: Stored, repo_root: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stream_app", "explain-decision", stored.intervention_id,
         "--registry", str(stored.registry)],
        env={**os.environ, "DATABASE_URL": stored.database}, capture_output=True, text=True,
        cwd=repo_root, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "MATCH"
    assert any(line.startswith("score") for line in lines)
    assert any(line.startswith("reason 1") for line in lines)
    assert "policy contact-policy" in result.stdout  # the decision's policy gave the bands


def test_a_tampered_score_is_a_mismatch(stored: Stored,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(_execute(stored.database, "UPDATE interventions SET score = score - 1"))
    code, out, _ = _explain(capsys, stored.intervention_id, "--registry", str(stored.registry))
    assert code == 1
    assert "MISMATCH" in out
    assert "score: stored" in out


def test_a_contribution_off_by_more_than_1e9_is_a_mismatch(
        stored: Stored, capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(_execute(stored.database, """
        UPDATE interventions SET reasons = jsonb_set(
            reasons, '{0,contribution}', to_jsonb((reasons->0->>'contribution')::float8 + 1e-7))
    """))
    code, out, _ = _explain(capsys, stored.intervention_id, "--registry", str(stored.registry))
    assert code == 1
    assert "reason 1" in out
    assert "contribution: stored" in out


def test_unknown_and_malformed_ids_are_clear_errors(
        stored: Stored, capsys: pytest.CaptureFixture[str]) -> None:
    unknown = str(uuid.uuid4())
    code, out, err = _explain(capsys, unknown, "--registry", str(stored.registry))
    assert (code, out) == (2, "")
    assert f"no intervention {unknown}" in err
    code, _, err = _explain(capsys, "not-a-uuid", "--registry", str(stored.registry))
    assert code == 2
    assert "must be a UUID" in err


def test_a_missing_or_damaged_model_version_is_a_clear_error(
        stored: Stored, trained: TrainedFixture, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _explain(capsys, stored.intervention_id, "--registry", str(tmp_path))
    assert code == 2
    assert f"cannot load model version {trained.model.version}" in err
    copy = tmp_path / "versions" / trained.path.name
    shutil.copytree(trained.path, copy)
    metadata = copy / "metadata.json"
    metadata.write_text(metadata.read_text() + " ")
    code, _, err = _explain(capsys, stored.intervention_id, "--registry", str(tmp_path))
    assert code == 2
    assert "checksum" in err


def test_another_feature_list_cannot_be_checked(
        stored: Stored, capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(_execute(stored.database,
                         "UPDATE interventions SET feature_names_sha256 = repeat('0', 64)"))
    code, _, err = _explain(capsys, stored.intervention_id, "--registry", str(stored.registry))
    assert code == 2
    assert "feature code changed" in err


def test_an_unreachable_database_is_a_clear_error(repo_root: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stream_app", "explain-decision", str(uuid.uuid4())],
        env={**os.environ, "DATABASE_URL": "postgresql://nobody:secret-pw@127.0.0.1:1/none"},
        capture_output=True, text=True, cwd=repo_root, check=False)
    assert result.returncode == 2
    assert "cannot reach PostgreSQL" in result.stderr
    assert "Traceback" not in result.stderr
    assert "secret-pw" not in result.stderr
