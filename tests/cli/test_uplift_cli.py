"""``predelinq uplift`` on a real (throwaway) PostgreSQL audit trail."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from stream_app.cli import main
from tests.support.databases import fresh_database

pytestmark = pytest.mark.integration

DAY0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
_INTERVENTION = (
    "INSERT INTO interventions (intervention_id, customer_id, created_at, action, channel, "
    "priority, score, band, reasons, model_version, policy_version, expires_at, "
    "trigger_event_id, experiment_arm, actionable, rule, track, days_past_due) VALUES "
    "($1, $2, $3, $4, 'SMS', 'HIGH', 80, 'HIGH', '[]', 'v', 'p', $3, 't', $5, $6, $7, "
    "'PRE_DELINQUENCY', 0)")
_SCORE = ("INSERT INTO risk_scores (event_id, customer_id, scored_at, as_of, trigger_event_id, "
          "probability, score, band, model_version, top_reasons, track, days_past_due) VALUES "
          "($1, $2, $3, $3, 't', 0.5, 50, 'MEDIUM', 'v', '[]', 'ARREARS', $4)")


async def _fill(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        # 40 treated customers of whom 8 reach 30+ DPD, 20 control of whom 10 do
        for i in range(60):
            arm = "TREATMENT" if i < 40 else "CONTROL"
            customer = f"cust-{i}"
            action = "INSTALMENT_PLAN" if i % 2 else "PAYMENT_REMINDER"
            await conn.execute(_INTERVENTION, uuid.uuid4(), customer, DAY0, action, arm,
                               arm == "TREATMENT", None)
            reached = i < 8 or 40 <= i < 50
            await conn.execute(_SCORE, uuid.uuid4(), customer, DAY0 + timedelta(days=20),
                               35 if reached else 12)
        # a suppressed decision (cooldown) and one a month later: neither counts
        await conn.execute(_INTERVENTION, uuid.uuid4(), "cust-x", DAY0, "PAYMENT_REMINDER",
                           "CONTROL", False, "cooldown")
        await conn.execute(_INTERVENTION, uuid.uuid4(), "cust-late", DAY0 + timedelta(days=30),
                           "PAYMENT_REMINDER", "TREATMENT", True, None)
        # the trail has been observed for 70 days
        await conn.execute(_SCORE, uuid.uuid4(), "cust-0", DAY0 + timedelta(days=70), 40)
    finally:
        await conn.close()


@pytest.fixture
def trail(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with fresh_database(postgres_url) as url:
        asyncio.run(_fill(url))
        monkeypatch.setenv("DATABASE_URL", url)
        yield url


def test_uplift_reports_per_action_and_overall_as_json(
        trail: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["uplift", "--json", "--since", "2026-03-01", "--until", "2026-03-02"]) == 0
    report = json.loads(capsys.readouterr().out)
    groups = {g["group"]: g for g in report["groups"]}
    assert list(groups) == ["INSTALMENT_PLAN", "PAYMENT_REMINDER", "ALL"]
    overall = groups["ALL"]
    assert overall["treatment"] == {"customers": 40, "reached": 8, "rate": 0.2}
    assert overall["control"] == {"customers": 20, "reached": 10, "rate": 0.5}
    assert overall["uplift"] == pytest.approx(0.3)
    assert overall["ci_low"] < 0.3 < overall["ci_high"]
    assert overall["ci_low"] > 0  # 20 % vs 50 % with these counts is not chance
    assert groups["PAYMENT_REMINDER"]["treatment"]["customers"] == 20
    assert report["excluded"] == {"suppressed": 1, "already_past_due": 0, "immature": 0}
    assert "Newcombe" in report["method"]
    assert (report["horizon_days"], report["dpd_threshold"]) == (60, 30)


def test_uplift_prints_a_table_and_leaves_immature_decisions_out(
        trail: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["uplift", "--since", "2026-03-01"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["group", "treated", "t"]
    overall = next(line for line in lines if line.startswith("ALL"))
    assert "+30.0 pp" in overall
    assert "immature 1" in out  # cust-late: its 60 days end after the newest score
    assert "Newcombe" in out


def test_uplift_needs_a_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert main(["uplift"]) == 2
