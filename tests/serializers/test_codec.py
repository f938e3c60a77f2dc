"""Wire codecs: Confluent-framed Avro, JSON, the schema catalogue and the input decoder."""

from __future__ import annotations

import base64
import io
import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import fastavro
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream_app.events import (
    PAYMENT_KINDS,
    TRACKS,
    CustomerFlags,
    Payment,
    RecordType,
    Transaction,
)
from stream_app.serializers import (
    MAGIC_BYTE,
    AvroBodyError,
    AvroCodec,
    DecodeError,
    InputDecoder,
    InputError,
    InvalidValueError,
    JsonBodyError,
    MalformedFrameError,
    OutputDecoder,
    OutputEncoder,
    SchemaCatalog,
    SchemaMismatchError,
    UnknownSchemaIdError,
    decode_json,
    default_schemas_dir,
    encode_json,
)

from . import records
from .records import DUE_DAY, TOPIC_OF, TOPICS

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "schemas"
CATALOG = SchemaCatalog.default()
ALL_SCHEMAS = CATALOG.all()
LATEST_SCHEMAS = [CATALOG.latest(record_type) for record_type in RecordType]
INPUT_TYPES = (RecordType.TRANSACTION, RecordType.PAYMENT, RecordType.CUSTOMER_FLAGS)


@pytest.fixture(scope="module")
def codec() -> AvroCodec:
    return AvroCodec(CATALOG)


@pytest.fixture(scope="module")
def decoder() -> InputDecoder:
    return InputDecoder(CATALOG, TOPICS)


def _registry_ids() -> dict[str, int]:
    """Avro full name -> schema id, read straight from the files (not via the catalogue)."""
    registry = json.loads((SCHEMAS / "registry.json").read_text())
    ids = {}
    for versions in registry["subjects"].values():
        for entry in versions:
            definition = json.loads((SCHEMAS / entry["file"]).read_text())
            ids[f"{definition['namespace']}.{definition['name']}"] = entry["id"]
    return ids


def _header(schema_id: int) -> bytes:
    return bytes([0]) + schema_id.to_bytes(4, "big")


# --- the catalogue -------------------------------------------------------------------------


def test_catalogue_holds_every_record_type_with_the_registry_ids() -> None:
    ids = _registry_ids()  # the latest id of each record type
    assert {s.record_type for s in ALL_SCHEMAS} == set(RecordType)
    assert len({s.schema_id for s in ALL_SCHEMAS}) == len(ALL_SCHEMAS)
    for schema in ALL_SCHEMAS:
        assert CATALOG.by_id(schema.schema_id) is schema
        assert schema.subject.endswith("-value")
        latest = CATALOG.latest(schema.record_type)
        assert latest.schema_id == ids[schema.record_type.value]
        assert latest.version >= schema.version
    assert CATALOG.by_id(999) is None


def _versions_by_subject() -> list[list[Any]]:
    by_subject: dict[str, list[Any]] = {}
    for schema in ALL_SCHEMAS:
        by_subject.setdefault(schema.subject, []).append(schema)
    return [sorted(v, key=lambda s: s.version) for v in by_subject.values()]


def _fields(schema: Any) -> dict[str, Any]:
    return {f["name"]: f for f in schema.definition["fields"]}


def _written_with(schema: Any, record: dict[str, Any]) -> bytes:
    """The Avro body of ``record`` as a producer on ``schema`` writes it (its fields only)."""
    body = io.BytesIO()
    fastavro.schemaless_writer(body, schema.wire,
                               {k: v for k, v in record.items() if k in _fields(schema)})
    return body.getvalue()


def _read(body: bytes, writer: Any, reader: Any) -> dict[str, Any]:
    record = fastavro.schemaless_reader(io.BytesIO(body), writer.wire, reader.wire)
    assert isinstance(record, dict)
    return record


def test_every_later_version_of_a_subject_reads_every_earlier_one() -> None:
    """Backward compatibility: a new version only adds fields with defaults."""
    for versions in _versions_by_subject():
        for older, newer in itertools.combinations(versions, 2):
            record = records.sample(older.record_type)
            read = _read(_written_with(older, record), older, newer)
            kept = set(_fields(older))
            for name, field in _fields(newer).items():
                if name in kept:
                    assert read[name] == record[name], name
                else:
                    assert "default" in field, f"{newer.subject} v{newer.version}: {name}"
                    assert read[name] == field["default"], name


