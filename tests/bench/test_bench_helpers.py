"""Pure helpers of the worker benchmarks (bench/_worker.py, bench/soak.py,
bench/state_at_scale.py): parsing, slopes and verdicts, no Kafka."""

from __future__ import annotations

import os
from typing import Any

import pytest

from bench._worker import (
    markdown_table,
    max_timer_drift,
    metric_total,
    parse_metrics,
    parse_recovery_offsets,
    read_memory,
    records_to_recover,
    slope,
)
from bench.soak import Sample, assess, verdict
from bench.state_at_scale import Templates, feed_plan, partition_of

_LOG = """\
[2026-11-25 18:54:50,005] [8073] [INFO] [^---Recovery]: Highwater for active changelog partitions:
+Highwater - Active-----------------------------------+-----------+-----------+
| topic                                               | partition | highwater |
+-----------------------------------------------------+-----------+-----------+
| app-customer-contacts-changelog                     | 0         | 7         |
| app-customer-state-changelog                        | 0         | 499       |
| \u3003                                                  | 1         | 299       |
| \u3003                                                  | 2         | -1        |
+-----------------------------------------------------+-----------+-----------+
[2026-11-25 18:54:50,007] [8073] [INFO] [^---Recovery]: active offsets at start of reading:
+Reading Starts At - Active---------------------------+-----------+--------+
| topic                                               | partition | offset |
+-----------------------------------------------------+-----------+--------+
| app-customer-contacts-changelog                     | 0         | -1     |
| app-customer-state-changelog                        | 0         | -1     |
| \u3003                                                  | 1         | 299    |
| \u3003                                                  | 2         | -1     |
+-----------------------------------------------------+-----------+--------+
[2026-11-25 18:54:50,008] [8073] [INFO] [^---Recovery]: Restoring state from changelog topics...
"""


def test_recovery_offsets_follow_ditto_marks_and_count_records() -> None:
    offsets = parse_recovery_offsets(_LOG, "app-customer-state-changelog")
    assert offsets == {"highwater": {0: 499, 1: 299, 2: -1}, "start": {0: -1, 1: 299, 2: -1}}
    assert records_to_recover(offsets) == 500  # partition 0 from scratch, 1 up to date, 2 empty


def test_the_last_recovery_in_the_log_counts() -> None:
    restarted = _LOG.replace("| 0         | -1     |\n| \u3003", "| 0         | 499    |\n| \u3003")
    offsets = parse_recovery_offsets(_LOG + restarted, "app-customer-state-changelog")
    assert records_to_recover(offsets) == 0
    assert parse_recovery_offsets("no recovery here", "x") == {"highwater": {}, "start": {}}


def test_metrics_text_and_totals_over_labels() -> None:
    samples = parse_metrics(
        "# HELP predelinq_scores_total Risk scores.\n"
        "# TYPE predelinq_scores_total counter\n"
        'predelinq_scores_total{band="LOW"} 3.0\n'
        'predelinq_scores_total{band="HIGH"} 2.0\n'
        "predelinq_scores_created 1.7e9\n"
        "predelinq_recovery_remaining_records 0.0\n")
    assert metric_total(samples, "predelinq_scores_total") == 5.0
    assert metric_total(samples, "predelinq_recovery_remaining_records") == 0.0
    assert metric_total(samples, "predelinq_missing") == 0.0


def test_slope_and_table() -> None:
    assert slope([0, 1, 2, 3], [1, 3, 5, 7]) == pytest.approx(2.0)
    assert slope([1], [5]) == 0.0
    assert slope([2, 2], [1, 3]) == 0.0
    assert markdown_table(["a", "b"], [[1, "x"]]) == "| a | b |\n| --- | --- |\n| 1 | x |"


def _sample(t: float, rss_mib: float, lag: int, state_mib: float = 10.0) -> Sample:
    return Sample(t=t, produced=0, input_records=0, scored=0, rss=int(rss_mib * 2**20),
                  hwm=0, lag=lag, state_bytes=int(state_mib * 2**20), customers_seen=0,
                  state_dir_bytes=0)


def test_flat_rss_and_lag_pass_after_the_warm_up() -> None:
    samples = [_sample(0, 100, 50_000)] + [_sample(60 + 10 * i, 200 + (i % 2), 500 + 300 * (i % 2))
                                           for i in range(30)]
    result = assess(samples, warmup_s=60, rate=1000, rss_tolerance=0.5, final_lag=0)
    assert result.samples_after_warmup == 30
    assert result.rss_ok
    assert result.lag_ok
    assert abs(result.rss_slope_mib_per_min) < 0.5


def test_growing_rss_or_lag_fail() -> None:
    growing_rss = [_sample(10 * i, 200 + 0.5 * i, 500) for i in range(30)]  # +3 MiB/min
    result = assess(growing_rss, warmup_s=0, rate=1000, rss_tolerance=0.5, final_lag=0)
    assert result.rss_slope_mib_per_min == pytest.approx(3.0)
    assert not result.rss_ok
    assert result.lag_ok
    growing_lag = [_sample(10 * i, 200, 1000 * i) for i in range(30)]
    assert not assess(growing_lag, warmup_s=0, rate=1000, rss_tolerance=0.5,
                      final_lag=0).lag_ok
    flat = [_sample(10 * i, 200, 500) for i in range(30)]
    assert not assess(flat, warmup_s=0, rate=1000, rss_tolerance=0.5, final_lag=7).lag_ok


