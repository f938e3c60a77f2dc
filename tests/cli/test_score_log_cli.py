"""`predelinq score-log`: batch scoring of an event log at given times, each row on its track."""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from stream_app.features import ARREARS_NOW, FEATURES
from stream_app.offline import Point, replay_points, write_jsonl_log, write_points
from stream_app.scoring import DEFAULT_BANDS
from stream_app.simulate import BankSimulator, SimulationConfig, labels_from_truth
from tests.support.models import TrainedFixture

CODES = {f.reason_code for f in FEATURES}
ARREARS_NOW_CODES = {FEATURES[i].reason_code for i in ARREARS_NOW}
DAY_MS = 86_400_000


def _run(*args: str, cwd: Path,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stream_app", *args], capture_output=True,
                          text=True, cwd=cwd, env={**os.environ, **(env or {})}, check=False)


def test_score_log_scores_every_row_in_input_order(tmp_path: Path, trained: TrainedFixture,
                                                  repo_root: Path) -> None:
    config = SimulationConfig(customers=40, days=200, seed=17)
    simulator = BankSimulator(config)
    records = list(simulator.events())
    log = tmp_path / "events.jsonl"
    write_jsonl_log(log, records)
    labels = labels_from_truth(simulator.truths, start_ms=config.start_ms, days=config.days)
    current = [Point(lab.customer_id, lab.as_of) for lab in reversed(labels)]  # not log order
    # and the end of every fifth day a customer is past due: the arrears track
    past_due = [Point(t.customer_id, config.start_ms + (day + 1) * DAY_MS - 1)
                for t in simulator.truths for day in sorted(t.dpd_by_day)[::5]]
    assert len(past_due) >= 5
    points = current + past_due
    at = tmp_path / "at.csv"
    write_points(at, points)
    out = tmp_path / "scores.csv"
    result = _run("score-log", "--events", str(log), "--at", str(at), "--out", str(out),
                  "--model", str(trained.path), cwd=repo_root, env={"BATCH_SIZE": "7"})
    assert result.returncode == 0, result.stderr
    with out.open() as handle:
        assert handle.readline().strip() == (
            "customer_id,as_of,probability,score,band,reasons,track")  # track added last
        handle.seek(0)
        rows = list(csv.DictReader(handle))
    assert [(r["customer_id"], int(r["as_of"])) for r in rows] == [
        (p.customer_id, p.as_of) for p in points]
    vectors = {(p.customer_id, p.as_of): v for p, v in replay_points(records, points)}
    matrix = np.asarray([vectors[(p.customer_id, p.as_of)] for p in points])
    expected = trained.model.score(matrix)
    for i, row in enumerate(rows):
        assert float(row["probability"]) == float(expected.probabilities[i])
        assert int(row["score"]) == int(expected.scores[i])
        assert row["band"] == DEFAULT_BANDS.band(int(row["score"]))
        codes = [c for c in row["reasons"].split(";") if c]
        assert len(codes) <= 3
        assert set(codes) <= CODES
    # labelled points are current; days past due are on the arrears track, scored with the
    # roll probability and explained by the bucket first
    tracks = [r["track"] for r in rows]
    assert tracks == ["PRE_DELINQUENCY"] * len(current) + ["ARREARS"] * len(past_due)
    for i, row in enumerate(rows):
        codes = [c for c in row["reasons"].split(";") if c]
        if row["track"] == "ARREARS":
            assert float(row["probability"]) == float(expected.roll[i])
            assert int(row["score"]) == math.floor(100 * expected.roll[i] + 0.5)
            assert codes[0] == "R_PAST_DUE"
        else:
            assert not set(codes) & ARREARS_NOW_CODES


def test_score_log_reports_bad_inputs_clearly(tmp_path: Path, trained: TrainedFixture,
                                             repo_root: Path) -> None:
    log = tmp_path / "events.jsonl"
    write_jsonl_log(log, BankSimulator(SimulationConfig(customers=3, days=10)).events())
    at = tmp_path / "at.csv"
    at.write_text("customer_id,as_of\nNOBODY,1767400000000\n")
    unknown = _run("score-log", "--events", str(log), "--at", str(at), "--out",
                   str(tmp_path / "o.csv"), "--model", str(trained.path), cwd=repo_root)
    assert unknown.returncode == 1
    assert "never appear in the events" in unknown.stderr
    missing = _run("score-log", "--events", str(log), "--at", str(at), "--out",
                   str(tmp_path / "o.csv"), "--model", str(tmp_path / "nope"), cwd=repo_root)
    assert missing.returncode == 1
    assert "cannot load the model" in missing.stderr
    for result in (unknown, missing):
        assert "Traceback" not in result.stderr
