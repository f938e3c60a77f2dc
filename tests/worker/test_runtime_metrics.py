"""What the worker reports on /metrics about its own input path."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from prometheus_client import generate_latest

from stream_app.settings import Settings
from stream_app.worker import WorkerRuntime
from tests.support.models import TrainedFixture


def _runtime(trained: TrainedFixture, tmp_path: Path, store: str) -> WorkerRuntime:
    settings = Settings(  # type: ignore[call-arg]
        app_name="metrics-test", kafka_bootstrap_servers="127.0.0.1:1",
        state_store_url=store, state_dir=str(tmp_path), model_path=str(trained.path))
    return WorkerRuntime(settings, trained.model)


def _scrape(runtime: WorkerRuntime, name: str) -> float:
    runtime.refresh_metrics()
    for line in generate_latest(runtime.metrics.registry).decode().splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not exported")


def test_the_intake_gauge_counts_records_waiting_for_the_batch_loop(
        trained: TrainedFixture, tmp_path: Path) -> None:
    runtime = _runtime(trained, tmp_path, "memory://")
    gauge = "predelinq_intake_buffered_records"
    assert _scrape(runtime, gauge) == 0
    for offset in range(3):
        runtime.intake.put(SimpleNamespace(offset=offset))
    assert _scrape(runtime, gauge) == 3
    runtime.intake.clear()
    assert _scrape(runtime, gauge) == 0


def test_rocksdb_memory_is_exported_from_the_shared_cache_and_memtables(
        trained: TrainedFixture, tmp_path: Path) -> None:
    runtime = _runtime(trained, tmp_path, "rocksdb://")
    for gauge in ("block_cache", "memtable", "table_readers", "block_cache_pinned",
                  "sst_files"):
        assert _scrape(runtime, f"predelinq_rocksdb_{gauge}_bytes") == 0
    db: Any = runtime.table.data._db_for_partition(0)  # type: ignore[attr-defined]
    for i in range(1000):
        db[f"c-{i}".encode()] = bytes(300)
    written = _scrape(runtime, "predelinq_rocksdb_memtable_bytes")
    assert written > 300_000  # the memtable holds what was written
    db.flush()
    assert db[b"c-1"] == bytes(300)
    assert _scrape(runtime, "predelinq_rocksdb_block_cache_bytes") > 0
    deadline = time.monotonic() + 10  # the flushed memtable is released in the background
    while _scrape(runtime, "predelinq_rocksdb_memtable_bytes") >= written and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    assert _scrape(runtime, "predelinq_rocksdb_memtable_bytes") < written  # flushed
    sst = _scrape(runtime, "predelinq_rocksdb_sst_files_bytes")
    assert 0 < sst < 1000 * 300  # the flushed file, compressed
    assert _scrape(runtime, "predelinq_rocksdb_table_readers_bytes") > 0
    assert _scrape(runtime, "predelinq_rocksdb_block_cache_pinned_bytes") > 0  # its L0 index
    runtime.contacts.data._db_for_partition(1)[b"c-1"] = b"x"  # type: ignore[attr-defined]
    runtime.contacts.data._db_for_partition(1).flush()  # type: ignore[attr-defined]
    assert _scrape(runtime, "predelinq_rocksdb_sst_files_bytes") > sst  # both tables count


def test_the_memory_store_exports_no_rocksdb_memory(trained: TrainedFixture,
                                                    tmp_path: Path) -> None:
    runtime = _runtime(trained, tmp_path, "memory://")
    runtime.table.data.data[b"c-1"] = bytes(300)  # type: ignore[attr-defined]
    for gauge in ("block_cache", "memtable", "table_readers", "block_cache_pinned",
                  "sst_files"):
        assert _scrape(runtime, f"predelinq_rocksdb_{gauge}_bytes") == 0