def test_rss_may_grow_with_the_state() -> None:
    samples = [_sample(10 * i, 200 + 0.5 * i, 500, state_mib=10 + 0.5 * i) for i in range(30)]
    assert assess(samples, warmup_s=0, rate=1000, rss_tolerance=0.5, final_lag=0).rss_ok


def test_feed_plan_spreads_customers_and_adds_known_events() -> None:
    def event(t: int, at: int, event_id: str) -> dict[str, Any]:
        return {"customer_id": f"CUST-{t:07d}", "occurred_at": at, "event_id": event_id}

    held = [[event(t, 100 + t, f"n{t}")] for t in range(4)]
    last: list[dict[str, Any] | None] = [event(t, t, f"o{t}") for t in range(4)]
    templates = Templates([b"s"] * 4, held, last, days=1, simulated_events=8, seconds=0.0)
    plan = feed_plan(templates, customers=1000, count=20)
    assert len(plan.customers) == 20
    assert max(int(c[5:]) for c in plan.customers) > 900  # over the whole id range
    assert plan.new_events == 20
    assert plan.duplicates == 2
    assert plan.genuine == 1  # CUST-0000000 is a simulated customer itself
    by_customer = {r["customer_id"] for r in plan.records}
    assert by_customer == plan.customers
    assert [r["occurred_at"] for r in plan.records] == sorted(
        r["occurred_at"] for r in plan.records)


def test_states_go_to_their_customers_input_partition() -> None:
    from aiokafka.partitioner import murmur2

    key = b"CUST-0000042"
    assert partition_of(key, 8) == (murmur2(key) & 0x7FFFFFFF) % 8
    assert {partition_of(f"CUST-{i:07d}".encode(), 8) for i in range(200)} == set(range(8))


def test_rss_growing_with_the_writes_into_unfilled_memtables_is_inconclusive() -> None:
    samples = [Sample(t=10 * i, produced=0, input_records=0, scored=0,
                      rss=int((200 + 5 * i) * 2**20), hwm=0, lag=500,
                      state_bytes=10 * 2**20, customers_seen=0, state_dir_bytes=0,
                      written_bytes=int(6 * i * 2**20)) for i in range(30)]  # 30 MiB/min
    memory = (512 * 2**20, 64 * 2**20)  # memtable limit, block cache
    result = assess(samples, warmup_s=0, rate=1000, rss_tolerance=0.5, final_lag=0,
                    rocksdb_memory=memory)
    assert not result.rss_ok
    assert result.write_slope_mib_per_min == pytest.approx(36.0)
    assert result.write_buffer_bound_mib == 576
    assert result.write_buffer_fill_minutes == pytest.approx(512 / 36, abs=0.1)
    assert result.rss_within_write_buffers
    assert verdict(result, 0).startswith("INCONCLUSIVE")
    without = assess(samples, warmup_s=0, rate=1000, rss_tolerance=0.5, final_lag=0)
    assert not without.rss_within_write_buffers
    assert verdict(without, 0).startswith("FAIL")


def test_timer_drift_is_the_worst_lateness_logged() -> None:
    log = ("[..] [INFO] Timer commit woke up too late, with a drift of +9.52 runtime=4e-05\n"
           "[..] [INFO] Timer livelock woke up too late, with a drift of +3.93 runtime=0.005\n")
    assert max_timer_drift(log) == pytest.approx(9.52)
    assert max_timer_drift("all quiet") == 0.0


def test_other_tables_and_log_formats_do_not_count() -> None:
    """Log records may start with a date instead of "["; the "Remaining for active recovery"
    tables logged later have the same first columns and must not be read as start offsets."""
    dated = _LOG.replace("[2026-11-25 18:54:50,005] [8073] [INFO]",
                         "2026-11-25 18:54:50,005 INFO faust.tables.recovery:")
    dated = dated.replace("[2026-11-25 18:54:50,007] [8073] [INFO]",
                          "2026-11-25 18:54:50,007 INFO faust.tables.recovery:")
    later = """\
2026-11-25 18:54:59,670 INFO faust.tables.recovery: [^---Recovery]: Still fetching changelog
+Remaining for active recovery-----------------+-----------+-------------+-------------+-----+
| topic                                        | partition | need offset | have offset | rem |
+----------------------------------------------+-----------+-------------+-------------+-----+
| app-customer-state-changelog                 | 0         | 499         | 100         | 399 |
+----------------------------------------------+-----------+-------------+-------------+-----+
"""
    offsets = parse_recovery_offsets(dated + later, "app-customer-state-changelog")
    assert records_to_recover(offsets) == 500


