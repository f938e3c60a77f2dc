"""The worker's faust tables on the production store (RocksDB via rocksdict): every database
of both tables shares one memory bound from the settings, and each table partition is its
own database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner

from stream_app.settings import Settings
from stream_app.worker import WorkerRuntime
from stream_app.worker._table_store import partition_items
from tests.support.models import TrainedFixture

MiB = 1024**2


@pytest.fixture
def runtime(trained: TrainedFixture, tmp_path: Path) -> WorkerRuntime:
    settings = Settings(  # type: ignore[call-arg]
        app_name="tables-test", kafka_bootstrap_servers="127.0.0.1:1",
        state_store_url="rocksdb://", state_dir=str(tmp_path), topic_partitions=4,
        model_path=str(trained.path), rocksdb_write_buffer_bytes=4 * MiB,
        rocksdb_max_write_buffers=3, rocksdb_block_cache_bytes=2 * MiB,
        rocksdb_memtable_limit_bytes=12 * MiB)
    return WorkerRuntime(settings, trained.model)


def test_every_database_of_both_tables_shares_the_bound_from_the_settings(
        runtime: WorkerRuntime) -> None:
    memory = runtime.rocksdb_memory
    assert (memory.block_cache_bytes, memory.memtable_limit_bytes, memory.write_buffer_bytes,
            memory.max_write_buffers) == (2 * MiB, 12 * MiB, 4 * MiB, 3)
    for table in (runtime.table, runtime.contacts):
        options = table.data.rocksdb_options  # faust's RocksDBOptions of the table's store
        assert options.memory is memory
        assert (options.write_buffer_size, options.max_write_buffer_number) == (4 * MiB, 3)
    store: Any = runtime.table.data
    db = store._db_for_partition(1)
    for i in range(2000):
        db[f"c-{i}".encode()] = bytes(200)
    db.flush()  # an SST file: reading it puts its index, filter and data blocks in the cache
    before = memory.cache.get_usage()
    assert db[b"c-7"] == bytes(200)
    assert memory.cache.get_usage() > before
    contacts: Any = runtime.contacts.data
    contacts_db = contacts._db_for_partition(1)
    contacts_db[b"c-7"] = b"contact"
    contacts_db.flush()
    before = memory.cache.get_usage()
    assert contacts_db[b"c-7"] == b"contact"
    assert memory.cache.get_usage() > before  # the other table's blocks go to the same cache


def test_each_table_partition_is_its_own_database(runtime: WorkerRuntime) -> None:
    store: Any = runtime.table.data
    store._db_for_partition(0)[b"c-1"] = b"state-1"
    store._db_for_partition(3)[b"c-2"] = b"state-2"
    assert list(store._db_for_partition(0).items()) == [(b"c-1", b"state-1")]
    assert list(store._db_for_partition(3).items()) == [(b"c-2", b"state-2")]
    paths = sorted(p.name for p in Path(store.partition_path(0)).parent.iterdir()
                   if p.name.endswith(".db"))
    assert paths == ["customer-state-0.db", "customer-state-3.db"]


def test_stored_customers_of_a_partition_come_from_its_database_alone(
        runtime: WorkerRuntime) -> None:
    store: Any = runtime.table.data
    store._db_for_partition(0)[b"c-1"] = b"state-1"
    store._db_for_partition(2)[b"c-2"] = b"state-2"
    items = partition_items(runtime.table, 0, 4)
    store._db_for_partition(0)[b"c-3"] = b"written-after-the-start"  # not in the snapshot
    assert list(items) == [(b"c-1", b"state-1")]
    assert list(partition_items(runtime.table, 2, 4)) == [(b"c-2", b"state-2")]
    assert list(partition_items(runtime.table, 1, 4)) == []


def test_the_memory_store_splits_its_keys_as_kafkas_default_partitioner_does(
        trained: TrainedFixture, tmp_path: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        app_name="tables-memory", kafka_bootstrap_servers="127.0.0.1:1",
        state_store_url="memory://", state_dir=str(tmp_path), topic_partitions=4,
        model_path=str(trained.path))
    table = WorkerRuntime(settings, trained.model).table
    keys = [f"C-{i:04d}".encode() for i in range(40)]
    table.data.data.update({k: b"state-" + k for k in keys})
    partitioner = DefaultPartitioner()
    for partition in range(4):
        expected = [(k, v) for k, v in table.data.data.items()
                    if partitioner(k, [0, 1, 2, 3], [0, 1, 2, 3]) == partition]
        assert len(expected) >= 5
        items = partition_items(table, partition, 4)
        table.data.data[f"N-{partition}".encode()] = b"new"  # written while iterated: no error
        assert list(items) == expected


def test_a_batchs_writes_reach_the_local_store_only_with_its_changelog() -> None:
    """A state must not be in the local store (a RocksDB database outlives a crash) before
    the batch's outputs are delivered, which is when the worker calls send_changelog."""
    from types import SimpleNamespace

    from stream_app.worker._table_store import TableStore

    sent: list[tuple[str, int, bytes, bytes]] = []

    def table(name: str) -> Any:
        return SimpleNamespace(data=SimpleNamespace(data={}), send_changelog=lambda p, k, v: (
            sent.append((name, p, k, v)) or len(sent)))

    states, contacts = table("states"), table("contacts")
    store = TableStore(states, contacts, partitions=4)
    states.data.data[b"c-1"] = b"old"
    store.put(1, b"c-1", b"new")
    store.put_contact(1, b"c-1", b"contact")
    assert store.get(1, b"c-1") == b"new"  # the batch reads its own writes
    assert store.get_contact(1, b"c-1") == b"contact"
    assert states.data.data == {b"c-1": b"old"}  # not in the local store yet
    assert contacts.data.data == {}
    assert sent == []
    assert store.send_changelog() == [1, 2]
    assert states.data.data == {b"c-1": b"new"}
    assert contacts.data.data == {b"c-1": b"contact"}
    assert sent == [("states", 1, b"c-1", b"new"), ("contacts", 1, b"c-1", b"contact")]
    assert store.get(1, b"c-1") == b"new"
    assert store.send_changelog() == []  # nothing written since


