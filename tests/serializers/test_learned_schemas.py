"""Writer schemas learned from a schema registry: the catalogue keeps the contract's readers,
learns only the contract's record types, and is bounded."""

from __future__ import annotations

import copy
import io

import fastavro
import pytest

from stream_app.events import RecordType
from stream_app.serializers import (
    MAX_LEARNED_SCHEMAS,
    AvroCodec,
    IncompatibleSchemaError,
    SchemaCatalog,
    UnknownSchemaIdError,
    default_schemas_dir,
)
from tests.serializers.records import transaction as transaction_record


def _frame(schema_id: int, schema: dict, record: dict) -> bytes:
    buffer = io.BytesIO()
    buffer.write(b"\x00" + schema_id.to_bytes(4, "big"))
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(copy.deepcopy(schema)), record)
    return buffer.getvalue()


def test_readers_only_forgets_the_local_ids_but_keeps_the_contract() -> None:
    catalog = SchemaCatalog(default_schemas_dir()).readers_only()
    assert catalog.by_id(1) is None
    assert catalog.latest(RecordType.TRANSACTION).schema_id == 1  # the reader
    assert [s.schema_id for s in catalog.all()] == list(range(1, 12))
    with pytest.raises(UnknownSchemaIdError):
        AvroCodec(catalog).decode(AvroCodec(SchemaCatalog.default()).encode(
            RecordType.TRANSACTION, transaction_record()), RecordType.TRANSACTION)


def test_a_learned_writer_is_read_into_the_contract() -> None:
    catalog = SchemaCatalog(default_schemas_dir()).readers_only()
    contract = catalog.latest(RecordType.TRANSACTION).definition
    newer = copy.deepcopy(contract)
    newer["fields"].append({"name": "terminal_id", "type": ["null", "string"], "default": None})
    catalog.learn(4711, newer)
    assert catalog.learn(4711, {"not": "looked at again"}).schema_id == 4711
    record = transaction_record()
    decoded = AvroCodec(catalog).decode(_frame(4711, newer, {**record, "terminal_id": "T"}),
                                        RecordType.TRANSACTION)
    assert "terminal_id" not in decoded  # read with the contract's schema
    assert decoded["event_id"] == record["event_id"]


def test_a_writer_without_a_required_field_is_incompatible() -> None:
    catalog = SchemaCatalog(default_schemas_dir()).readers_only()
    broken = copy.deepcopy(catalog.latest(RecordType.TRANSACTION).definition)
    broken["fields"] = [f for f in broken["fields"] if f["name"] != "currency"]
    catalog.learn(12, broken)
    record = {k: v for k, v in transaction_record().items() if k != "currency"}
    with pytest.raises(IncompatibleSchemaError, match="schema id 12 cannot be read"):
        AvroCodec(catalog).decode(_frame(12, broken, record), RecordType.TRANSACTION)


def test_only_the_contracts_record_types_are_learned() -> None:
    catalog = SchemaCatalog(default_schemas_dir()).readers_only()
    with pytest.raises(ValueError, match=r"com\.other\.Thing schema, not one of the contract"):
        catalog.learn(5, {"type": "record", "name": "Thing", "namespace": "com.other",
                          "fields": []})
    with pytest.raises(ValueError, match="does not parse"):
        catalog.learn(6, {"type": "record", "name": "Transaction",
                          "namespace": "com.predelinq.bank.v1", "fields": [{"name": "x"}]})
    assert catalog.by_id(5) is None
    assert catalog.by_id(6) is None


def test_the_learned_schemas_are_bounded() -> None:
    catalog = SchemaCatalog(default_schemas_dir()).readers_only()
    schema = catalog.latest(RecordType.TRANSACTION).definition
    for schema_id in range(MAX_LEARNED_SCHEMAS):
        catalog.learn(1_000 + schema_id, schema)
    with pytest.raises(OverflowError):
        catalog.learn(99_999, schema)
