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

__all__ = ["MAX_LEARNED_SCHEMAS", "RegisteredSchema", "SchemaCatalog", "default_schemas_dir"]

# writer schemas learned from a schema registry, at most (each a few KiB parsed): a producer
# minting new ids without end cannot grow the worker's memory without bound
MAX_LEARNED_SCHEMAS = 1_000


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
        self._learned = 0
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
        self._contract = dict(self._by_id)

    @classmethod
    @cache
    def default(cls) -> SchemaCatalog:
        return cls(default_schemas_dir())

    def by_id(self, schema_id: int) -> RegisteredSchema | None:
        return self._by_id.get(schema_id)

    def latest(self, record_type: RecordType) -> RegisteredSchema:
        return self._latest[record_type]

    def all(self) -> list[RegisteredSchema]:
        """The contract's schemas (the files), by local id."""
        return sorted(self._contract.values(), key=lambda s: s.schema_id)

    def readers_only(self) -> SchemaCatalog:
        """A catalogue with the contract's schemas as readers and no writer id known: with a
        schema registry, every id of an input frame is the registry's and is learned from it
        (the local ids of ``registry.json`` would collide with the registry's own)."""
        other = copy.copy(self)
        other._by_id = {}
        other._learned = 0
        return other

    def learn(self, schema_id: int, definition: dict[str, Any]) -> RegisteredSchema:
        """Add a writer schema a schema registry holds under ``schema_id`` (the contract's own
        files stay the readers). Raises ``ValueError`` when it is not one of the contract's
        record types or cannot be parsed, ``OverflowError`` past ``MAX_LEARNED_SCHEMAS``."""
        known = self._by_id.get(schema_id)
        if known is not None:
            return known
        if self._learned >= MAX_LEARNED_SCHEMAS:
            raise OverflowError(f"more than {MAX_LEARNED_SCHEMAS} schemas learned")
        name = definition.get("name", "") if isinstance(definition, dict) else ""
        namespace = definition.get("namespace") if isinstance(definition, dict) else None
        full_name = name if "." in name or not namespace else f"{namespace}.{name}"
        try:
            record_type = RecordType(full_name)
        except ValueError:
            raise ValueError(f"schema id {schema_id} is a {full_name or 'nameless'} schema, not "
                             "one of the contract's record types") from None
        try:
            wire = fastavro.parse_schema(_strip_logical_types(copy.deepcopy(definition)))
        except Exception as exc:  # fastavro raises SchemaParseException, KeyError, ...
            raise ValueError(f"schema id {schema_id} does not parse ({type(exc).__name__})") \
                from None
        registered = RegisteredSchema(schema_id, "", 0, record_type, definition, wire)
        self._by_id[schema_id] = registered
        self._learned += 1
        return registered
