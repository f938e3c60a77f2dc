"""State at scale (issue 6, item 5): table recovery of N customers from the changelog, RSS,
disk per customer, and a restart that does not replay the changelog.

Steps (one run, real Apache Kafka, real worker subprocess):

1. **Realistic states.** ``--templates`` simulated customers (``stream_app.simulate``) are run
   through the feature engine's state update (``apply_event``) for ``--days`` days; their
   encoded states (``CustomerState.to_bytes()``, exactly what the worker stores) are the
   templates. Customer ``i`` gets the state of template ``i % templates`` under its own id
   ``CUST-{i:07d}`` (ids below ``--templates`` are the simulated customers themselves). The
   output says so: the N states are copies of ``--templates`` distinct histories.
2. **Changelog.** Topics are created as the worker does (``stream_app.kafka.ensure_topics``
   with the run's Settings), plus the table's compacted changelog
   ``<APP_NAME>-customer-state-changelog`` with ``TOPIC_PARTITIONS`` partitions; the N
   states are produced to it, each to the partition of its customer (murmur2 of the key, as
   the worker writes them).
3. **Recovery.** A worker starts with ``STATE_STORE_URL=rocksdb://`` and an empty
   ``STATE_DIR``. Every ``--sample-interval`` seconds: ``/ready``, the gauge
   ``predelinq_recovery_remaining_records`` from ``/metrics``, and VmRSS/VmHWM from
   ``/proc/<pid>/status``, until ``/ready`` answers 200. Reported: time to ready, the
   gauge falling to 0 (and ``/ready`` 503 while it was above 0), peak and final RSS, disk of
   ``STATE_DIR`` and bytes per customer; records read = highwater - start offsets that faust
   logs when the recovery starts.
4. **Restart.** SIGTERM (graceful), then a new worker on the same ``STATE_DIR``: time to
   ready and records read (faust keeps each changelog partition's offset in RocksDB, so
   ~0), RSS.
5. **Events for existing customers.** ``--feed-customers`` customers spread over the id
   range get their template's next days of events (held back in step 1), and every tenth of
   them one event its state already holds: the new events must be scored (risk scores
   appear) and the old ones counted as duplicates (``predelinq_duplicate_events_total``),
   which proves the restored state is the one used.
6. **memory:// for comparison** (``--compare-customers``, 0 to skip): a worker with the
   memory store on an empty changelog (baseline RSS) and on ``--compare-customers`` states,
   and a rocksdb:// worker on the same states.

Prints progress, then a JSON summary and a markdown table (``--json PATH`` also writes the
summary). Without ``--bootstrap`` it starts its own Apache Kafka (``KafkaBroker``).

Run: ``.venv/bin/python bench/state_at_scale.py [--customers 1000000] [--bootstrap HOST:PORT]``
(``--customers 20000 --compare-customers 5000`` for a quick look).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``bench`` and ``stream_app`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import murmur2

from bench._worker import (
    BenchWorker,
    bench_settings,
    dir_usage,
    ensure_model,
    kafka_bootstrap,
    markdown_table,
    max_timer_drift,
    metric_total,
    mib,
    parse_recovery_offsets,
    records_to_recover,
    worker_source,
)
from stream_app.features import CustomerState, apply_event
from stream_app.kafka import aiokafka_options, ensure_topics, publish_events
from stream_app.offline import to_event
from stream_app.settings import Settings
from stream_app.simulate import BankSimulator, SimulationConfig

TABLE = "customer-state"


def customer_id(index: int) -> str:
    return f"CUST-{index:07d}"


# --- 1. realistic states ---------------------------------------------------------------------
@dataclass
class Templates:
    blobs: list[bytes]  # encoded state of each template customer after ``days`` days
    held: list[list[dict[str, Any]]]  # the template's events of the held-back days
    last_applied: list[dict[str, Any] | None]  # an event the template's state already holds
    days: int
    simulated_events: int
    seconds: float

    def sizes(self) -> dict[str, float]:
        sizes = sorted(len(b) for b in self.blobs)
        return {"mean": statistics.fmean(sizes), "median": float(statistics.median(sizes)),
                "p99": float(sizes[min(len(sizes) - 1, int(len(sizes) * 0.99))]),
                "max": float(sizes[-1])}


def build_templates(count: int, days: int, hold_days: int, seed: int) -> Templates:
    started = time.monotonic()
    simulator = BankSimulator(SimulationConfig(customers=count, days=days + hold_days,
                                               seed=seed))
    states = [CustomerState() for _ in range(count)]
    held: list[list[dict[str, Any]]] = [[] for _ in range(count)]
    last: list[dict[str, Any] | None] = [None] * count
    events = 0
    for day, records in simulator.days():
        for record in records:
            index = int(record["customer_id"][5:])
            events += 1
            if day < days:
                apply_event(states[index], to_event(record))
                last[index] = record
            else:
                held[index].append(record)
    return Templates([s.to_bytes() for s in states], held, last, days, events,
                     time.monotonic() - started)


# --- 2. the changelog ------------------------------------------------------------------------
def changelog_topic(settings: Settings) -> str:
    return f"{settings.app_name}-{TABLE}-changelog"


async def create_topics(settings: Settings) -> list[str]:
    created = await ensure_topics(settings)  # exactly what the worker's topic service does
    admin = AIOKafkaAdminClient(**aiokafka_options(settings))
    await admin.start()
    try:
        # what faust declares for the table: compacted, one partition per input partition
        await admin.create_topics([NewTopic(
            changelog_topic(settings), settings.topic_partitions,
            settings.topic_replication_factor, topic_configs={"cleanup.policy": "compact"})])
    finally:
        await admin.close()
    return [*created, changelog_topic(settings)]


def partition_of(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner (murmur2), as producers of the input topics use it."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


async def write_states(settings: Settings, customers: int, templates: Templates) -> float:
    """Produce one state per customer to the changelog; returns seconds taken."""
    topic = changelog_topic(settings)
    producer = AIOKafkaProducer(**aiokafka_options(settings), acks="all", linger_ms=20,
                                max_batch_size=1_000_000)
    await producer.start()
    started = time.monotonic()
    blobs = templates.blobs
    pending: list[asyncio.Future[Any]] = []
    try:
        for index in range(customers):
            key = customer_id(index).encode()
            pending.append(await producer.send(
                topic, blobs[index % len(blobs)], key=key,
                partition=partition_of(key, settings.topic_partitions)))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
                if index + 1 == customers or (index + 1) % 200_000 < 20_000:
                    print(f"  written {index + 1:,}/{customers:,} states "
                          f"({(index + 1) / (time.monotonic() - started):,.0f}/s)", flush=True)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.monotonic() - started


# --- 3/4. a worker start, watched until ready ------------------------------------------------
@dataclass
class StartResult:
    store: str
    customers: int
    seconds_to_ready: float
    seconds_to_sidecar: float | None
    seconds_recovering: float | None  # first sample with the gauge > 0 -> ready
    records_read: int | None  # from the offsets faust logs at recovery start
    gauge_max: float
    gauge_decreasing: bool
    ready_while_remaining: int  # samples with the gauge > 0 and /ready 200 (must be 0)
    not_ready_while_remaining: int
    rss_peak: int  # VmHWM when ready
    rss_ready: int
    rss_settled: int | None = None  # a few seconds after ready
    disk_allocated: int = 0
    disk_apparent: int = 0
    samples: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "samples"}
        out["rss_peak_mib"] = round(mib(self.rss_peak), 1)
        out["rss_ready_mib"] = round(mib(self.rss_ready), 1)
        out["rss_settled_mib"] = None if self.rss_settled is None else round(
            mib(self.rss_settled), 1)
        # "seconds since start: records remaining, /ready status", one per sample
        out["gauge_samples"] = [f"{s['t']}s: {s['remaining']:.0f}, {s['ready']}"
                                for s in self.samples if s["remaining"] is not None]
        return out


def watch_start(worker: BenchWorker, *, customers: int, store: str, changelog: str,
                interval: float, timeout: float, settle: float = 5.0) -> StartResult:
    worker.start()
    samples: list[dict[str, Any]] = []
    last_print = 0.0
    sidecar_at: float | None = None
    ready_at: float | None = None
    while True:
        now = time.monotonic() - worker.started_at
        if not worker.alive():
            raise RuntimeError(f"worker exited during start-up:\n{worker.log_tail()}")
        if now > timeout:
            raise RuntimeError(f"worker not ready after {timeout:.0f}s:\n{worker.log_tail()}")
        status, body = worker.ready()
        metrics = worker.metrics() if status else None
        memory = worker.memory()
        remaining = (metrics.get("predelinq_recovery_remaining_records")
                     if metrics is not None else None)
        sample = {"t": round(now, 2), "ready": status, "remaining": remaining,
                  "rss": memory.rss if memory else None, "hwm": memory.hwm if memory else None,
                  "checks": body.get("checks")}
        samples.append(sample)
        if status and sidecar_at is None:
            sidecar_at = now
        if now - last_print >= 5 or status == 200:
            last_print = now
            print(f"  [{now:6.1f}s] /ready {status or '-'} remaining "
                  f"{'-' if remaining is None else f'{remaining:,.0f}'} RSS "
                  f"{mib(memory.rss) if memory else 0:,.0f} MiB", flush=True)
        if status == 200:
            ready_at = now
            break
        time.sleep(interval)
    memory = worker.memory()
    assert memory is not None
    with_gauge = [s for s in samples if s["remaining"] is not None]
    positive = [s for s in with_gauge if s["remaining"] > 0]
    values = [s["remaining"] for s in positive]
    recovering = (ready_at - positive[0]["t"]) if positive else None
    result = StartResult(
        store=store, customers=customers, seconds_to_ready=round(ready_at, 2),
        seconds_to_sidecar=None if sidecar_at is None else round(sidecar_at, 2),
        seconds_recovering=None if recovering is None else round(recovering, 2),
        records_read=None, gauge_max=max(values, default=0.0),
        gauge_decreasing=all(b <= a for a, b in itertools.pairwise(values)),
        ready_while_remaining=sum(1 for s in positive if s["ready"] == 200),
        not_ready_while_remaining=sum(1 for s in positive if s["ready"] != 200),
        rss_peak=memory.hwm, rss_ready=memory.rss, samples=samples)
    if store.startswith("rocksdb"):
        offsets = parse_recovery_offsets(worker.log_text(), changelog)
        if offsets["highwater"]:
            result.records_read = records_to_recover(offsets)
    else:  # the memory store keeps no offsets: it reads the whole changelog
        result.records_read = None
    time.sleep(settle)
    settled = worker.memory()
    result.rss_settled = settled.rss if settled else None
    if settled:
        result.rss_peak = max(result.rss_peak, settled.hwm)
    return result


# --- 5. events for existing customers ------------------------------------------------------
@dataclass
class FeedPlan:
    records: list[dict[str, Any]]
    customers: set[str]
    new_events: int
    duplicates: int
    genuine: int  # fed customers that are the simulated customers themselves


def feed_plan(templates: Templates, customers: int, count: int) -> FeedPlan:
    step = max(1, customers // max(1, count))
    records: list[dict[str, Any]] = []
    fed: set[str] = set()
    new = duplicates = genuine = 0
    for j in range(min(count, customers)):
        index = j * step  # spread over the whole id range
        template = index % len(templates.blobs)
        held = templates.held[template]
        if not held:
            continue
        cid = customer_id(index)
        if cid in fed:
            continue
        fed.add(cid)
        genuine += index < len(templates.blobs)
        records += [{**r, "customer_id": cid} for r in held]
        new += len(held)
        old = templates.last_applied[template]
        if j % 10 == 0 and old is not None:
            records.append({**old, "customer_id": cid})
            duplicates += 1
    records.sort(key=lambda r: r["occurred_at"])
    return FeedPlan(records, fed, new, duplicates, genuine)


class _HealthProbe(threading.Thread):
    """Times /health every 0.2 s: a long answer means the worker's event loop was blocked."""

    def __init__(self, worker: BenchWorker) -> None:
        super().__init__(daemon=True)
        self.worker = worker
        self.stop = threading.Event()
        self.worst = 0.0

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            self.worker.get("/health", timeout=120)
            self.worst = max(self.worst, time.monotonic() - started)
            self.stop.wait(0.2)


