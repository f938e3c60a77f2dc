"""The audit writer on the real (throwaway) PostgreSQL: columns, idempotency, atomicity."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import asyncpg
import pytest

from stream_app.sink import AuditWriter, RowDecoder
from tests.support.databases import fetch, fresh_database
from tests.support.outputs import (
    NAMES_SHA256,
    encode,
    encode_outcome,
    encode_with_schema,
    intervention,
    outcome,
    risk_score,
)

pytestmark = pytest.mark.integration

DECODER = RowDecoder()


@pytest.fixture
def database(postgres_url: str) -> Iterator[str]:
    with fresh_database(postgres_url) as url:
        yield url


async def _write_twice(url: str, scores: list[bytes], interventions: list[bytes]) -> list[object]:
    score_rows = [DECODER.score_row(v) for v in scores]
    intervention_rows = [DECODER.intervention_row(v) for v in interventions]
    writer = await AuditWriter.connect(url)
    try:
        first = await writer.write(score_rows, intervention_rows)
        second = await writer.write(score_rows, intervention_rows)
    finally:
        await writer.close()
    return [first, second]


def test_rows_land_with_every_column(database: str) -> None:
    score, old_score = risk_score(1), risk_score(2)
    arrears_score = risk_score(6, track="ARREARS", days_past_due=47, probability=0.625,
                               score=63, roll_probability=0.625, cure_probability=0.0625)
    rev2_score = risk_score(8, track="ARREARS", days_past_due=3)
    decision, json_decision, old_decision = intervention(3), intervention(4), intervention(5)
    arrears_decision = intervention(7, track="ARREARS", days_past_due=47,
                                    action="HARDSHIP_ASSESSMENT")
    rev2_decision = intervention(9, track="ARREARS", days_past_due=3)
    asyncio.run(_write_twice(
        database,
        [encode(score), encode_with_schema(old_score, 4), encode(arrears_score, "json"),
         encode_with_schema(rev2_score, 7)],
        [encode(decision), encode(json_decision, "json"), encode_with_schema(old_decision, 5),
         encode(arrears_decision), encode_with_schema(rev2_decision, 8)]))

    scores = {str(r["event_id"]): r for r in asyncio.run(fetch(database, "TABLE risk_scores"))}
    row = scores[score.event_id]
    assert row["customer_id"] == score.customer_id
    assert row["scored_at"] == datetime.fromtimestamp(score.scored_at / 1000, UTC)
    assert row["as_of"] == datetime.fromtimestamp(score.as_of / 1000, UTC)
    assert (row["probability"], row["score"], row["band"]) == (0.01, 1, "MEDIUM")
    assert (row["trigger_event_id"], row["trigger_topic"]) == ("tx-1", "bank.transactions.v1")
    assert json.loads(row["top_reasons"]) == [r.to_record() for r in score.top_reasons]
    assert (row["features_sha256"], row["schema_id"]) == (score.features_sha256, 9)
    assert (row["challenger_model_version"], row["challenger_score"]) == ("m-challenger", 4)
    assert (row["track"], row["days_past_due"], row["roll_probability"]) == ("UNKNOWN", None, None)
    old = scores[old_score.event_id]
    assert (old["schema_id"], old["challenger_model_version"], old["challenger_score"]) == (
        4, None, None)
    row = scores[arrears_score.event_id]
    assert (row["schema_id"], row["track"], row["days_past_due"], row["roll_probability"],
            row["cure_probability"], row["score"]) == (None, "ARREARS", 47, 0.625, 0.0625, 63)
    for event_id in (old_score.event_id, rev2_score.event_id):  # before revision 3
        row = scores[event_id]
        assert (row["track"], row["days_past_due"], row["roll_probability"],
                row["cure_probability"]) == ("UNKNOWN", None, None, None)
    assert scores[rev2_score.event_id]["schema_id"] == 7

    decisions = {str(r["intervention_id"]): r
                 for r in asyncio.run(fetch(database, "TABLE interventions"))}
    row = decisions[decision.intervention_id]
    assert row["features"] == list(decision.features)  # double precision[], exact
    assert (row["actionable"], row["rule"], row["experiment_arm"]) == (
        False, "cooldown", "TREATMENT")
    assert (row["feature_names_sha256"], row["schema_id"]) == (NAMES_SHA256, 10)
    assert (row["action"], row["channel"], row["priority"]) == ("PAYMENT_REMINDER", "SMS", "HIGH")
    assert (row["model_version"], row["policy_version"]) == ("m-test", "policy-test")
    assert row["expires_at"] == datetime.fromtimestamp(decision.expires_at / 1000, UTC)
    assert json.loads(row["reasons"]) == [r.to_record() for r in decision.reasons]
    assert decisions[json_decision.intervention_id]["schema_id"] is None
    assert decisions[json_decision.intervention_id]["actionable"] is True
    old = decisions[old_decision.intervention_id]
    assert (old["schema_id"], old["actionable"], old["rule"], old["features"],
            old["feature_names_sha256"]) == (5, True, None, [], None)
    assert old["experiment_arm"] == "CONTROL"
    row = decisions[arrears_decision.intervention_id]
    assert (row["track"], row["days_past_due"], row["action"], row["schema_id"]) == (
        "ARREARS", 47, "HARDSHIP_ASSESSMENT", 10)
    for intervention_id in (old_decision.intervention_id, rev2_decision.intervention_id):
        row = decisions[intervention_id]
        assert (row["track"], row["days_past_due"]) == ("UNKNOWN", None)
    assert decisions[rev2_decision.intervention_id]["schema_id"] == 8


def test_writing_a_batch_twice_keeps_one_row_per_id_and_counts_duplicates(database: str) -> None:
    scores = [encode(risk_score(i)) for i in range(20)]
    scores += scores[:5]  # the same record twice in one batch (a re-delivery)
    interventions = [encode(intervention(i), "json" if i % 2 else "avro") for i in range(7)]
    first, second = asyncio.run(_write_twice(database, scores, interventions))
    assert first == ({"risk_scores": 20, "interventions": 7, "intervention_outcomes": 0},
                     {"risk_scores": 5, "interventions": 0, "intervention_outcomes": 0})
    assert second == ({"risk_scores": 0, "interventions": 0, "intervention_outcomes": 0},
                      {"risk_scores": 25, "interventions": 7, "intervention_outcomes": 0})
    counts = asyncio.run(fetch(database, "SELECT (SELECT count(*) FROM risk_scores) AS s, "
                                         "(SELECT count(DISTINCT event_id) FROM risk_scores) AS d, "
                                         "(SELECT count(*) FROM interventions) AS i"))
    assert (counts[0]["s"], counts[0]["d"], counts[0]["i"]) == (20, 20, 7)


def test_both_tables_are_written_in_one_transaction(database: str) -> None:
    good = DECODER.score_row(encode(risk_score(1)))
    bad = DECODER.intervention_row(encode(intervention(2)))._replace(score=150)  # CHECK fails

    async def scenario() -> None:
        writer = await AuditWriter.connect(database)
        try:
            with pytest.raises(asyncpg.CheckViolationError):
                await writer.write([good], [bad])
            # the same connection writes the next batch (its staging tables were emptied)
            result = await writer.write([good], [bad._replace(score=90)])
            assert result.inserted == {"risk_scores": 1, "interventions": 1,
                                       "intervention_outcomes": 0}
        finally:
            await writer.close()

    asyncio.run(scenario())
    rows = asyncio.run(fetch(database, "SELECT event_id FROM risk_scores"))
    assert [r["event_id"] for r in rows] == [uuid.UUID(risk_score(1).event_id)]


def test_outcomes_land_once_in_the_same_transaction_as_the_other_rows(database: str) -> None:
    values = [encode_outcome(outcome(i), "json" if i % 3 else "avro") for i in range(12)]
    values += values[:4]  # re-delivered within the batch
    rows = [DECODER.outcome_row(v) for v in values]
    score = DECODER.score_row(encode(risk_score(1)))

    async def scenario() -> tuple[object, object]:
        writer = await AuditWriter.connect(database)
        try:
            first = await writer.write([score], [], rows)
            second = await writer.write([], [], rows[:6])  # re-delivered in a later batch
        finally:
            await writer.close()
        return first, second

    first, second = asyncio.run(scenario())
    assert first == ({"risk_scores": 1, "interventions": 0, "intervention_outcomes": 12},
                     {"risk_scores": 0, "interventions": 0, "intervention_outcomes": 4})
    assert second == ({"risk_scores": 0, "interventions": 0, "intervention_outcomes": 0},
                      {"risk_scores": 0, "interventions": 0, "intervention_outcomes": 6})
    stored = asyncio.run(fetch(database, "SELECT * FROM intervention_outcomes ORDER BY event_id"))
    assert len(stored) == 12
    by_id = {r["event_id"]: r for r in stored}
    payment = by_id["outcome--3"]
    assert (payment["outcome"], payment["amount_minor"], payment["channel"]) == (
        "PAYMENT_MADE", 2_503, "CALL")
    assert payment["intervention_id"] == uuid.UUID(outcome(3)["intervention_id"])
    assert payment["occurred_at"] == datetime.fromtimestamp(
        outcome(3)["occurred_at"] / 1000, UTC)
    assert (by_id["outcome--0"]["schema_id"], by_id["outcome--1"]["schema_id"]) == (11, None)
