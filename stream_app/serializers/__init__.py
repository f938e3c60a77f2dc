"""Serializers: the local schema catalogue, Confluent-framed Avro and JSON codecs, validation.

Pure: no Kafka and no I/O beyond reading the schema files once.
"""

from ._codec import (
    MAGIC_BYTE,
    AvroCodec,
    InputDecoder,
    OutputDecoder,
    OutputEncoder,
    decode_json,
    encode_json,
)
from ._errors import (
    AvroBodyError,
    DecodeError,
    EventTimeInFutureError,
    IncompatibleSchemaError,
    InputError,
    InvalidValueError,
    JsonBodyError,
    KeyMismatchError,
    LateEventError,
    MalformedFrameError,
    MissingFieldError,
    SchemaMismatchError,
    UnknownSchemaIdError,
    ValidationError,
    WrongPartitionError,
    WrongTypeError,
)
from ._schemas import MAX_LEARNED_SCHEMAS, RegisteredSchema, SchemaCatalog, default_schemas_dir
from ._validation import (
    MAX_AMOUNT_MINOR,
    validate,
    validate_customer_flags,
    validate_payment,
    validate_transaction,
)

__all__ = [
    "MAGIC_BYTE",
    "MAX_AMOUNT_MINOR",
    "MAX_LEARNED_SCHEMAS",
    "AvroBodyError",
    "AvroCodec",
    "DecodeError",
    "EventTimeInFutureError",
    "IncompatibleSchemaError",
    "InputDecoder",
    "InputError",
    "InvalidValueError",
    "JsonBodyError",
    "KeyMismatchError",
    "LateEventError",
    "MalformedFrameError",
    "MissingFieldError",
    "OutputDecoder",
    "OutputEncoder",
    "RegisteredSchema",
    "SchemaCatalog",
    "SchemaMismatchError",
    "UnknownSchemaIdError",
    "ValidationError",
    "WrongPartitionError",
    "WrongTypeError",
    "decode_json",
    "default_schemas_dir",
    "encode_json",
    "validate",
    "validate_customer_flags",
    "validate_payment",
    "validate_transaction",
]
