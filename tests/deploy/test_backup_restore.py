"""The PostgreSQL backup and restore runbook, executed: scripts/backup-restore-check.sh dumps a
filled audit trail with pg_dump, restores it with pg_restore and compares every row."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration]


def test_pg_dump_and_pg_restore_round_trip_the_audit_trail(repo_root: Path,
                                                             postgres_url: str) -> None:
    result = subprocess.run(
        [str(repo_root / "scripts" / "backup-restore-check.sh")],
        env={**os.environ, "PREDELINQ_TEST_DATABASE_URL": postgres_url}, cwd=repo_root,
        capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "risk_scores|5000|" in result.stdout
    assert "interventions|800|" in result.stdout
    assert result.stdout.rstrip().endswith("backup and restore: OK")
