"""Input schema ids looked up in the schema registry before a batch is decoded.

The decoder is pure: it only knows the schemas in its catalogue. Before a batch, the worker
hands its values to :meth:`SchemaLearner.learn`, which finds the Confluent frames whose id the
catalogue does not know and asks the registry for them once each: a schema of one of the
contract's record types joins the catalogue (records are then read with writer-reader
resolution, and those that cannot be resolved are dead-lettered as ``incompatible_schema``);
an id the registry does not have, or a schema of another type, is remembered as unknown for
``unknown_ttl_seconds`` and its records are dead-lettered as ``unknown_schema_id``. An
unreachable registry raises :class:`SchemaRegistryError`: the batch waits, nothing is
dead-lettered for the registry's sake.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from stream_app.backoff import Backoff, retry
from stream_app.serializers import MAGIC_BYTE, SchemaCatalog

from ._client import SchemaRegistryClient, SchemaRegistryError

if TYPE_CHECKING:
    from stream_app.settings import Settings

__all__ = ["SchemaLearner"]

log = logging.getLogger(__name__)
_MAX_UNKNOWN = 10_000  # ids remembered as unknown, at most (oldest forgotten first)


class SchemaLearner:
    def __init__(self, client: SchemaRegistryClient, catalog: SchemaCatalog, *,
                 unknown_ttl_seconds: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.catalog = catalog
        self._ttl = unknown_ttl_seconds
        self._clock = clock
        self._unknown: OrderedDict[int, float] = OrderedDict()  # id -> when to ask again
        self.lookups = 0  # registry calls made (for tests and metrics)

    @classmethod
    def from_settings(cls, settings: Settings, catalog: SchemaCatalog) -> SchemaLearner | None:
        """With SCHEMA_REGISTRY_URL: a learner over the readers of ``catalog`` (every input id
        is then the registry's, the local ids mean nothing); None without it."""
        client = SchemaRegistryClient.from_settings(settings)
        return None if client is None else cls(client, catalog.readers_only())

    def _unseen(self, values: Iterable[bytes | None]) -> list[int]:
        now = self._clock()
        ids: dict[int, None] = {}
        for value in values:
            if value and len(value) >= 5 and value[0] == MAGIC_BYTE:
                schema_id = int.from_bytes(value[1:5], "big")
                if self.catalog.by_id(schema_id) is None and \
                        self._unknown.get(schema_id, 0.0) <= now:
                    ids[schema_id] = None
        return list(ids)

    async def learn(self, values: Iterable[bytes | None]) -> int:
        """Look up the batch's unseen schema ids; returns how many joined the catalogue."""
        learned = 0
        for schema_id in self._unseen(values):
            self.lookups += 1
            schema = await self.client.schema_by_id(schema_id)
            reason = "the registry has no Avro schema with this id"
            if schema is not None:
                try:
                    self.catalog.learn(schema_id, schema)
                    learned += 1
                    log.info("schema id %d learned from the schema registry", schema_id)
                    continue
                except (ValueError, OverflowError) as exc:
                    reason = str(exc)
            log.warning("schema id %d unknown: %s", schema_id, reason)
            self._unknown[schema_id] = self._clock() + self._ttl
            self._unknown.move_to_end(schema_id)
            while len(self._unknown) > _MAX_UNKNOWN:
                self._unknown.popitem(last=False)
        return learned

    async def learn_patiently(self, values: Iterable[bytes | None], *,
                              on_error: Callable[[], None] = lambda: None,
                              max_delay: float = 10.0) -> int:
        """:meth:`learn`, retried with exponential backoff while the registry cannot answer
        (``on_error`` counts each failure): records wait, none is dead-lettered for the
        registry's sake."""
        pending = list(values)

        def report(exc: Exception, delay: float) -> None:
            on_error()
            log.warning("%s; retrying in %.1fs", exc, delay)

        return await retry(lambda: self.learn(pending),
                           retryable=lambda exc: isinstance(exc, SchemaRegistryError),
                           on_retry=report, backoff=Backoff(cap=max_delay))
