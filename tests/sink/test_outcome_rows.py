"""Intervention outcomes (the CRM's reports) -> rows of intervention_outcomes (pure)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
import pytest
from aiokafka.structs import ConsumerRecord, TopicPartition

from stream_app.sink import OUTCOMES, SCORES, RowDecoder, RowError, build_batch
from tests.support.outputs import T0, encode, encode_outcome, intervention_id, outcome, risk_score

DECODER = RowDecoder()


def test_an_avro_payment_outcome_becomes_its_row_with_the_schema_id() -> None:
    record = outcome(3, "r")  # PAYMENT_MADE
    row = DECODER.outcome_row(encode_outcome(record))
    assert row.event_id == "outcome-r-3"
    assert row.intervention_id == uuid.UUID(intervention_id(1, "r"))
    assert row.customer_id == "cust-r-1"
    assert row.occurred_at == datetime.fromtimestamp((T0 + 3_000 + 3_600_000) / 1000, UTC)
    assert (row.outcome, row.channel, row.amount_minor) == ("PAYMENT_MADE", "CALL", 2_503)
    assert row.schema_id == 11


def test_every_outcome_kind_in_both_wire_formats() -> None:
    rows = [DECODER.outcome_row(encode_outcome(outcome(i), "json" if i % 2 else "avro"))
            for i in range(6)]
    assert [r.outcome for r in rows] == ["CONTACTED", "REACHED", "ACCEPTED_PLAN",
                                         "PAYMENT_MADE", "COMPLAINT", "OPT_OUT"]
    assert [r.schema_id for r in rows] == [11, None, 11, None, 11, None]
    assert [r.amount_minor for r in rows] == [None, None, None, 2_503, None, None]
    assert rows[0].channel is None  # nullable


@pytest.mark.parametrize(("change", "reason"), [
    ({"intervention_id": "not-a-uuid"}, "invalid_value"),
    ({"event_id": ""}, "invalid_value"),
    ({"event_id": "e" * 201}, "invalid_value"),
    ({"event_id": None}, "missing_field"),
    ({"customer_id": "a\x00b"}, "invalid_value"),
    ({"occurred_at": 10**17}, "invalid_value"),
    ({"occurred_at": "2026-01-01"}, "wrong_type"),
    ({"outcome": "ANSWERED"}, "invalid_value"),
    ({"outcome": None}, "missing_field"),
    ({"amount_minor": -1}, "invalid_value"),
    ({"amount_minor": 1.5}, "wrong_type"),
    ({"outcome": "REACHED", "amount_minor": 100}, "invalid_value"),
    ({"channel": 7}, "wrong_type"),
])
def test_an_outcome_the_table_would_refuse_is_rejected_before_the_transaction(
        change: dict[str, object], reason: str) -> None:
    record = {**outcome(3), **change}
    with pytest.raises(RowError) as caught:
        DECODER.outcome_row(orjson.dumps(record))
    assert caught.value.reason == reason
    assert "a\x00b" not in str(caught.value)  # messages name fields, never values


def test_undecodable_outcomes_carry_the_decoder_reason() -> None:
    with pytest.raises(RowError) as caught:
        DECODER.outcome_row(b"\xff not a record")
    assert caught.value.reason == "malformed_frame"
    with pytest.raises(RowError) as caught:
        DECODER.outcome_row(encode(risk_score(1)))  # a score on the outcomes topic
    assert caught.value.reason == "schema_mismatch"


def _record(topic: str, offset: int, value: bytes) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(topic, 0, offset, 0, 0, None, value, None, len(value), -1, [])


def test_a_batch_routes_outcomes_and_skips_bad_ones_like_the_other_tables() -> None:
    scores, outcomes = TopicPartition("s", 0), TopicPartition("o", 0)
    records = {
        scores: [_record("s", 0, encode(risk_score(1)))],
        outcomes: [_record("o", 7, encode_outcome(outcome(1))), _record("o", 8, b"junk"),
                   _record("o", 9, encode_outcome(outcome(2), "json"))],
    }
    batch = build_batch(records, {"s": SCORES, "o": OUTCOMES}, DECODER)
    assert (len(batch.scores), len(batch.interventions), len(batch.outcomes)) == (1, 0, 2)
    assert (batch.records, batch.rows) == (4, 3)
    assert batch.rows_of(OUTCOMES) == batch.outcomes
    assert batch.skipped == {(OUTCOMES, "malformed_frame"): 1}
    assert batch.offsets == {scores: 1, outcomes: 10}
