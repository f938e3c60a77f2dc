"""The output schemas registered on start: every revision of each output record type under
its topic's subject (``<topic>-value``, Confluent's TopicNameStrategy), in order, with the
subject's compatibility set to BACKWARD first, so the registry itself checks that each
revision can read the one before. The newest revision's id frames the outputs."""

from __future__ import annotations

from collections.abc import Mapping

from stream_app.events import RecordType
from stream_app.serializers import SchemaCatalog

from ._client import SchemaRegistryClient

__all__ = ["COMPATIBILITY", "register_outputs"]

COMPATIBILITY = "BACKWARD"


async def register_outputs(client: SchemaRegistryClient, catalog: SchemaCatalog,
                           topics: Mapping[RecordType, str]) -> dict[RecordType, int]:
    """Register the contract's revisions of each record type under ``<topic>-value``; the
    registry's id of each type's newest revision."""
    ids: dict[RecordType, int] = {}
    for record_type, topic in topics.items():
        subject = f"{topic}-value"
        await client.set_compatibility(subject, COMPATIBILITY)
        revisions = sorted((s for s in catalog.all() if s.record_type is record_type),
                           key=lambda s: s.version)
        for revision in revisions:
            ids[record_type] = await client.register(subject, revision.definition)
    return ids