def _filling_then(after_fill_mib_per_min: float) -> list[Sample]:
    """RSS +8 MiB/min while the memtables fill (5 min at 15 MiB/min of writes into a 64 MiB limit),
    then ``after_fill_mib_per_min``; the state grows 0.5 MiB/min."""
    samples = []
    for i in range(61):  # 10 minutes, a sample every 10 s
        minute = i / 6
        rss = 200 + 8 * min(minute, 5) + after_fill_mib_per_min * max(minute - 5, 0)
        samples.append(Sample(t=10 * i, produced=0, input_records=0, scored=0,
                              rss=int(rss * 2**20), hwm=0, lag=500,
                              state_bytes=int((10 + 0.5 * minute) * 2**20), customers_seen=0,
                              state_dir_bytes=0, written_bytes=int(15 * minute * 2**20)))
    return samples


def test_rss_is_judged_once_the_memtables_have_filled() -> None:
    memory = (64 * 2**20, 64 * 2**20)
    flat = assess(_filling_then(0.0), warmup_s=60, rate=1000, rss_tolerance=0.5, final_lag=0,
                  rocksdb_memory=memory)
    assert flat.rss_slope_mib_per_min > 1.0  # the whole window would say "growing"
    assert flat.steady_from_minutes == pytest.approx(5.0)  # the second half of 10 minutes
    assert flat.write_buffer_bound_mib == 128
    assert flat.rss_ok
    assert verdict(flat, 0).startswith("PASS")
    assert "once the RocksDB memtables and block cache had filled" in verdict(flat, 0)
    growing = assess(_filling_then(3.0), warmup_s=60, rate=1000, rss_tolerance=0.5,
                     final_lag=0, rocksdb_memory=memory)
    assert not growing.rss_ok
    assert verdict(growing, 0).startswith("FAIL")


def _rocksdb_filling(outside_mib_per_min: float, rocksdb_cap_mib: float) -> list[Sample]:
    """RocksDB's cache + memtables fill at 4 MiB/min up to ``rocksdb_cap_mib`` (over most of
    a 20-minute run); the rest of RSS grows ``outside_mib_per_min``; the state 0.3 MiB/min."""
    samples = []
    for i in range(121):
        minute = i / 6
        rocksdb = min(4 * minute, rocksdb_cap_mib)
        rss = 170 + rocksdb + outside_mib_per_min * minute
        samples.append(Sample(t=10 * i, produced=0, input_records=0, scored=0,
                              rss=int(rss * 2**20), hwm=0, lag=500,
                              state_bytes=int((5 + 0.3 * minute) * 2**20), customers_seen=0,
                              state_dir_bytes=0, written_bytes=int(30 * minute * 2**20),
                              rocksdb_bytes=int(rocksdb * 2**20)))
    return samples


def test_rss_growing_as_rocksdb_fills_to_its_bound_passes() -> None:
    memory = (32 * 2**20, 64 * 2**20)  # a 96 MiB bound
    filling = assess(_rocksdb_filling(0.1, 90), warmup_s=120, rate=1000, rss_tolerance=0.5,
                     final_lag=0, rocksdb_memory=memory)
    assert filling.rss_steady_slope_mib_per_min is not None
    assert filling.rss_steady_slope_mib_per_min > 1.0  # RSS alone still rises in the 2nd half
    assert filling.rss_outside_rocksdb_slope_mib_per_min == pytest.approx(0.1, abs=0.01)
    assert filling.rocksdb_max_mib == pytest.approx(80, abs=0.5)  # 4 MiB/min for 20 min
    assert filling.rss_ok
    assert verdict(filling, 0).startswith("PASS")
    assert "outside RocksDB's block cache and memtables" in verdict(filling, 0)


def test_rss_growing_outside_rocksdb_or_rocksdb_over_its_bound_fails() -> None:
    memory = (32 * 2**20, 64 * 2**20)
    leaking = assess(_rocksdb_filling(2.0, 90), warmup_s=120, rate=1000, rss_tolerance=0.5,
                     final_lag=0, rocksdb_memory=memory)
    assert not leaking.rss_outside_rocksdb_ok
    assert not leaking.rss_ok
    over = assess(_rocksdb_filling(0.1, 200), warmup_s=120, rate=1000, rss_tolerance=0.5,
                  final_lag=0, rocksdb_memory=(8 * 2**20, 8 * 2**20))  # a 16 MiB bound
    assert not over.rss_outside_rocksdb_ok
    assert not over.rss_ok


def test_read_memory_splits_resident_memory_into_anonymous_and_file_pages() -> None:
    memory = read_memory(os.getpid())
    assert memory is not None
    assert memory.anon > 0  # this interpreter's heap
    assert memory.file > 0  # its mapped libraries
    assert memory.anon + memory.file <= memory.rss <= memory.hwm  # (+ shared memory)
    assert 0 < memory.heap <= memory.anon  # glibc's main arena is anonymous memory
    ballast = b"\x01" * (64 * 1024**2)  # every page written: resident and anonymous
    grown = read_memory(os.getpid())
    assert grown is not None
    assert grown.anon - memory.anon >= 60 * 1024**2
    del ballast
    assert read_memory(2**22 + 12345) is None  # no such process
