"""The model registry: versioned, checksummed model directories (no Kafka, no stream code)."""

from ._store import (
    CHECKSUM_FILE,
    METADATA_FILE,
    MODEL_FILE,
    CorruptModelError,
    ModelNotFoundError,
    ModelVersion,
    RegistryError,
    list_versions,
    open_version,
    resolve_alias,
    set_alias,
    write_version,
)

__all__ = [
    "CHECKSUM_FILE",
    "METADATA_FILE",
    "MODEL_FILE",
    "CorruptModelError",
    "ModelNotFoundError",
    "ModelVersion",
    "RegistryError",
    "list_versions",
    "open_version",
    "resolve_alias",
    "set_alias",
    "write_version",
]
