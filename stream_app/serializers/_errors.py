"""Typed errors raised while decoding and validating input records.

Every error carries a short, stable ``reason`` code (used as the dead-letter reason and as a
bounded metric label) and a message that names fields but never quotes their values, because
values can be personal data.
"""

from __future__ import annotations

__all__ = [
    "AvroBodyError",
    "DecodeError",
    "EventTimeInFutureError",
    "IncompatibleSchemaError",
    "InputError",
    "InvalidValueError",
    "JsonBodyError",
    "KeyMismatchError",
    "LateEventError",
    "MalformedFrameError",
    "MissingFieldError",
    "SchemaMismatchError",
    "UnknownSchemaIdError",
    "ValidationError",
    "WrongPartitionError",
    "WrongTypeError",
]


class InputError(Exception):
    """Base of everything that makes an input record unusable."""

    reason = "invalid_input"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DecodeError(InputError):
    """The bytes could not be turned into a record."""

    reason = "undecodable"


class MalformedFrameError(DecodeError):
    """Empty value, unknown leading byte or a Confluent header shorter than 5 bytes."""

    reason = "malformed_frame"


class UnknownSchemaIdError(DecodeError):
    """The Confluent header names a schema id we do not know."""

    reason = "unknown_schema_id"


class IncompatibleSchemaError(DecodeError):
    """The schema registry knows the writer schema, but records written with it cannot be read
    with the contract's schema (a field the contract requires is missing, or a type changed)."""

    reason = "incompatible_schema"


class SchemaMismatchError(DecodeError):
    """The schema id is known but belongs to another record type than the topic carries."""

    reason = "schema_mismatch"


class AvroBodyError(DecodeError):
    """The Avro body is truncated, too long or otherwise not readable with its schema."""

    reason = "avro_body"


class JsonBodyError(DecodeError):
    """The JSON body is not valid UTF-8 JSON or not an object."""

    reason = "json_body"


class ValidationError(InputError):
    """The record decoded but breaks the contract."""

    reason = "invalid"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class MissingFieldError(ValidationError):
    reason = "missing_field"


class WrongTypeError(ValidationError):
    reason = "wrong_type"


class InvalidValueError(ValidationError):
    reason = "invalid_value"


class KeyMismatchError(InputError):
    """The record's Kafka key is not its customer_id, which breaks co-partitioning."""

    reason = "key_mismatch"

    def __init__(self) -> None:
        super().__init__("record key must be the event's customer_id (co-partitioning)")


class WrongPartitionError(InputError):
    """The record's key hashes to another partition than the one it arrived on: its producer
    uses another partitioner than ``KAFKA_PARTITIONER``, so the customer's state is elsewhere."""

    reason = "wrong_partition"

    def __init__(self, *, expected: int, partitions: int, partitioner: str) -> None:
        super().__init__(f"the key hashes to partition {expected} of {partitions} with "
                         f"{partitioner} (KAFKA_PARTITIONER): the producer must partition with "
                         f"{partitioner}, or the customer's events are split over two states")
        self.expected = expected


class LateEventError(InputError):
    """The event is older than the customer's watermark minus the lateness bound."""

    reason = "too_late"

    def __init__(self) -> None:
        super().__init__("occurred_at is older than the customer's latest event time minus "
                         "the lateness bound (35 days)")


class EventTimeInFutureError(InputError):
    """The event claims a time further ahead of the worker's wall clock than
    ``MAX_EVENT_SKEW_SECONDS``: applied, it would move its partition's event-time clock (and
    fire every absence deadline on it) and its customer's watermark into the future."""

    reason = "event_time_in_future"

    def __init__(self, *, skew_seconds: float, applied_flags: bool = False) -> None:
        detail = (" (its protective customer flags were applied, its clearing of flags was "
                  "not)" if applied_flags else "")
        super().__init__(f"occurred_at is more than {skew_seconds:g} s ahead of the worker's "
                         f"wall clock (MAX_EVENT_SKEW_SECONDS){detail}")
