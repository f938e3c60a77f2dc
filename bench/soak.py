"""Soak (issue 6, item 8): a bounded run at a steady rate; worker RSS against the state's
growth, and consumer lag over time.

A real worker subprocess (``STATE_STORE_URL=rocksdb://`` by default, fresh ``STATE_DIR``)
consumes simulated traffic of a fixed population of ``--customers`` customers
(``stream_app.simulate.BankSimulator``, Avro-framed, keyed by customer id) published at
``--rate`` events/s for ``--minutes`` minutes, paced by the wall clock
(``stream_app.kafka.publish_events``). Every ``--interval`` seconds the bench records:

* the worker's RSS (VmRSS; and VmHWM) from ``/proc/<pid>/status``;
* the consumer group's lag: end offsets minus committed offsets of the input topics
  (aiokafka admin); the worker commits every 0.25 s (at-least-once), so a healthy worker
  shows a lag of well under a second of traffic;
* events produced, input records and scores counted by the worker (``/metrics``);
* the size of ``STATE_DIR`` on disk, and the state's size: the bench applies every event it
  publishes to its own copy of the customers' states (the feature engine's ``apply_event``)
  and estimates the table's encoded size as customers seen x mean encoded size of a fixed
  sample of them.

At the end: a table of the samples, least-squares slopes after the warm-up
(``--warmup-minutes``) of RSS and of the state's encoded size (MiB/min) and of the lag
(records/min), and a verdict: RSS grows no faster than the state (plus ``--rss-tolerance``
MiB/min), and the lag does not grow (its trend over the window adds at most 6 s of traffic,
it never exceeds 10 s of traffic, and it drains to 0 within ``--drain-seconds`` after the
traffic stops). A JSON summary is printed (``--json PATH`` also writes it). Without
``--bootstrap`` it starts its own Apache Kafka.

Run: ``.venv/bin/python bench/soak.py [--minutes 10] [--rate 1000] [--customers 20000]
[--bootstrap HOST:PORT]`` (``--minutes 1 --rate 300`` for a quick look).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``bench`` and ``stream_app`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._worker import (
    BenchWorker,
    bench_settings,
    consumer_lag,
    dir_usage,
    ensure_model,
    kafka_bootstrap,
    markdown_table,
    max_timer_drift,
    metric_total,
    mib,
    slope,
    worker_source,
)
from stream_app.features import CustomerState, apply_event
from stream_app.kafka import ensure_topics, publish_events
from stream_app.offline import to_event
from stream_app.settings import Settings
from stream_app.simulate import BankSimulator, SimulationConfig

EVENTS_PER_CUSTOMER_DAY = 1.52  # the simulator's default mix (docs/performance.md)


@dataclass
class Sample:
    t: float  # seconds since the traffic started
    produced: int
    input_records: int  # counted by the worker
    scored: int  # risk scores published by the worker
    rss: int
    hwm: int
    lag: int
    state_bytes: int  # estimated encoded size of all customers' states
    customers_seen: int
    state_dir_bytes: int
    written_bytes: int = 0  # estimated bytes of states written to the table so far
    rocksdb_bytes: int = 0  # the worker's RocksDB block cache + memtables (its /metrics)
    rss_anon: int = 0  # RssAnon (heap and anonymous mappings)
    rss_file: int = 0  # RssFile (resident pages of mapped files: shared libraries)
    rss_heap: int = 0  # the [heap] mapping: glibc's main arena (see bench._worker.MemoryUsage)
    rocksdb_table_readers: int = 0  # RocksDB's table readers outside the cache
    rocksdb_pinned: int = 0  # pinned part of the block cache
    rocksdb_sst_bytes: int = 0  # SST files of all databases


class ShadowStates:
    """The customers' states as the worker should hold them, for the state's size."""

    def __init__(self, sample_size: int) -> None:
        self.states: dict[str, CustomerState] = {}
        self.sample_size = sample_size
        self.sample: list[str] = []
        self.events = 0
        self.written = 0.0  # estimated bytes of states written (one write per event)
        self._events_counted = 0
        self._mean = 0.0

    def apply(self, record: dict[str, Any]) -> None:
        cid = record["customer_id"]
        state = self.states.get(cid)
        if state is None:
            state = self.states[cid] = CustomerState()
            if len(self.sample) < self.sample_size:
                self.sample.append(cid)
        apply_event(state, to_event(record))
        self.events += 1

    def estimated_bytes(self) -> int:
        """Customers seen x mean encoded size (``to_bytes``) of the fixed sample. Also
        advances :attr:`written`: the events since the last call x the mean key + state
        size between the two calls (the worker writes a customer's state once per batch, so
        this is an upper bound)."""
        if not self.sample:
            return 0
        mean = statistics.fmean(len(self.states[c].to_bytes()) for c in self.sample)
        new_events = self.events - self._events_counted
        self.written += new_events * ((mean + self._mean) / 2 + len(self.sample[0]))
        self._events_counted, self._mean = self.events, mean
        return round(mean * len(self.states))


def traffic(customers: int, days: int, seed: int,
            shadow: ShadowStates) -> Iterator[dict[str, Any]]:
    simulator = BankSimulator(SimulationConfig(customers=customers, days=days, seed=seed))
    for record in simulator.events():
        shadow.apply(record)
        yield record


@dataclass
class Assessment:
    warmup_s: float
    samples_after_warmup: int
    rss_slope_mib_per_min: float
    state_slope_mib_per_min: float
    state_dir_slope_mib_per_min: float
    lag_slope_per_min: float
    lag_max_after_warmup: int
    lag_mean_after_warmup: float
    rss_ok: bool
    lag_ok: bool
    write_slope_mib_per_min: float = 0.0  # states written to the table (estimate)
    rss_growth_mib: float = 0.0  # last sample - first sample after the warm-up
    write_buffer_bound_mib: float = 0.0  # RocksDB memtables: partitions x size x number
    write_buffer_fill_minutes: float | None = None  # partitions x size / write rate
    rss_within_write_buffers: bool = False  # growth explained by memtables still filling
    steady_from_minutes: float | None = None  # once every memtable had filled (if in the run)
    rss_steady_slope_mib_per_min: float | None = None  # RSS slope from then on
    rocksdb_max_mib: float | None = None  # block cache + memtables, the most seen
    rss_outside_rocksdb_slope_mib_per_min: float | None = None  # RSS - (cache + memtables)
    rss_outside_rocksdb_ok: bool = False  # that slope within the state's + tolerance, and
    # RocksDB within its bound: RSS is bounded by what grows with the state plus the bound


def assess(samples: Sequence[Sample], *, warmup_s: float, rate: float,
           rss_tolerance: float, final_lag: int | None,
           rocksdb_memory: tuple[int, int] | None = None) -> Assessment:
    """Slopes after the warm-up and the verdict (pure): RSS may grow by the state's slope
    plus ``rss_tolerance`` MiB/min; the lag must not trend up by more than 6 s of traffic
    over the window nor exceed 10 s of traffic, and must be 0 after draining.

    With RocksDB, the samples carry the worker's own count of RocksDB's memory (block cache
    + memtables, ``rocksdb_bytes``); RSS then also passes when RSS minus that count grows no
    faster than the state's slope plus the tolerance and that count stays within the bound
    (``rss_outside_rocksdb_ok``): what grows is RocksDB filling up to its bound.

    ``rocksdb_memory`` = (memtable limit, block cache) in bytes, shared by every RocksDB
    database of the worker: the memtables take every write (a new version of a state is a
    new entry) until together they near the limit and the largest is flushed to disk, so RSS
    grows with the *write volume*, not the state, until then. When RSS grows faster than the
    state but no faster than the writes and stays under the bound (limit + cache), and the
    run was too short to fill the memtables, ``rss_within_write_buffers`` says so (the
    plateau was not seen). When the run is long enough to fill them, RSS is judged from then
    on, and at the earliest from the middle of the run, since the block cache fills with the
    blocks that reads bring in (``steady_from_minutes``): it may then grow by the state's
    slope plus the tolerance, and in all by no more than the bound."""
    after = [s for s in samples if s.t >= warmup_s]
    minutes = [s.t / 60 for s in after]
    rss = slope(minutes, [mib(s.rss) for s in after])
    state = slope(minutes, [mib(s.state_bytes) for s in after])
    disk = slope(minutes, [mib(s.state_dir_bytes) for s in after])
    lag = slope(minutes, [float(s.lag) for s in after])
    lags = [s.lag for s in after]
    # the memtables' write volume: the bench's estimate of the states written, or the growth
    # of STATE_DIR if larger (RocksDB logs every memtable write to its WAL until the flush)
    writes = max(slope(minutes, [mib(s.written_bytes) for s in after]), disk)
    growth = mib(after[-1].rss - after[0].rss) if after else 0.0
    enough = len(after) >= 3
    bound = 0.0
    fill: float | None = None
    within = False
    steady_from: float | None = None
    steady_slope: float | None = None
    if rocksdb_memory is not None:
        memtable_limit, block_cache = rocksdb_memory
        bound = mib(memtable_limit + block_cache)
        fill = mib(memtable_limit) / writes if writes > 0 else None
        run = minutes[-1] if minutes else 0.0
        within = (enough and rss <= writes + rss_tolerance and mib(after[-1].rss - samples[0].rss)
                  <= bound and fill is not None and run < fill)
        if fill is not None:
            # the block cache fills with the blocks reads bring in, at a pace the writes do
            # not tell: judge the second half of the run, or later if the memtables fill later
            start = max(warmup_s / 60, fill, run / 2)
            steady = [s for s in after if s.t / 60 >= start]
            if len(steady) >= 3:
                steady_from = round(start, 1)
                steady_slope = slope([s.t / 60 for s in steady], [mib(s.rss) for s in steady])
    limit = max(state, 0.0) + rss_tolerance
    rocksdb_max: float | None = None
    outside: float | None = None
    outside_ok = False
    if rocksdb_memory is not None and any(s.rocksdb_bytes for s in after):
        # the worker's own count of RocksDB's memory: RSS outside it must grow no faster
        # than the state, and RocksDB must stay within its bound (the memtable limit is soft:
        # flushes in progress count until written out, 10% allowed)
        rocksdb_max = max(mib(s.rocksdb_bytes) for s in after)
        outside = slope(minutes, [mib(s.rss - s.rocksdb_bytes) for s in after])
        outside_ok = enough and outside <= limit and rocksdb_max <= 1.1 * bound
    rss_ok = enough and (rss <= limit or outside_ok or (
        steady_slope is not None and steady_slope <= limit
        and mib(after[-1].rss - samples[0].rss) <= bound))
    return Assessment(
        warmup_s=warmup_s,
        samples_after_warmup=len(after),
        rss_slope_mib_per_min=round(rss, 3),
        state_slope_mib_per_min=round(state, 3),
        state_dir_slope_mib_per_min=round(disk, 3),
        lag_slope_per_min=round(lag, 1),
        lag_max_after_warmup=max(lags, default=0),
        lag_mean_after_warmup=round(statistics.fmean(lags), 1) if lags else 0.0,
        rss_ok=rss_ok,
        # commits come at intervals, so single samples jump by up to a few seconds of
        # traffic: over the window the lag may move by at most 6 s of traffic, never exceed
        # 10 s of it, and must drain to 0 once the traffic stops
        lag_ok=(enough and final_lag == 0 and max(lags, default=0) <= rate * 10
                and lag * (minutes[-1] - minutes[0] if minutes else 0) <= rate * 6),
        write_slope_mib_per_min=round(writes, 3),
        rss_growth_mib=round(growth, 1),
        write_buffer_bound_mib=round(bound),
        write_buffer_fill_minutes=None if fill is None else round(fill, 1),
        rss_within_write_buffers=within,
        rocksdb_max_mib=None if rocksdb_max is None else round(rocksdb_max, 1),
        rss_outside_rocksdb_slope_mib_per_min=None if outside is None else round(outside, 3),
        rss_outside_rocksdb_ok=outside_ok,
        steady_from_minutes=steady_from,
        rss_steady_slope_mib_per_min=None if steady_slope is None else round(steady_slope, 3),
    )


def verdict(result: Assessment, final_lag: int | None) -> str:
    """One line: PASS / FAIL / INCONCLUSIVE with the numbers behind it."""
    if result.rss_ok and result.rss_steady_slope_mib_per_min is not None and \
            result.rss_slope_mib_per_min > result.rss_steady_slope_mib_per_min:
        rss = (f"ok: {result.rss_steady_slope_mib_per_min:+.2f} MiB/min once the RocksDB "
               f"memtables and block cache had filled (from minute "
               f"{result.steady_from_minutes}), within the "
               f"{result.write_buffer_bound_mib:,.0f} MiB bound of memtables and block cache")
    elif result.rss_ok and result.rss_outside_rocksdb_ok:
        rss = (f"ok: outside RocksDB's block cache and memtables RSS grows "
               f"{result.rss_outside_rocksdb_slope_mib_per_min:+.2f} MiB/min, and those held "
               f"at most {result.rocksdb_max_mib:,.0f} MiB of their "
               f"{result.write_buffer_bound_mib:,.0f} MiB bound")
    elif result.rss_ok:
        rss = "ok"
    elif result.rss_within_write_buffers:
        rss = (f"faster than the state, but no faster than the table's writes "
               f"({result.write_slope_mib_per_min:+.1f} MiB/min) into RocksDB memtables, "
               f"which are flushed at {result.write_buffer_bound_mib:,.0f} MiB at most; "
               f"filling them takes ~{result.write_buffer_fill_minutes} min, longer than "
               "this run, so the plateau was not observed")
    else:
        rss = "grows faster than the state"
    lag = "not growing" if result.lag_ok else "GROWING or not drained"
    label = ("PASS" if result.rss_ok and result.lag_ok else
             "INCONCLUSIVE" if result.lag_ok and result.rss_within_write_buffers else "FAIL")
    return (f"{label}: RSS {result.rss_slope_mib_per_min:+.2f} MiB/min after warm-up vs state "
            f"{result.state_slope_mib_per_min:+.2f} MiB/min ({rss}); lag "
            f"{result.lag_slope_per_min:+.0f} records/min, max "
            f"{result.lag_max_after_warmup:,}, {final_lag} after draining ({lag})")


async def _run(args: argparse.Namespace, settings: Settings, worker: BenchWorker,
               state_dir: Path) -> tuple[list[Sample], int | None, float]:
    shadow = ShadowStates(args.state_sample)
    days = int(args.rate * args.minutes * 60 / (EVENTS_PER_CUSTOMER_DAY * args.customers)) + 10
    stop = asyncio.Event()
    produced = 0

    def progress(count: int) -> None:
        nonlocal produced
        produced = count

    publisher = asyncio.ensure_future(publish_events(
        settings, traffic(args.customers, days, args.seed, shadow), rate=args.rate,
        on_progress=progress, stop=stop))
    started = time.monotonic()
    samples: list[Sample] = []
    group = settings.app_name
    inputs = list(settings.input_topics)

    async def sample() -> Sample:
        elapsed = time.monotonic() - started
        metrics = await asyncio.to_thread(worker.metrics) or {}
        memory = worker.memory()
        lag, _, _ = await consumer_lag(settings, group, inputs)
        allocated, _ = await asyncio.to_thread(dir_usage, state_dir)
        return Sample(
            t=round(elapsed, 1), produced=produced,
            input_records=int(metric_total(metrics, "predelinq_input_records_total")),
            scored=int(metric_total(metrics, "predelinq_scores_total")),
            rss=memory.rss if memory else 0, hwm=memory.hwm if memory else 0, lag=lag,
            state_bytes=shadow.estimated_bytes(), customers_seen=len(shadow.states),
            state_dir_bytes=allocated, written_bytes=round(shadow.written),
            rocksdb_bytes=int(metric_total(metrics, "predelinq_rocksdb_block_cache_bytes")
                              + metric_total(metrics, "predelinq_rocksdb_memtable_bytes")),
            rss_anon=memory.anon if memory else 0, rss_file=memory.file if memory else 0,
            rss_heap=memory.heap if memory else 0,
            rocksdb_table_readers=int(
                metric_total(metrics, "predelinq_rocksdb_table_readers_bytes")),
            rocksdb_pinned=int(metric_total(metrics, "predelinq_rocksdb_block_cache_pinned_bytes")),
            rocksdb_sst_bytes=int(metric_total(metrics, "predelinq_rocksdb_sst_files_bytes")))

    def show(s: Sample) -> None:
        print(f"  [{s.t / 60:5.2f} min] produced {s.produced:,} scored {s.scored:,} "
              f"lag {s.lag:,} RSS {mib(s.rss):,.1f} MiB state ~{mib(s.state_bytes):,.1f} MiB "
              f"({s.customers_seen:,} customers) STATE_DIR {mib(s.state_dir_bytes):,.0f} MiB "
              f"RocksDB cache+memtables {mib(s.rocksdb_bytes):,.1f} MiB "
              f"(anon {mib(s.rss_anon):,.1f} of which heap {mib(s.rss_heap):,.1f}, file "
              f"{mib(s.rss_file):,.1f} readers "
              f"{mib(s.rocksdb_table_readers):,.2f} pinned {mib(s.rocksdb_pinned):,.2f} "
              f"SST {mib(s.rocksdb_sst_bytes):,.1f} MiB)",
              flush=True)

    duration = args.minutes * 60
    next_at = started
    while True:
        next_at += args.interval
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        if publisher.done():
            publisher.result()  # raises what stopped the traffic
            print("the simulated traffic ran out before the end of the run", flush=True)
        if not worker.alive():
            raise RuntimeError(f"the worker exited:\n{worker.log_tail()}")
        samples.append(await sample())
        show(samples[-1])
        if time.monotonic() - started >= duration or publisher.done():
            break
    stop.set()
    await publisher
    traffic_seconds = time.monotonic() - started
    # drain: the worker should catch up with everything published
    final_lag: int | None = None
    deadline = time.monotonic() + args.drain_seconds
    while time.monotonic() < deadline:
        await asyncio.sleep(2)
        final_lag, _, _ = await consumer_lag(settings, group, inputs)
        if final_lag == 0:
            break
    print(f"  lag {final_lag:,} after the traffic stopped "
          f"({time.monotonic() - started - traffic_seconds:.0f}s later)", flush=True)
    return samples, final_lag, traffic_seconds


def _table(samples: Sequence[Sample]) -> str:
    rows = []
    previous: Sample | None = None
    for s in samples:
        span = s.t - previous.t if previous else s.t
        rate = (s.produced - (previous.produced if previous else 0)) / span if span else 0
        scored_rate = (s.scored - (previous.scored if previous else 0)) / span if span else 0
        rows.append([f"{s.t / 60:.2f}", f"{s.produced:,}", f"{rate:,.0f}", f"{s.scored:,}",
                     f"{scored_rate:,.0f}", f"{s.lag:,}", f"{mib(s.rss):,.1f}",
                     f"{mib(s.rss_anon):,.1f}", f"{mib(s.rss_heap):,.1f}",
                     f"{mib(s.rss_file):,.1f}",
                     f"{mib(s.rocksdb_bytes):,.1f}", f"{mib(s.rocksdb_table_readers):,.2f}",
                     f"{mib(s.rocksdb_sst_bytes):,.1f}", f"{mib(s.state_bytes):,.1f}",
                     f"{mib(s.state_dir_bytes):,.0f}"])
        previous = s
    return markdown_table(["min", "produced", "events/s", "scored", "scores/s", "lag",
                           "RSS MiB", "anon MiB", "[heap] MiB", "file MiB",
                           "RocksDB cache+memtables MiB", "table readers MiB", "SST MiB",
                           "state MiB (est.)", "STATE_DIR MiB"], rows)


def _summary(args: argparse.Namespace, settings: Settings, samples: Sequence[Sample], *,
             final_lag: int | None, traffic_s: float, warmup: float, ready_s: float,
             rss_ready: int, hwm: int, rebalances: int, code: int | None,
             workdir: Path) -> dict[str, Any]:
    memory = None
    if args.store.startswith("rocksdb"):
        # every RocksDB database of the worker shares one memtable budget and one block cache
        memory = (settings.rocksdb_memtable_limit_bytes, settings.rocksdb_block_cache_bytes)
    result = assess(samples, warmup_s=warmup, rate=args.rate, rss_tolerance=args.rss_tolerance,
                    final_lag=final_lag, rocksdb_memory=memory)
    last = samples[-1]
    summary: dict[str, Any] = {
        "benchmark": "soak",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, {_cpus()} CPUs, Python {platform.python_version()}",
        "broker": "given" if args.bootstrap else "Apache Kafka started by the bench",
        "app_name": settings.app_name,
        "store": args.store,
        "rocksdb_memory": memory,  # (memtable limit, block cache) bytes, if RocksDB
        # the worker inherits the bench's environment: LD_PRELOAD names another allocator
        "allocator": os.environ.get("LD_PRELOAD") or "glibc malloc",
        "partitions": args.partitions,
        "customers": args.customers,
        "rate_target": args.rate,
        "minutes": args.minutes,
        "traffic_seconds": round(traffic_s, 1),
        "produced": last.produced,
        "rate_achieved": round(last.produced / traffic_s, 1),
        "scored": last.scored,
        "input_records": last.input_records,
        "final_lag": final_lag,
        "worker_ready_seconds": round(ready_s, 1),
        "rss_at_ready_mib": round(mib(rss_ready), 1),
        "rss_final_mib": round(mib(last.rss), 1),
        "rss_peak_mib": round(mib(hwm), 1),
        "state_estimate_final_mib": round(mib(last.state_bytes), 1),
        "state_dir_final_mib": round(mib(last.state_dir_bytes), 1),
        "group_joins_in_log": rebalances,
        "worker_exit_code": code,
        "assessment": asdict(result),
        "verdict": verdict(result, final_lag),
        "samples": [asdict(s) for s in samples],
        "workdir": str(workdir),
    }
    return summary


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join((__doc__ or "").split("\n\n")[1:]))
    parser.add_argument("--minutes", type=float, default=10.0, help="traffic duration (10)")
    parser.add_argument("--rate", type=float, default=1000.0, help="events/s (1000)")
    parser.add_argument("--customers", type=int, default=20_000,
                        help="fixed population of simulated customers (20,000)")
    parser.add_argument("--bootstrap", help="use this Kafka (HOST:PORT) instead of starting "
                                            "Apache Kafka here")
    parser.add_argument("--partitions", type=int, default=8, help="TOPIC_PARTITIONS (8)")
    parser.add_argument("--store", default="rocksdb://", choices=["rocksdb://", "memory://"])
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--warmup-minutes", type=float,
                        help="left out of the slopes (default: 2, or a third of short runs)")
    parser.add_argument("--rss-tolerance", type=float, default=0.5,
                        help="MiB/min RSS may grow beyond the state's growth (0.5)")
    parser.add_argument("--drain-seconds", type=float, default=60.0,
                        help="wait this long for the lag to reach 0 at the end (60)")
    parser.add_argument("--state-sample", type=int, default=1000,
                        help="customers whose encoded state size is sampled (1000)")
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--model", help="model version directory (default: var/bench model)")
    parser.add_argument("--workdir", type=Path, help="state dir and worker log "
                                                     "(default: a new temporary directory)")
    parser.add_argument("--json", type=Path, help="also write the JSON summary here")
    parser.add_argument("--reassess", type=Path, metavar="JSON",
                        help="judge the samples of a saved run again (no traffic, no worker)")
    parser.add_argument("--worker-commit", help="run the worker from this git commit "
                                                "(git archive), not the working tree")
    return parser


def reassess(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    """A saved run's summary with its samples judged again by the current ``assess``, with
    the RocksDB bound the run recorded."""
    summary: dict[str, Any] = json.loads(path.read_text())
    samples = [Sample(**sample) for sample in summary["samples"]]
    memory = None
    if str(summary["store"]).startswith("rocksdb"):
        if "rocksdb_memory" not in summary:
            raise SystemExit(f"{path}: a run from before the shared RocksDB bound (it does not "
                             "record the bound it ran with); it cannot be judged again")
        limit, cache = summary["rocksdb_memory"]
        memory = (int(limit), int(cache))
    result = assess(samples, warmup_s=float(summary["assessment"]["warmup_s"]),
                    rate=float(summary["rate_target"]), rss_tolerance=args.rss_tolerance,
                    final_lag=summary["final_lag"], rocksdb_memory=memory)
    summary["assessment"] = asdict(result)
    summary["verdict"] = verdict(result, summary["final_lag"])
    return summary


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.reassess:
        summary = reassess(args.reassess, args)
        print(summary["verdict"])
        if args.json:
            args.json.write_text(json.dumps(summary, indent=2) + "\n")
        return 0 if summary["assessment"]["rss_ok"] and summary["assessment"]["lag_ok"] else 1
    warmup = (args.warmup_minutes if args.warmup_minutes is not None
              else min(2.0, args.minutes / 3)) * 60
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="predelinq-soak-"))
    workdir.mkdir(parents=True, exist_ok=True)
    state_dir = workdir / "state"
    source, source_text = worker_source(args.worker_commit, workdir)
    model = ensure_model(args.model)
    with kafka_bootstrap(args.bootstrap) as bootstrap:
        env, settings = bench_settings("soak", bootstrap, TOPIC_PARTITIONS=str(args.partitions))
        asyncio.run(ensure_topics(settings))
        worker = BenchWorker(env, state_dir=state_dir, model_path=model,
                             log_path=workdir / "worker.log", store=args.store,
                             source=source)
        worker.start()
        try:
            ready_s = worker.wait_ready()
            memory = worker.memory()
            rss_ready = memory.rss if memory else 0
            print(f"worker ready in {ready_s:.1f}s (RSS {mib(rss_ready):.0f} MiB); "
                  f"{args.rate:,.0f} events/s of {args.customers:,} customers for "
                  f"{args.minutes:g} min", flush=True)
            samples, final_lag, traffic_s = asyncio.run(_run(args, settings, worker,
                                                             state_dir))
            memory = worker.memory()
            hwm = memory.hwm if memory else 0
            log = worker.log_text()
            rebalances = log.count("Joined group")
            drift = max_timer_drift(log)
        finally:
            code, stop_s = worker.stop()
            print(f"worker: SIGTERM -> exit {code} in {stop_s:.1f}s", flush=True)
    summary = _summary(args, settings, samples, final_lag=final_lag, traffic_s=traffic_s,
                       warmup=warmup, ready_s=ready_s, rss_ready=rss_ready, hwm=hwm,
                       rebalances=rebalances, code=code, workdir=workdir)
    summary["worker_code"] = source_text
    summary["max_timer_drift_s"] = round(drift, 1)  # how long the event loop was blocked
    text = json.dumps(summary, indent=1)
    print(text)
    print()
    print(_table(samples))
    print()
    print(summary["verdict"])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    shutil.rmtree(state_dir, ignore_errors=True)
    return 0


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    sys.exit(main())
