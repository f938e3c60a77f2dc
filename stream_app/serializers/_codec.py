"""Wire codecs: Confluent-framed Avro (magic byte 0, 4-byte big-endian schema id, Avro body)
and JSON (orjson, same field names), plus the input decoder that turns a consumed value into a
validated event.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from typing import Any

import fastavro
import orjson
from fastavro.read import SchemaResolutionError

from stream_app.events import InputEvent, RecordType

from ._errors import (
    AvroBodyError,
    IncompatibleSchemaError,
    JsonBodyError,
    MalformedFrameError,
    SchemaMismatchError,
    UnknownSchemaIdError,
)
from ._schemas import SchemaCatalog
from ._validation import validate

__all__ = [
    "MAGIC_BYTE",
    "AvroCodec",
    "InputDecoder",
    "OutputDecoder",
    "OutputEncoder",
    "decode_json",
    "encode_json",
]

MAGIC_BYTE = 0
_HEADER_LENGTH = 5
_JSON_START = ord("{")


class AvroCodec:
    """Confluent-framed Avro with the catalogue's parsed schemas. ``header_ids``: the ids a
    schema registry gave the newest schemas (default: the catalogue's own ids)."""

    def __init__(self, catalog: SchemaCatalog,
                 header_ids: Mapping[RecordType, int] | None = None) -> None:
        self.catalog = catalog
        # the header names the schema the body is written with: the newest version of the
        # record type's subject (not the highest id, although ids are appended in order)
        latest = {s.record_type: catalog.latest(s.record_type).schema_id for s in catalog.all()}
        latest.update(header_ids or {})
        self._headers = {
            record_type: bytes([MAGIC_BYTE]) + schema_id.to_bytes(4, "big")
            for record_type, schema_id in latest.items()
        }

    def encode(self, record_type: RecordType, record: Mapping[str, Any]) -> bytes:
        schema = self.catalog.latest(record_type)
        buffer = io.BytesIO()
        buffer.write(self._headers[record_type])
        fastavro.schemaless_writer(buffer, schema.wire, record)
        return buffer.getvalue()

    def decode(self, data: bytes, expected: RecordType) -> dict[str, Any]:
        if len(data) < _HEADER_LENGTH or data[0] != MAGIC_BYTE:
            raise MalformedFrameError("not a Confluent Avro frame (magic byte 0 + 4-byte id)")
        schema_id = int.from_bytes(data[1:5], "big")
        writer = self.catalog.by_id(schema_id)
        if writer is None:
            raise UnknownSchemaIdError(f"schema id {schema_id} is not in the catalogue")
        if writer.record_type is not expected:
            raise SchemaMismatchError(
                f"schema id {schema_id} is a {writer.record_type.name}, "
                f"this topic carries {expected.name}"
            )
        reader = self.catalog.latest(expected)
        body = io.BytesIO(data)
        body.seek(_HEADER_LENGTH)
        try:
            if reader.schema_id == writer.schema_id:
                record = fastavro.schemaless_reader(body, writer.wire)
            else:
                record = fastavro.schemaless_reader(body, writer.wire, reader.wire)
        except SchemaResolutionError:
            raise IncompatibleSchemaError(
                f"records written with schema id {schema_id} cannot be read with the "
                f"contract's {expected.name} schema (id {reader.schema_id}): a required field "
                "is missing or a type changed incompatibly") from None
        except Exception as exc:  # fastavro raises EOFError, ValueError, IndexError, ...
            raise AvroBodyError(
                f"Avro body unreadable with schema id {schema_id} ({type(exc).__name__})"
            ) from None
        if body.tell() != len(data):
            raise AvroBodyError(f"{len(data) - body.tell()} unexpected bytes after the record")
        if not isinstance(record, dict):
            raise AvroBodyError("Avro body is not a record")
        return record


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def encode_json(record: Mapping[str, Any]) -> bytes:
    """JSON with the Avro field names; bytes fields become base64 strings."""
    return orjson.dumps(record, default=_json_default)


def decode_json(data: bytes) -> dict[str, Any]:
    try:
        record = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise JsonBodyError("value is not valid UTF-8 JSON") from None
    if not isinstance(record, dict):
        raise JsonBodyError("JSON value must be an object")
    return record


def _decode_any(avro: AvroCodec, value: bytes | None, expected: RecordType) -> dict[str, Any]:
    if not value:
        raise MalformedFrameError("empty value (tombstone or missing payload)")
    first = value[0]
    if first == MAGIC_BYTE:
        return avro.decode(value, expected)
    if first == _JSON_START:
        return decode_json(value)
    raise MalformedFrameError("value is neither a Confluent Avro frame nor a JSON object")


class InputDecoder:
    """Consumed value (Avro frame or JSON object) -> validated, typed input event.

    The format is recognised by the first byte: 0 is a Confluent frame, ``{`` a JSON object.
    Raises a subclass of :class:`~stream_app.serializers.InputError` for anything unusable.
    """

    def __init__(self, catalog: SchemaCatalog, topic_types: Mapping[str, RecordType]) -> None:
        self._avro = AvroCodec(catalog)
        self._topic_types = dict(topic_types)

    def record_type_for(self, topic: str) -> RecordType:
        return self._topic_types[topic]

    def decode_record(self, topic: str, value: bytes | None) -> dict[str, Any]:
        """Decode without validating."""
        return _decode_any(self._avro, value, self._topic_types[topic])

    def decode(self, topic: str, value: bytes | None) -> InputEvent:
        return validate(self._topic_types[topic], self.decode_record(topic, value))


class OutputEncoder:
    """Encodes output records in the configured wire format (``avro`` or ``json``)."""

    def __init__(self, catalog: SchemaCatalog, output_format: str,
                 header_ids: Mapping[RecordType, int] | None = None) -> None:
        if output_format not in ("avro", "json"):
            raise ValueError("output_format must be 'avro' or 'json'")
        self._avro = AvroCodec(catalog, header_ids) if output_format == "avro" else None

    def encode(self, record_type: RecordType, record: Mapping[str, Any]) -> bytes:
        if self._avro is not None:
            return self._avro.encode(record_type, record)
        return encode_json(record)


class OutputDecoder:
    """Reads our own output records back (CRM-side consumers, the demo view, tests)."""

    def __init__(self, catalog: SchemaCatalog) -> None:
        self._avro = AvroCodec(catalog)

    def decode(self, record_type: RecordType, value: bytes | None) -> dict[str, Any]:
        return _decode_any(self._avro, value, record_type)
