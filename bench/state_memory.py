"""Memory of the worker's pure work over its state store, without Kafka or faust.

    .venv/bin/python -m bench.state_memory [--store rocksdb|memory|none] [--customers 20000]
        [--days 150] [--every 100000] [--json FILE]

Simulated events, encoded as producers do, go through the worker's own
:class:`~stream_app.processing.BatchProcessor` (built as the worker builds it, see
bench/_ceiling.py) in batches of 500, over

* ``rocksdb``: one RocksDB database per table partition opened with the worker's options and
  its one shared memory bound (``stream_app/worker/_rocksdb_memory.py``, sizes from the
  ``ROCKSDB_*`` settings), as the worker's faust tables open them;
* ``memory``: plain dicts (the state is then in the process's heap);
* ``none``: no processing at all: the simulator and the encoding alone, the baseline the
  other two include.

Every ``--every`` events it prints the process's RSS, its ``[heap]`` (glibc's main arena),
RocksDB's cache + memtables, RSS outside them, and the encoded state (memory store: bytes of
keys and values held). This is the soak (bench/soak.py) with the broker, faust and aiokafka
taken away: what grows here grows because of the processing and the store, what grows only
in the soak belongs to the rest. Nothing here prints customer ids.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from bench._ceiling import DictStore, build_processor
from bench._worker import ensure_model, markdown_table, mib, read_memory
from bench.profile_batch import _TOPICS, PARTITIONS, iter_inputs
from stream_app.processing import InputRecord
from stream_app.scoring import ScoringModel
from stream_app.settings import Settings
from stream_app.worker._rocksdb_memory import (
    RocksDBMemory,
    SharedMemoryRocksDBOptions,
    rocksdb_usage,
)

BATCH = 500
TOPICS = _TOPICS


class RocksDBStore:
    """The processor's StateStore over one database per table and partition, opened as the
    worker opens its tables' databases (shared cache and write-buffer manager)."""

    def __init__(self, root: Path, memory: RocksDBMemory) -> None:
        options = SharedMemoryRocksDBOptions(memory)
        self.states = {p: options.open(root / f"state-{p}") for p in range(PARTITIONS)}
        self.contacts = {p: options.open(root / f"contacts-{p}") for p in range(PARTITIONS)}

    def get(self, partition: int, key: bytes) -> bytes | None:
        value: bytes | None = self.states[partition].get(key)
        return value

    def put(self, partition: int, key: bytes, value: bytes) -> None:
        self.states[partition][key] = value

    def get_contact(self, partition: int, key: bytes) -> bytes | None:
        value: bytes | None = self.contacts[partition].get(key)
        return value

    def put_contact(self, partition: int, key: bytes, value: bytes) -> None:
        self.contacts[partition][key] = value

    def items(self, partition: int) -> Iterator[tuple[bytes, bytes]]:
        return iter(self.states[partition].items())

    def databases(self) -> list[Any]:
        return [*self.states.values(), *self.contacts.values()]

    def close(self) -> None:
        for db in self.databases():
            db.close()


def inputs(customers: int, days: int, seed: int) -> Iterator[InputRecord]:
    """The simulated bank's events as the worker receives them, generated as they go."""
    return iter_inputs(customers, days, seed)


def run(args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    settings = Settings()  # type: ignore[call-arg]  # ROCKSDB_* from the environment
    processor = build_processor(settings, ScoringModel.load(ensure_model(args.model)))
    memory = RocksDBMemory(block_cache_bytes=settings.rocksdb_block_cache_bytes,
                           memtable_limit_bytes=settings.rocksdb_memtable_limit_bytes,
                           write_buffer_bytes=settings.rocksdb_write_buffer_bytes,
                           max_write_buffers=settings.rocksdb_max_write_buffers)
    rocks = RocksDBStore(workdir, memory) if args.store == "rocksdb" else None
    plain = DictStore() if args.store == "memory" else None
    store = rocks or plain
    samples: list[dict[str, Any]] = []
    batch: list[InputRecord] = []
    started = time.monotonic()
    for count, record in enumerate(inputs(args.customers, args.days, args.seed), 1):
        batch.append(record)
        if len(batch) == BATCH:
            if store is not None:
                processor.process(batch, store)
            batch = []
        if count % args.every:
            continue
        usage = read_memory(os.getpid())
        assert usage is not None
        cache = memory.cache.get_usage() if rocks else 0
        memtables = memory.write_buffer_manager.get_usage() if rocks else 0
        rocksdb = cache + memtables
        state = (sum(len(k) + len(v) for data in plain._states.values()
                     for k, v in data.items()) if plain else 0)
        sample = {"events": count, "seconds": round(time.monotonic() - started, 1),
                  "rss": usage.rss, "heap": usage.heap, "rocksdb": rocksdb,
                  "block_cache": cache, "memtables": memtables,
                  "sst": rocksdb_usage(rocks.databases()).sst_files_bytes if rocks else 0,
                  "state": state}
        samples.append(sample)
        print(f"  {count:>9,} events {sample['seconds']:>6.0f}s RSS {mib(usage.rss):6.1f} MiB "
              f"[heap] {mib(usage.heap):6.1f} RocksDB cache {mib(cache):5.1f} + memtables "
              f"{mib(memtables):5.1f} "
              f"outside them {mib(usage.rss - rocksdb):6.1f} state {mib(state):5.1f}",
              flush=True)
    if rocks:
        rocks.close()
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=("rocksdb", "memory", "none"), default="rocksdb")
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=150)
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--every", type=int, default=100_000, help="events between samples")
    parser.add_argument("--model", help="model version directory (default: var/bench model)")
    parser.add_argument("--json", type=Path, help="also write the samples here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="predelinq-state-memory-") as workdir:
        samples = run(args, Path(workdir))
    rows = [[f"{s['events']:,}", f"{mib(s['rss']):.1f}", f"{mib(s['heap']):.1f}",
             f"{mib(s['rocksdb']):.1f}", f"{mib(s['rss'] - s['rocksdb']):.1f}",
             f"{mib(s['state']):.1f}"] for s in samples]
    print(markdown_table(["events", "RSS MiB", "[heap] MiB", "RocksDB cache+memtables MiB",
                          "RSS outside them MiB", "state MiB (memory store)"], rows))
    if args.json:
        args.json.write_text(json.dumps({
            "benchmark": "state_memory", "date": time.strftime("%Y-%m-%d %H:%M"),
            "store": args.store, "customers": args.customers, "days": args.days,
            "samples": samples}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
