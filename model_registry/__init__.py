"""The model registry: versioned, checksummed model directories (no Kafka, no stream code)."""

from ._aliases import (
    ALIAS_LOCK_FILE,
    AliasChange,
    aliases,
    history,
    promote,
    rollback,
)
from ._store import (
    ALIAS_HISTORY_FILE,
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
    "ALIAS_HISTORY_FILE",
    "ALIAS_LOCK_FILE",
    "CHECKSUM_FILE",
    "METADATA_FILE",
    "MODEL_FILE",
    "AliasChange",
    "CorruptModelError",
    "ModelNotFoundError",
    "ModelVersion",
    "RegistryError",
    "aliases",
    "history",
    "list_versions",
    "open_version",
    "promote",
    "resolve_alias",
    "rollback",
    "set_alias",
    "write_version",
]