def test_every_earlier_version_of_a_subject_reads_every_later_one() -> None:
    """Forward compatibility: a consumer still on an older revision reads newer records."""
    for versions in _versions_by_subject():
        for older, newer in itertools.combinations(versions, 2):
            record = records.sample(newer.record_type)
            read = _read(_written_with(newer, record), newer, older)
            assert read == {k: record[k] for k in _fields(older)}


SCORE_REV2, SCORE_REV3 = CATALOG.by_id(7), CATALOG.by_id(9)
INTERVENTION_REV2, INTERVENTION_REV3 = CATALOG.by_id(8), CATALOG.by_id(10)
REV3_SCORE_FIELDS = {"track", "days_past_due", "roll_probability", "cure_probability"}


def test_revision_3_is_the_newest_revision_of_both_output_subjects() -> None:
    assert CATALOG.latest(RecordType.RISK_SCORE) is SCORE_REV3
    assert CATALOG.latest(RecordType.INTERVENTION) is INTERVENTION_REV3
    assert (SCORE_REV3.version, INTERVENTION_REV3.version) == (3, 3)
    assert set(_fields(SCORE_REV3)) - set(_fields(SCORE_REV2)) == REV3_SCORE_FIELDS
    assert set(_fields(INTERVENTION_REV3)) - set(_fields(INTERVENTION_REV2)) == {
        "track", "days_past_due"}
    for schema in (SCORE_REV3, INTERVENTION_REV3):
        track = _fields(schema)["track"]
        assert track["default"] == "UNKNOWN"
        assert track["type"]["name"] == "Track"
        assert track["type"]["symbols"] == [*TRACKS, "UNKNOWN"]
        assert track["type"]["default"] == "UNKNOWN"
        added = set(_fields(schema)) - set(_fields(CATALOG.by_id(schema.schema_id - 2)))
        for name in added:
            assert _fields(schema)[name]["doc"], name
        for name in added - {"track"}:
            assert _fields(schema)[name]["type"][0] == "null"
            assert _fields(schema)[name]["default"] is None


def test_a_revision_3_reader_gives_revision_2_records_the_defaults() -> None:
    for record, old, new in ((records.arrears_risk_score(), SCORE_REV2, SCORE_REV3),
                             (records.intervention(), INTERVENTION_REV2, INTERVENTION_REV3)):
        read = _read(_written_with(old, record), old, new)
        assert read["track"] == "UNKNOWN"
        assert read["days_past_due"] is None
        if new is SCORE_REV3:
            assert (read["roll_probability"], read["cure_probability"]) == (None, None)
        assert {k: read[k] for k in _fields(old)} == {k: record[k] for k in _fields(old)}


ARREARS_ACTIONS = ("ARREARS_REMINDER", "HARDSHIP_ASSESSMENT", "COLLECTIONS_HANDOFF")


def test_revision_3_adds_the_arrears_actions_and_older_readers_see_other() -> None:
    def actions(schema: Any) -> list[str]:
        symbols: list[str] = _fields(schema)["action"]["type"]["symbols"]
        return symbols

    old_symbols = actions(INTERVENTION_REV2)
    assert actions(INTERVENTION_REV3) == [*old_symbols, *ARREARS_ACTIONS]  # indexes kept
    for action in ARREARS_ACTIONS:
        record = records.intervention(action=action, track="ARREARS", days_past_due=45)
        body = _written_with(INTERVENTION_REV3, record)
        assert _read(body, INTERVENTION_REV3, INTERVENTION_REV3)["action"] == action
        for older in (CATALOG.by_id(5), INTERVENTION_REV2):
            assert _read(body, INTERVENTION_REV3, older)["action"] == "OTHER"  # enum default


def test_a_revision_2_reader_reads_revision_3_records() -> None:
    for record, old, new in ((records.arrears_risk_score(), SCORE_REV2, SCORE_REV3),
                             (records.intervention(track="ARREARS", days_past_due=12),
                              INTERVENTION_REV2, INTERVENTION_REV3)):
        body = _written_with(new, record)
        assert _read(body, new, new) == record
        assert _read(body, new, old) == {k: record[k] for k in _fields(old)}


def test_every_schema_file_is_registered() -> None:
    registered = {
        entry["file"]
        for versions in json.loads((SCHEMAS / "registry.json").read_text())["subjects"].values()
        for entry in versions
    }
    assert registered == {p.name for p in SCHEMAS.glob("*.avsc")}