def test_with_exactly_once_a_partitions_writes_wait_for_its_transactions_commit() -> None:
    """exactly_once: the states of a delivered batch stay out of the local store until the
    transaction of their partition commits (a crash before it aborts the transaction, and a
    RocksDB database outlives the crash); then the store gets them and the changelog offset
    they reach. A partition whose transaction does not commit drops them."""
    from types import SimpleNamespace

    from stream_app.worker._table_store import TableStore

    sent: list[tuple[str, int, bytes, bytes]] = []
    persisted: dict[tuple[str, int], int] = {}

    def table(name: str) -> Any:
        def send_changelog(partition: int, key: bytes, value: bytes) -> Any:
            sent.append((name, partition, key, value))
            metadata = SimpleNamespace(topic_partition=(f"{name}-changelog", partition),
                                       offset=len(sent) * 10)
            return SimpleNamespace(result=lambda: metadata)

        def set_persisted_offset(tp: tuple[str, int], offset: int) -> None:
            persisted[tp] = offset

        return SimpleNamespace(data=SimpleNamespace(
            data={}, set_persisted_offset=set_persisted_offset), send_changelog=send_changelog)

    states, contacts = table("states"), table("contacts")
    store = TableStore(states, contacts, partitions=4, hold_until_commit=True)
    store.put(1, b"c-1", b"s1")
    store.put(2, b"c-2", b"s2")
    store.put_contact(1, b"c-1", b"k1")
    assert len(store.send_changelog()) == 3  # the changelog goes out with the outputs
    store.put(1, b"c-1", b"s1-again")  # a later batch, same partition, before the commit
    assert len(store.send_changelog()) == 1
    assert [s[1:] for s in sent] == [(1, b"c-1", b"s1"), (2, b"c-2", b"s2"),
                                     (1, b"c-1", b"k1"), (1, b"c-1", b"s1-again")]
    assert states.data.data == {}  # nothing stored yet
    assert contacts.data.data == {}
    assert persisted == {}
    assert (store.get(1, b"c-1"), store.get(2, b"c-2")) == (b"s1-again", b"s2")  # held
    assert store.get_contact(1, b"c-1") == b"k1"
    assert store.held_partitions == [1, 2]

    store.committed(1)
    assert states.data.data == {b"c-1": b"s1-again"}  # partition 1 only, its last state
    assert contacts.data.data == {b"c-1": b"k1"}
    # the offsets of partition 1's last changelog record of each table (4th and 3rd sent)
    assert persisted == {("states-changelog", 1): 40, ("contacts-changelog", 1): 30}
    assert store.held_partitions == [2]

    store.discard(2)  # partition 2's transaction did not commit
    assert store.held_partitions == []
    assert store.get(2, b"c-2") is None  # back to what is committed
    store.committed(2)  # nothing left to apply
    assert b"c-2" not in states.data.data
    assert ("states-changelog", 2) not in persisted


def test_an_abandoned_batch_leaves_no_state_behind() -> None:
    """A batch whose outputs were not all delivered is abandoned: its writes are neither
    read again nor stored, and none of its changelog records is sent."""
    from types import SimpleNamespace

    from stream_app.worker._table_store import TableStore

    sent: list[tuple[int, bytes, bytes]] = []

    def table(stored: dict[bytes, bytes]) -> Any:
        def send_changelog(partition: int, key: bytes, value: bytes) -> int:
            sent.append((partition, key, value))
            return len(sent)

        return SimpleNamespace(data=SimpleNamespace(data=stored), send_changelog=send_changelog)

    states, contacts = table({b"c-1": b"old"}), table({})
    store = TableStore(states, contacts, partitions=4)
    store.put(1, b"c-1", b"new")
    store.put_contact(1, b"c-1", b"contact")
    store.abandon_batch()
    assert store.get(1, b"c-1") == b"old"
    assert store.get_contact(1, b"c-1") is None
    assert store.send_changelog() == []
    assert sent == []
    assert states.data.data == {b"c-1": b"old"}
