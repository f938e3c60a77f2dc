"""One memory bound for every RocksDB database a worker opens.

faust's RocksDB store opens one database per table partition and gives each its own block
cache; the index and filter blocks of its SST files live outside that cache (they grow with
the data on disk), and nothing bounds the memtables of all the databases together. A worker
that owns more partitions, or holds more data, then uses more memory without limit.

Here, as Kafka Streams' bounded-memory RocksDB configuration does, every database of the
worker shares

* one LRU **block cache** (``ROCKSDB_BLOCK_CACHE_BYTES``) that holds data blocks *and* the
  index and filter blocks (``cache_index_and_filter_blocks``; those of level-0 files are
  pinned while the file lives, so a hot lookup never re-reads them), and
* one **write-buffer manager** (``ROCKSDB_MEMTABLE_LIMIT_BYTES``) that flushes the largest
  memtable when the memtables of all databases together near the limit.

RocksDB's memory is then about block cache + memtable limit whatever the number of
partitions or the size of the state. The options are faust's ``RocksDBOptions`` (rocksdict
driver) with ``as_options`` built here; ``bound_rocksdb_memory`` puts them on a table's store
before it opens a database. The memory store has no such options and is left alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import rocksdict
from faust.stores.rocksdb import RocksDBOptions

__all__ = [
    "RocksDBMemory",
    "RocksDBUsage",
    "SharedMemoryRocksDBOptions",
    "bound_rocksdb_memory",
    "open_databases",
    "rocksdb_usage",
]


@dataclass(frozen=True)
class RocksDBMemory:
    """The RocksDB memory of one worker: sizes, and the cache and write-buffer manager its
    databases share (one instance per worker process)."""

    block_cache_bytes: int
    memtable_limit_bytes: int
    write_buffer_bytes: int  # one memtable of one database, before it is flushed
    max_write_buffers: int  # memtables of one database (one filling, the rest flushing)

    cache: Any = field(init=False, repr=False, compare=False)  # rocksdict.Cache
    write_buffer_manager: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cache", rocksdict.Cache(self.block_cache_bytes))
        # allow_stall=False: near the limit RocksDB flushes the largest memtable; writers
        # are not stalled (a stall would block the event loop, which writes synchronously)
        object.__setattr__(self, "write_buffer_manager",
                           rocksdict.WriteBufferManager(self.memtable_limit_bytes, False))

    @property
    def bound_bytes(self) -> int:
        """What the worker's RocksDB databases use together, about (plus per-file handles)."""
        return self.block_cache_bytes + self.memtable_limit_bytes


class SharedMemoryRocksDBOptions(RocksDBOptions):
    """faust's options of one table's databases, bounded by the worker's ``RocksDBMemory``."""

    def __init__(self, memory: RocksDBMemory, **kwargs: Any) -> None:
        super().__init__(write_buffer_size=memory.write_buffer_bytes,
                         max_write_buffer_number=memory.max_write_buffers,
                         block_cache_size=memory.block_cache_bytes,
                         use_rocksdict=True, **kwargs)
        self.memory = memory

    def as_options(self) -> rocksdict.Options:
        options = rocksdict.Options(raw_mode=True)
        options.create_if_missing(True)
        if self.max_open_files is not None:
            options.set_max_open_files(self.max_open_files)
        options.set_write_buffer_size(self.write_buffer_size)
        options.set_target_file_size_base(self.target_file_size_base)
        options.set_max_write_buffer_number(self.max_write_buffer_number)
        options.set_write_buffer_manager(self.memory.write_buffer_manager)
        table = rocksdict.BlockBasedOptions()
        table.set_bloom_filter(self.bloom_filter_size, block_based=True)
        table.set_index_type(rocksdict.BlockBasedIndexType.binary_search())
        table.set_block_cache(self.memory.cache)
        table.set_cache_index_and_filter_blocks(True)
        table.set_pin_l0_filter_and_index_blocks_in_cache(True)
        options.set_block_based_table_factory(table)
        return options


def bound_rocksdb_memory(table: Any, memory: RocksDBMemory) -> bool:
    """Open the databases of a faust table's RocksDB store with the shared bound; returns
    False (and changes nothing) for a store without RocksDB options (``memory://``). Call it
    before the table opens a database (faust opens one when a partition is first used)."""
    store = table.data
    if not hasattr(store, "rocksdb_options"):  # faust.stores.rocksdb.Store (private API)
        return False
    if getattr(store, "_dbs", None):
        raise RuntimeError(f"table {table.name!r} has opened databases already")
    store.rocksdb_options = SharedMemoryRocksDBOptions(memory)
    return True


@dataclass(frozen=True)
class RocksDBUsage:
    """What RocksDB itself reports of the memory and disk of a worker's open databases,
    beyond the shared cache's and write-buffer manager's totals."""

    databases: int = 0
    table_readers_bytes: int = 0  # table readers' memory outside the block cache
    pinned_bytes: int = 0  # block-cache entries in use (pinned blocks, iterators), shared
    sst_files_bytes: int = 0  # SST files of every version still referenced


def open_databases(table: Any) -> list[Any]:
    """The RocksDB databases a faust table's store has opened (one per table partition);
    empty for ``memory://``."""
    dbs = getattr(table.data, "_dbs", None)  # faust.stores.rocksdb.Store (private API)
    return list(dbs.values()) if isinstance(dbs, dict) else []


def rocksdb_usage(dbs: Iterable[Any]) -> RocksDBUsage:
    """Sum RocksDB's own properties over ``dbs`` (``rocksdict.Rdict``). The pinned usage is
    the shared cache's, the same from every database, so it is taken once (the largest)."""
    count = readers = pinned = sst = 0
    for db in dbs:
        count += 1
        readers += db.property_int_value("rocksdb.estimate-table-readers-mem") or 0
        pinned = max(pinned, db.property_int_value("rocksdb.block-cache-pinned-usage") or 0)
        sst += db.property_int_value("rocksdb.total-sst-files-size") or 0
    return RocksDBUsage(databases=count, table_readers_bytes=readers, pinned_bytes=pinned,
                        sst_files_bytes=sst)