def test_default_schemas_dir_is_the_repository_contract() -> None:
    assert default_schemas_dir().resolve() == SCHEMAS.resolve()
    assert CATALOG.directory.resolve() == SCHEMAS.resolve()


def test_a_schema_id_used_twice_is_refused(tmp_path: Path) -> None:
    shutil.copytree(SCHEMAS, tmp_path, dirs_exist_ok=True)
    registry = json.loads((tmp_path / "registry.json").read_text())
    registry["subjects"]["bank.payments.v1-value"][0]["id"] = 1  # the transactions id
    (tmp_path / "registry.json").write_text(json.dumps(registry))
    with pytest.raises(ValueError, match="used twice"):
        SchemaCatalog(tmp_path)


# --- Avro and JSON round trips of every schema ---------------------------------------------


@pytest.mark.parametrize("schema", LATEST_SCHEMAS, ids=lambda s: s.record_type.name)
def test_avro_round_trip_of_every_schema(schema: Any, codec: AvroCodec) -> None:
    record = records.sample(schema.record_type)
    data = codec.encode(schema.record_type, record)
    assert data[0] == MAGIC_BYTE == 0
    assert data[:5] == _header(_registry_ids()[schema.record_type.value])
    assert codec.decode(data, schema.record_type) == record
    # the body is plain Avro readable by any Avro library with the schema as written
    body = fastavro.schemaless_reader(
        io.BytesIO(data[5:]), fastavro.parse_schema(schema.definition)
    )
    assert set(body) == set(record)


@pytest.mark.parametrize("schema", ALL_SCHEMAS, ids=lambda s: s.record_type.name)
def test_json_round_trip_of_every_schema(schema: Any) -> None:
    record = records.sample(schema.record_type)
    data = encode_json(record)
    assert data.startswith(b"{")
    decoded = decode_json(data)
    assert set(decoded) == set(record)
    for name, value in record.items():
        if isinstance(value, bytes):  # bytes fields travel as base64 strings
            assert isinstance(decoded[name], str)
            assert base64.b64decode(decoded[name]) == value
        else:
            assert decoded[name] == value


def test_dead_letter_without_key_round_trips(codec: AvroCodec) -> None:
    record = records.dead_letter(key=None)
    assert codec.decode(codec.encode(RecordType.DEADLETTER, record), RecordType.DEADLETTER) == (
        record
    )
    assert decode_json(encode_json(record))["key"] is None


def test_json_refuses_values_it_cannot_represent() -> None:
    with pytest.raises(TypeError):
        encode_json({"when": object()})


def test_avro_timestamps_and_dates_stay_integers(codec: AvroCodec) -> None:
    record = records.payment("STATEMENT_ISSUED")
    decoded = codec.decode(codec.encode(RecordType.PAYMENT, record), RecordType.PAYMENT)
    assert type(decoded["occurred_at"]) is int
    assert type(decoded["due_date"]) is int
    assert decoded["due_date"] == DUE_DAY


# --- the input decoder ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(PAYMENT_KINDS))
def test_every_payment_kind_decodes_from_avro_and_json(
    kind: str, codec: AvroCodec, decoder: InputDecoder
) -> None:
    record = records.payment(kind)
    expected = Payment(**record)
    avro = codec.encode(RecordType.PAYMENT, record)
    assert decoder.decode("bank.payments.v1", avro) == expected
    assert decoder.decode("bank.payments.v1", encode_json(record)) == expected


def test_transaction_decodes_to_the_typed_event(codec: AvroCodec, decoder: InputDecoder) -> None:
    record = records.transaction()
    event = decoder.decode("bank.transactions.v1", codec.encode(RecordType.TRANSACTION, record))
    assert isinstance(event, Transaction)
    assert event == Transaction(**record)
    assert event.balance_after_minor == -12_050
    assert "Corner Grocer" not in repr(event)  # counterparty is personal data


def test_customer_flags_decode_to_the_typed_event(
    codec: AvroCodec, decoder: InputDecoder
) -> None:
    record = records.customer_flags(account_id=None, hardship_plan=True)
    event = decoder.decode("customer.flags.v1", codec.encode(RecordType.CUSTOMER_FLAGS, record))
    assert isinstance(event, CustomerFlags)
    assert event == CustomerFlags(**record)


