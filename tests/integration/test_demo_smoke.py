"""A short, bounded run of `predelinq demo` on the embedded Tansu broker."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.models import TrainedFixture

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_demo_runs_scores_and_shuts_down(tmp_path: Path, trained: TrainedFixture,
                                         repo_root: Path) -> None:
    # reuse the session's small model as the demo's champion, so the smoke run skips training
    registry = tmp_path / "demo" / "registry"
    registry.mkdir(parents=True)
    (registry / "versions").symlink_to(trained.registry / "versions")
    (registry / "champion").symlink_to(Path("versions") / trained.path.name)
    # the small session model rarely scores high: a low threshold shows the plumbing
    env = {**os.environ, "AUTO_TRIGGER_THRESHOLD": "3"}
    result = subprocess.run(
        [sys.executable, "-m", "stream_app", "demo", "--duration", "40", "--customers", "120",
         "--days", "120", "--rate", "3000", "--plain", "--workdir", str(tmp_path / "demo")],
        env=env, capture_output=True, text=True, cwd=repo_root, timeout=240, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "embedded broker (Tansu)" in output
    summary = re.search(r"published ([\d,]+) events; scored ([\d,]+)", output)
    assert summary is not None, output
    published, scored = (int(g.replace(",", "")) for g in summary.groups())
    assert published > 10_000
    assert scored > published * 0.9
    match = re.search(r"interventions: ([\d,]+) for (\d+) customers", output)
    assert match is not None
    assert int(match.group(2)) >= 1
    # the two tracks are shown separately, and their scores add up to all scores
    tracks = dict(re.findall(r"^(pre-delinquency|arrears) \([^)]*\): ([\d,]+) scores", output,
                             flags=re.MULTILINE))
    assert set(tracks) == {"pre-delinquency", "arrears"}, output
    counts = {name: int(value.replace(",", "")) for name, value in tracks.items()}
    assert counts["pre-delinquency"] > 0
    assert counts["pre-delinquency"] + counts["arrears"] == scored
    # the audit trail: an embedded PostgreSQL, the sink wrote every score the view saw
    assert "audit trail: PostgreSQL (embedded), sink started" in output
    audit = re.search(r"audit trail: risk_scores ([\d,]+) rows, interventions ([\d,]+) rows",
                      output)
    assert audit is not None, output
    assert int(audit.group(1).replace(",", "")) >= scored
    assert int(audit.group(2).replace(",", "")) >= int(match.group(1).replace(",", ""))
    # the demo's simulated CRM reported outcomes of its contacts, and the sink stored them
    assert re.search(r"CRM outcomes \(simulated\): CONTACTED [\d,]+", output), output
    assert re.search(r"intervention_outcomes [1-9][\d,]* rows", output), output
    assert "stopped: worker, audit sink, PostgreSQL, broker" in output
    # the worker it started was stopped gracefully (SIGTERM, not killed)
    worker_log = next((tmp_path / "demo").glob("worker-*.log")).read_text()
    assert "[^Worker]: Stopping..." in worker_log
