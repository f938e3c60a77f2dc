"""Output records -> audit rows (pure): every revision and wire format, and what is refused."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import orjson
import pytest
from aiokafka.structs import ConsumerRecord, TopicPartition

from stream_app.events import TRACKS
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
    assert row.schema_id == 9  # revision 3
    assert (row.track, row.days_past_due, row.roll_probability, row.cure_probability) == (
        "UNKNOWN", None, None, None)  # RiskScore's defaults


def test_an_arrears_score_keeps_its_track_days_past_due_and_probabilities() -> None:
    score = risk_score(1, track="ARREARS", days_past_due=45, roll_probability=0.375,
                       cure_probability=0.125, probability=0.375, score=38)
    for wire in ("avro", "json"):
        row = DECODER.score_row(encode(score, wire))
        assert (row.track, row.days_past_due, row.roll_probability, row.cure_probability) == (
            "ARREARS", 45, 0.375, 0.125)
    row = DECODER.score_row(encode(risk_score(2, track="PRE_DELINQUENCY", days_past_due=0)))
    assert (row.track, row.days_past_due, row.roll_probability) == ("PRE_DELINQUENCY", 0, None)


def test_an_arrears_intervention_keeps_its_track_and_days_past_due() -> None:
    decision = intervention(3, track="ARREARS", days_past_due=62, action="COLLECTIONS_HANDOFF")
    for wire in ("avro", "json"):
        row = DECODER.intervention_row(encode(decision, wire))
        assert (row.track, row.days_past_due, row.action) == (
            "ARREARS", 62, "COLLECTIONS_HANDOFF")


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
    assert (row.track, row.days_past_due) == ("UNKNOWN", None)
    assert (score.track, score.days_past_due, score.roll_probability,
            score.cure_probability) == ("UNKNOWN", None, None, None)


def test_records_of_revision_2_get_the_track_defaults() -> None:
    arrears = {"track": "ARREARS", "days_past_due": 33}
    score = risk_score(1, roll_probability=0.5, cure_probability=0.25, **arrears)
    row = DECODER.score_row(encode_with_schema(score, 7))  # rev2 drops the rev3 fields
    assert (row.schema_id, row.challenger_model_version) == (7, "m-challenger")
    assert (row.track, row.days_past_due, row.roll_probability, row.cure_probability) == (
        "UNKNOWN", None, None, None)
    decision = DECODER.intervention_row(encode_with_schema(intervention(3, **arrears), 8))
    assert (decision.schema_id, decision.rule) == (8, "cooldown")
    assert (decision.track, decision.days_past_due) == ("UNKNOWN", None)


def test_json_records_without_the_revision_3_fields_get_the_defaults() -> None:
    new_fields = ("track", "days_past_due", "roll_probability", "cure_probability")
    record = {k: v for k, v in risk_score(1).to_record().items() if k not in new_fields}
    row = DECODER.score_row(orjson.dumps(record))
    assert (row.track, row.days_past_due, row.roll_probability, row.cure_probability) == (
        "UNKNOWN", None, None, None)
    record = {k: v for k, v in intervention(2).to_record().items() if k not in new_fields}
    decision = DECODER.intervention_row(orjson.dumps(record))
    assert (decision.track, decision.days_past_due) == ("UNKNOWN", None)


@pytest.mark.parametrize(("change", "reason"), [
    ({"event_id": "not-a-uuid"}, "invalid_value"),
    ({"score": "50"}, "wrong_type"),
    ({"score": 101}, "invalid_value"),
    ({"customer_id": "a\x00b"}, "invalid_value"),
    ({"scored_at": 10**17}, "invalid_value"),
    ({"top_reasons": [{"code": "R"}]}, "missing_field"),
    ({"track": "COLLECTIONS"}, "invalid_value"),
    ({"track": "arrears"}, "invalid_value"),
    ({"track": ""}, "invalid_value"),
    ({"track": 1}, "wrong_type"),
    ({"days_past_due": -1}, "invalid_value"),
    ({"days_past_due": 2**31}, "invalid_value"),
    ({"days_past_due": 3.5}, "wrong_type"),
    ({"days_past_due": True}, "wrong_type"),
    ({"roll_probability": 1.5}, "invalid_value"),
    ({"roll_probability": -0.01}, "invalid_value"),
    ({"roll_probability": "0.5"}, "wrong_type"),
    ({"cure_probability": 2}, "invalid_value"),
    ({"cure_probability": False}, "wrong_type"),
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
    for name in ("roll_probability", "cure_probability"):  # Avro carries NaN, JSON cannot
        for bad in (float("nan"), float("inf"), 1.0000001):
            with pytest.raises(RowError, match=name) as caught:
                DECODER.score_row(encode(risk_score(1, track="ARREARS", **{name: bad})))
            assert caught.value.reason == "invalid_value"


@pytest.mark.parametrize(("change", "reason"), [
    ({"track": "UNKNOWN_TRACK"}, "invalid_value"),
    ({"track": ["ARREARS"]}, "wrong_type"),
    ({"days_past_due": -30}, "invalid_value"),
    ({"days_past_due": "30"}, "wrong_type"),
])
def test_an_intervention_the_table_would_refuse_is_rejected_before_the_transaction(
        change: dict[str, object], reason: str) -> None:
    record = {**intervention(1).to_record(), **change}
    with pytest.raises(RowError) as caught:
        DECODER.intervention_row(orjson.dumps(record))
    assert caught.value.reason == reason
    assert str(next(iter(change))) in str(caught.value)  # names the field


def test_every_track_the_contract_names_is_stored() -> None:
    for track in (*TRACKS, "UNKNOWN"):
        assert DECODER.score_row(encode(risk_score(1, track=track))).track == track
        assert DECODER.intervention_row(encode(intervention(1, track=track), "json")).track == (
            track)


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