def test_json_input_with_only_required_fields_uses_the_defaults(decoder: InputDecoder) -> None:
    flags = decoder.decode(
        "customer.flags.v1",
        b'{"event_id": "fl-1", "customer_id": "C1", "occurred_at": 1767225600000}',
    )
    assert flags == CustomerFlags("fl-1", "C1", 1_767_225_600_000)
    tx = records.transaction()
    for optional in ("merchant_category_code", "decline_reason", "balance_after_minor",
                     "counterparty"):
        del tx[optional]
    event = decoder.decode("bank.transactions.v1", encode_json(tx))
    assert isinstance(event, Transaction)
    assert event.counterparty is None
    assert event.balance_after_minor is None


def test_json_due_date_as_iso_date_becomes_an_epoch_day(decoder: InputDecoder) -> None:
    record = records.payment("INSTALMENT_DUE", due_date="2026-01-22")
    event = decoder.decode("bank.payments.v1", encode_json(record))
    assert isinstance(event, Payment)
    assert event.due_date == DUE_DAY == 20_475
    record = records.payment("STATEMENT_ISSUED", due_date="1970-01-02")
    with pytest.raises(InvalidValueError) as caught:  # epoch day 1: before 2000, refused
        decoder.decode("bank.payments.v1", encode_json(record))
    assert caught.value.field == "due_date"


@pytest.mark.parametrize("record_type", INPUT_TYPES, ids=lambda t: t.name)
def test_avro_and_json_of_the_same_record_give_the_same_event(
    record_type: RecordType, codec: AvroCodec, decoder: InputDecoder
) -> None:
    record = records.sample(record_type)
    topic = TOPIC_OF[record_type]
    from_avro = decoder.decode(topic, codec.encode(record_type, record))
    from_json = decoder.decode(topic, encode_json(record))
    assert from_avro == from_json
    assert decoder.record_type_for(topic) is record_type
    assert decoder.decode_record(topic, encode_json(record)) == record


def test_newer_reader_schema_reads_frames_written_with_the_older_one(
    tmp_path: Path, codec: AvroCodec
) -> None:
    shutil.copytree(SCHEMAS, tmp_path, dirs_exist_ok=True)
    v2 = json.loads((SCHEMAS / "transaction.v1.avsc").read_text())
    v2["fields"].append({"name": "note", "type": ["null", "string"], "default": None})
    (tmp_path / "transaction.v2.avsc").write_text(json.dumps(v2))
    registry = json.loads((tmp_path / "registry.json").read_text())
    registry["subjects"]["bank.transactions.v1-value"].append(
        {"version": 2, "id": 99, "file": "transaction.v2.avsc"}
    )
    (tmp_path / "registry.json").write_text(json.dumps(registry))
    evolved = SchemaCatalog(tmp_path)
    assert evolved.latest(RecordType.TRANSACTION).schema_id == 99

    record = records.transaction()
    old_frame = codec.encode(RecordType.TRANSACTION, record)  # written with id 1
    assert old_frame[:5] == _header(1)
    decoded = AvroCodec(evolved).decode(old_frame, RecordType.TRANSACTION)
    assert decoded == {**record, "note": None}
    new_frame = AvroCodec(evolved).encode(RecordType.TRANSACTION, {**record, "note": "hi"})
    assert new_frame[:5] == _header(99)
    event = InputDecoder(evolved, TOPICS).decode("bank.transactions.v1", new_frame)
    assert event == Transaction(**record)


# --- output encoder / decoder ----------------------------------------------------------------


@pytest.mark.parametrize("output_format", ["avro", "json"])
def test_output_records_read_back_in_either_format(output_format: str) -> None:
    encoder = OutputEncoder(CATALOG, output_format)
    reader = OutputDecoder(CATALOG)
    for record in (records.risk_score(), records.arrears_risk_score()):
        data = encoder.encode(RecordType.RISK_SCORE, record)
        assert data[:1] == (b"\x00" if output_format == "avro" else b"{")
        assert reader.decode(RecordType.RISK_SCORE, data) == record
    record = records.intervention(track="ARREARS", days_past_due=64)
    data = encoder.encode(RecordType.INTERVENTION, record)
    assert reader.decode(RecordType.INTERVENTION, data) == record


