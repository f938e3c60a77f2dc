"""The local schema catalogue: ``schemas/*.avsc`` and their ids from ``schemas/registry.json``.

Each schema is parsed once. For the wire we keep a copy with ``logicalType`` annotations
removed: the bytes are identical (timestamp-millis is a long, date an int), but fastavro then
reads and writes plain integers instead of building ``datetime`` objects per record.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import fastavro

from stream_app.events import RecordType

__all__ = ["RegisteredSchema", "SchemaCatalog", "default_schemas_dir"]


def default_schemas_dir() -> Path:
    """The repository's ``schemas/`` folder (the contract ships with the code)."""
    return Path(__file__).resolve().parents[2] / "schemas"


def _strip_logical_types(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _strip_logical_types(v) for k, v in node.items() if k != "logicalType"}
        return out
    if isinstance(node, list):
        return [_strip_logical_types(v) for v in node]
    return node


@dataclass(frozen=True)
class RegisteredSchema:
    schema_id: int
    subject: str
    version: int
    record_type: RecordType
    definition: dict[str, Any]  # as written in the .avsc file (with logical types)
    wire: Any  # fastavro-parsed, logical types removed


class SchemaCatalog:
    """Schema ids, versions and parsed schemas, loaded from one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        mapping = json.loads((directory / "registry.json").read_text())
        self._by_id: dict[int, RegisteredSchema] = {}
        self._latest: dict[RecordType, RegisteredSchema] = {}
        for subject, versions in mapping["subjects"].items():
            for entry in sorted(versions, key=lambda e: e["version"]):
                definition = json.loads((directory / entry["file"]).read_text())
                full_name = f"{definition['namespace']}.{definition['name']}"
                record_type = RecordType(full_name)
                schema_id = int(entry["id"])
                if schema_id in self._by_id:
                    raise ValueError(f"schema id {schema_id} is used twice in registry.json")
                wire = fastavro.parse_schema(_strip_logical_types(copy.deepcopy(definition)))
                registered = RegisteredSchema(
                    schema_id, subject, int(entry["version"]), record_type, definition, wire
                )
                self._by_id[schema_id] = registered
                self._latest[record_type] = registered

    @classmethod
    @cache
    def default(cls) -> SchemaCatalog:
        return cls(default_schemas_dir())

    def by_id(self, schema_id: int) -> RegisteredSchema | None:
        return self._by_id.get(schema_id)

    def latest(self, record_type: RecordType) -> RegisteredSchema:
        return self._latest[record_type]

    def all(self) -> list[RegisteredSchema]:
        return sorted(self._by_id.values(), key=lambda s: s.schema_id)
