"""bench/state_memory.py: its RocksDB store is the processor's StateStore over databases
opened with the worker's shared bound, and its traffic is the simulator's, encoded."""

from __future__ import annotations

from pathlib import Path

from bench.state_memory import PARTITIONS, TOPICS, RocksDBStore, inputs
from stream_app.events import RecordType
from stream_app.serializers import InputDecoder, SchemaCatalog
from stream_app.worker._rocksdb_memory import RocksDBMemory

MiB = 1024**2


def test_rocksdb_store_keeps_states_and_contacts_apart_per_partition(tmp_path: Path) -> None:
    memory = RocksDBMemory(block_cache_bytes=MiB, memtable_limit_bytes=4 * MiB,
                           write_buffer_bytes=MiB, max_write_buffers=2)
    store = RocksDBStore(tmp_path, memory)
    try:
        store.put(3, b"c-1", b"state")
        store.put_contact(3, b"c-1", b"contact")
        assert store.get(3, b"c-1") == b"state"
        assert store.get_contact(3, b"c-1") == b"contact"
        assert store.get(4, b"c-1") is None
        assert list(store.items(3)) == [(b"c-1", b"state")]
        assert len(store.databases()) == 2 * PARTITIONS
        assert memory.write_buffer_manager.get_usage() > 0  # the shared bound counts them
    finally:
        store.close()


def test_inputs_are_the_simulated_events_encoded_and_partitioned_by_key() -> None:
    first = list(inputs(customers=20, days=5, seed=3))
    assert first
    assert first == list(inputs(customers=20, days=5, seed=3))  # deterministic
    assert [r.offset for r in first] == list(range(len(first)))
    decoder = InputDecoder(SchemaCatalog.default(), {
        TOPICS["transaction"]: RecordType.TRANSACTION, TOPICS["payment"]: RecordType.PAYMENT,
        TOPICS["customer_flags"]: RecordType.CUSTOMER_FLAGS})
    by_customer: dict[bytes, set[int]] = {}
    for record in first:
        event = decoder.decode(record.topic, record.value)  # valid per the contract
        assert event.customer_id.encode() == record.key
        by_customer.setdefault(record.key, set()).add(record.partition)
    assert all(len(partitions) == 1 for partitions in by_customer.values())