def test_the_output_encoder_writes_revision_3_with_its_id() -> None:
    encoder = OutputEncoder(CATALOG, "avro")
    score = encoder.encode(RecordType.RISK_SCORE, records.arrears_risk_score())
    assert score[:5] == _header(9)
    assert _read(score[5:], SCORE_REV3, SCORE_REV3) == records.arrears_risk_score()
    decision = encoder.encode(RecordType.INTERVENTION, records.intervention())
    assert decision[:5] == _header(10)


@pytest.mark.parametrize("schema_id", [4, 7], ids=["rev1", "rev2"])
def test_older_risk_scores_decode_with_the_revision_3_defaults(schema_id: int) -> None:
    writer = CATALOG.by_id(schema_id)
    assert writer is not None
    record = records.arrears_risk_score()
    decoded = OutputDecoder(CATALOG).decode(
        RecordType.RISK_SCORE, _header(schema_id) + _written_with(writer, record))
    assert (decoded["track"], decoded["days_past_due"], decoded["roll_probability"],
            decoded["cure_probability"]) == ("UNKNOWN", None, None, None)
    assert {k: decoded[k] for k in _fields(writer)} == {k: record[k] for k in _fields(writer)}


@pytest.mark.parametrize("schema_id", [5, 8], ids=["rev1", "rev2"])
def test_older_interventions_decode_with_the_revision_3_defaults(schema_id: int) -> None:
    writer = CATALOG.by_id(schema_id)
    assert writer is not None
    record = records.intervention(track="ARREARS", days_past_due=40)
    decoded = OutputDecoder(CATALOG).decode(
        RecordType.INTERVENTION, _header(schema_id) + _written_with(writer, record))
    assert (decoded["track"], decoded["days_past_due"]) == ("UNKNOWN", None)
    assert {k: decoded[k] for k in _fields(writer)} == {k: record[k] for k in _fields(writer)}


def test_the_header_names_the_newest_version_even_when_its_id_is_lower(tmp_path: Path) -> None:
    """The body is written with the subject's newest version; the header must name it."""
    shutil.copytree(SCHEMAS, tmp_path, dirs_exist_ok=True)
    registry = json.loads((tmp_path / "registry.json").read_text())
    subject = registry["subjects"]["bank.transactions.v1-value"]
    v2 = json.loads((SCHEMAS / "transaction.v1.avsc").read_text())
    v2["fields"].append({"name": "note", "type": ["null", "string"], "default": None})
    (tmp_path / "transaction.v2.avsc").write_text(json.dumps(v2))
    subject[0]["id"] = 99  # version 1 under a high id, version 2 under a lower one
    subject.append({"version": 2, "id": 98, "file": "transaction.v2.avsc"})
    (tmp_path / "registry.json").write_text(json.dumps(registry))
    evolved = SchemaCatalog(tmp_path)
    frame = AvroCodec(evolved).encode(RecordType.TRANSACTION, {**records.transaction(),
                                                               "note": "hi"})
    assert frame[:5] == _header(98)
    assert AvroCodec(evolved).decode(frame, RecordType.TRANSACTION)["note"] == "hi"


def test_output_encoder_refuses_an_unknown_format() -> None:
    with pytest.raises(ValueError, match="output_format"):
        OutputEncoder(CATALOG, "protobuf")


# --- decode failures, each with its typed error and reason code -----------------------------


def _raises(decoder: InputDecoder, topic: str, value: bytes | None,
            error: type[InputError], reason: str) -> InputError:
    with pytest.raises(error) as caught:
        decoder.decode(topic, value)
    assert caught.value.reason == reason
    assert isinstance(caught.value, DecodeError)
    return caught.value


@pytest.mark.parametrize("value", [b"", None], ids=["empty", "tombstone"])
def test_empty_value_is_a_malformed_frame(value: bytes | None, decoder: InputDecoder) -> None:
    _raises(decoder, "bank.transactions.v1", value, MalformedFrameError, "malformed_frame")


@pytest.mark.parametrize(
    "value",
    [b"\x01\x00\x00\x00\x01abc", b"[1, 2]", b' {"a": 1}', b"\xff", b"hello", b'"text"'],
    ids=["magic-1", "json-array", "leading-space", "0xff", "text", "json-string"],
)
def test_unknown_leading_byte_is_a_malformed_frame(
    value: bytes, decoder: InputDecoder
) -> None:
    _raises(decoder, "bank.transactions.v1", value, MalformedFrameError, "malformed_frame")


