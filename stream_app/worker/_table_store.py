"""The worker's state store: its two faust tables read and written per input partition (no
Kafka here beyond the tables' changelog sends)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aiokafka.partitioner import murmur2

__all__ = ["TableStore", "partition_data", "partition_items"]


class TableStore:
    """StateStore over the worker's two faust tables, read and written per partition.

    A write is seen by the batch's own reads at once; it reaches the partition's store, and
    its changelog record is sent, in ``send_changelog()`` *after the batch's outputs are
    delivered* and awaited before the
    batch's records count as processed. The order matters with at-least-once: if a worker
    dies after writing a customer's state to the changelog but before its risk events are
    delivered, the new owner restores a state that already holds those events' ids, treats
    their re-delivery as duplicates and never publishes their risk events. Outputs first,
    then state: a crash in between only re-publishes identical outputs. (faust's own
    ``table[key] = value`` leaves the record in a buffer drained in the background, which
    gives neither order nor, with exactly_once, the guarantee that it joins the transaction
    of the batch's offsets.)

    The partition's store is addressed directly (RocksDB: the partition's own database;
    memory: the table's dict), not through faust's table API, which finds the partition from
    the "current event" of a stream: there is no stream here, and no per-key bookkeeping.
    """

    def __init__(self, table: Any, contacts: Any, partitions: int) -> None:
        self._table = table
        self._contacts = contacts
        self._partitions = partitions
        self._changelog: list[tuple[Any, int, bytes, bytes]] = []  # (table, partition, k, v)
        # writes of the batch in progress, (partition, key) -> value per table; the local
        # store gets them with the changelog, after the outputs (a RocksDB database
        # survives a crash: a state written before its outputs were delivered would make
        # the re-read events look like duplicates after a restart, and their outputs would
        # never be published)
        self._pending: dict[int, dict[tuple[int, bytes], bytes]] = {0: {}, 1: {}}

    def get(self, partition: int, key: bytes) -> bytes | None:
        return self._read(0, self._table, partition, key)

    def put(self, partition: int, key: bytes, value: bytes) -> None:
        self._write(0, self._table, partition, key, value)

    def _read(self, index: int, table: Any, partition: int, key: bytes) -> bytes | None:
        pending = self._pending[index].get((partition, key))
        if pending is not None:
            return pending
        value: bytes | None = partition_data(table, partition).get(key)
        return value

    def _write(self, index: int, table: Any, partition: int, key: bytes, value: bytes) -> None:
        self._pending[index][(partition, key)] = value
        self._changelog.append((table, partition, key, value))

    def send_changelog(self) -> list[Any]:
        """Write the batch's states to the local store and send their changelog records
        (call it once the batch's outputs are delivered); returns the sends' futures."""
        for index, table in ((0, self._table), (1, self._contacts)):
            for (partition, key), value in self._pending[index].items():
                partition_data(table, partition)[key] = value
            self._pending[index].clear()
        sends = [table.send_changelog(partition, key, value)
                 for table, partition, key, value in self._changelog]
        self._changelog.clear()
        return sends

    def get_contact(self, partition: int, key: bytes) -> bytes | None:
        return self._read(1, self._contacts, partition, key)

    def put_contact(self, partition: int, key: bytes, value: bytes) -> None:
        self._write(1, self._contacts, partition, key, value)

    def items(self, partition: int) -> Iterator[tuple[bytes, bytes]]:
        """Stored customers of one input partition, lazily, from a snapshot (the processor
        reads it a slice at a time between batches; see BatchProcessor.index_step)."""
        return partition_items(self._table, partition, self._partitions)


def partition_data(table: Any, partition: int) -> Any:
    """The mapping of raw keys to raw values where a faust table keeps one partition: a
    RocksDB store's database of that partition (opened on first use, as faust does), or the
    memory store's dict of every partition."""
    store = table.data
    if hasattr(store, "_db_for_partition"):  # faust.stores.rocksdb.Store (private API)
        return store._db_for_partition(partition)
    return store.data  # faust.stores.memory.Store


def partition_items(table: Any, partition: int, partitions: int) -> Iterator[tuple[bytes, bytes]]:
    """The (key, value) pairs a faust table stores for one partition.

    RocksDB keeps one database per partition: its iterator reads a consistent snapshot, and
    the database stays open while iterated even if the partition is revoked meanwhile (faust
    drops its reference without closing it). The memory store keeps one dict: the keys of the
    partition are listed first (keys map to partitions with Kafka's default partitioner,
    which producers must use: co-partitioning by customer_id), values read when reached."""
    store = table.data
    if hasattr(store, "_db_for_partition"):  # faust.stores.rocksdb.Store (private API)
        snapshot = iter(store._db_for_partition(partition).items())  # taken now, not lazily
        offset_key = store.offset_key  # where faust keeps the changelog offset, not a customer
        return ((k, v) for k, v in snapshot if k != offset_key)
    data = store.data  # faust.stores.memory.Store: a dict of every partition's keys
    keys = [k for k in list(data) if (murmur2(k) & 0x7FFFFFFF) % partitions == partition]
    return ((k, v) for k in keys if (v := data.get(k)) is not None)
