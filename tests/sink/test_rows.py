"""Output records -> audit rows (pure): every revision and wire format, and what is refused."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import orjson
import pytest
from aiokafka.structs import ConsumerRecord, TopicPartition

from stream_app.sink import INTERVENTIONS, SCORES, RowDecoder, RowError, build_batch, schema_id_of
from tests.support.outputs import T0, encode, encode_with_schema, intervention, risk_score

DECODER = RowDecoder()


def test_an_avro_score_becomes_its_row_with_the_schema_id() -> None:
    score = risk_score(1)
    row = DECODER.score_row(encode(score))
    assert row.event_id == uuid.UUID(score.event_id)
    assert row.scored_at == datetime.fromtimestamp(T0 / 1000 + 1, UTC)
    assert row.challenger_model_version == "m-challenger"
    assert row.challenger_score == 4
    assert json.loads(row.top_reasons) == [r.to_record() for r in score.top_reasons]
    assert row.schema_id == 7


def test_a_json_intervention_has_no_schema_id_and_keeps_its_bundle() -> None:
    record = intervention(3)
    row = DECODER.intervention_row(encode(record, "json"))
    assert row.schema_id is None
    assert row.features == list(record.features)
    assert (row.actionable, row.rule, row.experiment_arm) == (False, "cooldown", "TREATMENT")
    assert row.feature_names_sha256 == record.feature_names_sha256


def test_records_of_the_first_schema_revision_get_the_new_fields_defaults() -> None:
    row = DECODER.intervention_row(encode_with_schema(intervention(3), 5))
    assert row.schema_id == 5
    assert (row.actionable, row.rule, row.features, row.feature_names_sha256) == (
        True, None, [], None)
    score = DECODER.score_row(encode_with_schema(risk_score(1), 4))
    assert (score.schema_id, score.challenger_model_version, score.challenger_score) == (
        4, None, None)


@pytest.mark.parametrize(("change", "reason"), [
    ({"event_id": "not-a-uuid"}, "invalid_value"),
    ({"score": "50"}, "wrong_type"),
    ({"score": 101}, "invalid_value"),
    ({"customer_id": "a\x00b"}, "invalid_value"),
    ({"scored_at": 10**17}, "invalid_value"),
    ({"top_reasons": [{"code": "R"}]}, "missing_field"),
])
def test_a_score_the_table_would_refuse_is_rejected_before_the_transaction(
        change: dict[str, object], reason: str) -> None:
    record = {**risk_score(1).to_record(), **change}
    with pytest.raises(RowError) as caught:
        DECODER.score_row(orjson.dumps(record))
    assert caught.value.reason == reason
    assert "a\x00b" not in str(caught.value)  # messages name fields, never values


def test_a_probability_outside_the_check_constraint_is_rejected() -> None:
    for probability in (float("nan"), 1.5):
        with pytest.raises(RowError, match="probability"):
            DECODER.score_row(encode(risk_score(1, probability=probability)))


def test_undecodable_values_carry_the_decoder_reason() -> None:
    with pytest.raises(RowError) as caught:
        DECODER.intervention_row(b"\xff not a record")
    assert caught.value.reason == "malformed_frame"
    with pytest.raises(RowError) as caught:
        DECODER.intervention_row(encode(risk_score(1)))  # a score on the interventions topic
    assert caught.value.reason == "schema_mismatch"


def test_schema_id_of_reads_the_confluent_header_only() -> None:
    assert schema_id_of(b"\x00\x00\x00\x01\x02rest") == 258
    assert schema_id_of(b'{"a": 1}') is None
    assert schema_id_of(b"\x00\x00") is None


def _record(topic: str, partition: int, offset: int, value: bytes) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(topic, partition, offset, 0, 0, None, value, None, len(value), -1, [])


def test_a_batch_skips_bad_records_and_commits_past_them() -> None:
    scores, interventions = TopicPartition("s", 0), TopicPartition("i", 1)
    records = {
        scores: [_record("s", 0, 10, encode(risk_score(1))), _record("s", 0, 11, b"junk")],
        interventions: [_record("i", 1, 4, encode(intervention(2), "json"))],
    }
    batch = build_batch(records, {"s": SCORES, "i": INTERVENTIONS}, DECODER)
    assert (len(batch.scores), len(batch.interventions), batch.records) == (1, 1, 3)
    assert batch.skipped == {(SCORES, "malformed_frame"): 1}
    assert batch.offsets == {scores: 12, interventions: 5}