@pytest.mark.parametrize("length", [1, 2, 3, 4])
def test_header_shorter_than_five_bytes_is_a_malformed_frame(
    length: int, decoder: InputDecoder
) -> None:
    _raises(decoder, "bank.payments.v1", _header(2)[:length], MalformedFrameError,
            "malformed_frame")


def test_unknown_schema_id(codec: AvroCodec, decoder: InputDecoder) -> None:
    body = codec.encode(RecordType.TRANSACTION, records.transaction())[5:]
    for schema_id in (0, 99, 2**32 - 1):
        _raises(decoder, "bank.transactions.v1", _header(schema_id) + body,
                UnknownSchemaIdError, "unknown_schema_id")


@pytest.mark.parametrize("record_type", list(RecordType), ids=lambda t: t.name)
def test_schema_id_of_another_record_type_is_a_mismatch(
    record_type: RecordType, codec: AvroCodec, decoder: InputDecoder
) -> None:
    frame = codec.encode(record_type, records.sample(record_type))
    for topic, carried in TOPICS.items():
        if carried is record_type:
            assert decoder.decode(topic, frame) is not None
        else:
            _raises(decoder, topic, frame, SchemaMismatchError, "schema_mismatch")


@pytest.mark.parametrize("record_type", INPUT_TYPES, ids=lambda t: t.name)
def test_every_truncation_of_an_avro_body_is_refused(
    record_type: RecordType, codec: AvroCodec, decoder: InputDecoder
) -> None:
    frame = codec.encode(record_type, records.sample(record_type))
    for length in range(5, len(frame)):
        _raises(decoder, TOPIC_OF[record_type], frame[:length], AvroBodyError, "avro_body")


def test_trailing_bytes_after_the_record_are_refused(
    codec: AvroCodec, decoder: InputDecoder
) -> None:
    frame = codec.encode(RecordType.TRANSACTION, records.transaction())
    for extra in (b"\x00", b"\x02\x04garbage"):
        error = _raises(decoder, "bank.transactions.v1", frame + extra, AvroBodyError,
                        "avro_body")
        assert str(len(extra)) in error.message


def test_unreadable_avro_bodies_are_refused(codec: AvroCodec, decoder: InputDecoder) -> None:
    frame = bytearray(codec.encode(RecordType.CUSTOMER_FLAGS, records.customer_flags()))
    # event_id "fl-0001" starts at offset 6 (after the length varint): break its UTF-8
    assert frame[6:13] == b"fl-0001"
    frame[6] = 0xFF
    _raises(decoder, "customer.flags.v1", bytes(frame), AvroBodyError, "avro_body")
    # a union branch index that does not exist ("account_id" is ["null", "string"])
    record = records.customer_flags(account_id=None)
    good = codec.encode(RecordType.CUSTOMER_FLAGS, record)
    position = 5 + 1 + len("fl-0001") + 1 + len("CUST-0000042")
    assert good[position] == 0  # branch 0: null
    bad = good[:position] + b"\x08" + good[position + 1:]  # zig-zag 4: branch 4
    _raises(decoder, "customer.flags.v1", bad, AvroBodyError, "avro_body")


def test_avro_body_error_does_not_quote_the_payload(
    codec: AvroCodec, decoder: InputDecoder
) -> None:
    record = records.transaction(counterparty="Jane Q. Secretname")
    frame = codec.encode(RecordType.TRANSACTION, record)
    error = _raises(decoder, "bank.transactions.v1", frame[:-3], AvroBodyError, "avro_body")
    assert "Secretname" not in str(error)
    assert "CUST-0000042" not in str(error)


@pytest.mark.parametrize(
    "value",
    [b"{not json}", b'{"a": 1', b'{"event_id": "tx-1",}', b'{"name": "caf\xe9"}',
     b'{"a": "\xff\xfe"}'],
    ids=["bare-word", "unclosed", "trailing-comma", "latin-1", "invalid-utf8"],
)
def test_invalid_json_is_a_json_body_error(value: bytes, decoder: InputDecoder) -> None:
    error = _raises(decoder, "bank.transactions.v1", value, JsonBodyError, "json_body")
    assert "caf" not in error.message


@pytest.mark.parametrize("value", [b"[1, 2]", b'"text"', b"null", b"42", b"true"])
def test_json_that_is_not_an_object_is_refused(value: bytes) -> None:
    with pytest.raises(JsonBodyError) as caught:
        decode_json(value)
    assert caught.value.reason == "json_body"


