"""The console under test: a fresh PostgreSQL database (every migration) seeded with a few
customers' scores and interventions, and a registry with two versions (one with a report)."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from model_registry import set_alias, write_version
from tests.support.databases import fresh_database

KEY = "console-test-key-0123456789"
DAY0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
FIRST, SECOND, THIRD = "C100001", "C100002", "C100003"
# a 1x1 PNG: the registry's plots are served as they are stored
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8Dw"
                       "HwAFBQIAX8jx0gAAAABJRU5ErkJggg==")


def reason(feature: str, code: str, text: str) -> dict[str, object]:
    return {"code": code, "feature": feature, "value": 1.0, "contribution": 0.5, "text": text}


# (customer, day offset, score, band, track, first reason feature)
SCORES = [
    (FIRST, 0, 20, "LOW", "PRE_DELINQUENCY", "days_since_salary"),
    (FIRST, 1, 75, "HIGH", "PRE_DELINQUENCY", "days_since_salary"),
    (FIRST, 2, 92, "CRITICAL", "PRE_DELINQUENCY", "failed_debits_30d"),
    (SECOND, 1, 45, "MEDIUM", "ARREARS", "days_past_due"),
    (SECOND, 2, 50, "MEDIUM", "ARREARS", "days_past_due"),
    (THIRD, 2, 10, "LOW", "PRE_DELINQUENCY", "balance_trend"),
]
# (customer, day offset, action, actionable, rule, arm)
INTERVENTIONS = [
    (FIRST, 1, "PAYMENT_HOLIDAY_OFFER", True, None, "TREATMENT"),
    (FIRST, 2, "PAYMENT_HOLIDAY_OFFER", False, "cooldown", "TREATMENT"),
    (SECOND, 2, "COLLECTIONS_CALL", False, None, "CONTROL"),
]


async def seed(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        for customer, day, score, band, track, feature in SCORES:
            at = DAY0 + timedelta(days=day)
            await conn.execute(
                "INSERT INTO risk_scores (event_id, customer_id, scored_at, as_of, "
                "trigger_event_id, probability, score, band, model_version, top_reasons, track) "
                "VALUES ($1, $2, $3, $3, $4, $5, $6, $7, 'v-console', $8, $9)",
                uuid.uuid4(), customer, at, f"e-{customer}-{day}", score / 100, score, band,
                json.dumps([reason(feature, feature.upper(), f"{feature} explains it"),
                            reason("utilisation", "UTILISATION", "utilisation is high")]),
                track)
        for customer, day, action, actionable, rule, arm in INTERVENTIONS:
            at = DAY0 + timedelta(days=day, minutes=1)
            await conn.execute(
                "INSERT INTO interventions (intervention_id, customer_id, created_at, action, "
                "channel, priority, score, band, reasons, model_version, policy_version, "
                "expires_at, trigger_event_id, experiment_arm, actionable, rule) VALUES "
                "($1, $2, $3, $4, 'SMS', 'HIGH', 80, 'HIGH', $5, 'v-console', 'p-1', $6, $7, "
                "$8, $9, $10)",
                uuid.uuid4(), customer, at, action,
                json.dumps([reason("days_since_salary", "SALARY_LATE", "salary is late")]),
                at + timedelta(days=7), f"e-{customer}-{day}", arm, actionable, rule)
    finally:
        await conn.close()


@dataclass(frozen=True)
class Seeded:
    url: str
    registry: Path


def make_registry(root: Path) -> Path:
    def model(path: Path) -> None:
        path.write_bytes(b"not a real model")

    write_version(root, "20260301-aaaa", model,
                  {"created_at": "2026-03-01T00:00:00Z",
                   "metrics": {"validation": {"roc_auc": 0.8123}}},
                  extra_files={"report.md": b"# Model report\n\nROC-AUC 0.8123 <b>\n",
                               "plots/calibration.png": PNG})
    write_version(root, "20260302-bbbb", model, {"created_at": "2026-03-02T00:00:00Z"})
    set_alias(root, "champion", "20260301-aaaa")
    set_alias(root, "challenger", "20260302-bbbb")
    return root


@pytest.fixture(scope="module")
def seeded(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    with fresh_database(postgres_url) as url:
        asyncio.run(seed(url))
        yield Seeded(url, make_registry(tmp_path_factory.mktemp("console-registry")))
