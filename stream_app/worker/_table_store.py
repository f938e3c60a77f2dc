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
    its changelog record is sent, only after the batch's outputs are delivered
    (``send_changelog()``, awaited before the batch's records count as processed). The order
    matters with at-least-once: if a worker dies after writing a customer's state to the
    changelog but before its risk events are delivered, the new owner restores a state that
    already holds those events' ids, treats their re-delivery as duplicates and never
    publishes their risk events. Outputs first, then state: a crash in between only
    re-publishes identical outputs. (faust's own ``table[key] = value`` leaves the record in
    a buffer drained in the background, which gives neither order nor, with exactly_once,
    the guarantee that it joins the transaction of the batch's offsets.)

    With exactly_once (``hold_until_commit``) a delivered batch's writes are *held* until the
    transaction of their input partition commits (``committed()``): a RocksDB database
    outlives a crash, and a state written to it before the commit would be ahead of what the
    restart reads again (the transaction aborts: its outputs vanish, and the re-read events
    would look like duplicates). Only then do the states reach the local store, followed by
    the changelog offset that store has reached (faust persists it only for at-least-once:
    under exactly_once its bookkeeping is keyed by the input partitions it commits, never by
    the changelog partitions, so a restart would read the whole changelog again). A
    transaction that does not commit (partition revoked) drops its held writes
    (``discard()``). Reads see held writes until then.

    The partition's store is addressed directly (RocksDB: the partition's own database;
    memory: the table's dict), not through faust's table API, which finds the partition from
    the "current event" of a stream: there is no stream here, and no per-key bookkeeping.
    """

    def __init__(self, table: Any, contacts: Any, partitions: int, *,
                 hold_until_commit: bool = False) -> None:
        self._tables = (table, contacts)
        self._partitions = partitions
        self._hold = hold_until_commit
        # the batch in progress: its writes, (partition, key) -> value per table, and their
        # changelog records in order, (table index, partition, key, value)
        self._pending: tuple[dict[tuple[int, bytes], bytes], ...] = ({}, {})
        self._changelog: list[tuple[int, int, bytes, bytes]] = []
        # exactly_once: delivered writes awaiting their partition's commit, per partition
        # (table index, key) -> value, and the last changelog send per partition and table
        self._held: dict[int, dict[tuple[int, bytes], bytes]] = {}
        self._held_sends: dict[int, dict[int, Any]] = {}

    def get(self, partition: int, key: bytes) -> bytes | None:
        return self._read(0, partition, key)

    def put(self, partition: int, key: bytes, value: bytes) -> None:
        self._write(0, partition, key, value)

    def get_contact(self, partition: int, key: bytes) -> bytes | None:
        return self._read(1, partition, key)

    def put_contact(self, partition: int, key: bytes, value: bytes) -> None:
        self._write(1, partition, key, value)

    def _read(self, index: int, partition: int, key: bytes) -> bytes | None:
        value = self._pending[index].get((partition, key))
        if value is not None:
            return value
        held = self._held.get(partition)
        if held is not None and (value := held.get((index, key))) is not None:
            return value
        stored: bytes | None = partition_data(self._tables[index], partition).get(key)
        return stored

    def _write(self, index: int, partition: int, key: bytes, value: bytes) -> None:
        self._pending[index][(partition, key)] = value
        self._changelog.append((index, partition, key, value))

    def send_changelog(self) -> list[Any]:
        """Send the batch's changelog records (call it once the batch's outputs are
        delivered) and write its states to the local store, or with ``hold_until_commit``
        hold them for ``committed()``; returns the sends' futures, to be awaited before the
        batch's records count as processed."""
        tables = self._tables
        sends = []
        for index, partition, key, value in self._changelog:
            send = tables[index].send_changelog(partition, key, value)
            sends.append(send)
            if self._hold:
                self._held_sends.setdefault(partition, {})[index] = send
        self._changelog.clear()
        for index, pending in enumerate(self._pending):
            if self._hold:
                for (partition, key), value in pending.items():
                    self._held.setdefault(partition, {})[(index, key)] = value
            else:
                write_partitions(tables[index], pending)
            pending.clear()
        return sends

    def abandon_batch(self) -> None:
        """The batch in progress failed before its changelog was sent (an output not
        delivered): forget its writes and changelog records. Its records are not committed,
        so whoever processes them next starts from the states before it."""
        for pending in self._pending:
            pending.clear()
        self._changelog.clear()

    def committed(self, partition: int) -> None:
        """The transaction of ``partition`` committed: write its held states to the local
        store, then the changelog offset they reach (a crash in between only makes the
        restart read those records again). The held sends were awaited by then."""
        for (index, key), value in self._held.pop(partition, {}).items():
            partition_data(self._tables[index], partition)[key] = value
        for index, send in self._held_sends.pop(partition, {}).items():
            sent = send.result()  # RecordMetadata of the partition's last changelog record
            self._tables[index].data.set_persisted_offset(sent.topic_partition, sent.offset)

    def discard(self, partition: int) -> None:
        """The transaction of ``partition`` did not commit: forget its held writes (whoever
        owns the partition next restores it from the committed changelog)."""
        self._held.pop(partition, None)
        self._held_sends.pop(partition, None)

    @property
    def held_partitions(self) -> list[int]:
        """Partitions with writes awaiting their transaction's commit."""
        return sorted(self._held.keys() | self._held_sends.keys())

    def items(self, partition: int) -> Iterator[tuple[bytes, bytes]]:
        """Stored customers of one input partition, lazily, from a snapshot (the processor
        reads it a slice at a time between batches; see BatchProcessor.index_step)."""
        return partition_items(self._tables[0], partition, self._partitions)


def write_partitions(table: Any, values: dict[tuple[int, bytes], bytes]) -> None:
    """Write ``{(partition, key): value}`` to the table's local store: with RocksDB one write
    batch per partition's database (one WAL append, as faust's own changelog restore writes),
    with the memory store its dict."""
    store = table.data
    if not hasattr(store, "_db_for_partition"):  # faust.stores.memory.Store
        data = store.data
        for (_, key), value in values.items():
            data[key] = value
        return
    from rocksdict import WriteBatch

    batches: dict[int, Any] = {}
    for (partition, key), value in values.items():
        batch = batches.get(partition)
        if batch is None:
            batch = batches[partition] = WriteBatch(raw_mode=True)
        batch.put(key, value)
    for partition, batch in batches.items():
        store._db_for_partition(partition).write(batch)  # faust's store (private API)


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