def test_decode_errors_are_input_errors_with_distinct_reasons() -> None:
    classes = [MalformedFrameError, UnknownSchemaIdError, SchemaMismatchError, AvroBodyError,
               JsonBodyError]
    assert all(issubclass(c, DecodeError) and issubclass(c, InputError) for c in classes)
    assert len({c.reason for c in classes}) == len(classes)


# --- arbitrary bytes never escape as anything but an InputError ----------------------------


def _valid_frames() -> list[tuple[RecordType, bytes]]:
    codec = AvroCodec(CATALOG)
    frames = [(t, codec.encode(t, records.sample(t))) for t in RecordType]
    frames += [(RecordType.PAYMENT, codec.encode(RecordType.PAYMENT, records.payment(k)))
               for k in sorted(PAYMENT_KINDS)]
    frames += [(t, encode_json(records.sample(t))) for t in INPUT_TYPES]
    return frames


_VALID_FRAMES = _valid_frames()
_VALID_JSON_RECORDS = [
    (RecordType.TRANSACTION, records.transaction()),
    (RecordType.CUSTOMER_FLAGS, records.customer_flags()),
    *((RecordType.PAYMENT, records.payment(kind)) for kind in sorted(PAYMENT_KINDS)),
]
_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False)
    | st.text(max_size=20) | st.dates().map(str)
    | st.sampled_from(["UNKNOWN", "DEBIT", "EUR", "2026-02-30", "", "X" * 300]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=5,
)
_PREFIXES = [b"", b"{", b"\x00", *(_header(i) for i in range(8))]


def _topic_for(draw: st.DrawFn, record_type: RecordType) -> str:
    """Mostly the topic that carries the record type, sometimes any input topic."""
    if record_type in TOPIC_OF and draw(st.integers(0, 3)) > 0:
        return TOPIC_OF[record_type]
    return draw(st.sampled_from(sorted(TOPICS)))


@st.composite
def _consumed(draw: st.DrawFn) -> tuple[str, bytes]:
    """A (topic, value) pair as a consumer could see it."""
    choice = draw(st.integers(0, 4))
    if choice == 0:  # anything at all
        return draw(st.sampled_from(sorted(TOPICS))), draw(st.binary(max_size=64))
    if choice == 1:  # a plausible header or opening brace followed by noise
        prefix = draw(st.sampled_from(_PREFIXES))
        return draw(st.sampled_from(sorted(TOPICS))), prefix + draw(st.binary(max_size=200))
    if choice == 2:  # a valid value, mutated and/or cut
        record_type, valid = draw(st.sampled_from(_VALID_FRAMES))
        frame = bytearray(valid)
        for _ in range(draw(st.integers(0, 4))):
            position = draw(st.integers(0, len(frame) - 1))
            frame[position] = draw(st.integers(0, 255))
        cut = draw(st.integers(0, len(frame)))
        return _topic_for(draw, record_type), bytes(frame[:cut]) + draw(st.binary(max_size=8))
    # a valid JSON record with some fields replaced by arbitrary values or removed
    record_type, valid_record = draw(st.sampled_from(_VALID_JSON_RECORDS))
    record = dict(valid_record)
    for name in draw(st.lists(st.sampled_from(sorted(record)), max_size=4, unique=True)):
        if draw(st.integers(0, 3)) == 0:
            del record[name]
        else:
            record[name] = draw(_JSON_VALUES)
    return _topic_for(draw, record_type), orjson.dumps(record)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(consumed=_consumed())
def test_arbitrary_bytes_decode_or_raise_an_input_error(consumed: tuple[str, bytes]) -> None:
    topic, value = consumed
    decoder = InputDecoder(CATALOG, TOPICS)
    failure: InputError | None = None
    try:
        event = decoder.decode(topic, value)
    except InputError as error:  # anything else fails the test
        failure = error
    if failure is not None:
        assert failure.reason
        assert isinstance(failure.message, str)
    else:
        assert isinstance(event, Transaction | Payment | CustomerFlags)
        assert {
            Transaction: RecordType.TRANSACTION,
            Payment: RecordType.PAYMENT,
            CustomerFlags: RecordType.CUSTOMER_FLAGS,
        }[type(event)] is TOPICS[topic]