async def _count_scores(settings: Settings, fed: set[str], wanted: int,
                        timeout: float) -> tuple[int, int, float | None, float | None]:
    """(scores for fed customers, distinct customers scored, seconds to the first, seconds
    to the last) reading the scores topic from the start until every wanted customer is
    scored and 3 s passed without more, or ``timeout``."""
    consumer = AIOKafkaConsumer(settings.topic_risk_scores, **aiokafka_options(settings),
                                group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    started = time.monotonic()
    scores = 0
    scored: set[bytes] = set()
    keys = {c.encode() for c in fed}
    first = last = None
    quiet_since = time.monotonic()
    try:
        while time.monotonic() - started < timeout:
            batch = await consumer.getmany(timeout_ms=250, max_records=5000)
            got = [m for messages in batch.values() for m in messages if m.key in keys]
            if got:
                now = time.monotonic() - started
                first = now if first is None else first
                last = now
                quiet_since = time.monotonic()
                scores += len(got)
                scored.update(m.key for m in got if m.key is not None)
            if len(scored) >= wanted and time.monotonic() - quiet_since > 3:
                break
    finally:
        await consumer.stop()
    return scores, len(scored), first, last


def feed_existing(worker: BenchWorker, settings: Settings, plan: FeedPlan,
                  timeout: float) -> dict[str, Any]:
    before = worker.metrics() or {}
    probe = _HealthProbe(worker)
    probe.start()
    started = time.monotonic()

    async def run() -> tuple[int, tuple[int, int, float | None, float | None]]:
        counting = asyncio.ensure_future(
            _count_scores(settings, plan.customers, len(plan.customers), timeout))
        sent = await publish_events(settings, plan.records)
        return sent, await counting

    sent, (scores, scored, first, last) = asyncio.run(run())
    probe.stop.set()
    probe.join(5)
    after = worker.metrics() or {}

    def delta(name: str) -> int:
        return int(metric_total(after, name) - metric_total(before, name))

    return {
        "customers_fed": len(plan.customers),
        "of_which_simulated_customers": plan.genuine,
        "events_sent": sent,
        "new_events": plan.new_events,
        "already_applied_events": plan.duplicates,
        "scores_for_fed_customers": scores,
        "customers_scored": scored,
        "duplicates_counted": delta("predelinq_duplicate_events_total"),
        "dead_letters": delta("predelinq_dead_letters_total"),
        "state_errors": delta("predelinq_state_errors_total"),
        "seconds_to_first_score": None if first is None else round(first, 2),
        "seconds_to_last_score": None if last is None else round(last, 2),
        "worst_health_response_s": round(probe.worst, 2),
        "seconds": round(time.monotonic() - started, 2),
    }


# --- the run ---------------------------------------------------------------------------------
def _stop(worker: BenchWorker, label: str) -> dict[str, Any]:
    code, seconds = worker.stop()
    print(f"  {label}: SIGTERM -> exit {code} in {seconds:.1f}s", flush=True)
    return {"exit_code": code, "seconds": round(seconds, 2)}


def _disk(result: StartResult, state_dir: Path) -> None:
    result.disk_allocated, result.disk_apparent = dir_usage(state_dir)


def run_main(args: argparse.Namespace, bootstrap: str, model: Path, workdir: Path,
             templates: Templates) -> dict[str, Any]:
    env, settings = bench_settings("scale", bootstrap, TOPIC_PARTITIONS=str(args.partitions))
    created = asyncio.run(create_topics(settings))
    print(f"created {len(created)} topics (APP_NAME {settings.app_name})", flush=True)
    print(f"writing {args.customers:,} states to {changelog_topic(settings)} ...", flush=True)
    write_s = asyncio.run(write_states(settings, args.customers, templates))
    print(f"  {args.customers:,} states in {write_s:.1f}s", flush=True)
    state_dir = workdir / "state"
    changelog = changelog_topic(settings)
    out: dict[str, Any] = {"app_name": settings.app_name,
                           "write_seconds": round(write_s, 1),
                           "write_states_per_s": round(args.customers / write_s)}

    print("first start: full recovery from the changelog (rocksdb://, empty STATE_DIR)",
          flush=True)
    first = BenchWorker(env, state_dir=state_dir, model_path=model,
                        log_path=workdir / "worker-1.log", source=args.source)
    try:
        recovery = watch_start(first, customers=args.customers, store="rocksdb://",
                               changelog=changelog, interval=args.sample_interval,
                               timeout=args.ready_timeout)
        _disk(recovery, state_dir)
    finally:
        out["first_stop"] = _stop(first, "first worker")
    after_stop = dir_usage(state_dir)
    out["disk_after_stop"] = {"allocated": after_stop[0], "apparent": after_stop[1]}
    print("restart on the same STATE_DIR", flush=True)
    second = BenchWorker(env, state_dir=state_dir, model_path=model,
                         log_path=workdir / "worker-2.log", source=args.source)
    try:
        restart = watch_start(second, customers=args.customers, store="rocksdb://",
                              changelog=changelog, interval=args.sample_interval,
                              timeout=args.ready_timeout)
        _disk(restart, state_dir)
        plan = feed_plan(templates, args.customers, args.feed_customers)
        print(f"feeding {len(plan.records):,} events of {len(plan.customers):,} existing "
              f"customers ({plan.duplicates} already applied) ...", flush=True)
        feed = feed_existing(second, settings, plan, args.feed_timeout)
        print(f"  {feed['customers_scored']:,}/{feed['customers_fed']:,} customers scored, "
              f"{feed['duplicates_counted']}/{feed['already_applied_events']} duplicates "
              f"counted, first score after {feed['seconds_to_first_score']}s, worst /health "
              f"{feed['worst_health_response_s']}s", flush=True)
        memory = second.memory()
        feed["rss_after_feed"] = memory.rss if memory else None
        feed["rss_peak_after_feed"] = memory.hwm if memory else None
        # a rebalance while feeding (e.g. a blocked event loop missing heartbeats) shows here
        log = second.log_text()
        feed["group_joins_in_log"] = log.count("Joined group")
        feed["max_timer_drift_s"] = round(max_timer_drift(log), 1)  # event loop blocked
    finally:
        out["second_stop"] = _stop(second, "restarted worker")
    out["recovery"] = recovery.summary()
    out["restart"] = restart.summary()
    out["feed"] = feed
    if not args.keep:
        shutil.rmtree(state_dir, ignore_errors=True)
    return out


def run_compare(args: argparse.Namespace, bootstrap: str, model: Path, workdir: Path,
                templates: Templates) -> dict[str, Any]:
    results: dict[str, Any] = {}
    n = args.compare_customers
    for label, customers, store in (("memory_baseline", 0, "memory://"),
                                    ("memory", n, "memory://"),
                                    ("rocksdb", n, "rocksdb://")):
        if label != "rocksdb":  # memory and rocksdb share one changelog of n states
            env, settings = bench_settings("scale-cmp", bootstrap,
                                           TOPIC_PARTITIONS=str(args.partitions))
            asyncio.run(create_topics(settings))
            if customers:
                asyncio.run(write_states(settings, customers, templates))
        print(f"compare: {store} with {customers:,} customers", flush=True)
        state_dir = workdir / f"state-{label}"
        worker = BenchWorker(env, state_dir=state_dir, model_path=model,
                             log_path=workdir / f"worker-{label}.log", store=store,
                             source=args.source)
        try:
            result = watch_start(worker, customers=customers, store=store,
                                 changelog=changelog_topic(settings),
                                 interval=args.sample_interval, timeout=args.ready_timeout)
            _disk(result, state_dir)
        finally:
            _stop(worker, f"{label} worker")
        results[label] = result.summary()
        shutil.rmtree(state_dir, ignore_errors=True)
    base = results["memory_baseline"]["rss_settled"] or results["memory_baseline"]["rss_ready"]
    per_customer = ((results["memory"]["rss_settled"] or results["memory"]["rss_ready"])
                    - base) / max(1, n)
    results["memory_rss_bytes_per_customer"] = round(per_customer)
    results["memory_rss_extrapolated_mib"] = round(mib(base + per_customer * args.customers))
    return results


def _table(summary: dict[str, Any]) -> str:
    rec, rst, feed = summary["recovery"], summary["restart"], summary["feed"]
    n = summary["customers"]
    rows: list[list[object]] = [
        ["customers (states)", f"{n:,} ({summary['templates']['count']:,} distinct simulated "
                               f"histories of {summary['templates']['days']} days)"],
        ["encoded state", f"mean {summary['templates']['state_bytes']['mean']:,.0f} B, p99 "
                          f"{summary['templates']['state_bytes']['p99']:,.0f} B, max "
                          f"{summary['templates']['state_bytes']['max']:,.0f} B"],
        ["changelog written", f"{summary['write_seconds']} s "
                              f"({summary['write_states_per_s']:,}/s)"],
        ["first start: time to /ready", f"{rec['seconds_to_ready']} s (recovering "
                                        f"{rec['seconds_recovering']} s)"],
        ["first start: records read", f"{rec['records_read']:,}" if rec["records_read"]
         is not None else "n/a"],
        ["first start: gauge", f"max {rec['gauge_max']:,.0f} -> 0, decreasing: "
                               f"{rec['gauge_decreasing']}; /ready 503 in "
                               f"{rec['not_ready_while_remaining']} samples with records "
                               f"remaining, 200 in {rec['ready_while_remaining']}"],
        ["first start: RSS peak / at ready / settled",
         f"{rec['rss_peak_mib']:,} / {rec['rss_ready_mib']:,} / {rec['rss_settled_mib']:,} "
         "MiB"],
        ["STATE_DIR on disk (ready / after stop)",
         f"{mib(rec['disk_allocated']):,.0f} / "
         f"{mib(summary['disk_after_stop']['allocated']):,.0f} MiB"],
        ["disk per customer", f"{summary['disk_bytes_per_customer']:,} B (after stop)"],
        ["graceful stop", f"{summary['first_stop']['seconds']} s "
                          f"(exit {summary['first_stop']['exit_code']})"],
        ["restart: time to /ready", f"{rst['seconds_to_ready']} s"],
        ["restart: records read", f"{rst['records_read']:,}" if rst["records_read"]
         is not None else "n/a"],
        ["restart: gauge max", f"{rst['gauge_max']:,.0f}"],
        ["restart: RSS peak / settled", f"{rst['rss_peak_mib']:,} / {rst['rss_settled_mib']:,} "
                                        "MiB"],
        ["events for existing customers",
         f"{feed['customers_scored']:,}/{feed['customers_fed']:,} customers scored "
         f"({feed['scores_for_fed_customers']:,} scores for {feed['new_events']:,} new "
         f"events); {feed['duplicates_counted']}/{feed['already_applied_events']} old events "
         f"recognised as duplicates; dead letters {feed['dead_letters']}"],
        ["first score after feeding began", f"{feed['seconds_to_first_score']} s (worst "
                                            f"/health answer {feed['worst_health_response_s']}"
                                            f" s, faust timers late by up to "
                                            f"{feed['max_timer_drift_s']} s, "
                                            f"{feed['group_joins_in_log']} group joins)"],
        ["RSS after feeding (peak)", f"{mib(feed['rss_after_feed'] or 0):,.0f} "
                                     f"({mib(feed['rss_peak_after_feed'] or 0):,.0f}) MiB"],
    ]
    compare = summary.get("compare")
    if compare:
        m, r, b = compare["memory"], compare["rocksdb"], compare["memory_baseline"]
        rows += [
            [f"memory:// at {m['customers']:,}: ready / RSS settled",
             f"{m['seconds_to_ready']} s / {m['rss_settled_mib']:,} MiB (empty: "
             f"{b['rss_settled_mib']:,} MiB; {compare['memory_rss_bytes_per_customer']:,} "
             f"B/customer, ~{compare['memory_rss_extrapolated_mib']:,} MiB at {n:,})"],
            [f"rocksdb:// at {r['customers']:,}: ready / RSS settled",
             f"{r['seconds_to_ready']} s / {r['rss_settled_mib']:,} MiB"],
        ]
    return markdown_table(["measure", "result"], rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join((__doc__ or "").split("\n\n")[1:]))
    parser.add_argument("--customers", type=int, default=1_000_000,
                        help="states written to the changelog (default 1,000,000)")
    parser.add_argument("--bootstrap", help="use this Kafka (HOST:PORT) instead of starting "
                                            "Apache Kafka here")
    parser.add_argument("--partitions", type=int, default=8, help="TOPIC_PARTITIONS (8)")
    parser.add_argument("--templates", type=int, default=2000,
                        help="distinct simulated customers whose states are copied (2000)")
    parser.add_argument("--days", type=int, default=120,
                        help="simulated days of history in each state (120)")
    parser.add_argument("--feed-customers", type=int, default=2000,
                        help="existing customers that get new events after the restart")
    parser.add_argument("--compare-customers", type=int, default=100_000,
                        help="customers for the memory:// vs rocksdb:// comparison (0: skip)")
    parser.add_argument("--model", help="model version directory (default: var/bench model)")
    parser.add_argument("--sample-interval", type=float, default=0.5, help="seconds (0.5)")
    parser.add_argument("--ready-timeout", type=float, default=1800.0, help="seconds")
    parser.add_argument("--feed-timeout", type=float, default=600.0, help="seconds")
    parser.add_argument("--workdir", type=Path, help="state dirs and worker logs "
                                                     "(default: a new temporary directory)")
    parser.add_argument("--keep", action="store_true", help="keep the state dirs")
    parser.add_argument("--json", type=Path, help="also write the JSON summary here")
    parser.add_argument("--worker-commit", help="run the worker from this git commit "
                                                "(git archive), not the working tree")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="predelinq-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    args.source, source_text = worker_source(args.worker_commit, workdir)
    model = ensure_model(args.model)
    print(f"building {args.templates:,} template states ({args.days} simulated days) ...",
          flush=True)
    templates = build_templates(args.templates, args.days, hold_days=3, seed=11)
    sizes = templates.sizes()
    print(f"  {templates.simulated_events:,} events in {templates.seconds:.1f}s; state bytes "
          f"mean {sizes['mean']:.0f}, p99 {sizes['p99']:.0f}, max {sizes['max']:.0f}",
          flush=True)
    started = time.monotonic()
    summary: dict[str, Any] = {
        "benchmark": "state_at_scale",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, {_cpus()} CPUs, Python {platform.python_version()}",
        "customers": args.customers,
        "partitions": args.partitions,
        "store": "rocksdb://",
        "worker_code": source_text,
        "templates": {"count": args.templates, "days": args.days, "state_bytes": sizes,
                      "how": "each customer's state is a copy of one of the simulated "
                             "customers' states (customer i: template i % count), under its "
                             "own id"},
        "workdir": str(workdir),
    }
    with kafka_bootstrap(args.bootstrap) as bootstrap:
        summary["broker"] = "given" if args.bootstrap else "Apache Kafka started by the bench"
        summary.update(run_main(args, bootstrap, model, workdir, templates))
        if args.compare_customers:
            summary["compare"] = run_compare(args, bootstrap, model, workdir, templates)
    summary["disk_bytes_per_customer"] = round(
        summary["disk_after_stop"]["allocated"] / max(1, args.customers))
    summary["disk_bytes_per_customer_at_ready"] = round(
        summary["recovery"]["disk_allocated"] / max(1, args.customers))
    summary["targets"] = {
        "recovery_of_1m_within_60s": (summary["recovery"]["seconds_to_ready"] <= 60
                                      if args.customers >= 1_000_000 else None),
        "state_at_most_2_kib_per_customer": summary["disk_bytes_per_customer"] <= 2048,
        "restart_reads_no_changelog": (summary["restart"]["records_read"] or 0)
                                      <= args.customers // 1000,
    }
    summary["total_seconds"] = round(time.monotonic() - started, 1)
    text = json.dumps(summary, indent=2, default=str)
    print(text)
    print()
    print(_table(summary))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    sys.exit(main())
