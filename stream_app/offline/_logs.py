"""Event logs on disk: JSON Lines (one event per line with ``"type"``) and Avro container files.

JSON Lines is the exchange format for replay and training; each line is a transaction, payment
or customer-flags event with the contract's field names plus ``"type"``. Avro Object Container
Files hold one record type each (the writer's schema is embedded in the file).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import fastavro
import orjson

from stream_app.events import InputEvent, RecordType
from stream_app.serializers import SchemaCatalog, validate

__all__ = [
    "LOG_TYPES",
    "EventLogError",
    "read_avro_log",
    "read_jsonl_log",
    "to_event",
    "write_avro_log",
    "write_jsonl_log",
]

LOG_TYPES: dict[str, RecordType] = {
    "transaction": RecordType.TRANSACTION,
    "payment": RecordType.PAYMENT,
    "customer_flags": RecordType.CUSTOMER_FLAGS,
}
_TYPE_OF_RECORD = {v: k for k, v in LOG_TYPES.items()}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


class EventLogError(ValueError):
    """A log line could not be used; ``line`` is 1-based."""

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.line = line


def to_event(record: dict[str, Any]) -> InputEvent:
    """A log record (with ``type``) -> validated event; raises InputError or KeyError."""
    record_type = LOG_TYPES[record["type"]]
    return validate(record_type, record)


def write_jsonl_log(path: Path, records: Iterable[dict[str, Any]]) -> int:
    count = 0
    with path.open("wb") as out:
        for record in records:
            out.write(orjson.dumps(record))
            out.write(b"\n")
            count += 1
    return count


def read_jsonl_log(path: Path, *, strict: bool = True) -> Iterator[dict[str, Any]]:
    """Yield records; with ``strict`` an unusable line raises EventLogError, else it is skipped."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                if strict:
                    raise EventLogError(str(path), number, "not valid JSON") from None
                continue
            if not isinstance(record, dict) or record.get("type") not in LOG_TYPES:
                if strict:
                    raise EventLogError(
                        str(path), number, f"'type' must be one of {', '.join(LOG_TYPES)}"
                    )
                continue
            yield record


def write_avro_log(
    handle: IO[bytes], record_type: RecordType, records: Iterable[dict[str, Any]]
) -> None:
    """Write an Object Container File embedding the contract schema (with logical types)."""
    schema = fastavro.parse_schema(SchemaCatalog.default().latest(record_type).definition)
    fastavro.writer(handle, schema, records, codec="deflate")


def read_avro_log(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as handle:
        writer_schema = fastavro.reader(handle).writer_schema
        schema: dict[str, Any] = writer_schema if isinstance(writer_schema, dict) else {}
        name = str(schema.get("name", ""))
        if "." not in name:
            name = f"{schema.get('namespace', '')}.{name}"
        try:
            record_type = RecordType(name)
            log_type = _TYPE_OF_RECORD[record_type]
        except (ValueError, KeyError):
            raise EventLogError(str(path), 0, f"records of type {name} are not events") from None
        handle.seek(0)
        # fastavro applies the *writer's* logical types even with a stripped reader schema, so
        # turn datetime/date values back into epoch ms and epoch days (the contract's integers)
        wire = SchemaCatalog.default().latest(record_type).wire
        reader = fastavro.reader(handle, reader_schema=wire)
        for record in reader:
            if isinstance(record, dict):
                for key, value in record.items():
                    if isinstance(value, dt.datetime):
                        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
                        record[key] = (moment - _EPOCH) // dt.timedelta(milliseconds=1)
                    elif isinstance(value, dt.date):
                        record[key] = value.toordinal() - _EPOCH_ORDINAL
                record["type"] = log_type
                yield record
