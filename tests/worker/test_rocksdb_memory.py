"""One memory bound for all of a worker's RocksDB databases: a shared block cache holding
index and filter blocks too, and a shared memtable budget (stream_app/worker/_rocksdb_memory)."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from faust.stores.rocksdb import RocksDBOptions

from stream_app.settings import Settings
from stream_app.worker._rocksdb_memory import (
    RocksDBMemory,
    SharedMemoryRocksDBOptions,
    bound_rocksdb_memory,
    open_databases,
    rocksdb_usage,
)

MiB = 1024**2


def open_dbs(tmp_path: Path, options: RocksDBOptions, count: int) -> list[Any]:
    return [options.open(tmp_path / f"db-{i}") for i in range(count)]


def test_memtables_of_all_databases_together_stay_under_the_limit(tmp_path: Path) -> None:
    # one memtable may grow to 64 MiB: only the shared 4 MiB limit can make them flush
    memory = RocksDBMemory(block_cache_bytes=4 * MiB, memtable_limit_bytes=4 * MiB,
                           write_buffer_bytes=64 * MiB, max_write_buffers=2)
    dbs = open_dbs(tmp_path, SharedMemoryRocksDBOptions(memory), 4)
    value = bytes(1000)
    for i in range(6000):  # 24 MB written, 6 MB per database
        for db in dbs:
            db[f"customer-{i}".encode()] = value
    flushed = [len(list((tmp_path / f"db-{i}").glob("*.sst"))) for i in range(4)]
    assert sum(flushed) >= 4  # the manager flushed memtables long before 64 MiB each
    # a soft limit, kept in steps: a memtable reserves its memory in arena blocks of
    # min(1 MiB, write buffer / 8), each database's filling memtable holds at least one, and
    # RocksDB checks the limit only when a database is written to. Once the memtables being
    # flushed are written out, what stays is the filling memtables: the limit plus up to one
    # block per database (4-6 MiB seen), not the 24 MB written; plus a few KiB of each
    # memtable's own bookkeeping (8,192 bytes over the blocks seen once, under load)
    arena_block = min(MiB, memory.write_buffer_bytes // 8)
    bound = memory.memtable_limit_bytes + len(dbs) * (arena_block + 64 * 1024)
    deadline = time.monotonic() + 20
    while memory.write_buffer_manager.get_usage() > bound and time.monotonic() < deadline:
        time.sleep(0.05)
    assert 0 < memory.write_buffer_manager.get_usage() <= bound
    for db in dbs:
        assert db[b"customer-5999"] == value
        assert db[b"customer-0"] == value
        db.close()


def test_one_cache_holds_index_filter_and_data_blocks_of_every_database(
        tmp_path: Path) -> None:
    memory = RocksDBMemory(block_cache_bytes=1 * MiB, memtable_limit_bytes=8 * MiB,
                           write_buffer_bytes=4 * MiB, max_write_buffers=2)
    dbs = open_dbs(tmp_path, SharedMemoryRocksDBOptions(memory), 3)
    for db in dbs:
        for i in range(20_000):
            db[f"customer-{i}".encode()] = i.to_bytes(4, "big") * 100
        db.flush()
    assert memory.cache.get_usage() > 0  # level-0 index and filter blocks, pinned at open
    for db in dbs:
        for i in range(0, 20_000, 7):  # reads all over 3 x 8 MB of SST data
            assert db[f"customer-{i}".encode()] == i.to_bytes(4, "big") * 100
    usage = memory.cache.get_usage()
    assert 0 < usage <= 1.1 * MiB  # the data read is 24x the cache: the cache stayed bounded
    for db in dbs:
        db.close()


def test_the_bound_is_the_cache_plus_the_memtable_limit() -> None:
    memory = RocksDBMemory(block_cache_bytes=64 * MiB, memtable_limit_bytes=32 * MiB,
                           write_buffer_bytes=8 * MiB, max_write_buffers=2)
    assert memory.bound_bytes == 96 * MiB


def test_a_store_without_rocksdb_options_is_left_alone() -> None:
    memory = RocksDBMemory(block_cache_bytes=MiB, memtable_limit_bytes=4 * MiB,
                           write_buffer_bytes=MiB, max_write_buffers=2)
    table = SimpleNamespace(name="t", data=SimpleNamespace(data={}))  # faust memory store
    assert bound_rocksdb_memory(table, memory) is False


def test_a_store_with_open_databases_is_refused(tmp_path: Path) -> None:
    memory = RocksDBMemory(block_cache_bytes=MiB, memtable_limit_bytes=4 * MiB,
                           write_buffer_bytes=MiB, max_write_buffers=2)
    store = SimpleNamespace(rocksdb_options=RocksDBOptions(), _dbs={0: object()})
    with pytest.raises(RuntimeError, match="opened databases"):
        bound_rocksdb_memory(SimpleNamespace(name="t", data=store), memory)


def test_a_write_buffer_larger_than_the_memtable_limit_is_a_configuration_problem() -> None:
    settings = Settings(  # type: ignore[call-arg]
        kafka_bootstrap_servers="127.0.0.1:1", rocksdb_write_buffer_bytes=64 * MiB,
        rocksdb_memtable_limit_bytes=32 * MiB)
    assert any("ROCKSDB_WRITE_BUFFER_BYTES" in p for p in settings.problems())
    assert not Settings(kafka_bootstrap_servers="127.0.0.1:1").problems()  # type: ignore[call-arg]


def test_rocksdb_usage_sums_each_database_and_counts_the_shared_cache_once(
        tmp_path: Path) -> None:
    memory = RocksDBMemory(block_cache_bytes=4 * MiB, memtable_limit_bytes=8 * MiB,
                           write_buffer_bytes=2 * MiB, max_write_buffers=2)
    dbs = open_dbs(tmp_path, SharedMemoryRocksDBOptions(memory), 2)
    assert rocksdb_usage([]) == rocksdb_usage(dbs[:0])
    assert rocksdb_usage(dbs).sst_files_bytes == 0  # nothing flushed yet
    for i in range(20_000):
        dbs[0][f"customer-{i}".encode()] = bytes(100)
    dbs[0].flush()
    one = rocksdb_usage(dbs[:1])
    assert one.databases == 1
    assert one.sst_files_bytes > 0
    assert one.table_readers_bytes > 0
    assert one.pinned_bytes > 0
    for i in range(20_000):
        dbs[1][f"customer-{i}".encode()] = bytes(100)
    dbs[1].flush()
    both = rocksdb_usage(dbs)
    assert both.databases == 2
    assert both.sst_files_bytes == one.sst_files_bytes + rocksdb_usage(dbs[1:]).sst_files_bytes
    assert both.table_readers_bytes > one.table_readers_bytes
    assert both.pinned_bytes == max(rocksdb_usage([db]).pinned_bytes for db in dbs)
    for db in dbs:
        db.close()


def test_open_databases_are_those_of_a_rocksdb_store_only() -> None:
    opened = [object(), object()]
    assert open_databases(SimpleNamespace(data=SimpleNamespace(
        _dbs={0: opened[0], 3: opened[1]}))) == opened
    assert open_databases(SimpleNamespace(data=SimpleNamespace(data={}))) == []
