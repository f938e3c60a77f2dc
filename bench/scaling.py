"""Scaling with partitions and workers (issue 21 item 4): the same backlog drained by 1, 2 and
4 worker processes of one consumer group, on one local Apache Kafka broker.

    .venv/bin/python -m bench.scaling [--short] [--write-doc] [--bootstrap HOST:PORT]
        [--workers 1,2,4] [--partitions 8] [--backlog N] [--customers N] ...

For each worker count: fresh topics of ``--partitions`` partitions (and a fresh consumer
group), the backlog published first (the simulation bench/compare.py uses), then that many
``python -m stream_app worker`` processes started at once (``bench._worker.BenchWorker``: each
its own STATE_DIR and sidecar port, all the same APP_NAME, so one group that Kafka balances).
Measured from the moment the first worker answers ``/ready`` to the moment all input was
consumed and the risk-score topic reached its final size (every score published): events/s, each
worker's CPU seconds (utime + stime, ``/proc/<pid>/stat``) over that span, CPU µs per event
(all workers), and the speed-up against one worker. The span includes the group's rebalances
as the other workers join (the broker runs with no initial rebalance delay), as scaling out a
lagging group would.

Then the outputs of all workers together are checked against the offline reference
(bench/_reference.py, as bench/compare.py does for each engine): the run exits non-zero on any
difference.

Results: ``bench/results/scaling.json`` and ``bench/results/scaling.md`` (``var/bench/`` with
``--short``), and with ``--write-doc`` the section between the ``bench:scaling`` markers of
docs/performance.md (appended at the end when absent). Nothing prints a customer id.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import itertools
import json
import logging
import math
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._worker import (
    REPO,
    BenchWorker,
    bench_settings,
    ensure_model,
    kafka_bootstrap,
    markdown_table,
    metric_total,
)
from bench.compare import SEED, cpu_model, cpu_seconds, replace_section, verify_outputs
from stream_app.settings import Settings

__all__ = ["DOC_END", "DOC_START", "RunFigures", "main", "render_markdown", "run_figures",
           "speedups"]

DOC_START = "<!-- bench:scaling -->"
DOC_END = "<!-- /bench:scaling -->"
DOC_PATH = REPO / "docs" / "performance.md"
RESULTS = REPO / "bench" / "results"
SHORT_RESULTS = REPO / "var" / "bench"  # not kept in git
POLL_SECONDS = 0.2
SETTLE_SECONDS = 5.0  # the risk-score topic unchanged this long, all input consumed: done


# --- pure helpers ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Tick:
    t: float  # monotonic seconds
    consumed: int  # input records taken, summed over the workers (redeliveries included)
    scores: int  # records in the risk-score topic
    cpu: tuple[float, ...]  # each worker's utime + stime, seconds
    ready: int  # workers answering /ready 200


@dataclass(frozen=True)
class RunFigures:
    seconds: float
    events_per_second: float
    cpu_seconds: tuple[float, ...]  # per worker, over the measured span
    cpu_us_per_event: float  # all workers' CPU over the span / events
    scores: int


def run_figures(ticks: Sequence[Tick], events: int) -> RunFigures | None:
    """From the first tick with a worker ready to the first tick at which the risk-score
    topic had its final size (the last tick's) with every input consumed. None if no worker
    was ever ready or the end precedes the start."""
    start = next((t for t in ticks if t.ready > 0), None)
    if start is None or not ticks:
        return None
    final = ticks[-1].scores
    end = next((t for t in ticks if t.t >= start.t and t.scores >= final
                and t.consumed >= events), None)
    if end is None or end.t <= start.t:
        return None
    seconds = end.t - start.t
    cpu = tuple(b - a for a, b in zip(start.cpu, end.cpu, strict=True))
    return RunFigures(seconds, events / seconds, cpu, sum(cpu) / events * 1e6, end.scores)


def speedups(runs: Sequence[Mapping[str, Any]]) -> list[float | None]:
    """Each run's events/s over the one-worker run's (None without it)."""
    base = next((r["events_per_second"] for r in runs if r["workers"] == 1
                 and r.get("events_per_second")), None)
    return [r["events_per_second"] / base if base and r.get("events_per_second") else None
            for r in runs]


def _fmt(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def render_markdown(report: Mapping[str, Any]) -> str:
    """The markdown of a run (the doc section, without the markers)."""
    runs = report["runs"]
    rows = []
    for run, up in zip(runs, speedups(runs), strict=True):
        cpus = run.get("cpu_seconds") or []
        check = run.get("reference_check") or {}
        rows.append([
            run["workers"], f"{run['events']:,}", _fmt(run.get("seconds"), 1),
            _fmt(run.get("events_per_second")), f"{up:.2f}x" if up else "n/a",
            " / ".join(f"{c:.1f}" for c in cpus) or "n/a",
            _fmt(run.get("cpu_us_per_event")),
            _fmt(sum(cpus) / run["seconds"], 2) if cpus and run.get("seconds") else "n/a",
            f"{check.get('equal', 0):,} / {check.get('expected', 0):,}"
            + ("" if check.get("ok") else " **FAILED**"),
        ])
    cores = report["machine"]["cores"]
    most = max((r["workers"] for r in runs), default=1)
    lines = [
        "### Scaling with workers (issue 21)",
        "",
        f"`{report['command']}`, {report['date']}: {cores} cores "
        f"({report['machine']['cpu_model']}), {report['kafka']}; worker code: "
        f"{report['worker_source']}; {report['config']['partitions']} partitions per input "
        f"topic, `BATCH_SIZE={report['config']['batch_size']}`, table store "
        f"`{report['config']['store']}`, a backlog of {report['config']['backlog']:,} events "
        f"of {report['config']['customers']:,} simulated customers drained by one consumer "
        "group of N worker processes (each its own state dir and sidecar).",
        "",
        markdown_table(["workers", "events", "seconds", "events/s", "speed-up",
                        "CPU s per worker", "CPU µs/event (all workers)",
                        "cores busy (workers)", "outputs equal the reference"], rows),
        "",
        "Notes:",
        "",
        "* measured from the first worker's `/ready` to the moment every input record was "
        "consumed and the risk-score topic reached its final size; the span includes the "
        "rebalances as the other workers join and their table recovery. CPU: utime + stime of "
        "each worker process over that span.",
        f"* this machine has {cores} cores, shared by the workers, the broker and the bench: "
        f"{most} workers share {cores} cores, so the speed-up tops out near {cores}x at best "
        "(less, since the broker needs CPU too) for a CPU-bound worker; what is shown is "
        "what was measured. *cores busy*: the workers' CPU seconds over the span's seconds; "
        "a worker well below one core is waiting (fetches, produce acknowledgements, commits), "
        "not computing, and more workers overlap those waits.",
        "* outputs: the risk scores of all workers together checked against the offline "
        "reference (`bench/_reference.py`, as in the side-by-side comparison: event-triggered "
        "scores exactly, absence-deadline rescorings counted apart).",
    ]
    return "\n".join(lines)


# --- the run ---------------------------------------------------------------------------------
def _read_cpu(pid: int) -> float:
    try:
        return cpu_seconds(Path(f"/proc/{pid}/stat").read_text(), os.sysconf("SC_CLK_TCK"))
    except OSError:
        return 0.0


async def _watch(settings: Settings, workers: Sequence[BenchWorker], events: int, *,
                 timeout: float) -> list[Tick]:
    """Ticks every POLL_SECONDS until all input was consumed and the risk-score topic has not
    grown for SETTLE_SECONDS (raises if a worker exits or ``timeout`` passes)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from stream_app.kafka import aiokafka_options

    consumer = AIOKafkaConsumer(**aiokafka_options(settings), enable_auto_commit=False)
    await consumer.start()
    tps = [TopicPartition(settings.topic_risk_scores, p)
           for p in range(settings.topic_partitions)]
    ticks: list[Tick] = []
    started = time.monotonic()
    ready = [False] * len(workers)
    try:
        while True:
            for w in workers:
                if not w.alive():
                    raise RuntimeError(f"a worker exited:\n{w.log_tail()}")
            ends = await consumer.end_offsets(tps)
            consumed = 0
            for i, w in enumerate(workers):
                if not ready[i]:
                    ready[i] = w.ready()[0] == 200
                consumed += int(metric_total(w.metrics() or {}, "predelinq_input_records_total"))
            now = time.monotonic()
            ticks.append(Tick(now, consumed, sum(ends.values()),
                              tuple(_read_cpu(w.pid) for w in workers), sum(ready)))
            last_change = next((t.t for t in reversed(ticks) if t.scores != ticks[-1].scores),
                               started)
            if consumed >= events and now - last_change >= SETTLE_SECONDS:
                return ticks
            if now - started > timeout:
                raise RuntimeError(f"not drained in {timeout:.0f} s ({consumed:,} of "
                                   f"{events:,} consumed)")
            await asyncio.sleep(POLL_SECONDS)
    finally:
        await consumer.stop()


def run_workers(count: int, bootstrap: str, backlog: list[dict[str, Any]], *, model: Path,
                partitions: int, store: str, workdir: Path, timeout: float) -> dict[str, Any]:
    from stream_app.kafka import ensure_topics, publish_events

    env, settings = bench_settings(f"scaling-{count}", bootstrap,
                                   TOPIC_PARTITIONS=str(partitions))
    asyncio.run(ensure_topics(settings))
    sent = asyncio.run(publish_events(settings, backlog))
    print(f"{count} worker(s): {sent:,} events published, starting ...", flush=True)
    workers = [BenchWorker(env, state_dir=workdir / f"w{i}" / "state", model_path=model,
                           log_path=workdir / f"w{i}" / "worker.log", store=store)
               for i in range(count)]
    try:
        for w in workers:
            w.start()
        ticks = asyncio.run(_watch(settings, workers, sent, timeout=timeout))
    finally:
        for w in workers:
            w.stop()
    figures = run_figures(ticks, sent)
    first_ready = next((t.t for t in ticks if t.ready > 0), None)
    all_ready = next((t.t for t in ticks if t.ready == count), None)
    start = min(w.started_at for w in workers)
    ends = asyncio.run(_risk_ends(settings))
    check = verify_outputs(settings, backlog, model, ends, label=f"{count} worker(s)")
    result: dict[str, Any] = {
        "workers": count,
        "events": sent,
        "seconds": round(figures.seconds, 2) if figures else None,
        "events_per_second": round(figures.events_per_second, 1) if figures else None,
        "cpu_seconds": [round(c, 2) for c in figures.cpu_seconds] if figures else None,
        "cpu_us_per_event": round(figures.cpu_us_per_event, 1) if figures else None,
        "risk_scores": ticks[-1].scores,
        "input_records_consumed": ticks[-1].consumed,  # redeliveries after rebalances included
        "first_ready_seconds": round(first_ready - start, 1) if first_ready else None,
        "all_ready_seconds": round(all_ready - start, 1) if all_ready else None,
        "reference_check": check,
    }
    print(json.dumps({k: v for k, v in result.items() if k != "reference_check"}), flush=True)
    return result


async def _risk_ends(settings: Settings) -> dict[Any, int]:
    from bench.compare import _end_offsets

    return await _end_offsets(settings, [settings.topic_risk_scores])


def _backlog(customers: int, events: int) -> list[dict[str, Any]]:
    from stream_app.simulate import BankSimulator, SimulationConfig

    days = max(30, math.ceil(events / customers / 1.2))  # as bench/compare.py
    simulator = BankSimulator(SimulationConfig(customers=customers, days=days, seed=SEED))
    backlog = list(itertools.islice(simulator.events(), events))
    if len(backlog) < events:
        raise SystemExit(f"the simulation gave {len(backlog)} events, {events} wanted")
    return backlog


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scaling", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--short", action="store_true",
                        help="a backlog of 30,000 events (about 3 minutes)")
    parser.add_argument("--write-doc", action="store_true",
                        help="replace the bench:scaling section of docs/performance.md")
    parser.add_argument("--bootstrap", help="an existing broker (default: start Apache Kafka)")
    parser.add_argument("--model", help="model version directory (default: trained once)")
    parser.add_argument("--workers", default="1,2,4", help="comma-separated worker counts")
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--customers", type=int, help="simulated customers (3000; short 1500)")
    parser.add_argument("--backlog", type=int, help="events (150000; short 30000)")
    parser.add_argument("--store", default="rocksdb://", help="the workers' table store")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="longest wait for a drain, seconds")
    parser.add_argument("--out", type=Path, help="directory of scaling.json and scaling.md "
                                                 "(bench/results; short: var/bench)")
    parser.add_argument("--doc", type=Path, default=DOC_PATH)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    counts = sorted({int(c) for c in args.workers.split(",") if c.strip()})
    if not counts or min(counts) < 1:
        raise SystemExit("--workers: positive worker counts")
    customers = args.customers or (1500 if args.short else 3000)
    events = args.backlog or (30_000 if args.short else 150_000)
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    started = time.monotonic()
    backlog = _backlog(customers, events)
    model = ensure_model(args.model)
    from bench._worker import worker_source
    from stream_app.brokers import DEFAULT_KAFKA_VERSION
    from stream_app.settings import load_settings

    kafka = (f"external broker at {args.bootstrap}" if args.bootstrap
             else f"Apache Kafka {DEFAULT_KAFKA_VERSION} (one local broker)")
    runs = []
    with kafka_bootstrap(args.bootstrap) as bootstrap, \
            tempfile.TemporaryDirectory(prefix="predelinq-scaling-") as tmp:
        _, described = worker_source(None, Path(tmp))
        for count in counts:
            runs.append(run_workers(count, bootstrap, backlog, model=model,
                                    partitions=args.partitions, store=args.store,
                                    workdir=Path(tmp) / f"n{count}", timeout=args.timeout))
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        cpuinfo = ""
    for run, up in zip(runs, speedups(runs), strict=True):
        run["speedup"] = round(up, 3) if up else None
    report: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d"),
        "command": shlex.join([".venv/bin/python", "-m", "bench.scaling",
                               *(sys.argv[1:] if argv is None else argv)]),
        "machine": {"cores": os.cpu_count(), "cpu_model": cpu_model(cpuinfo)},
        "kafka": kafka,
        "worker_source": described,
        "config": {"partitions": args.partitions, "customers": customers, "backlog": events,
                   "store": args.store, "batch_size": load_settings().batch_size,
                   "workers": counts},
        "runs": runs,
        "seconds": round(time.monotonic() - started, 1),
    }
    failed = [r["workers"] for r in runs if not r["reference_check"].get("ok")]
    report["outputs_equal_reference"] = not failed
    out: Path = args.out or (SHORT_RESULTS if args.short else RESULTS)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scaling.json").write_text(json.dumps(report, indent=2) + "\n")
    section = render_markdown(report)
    (out / "scaling.md").write_text(section + "\n")
    print(section)
    print(f"results: {out / 'scaling.json'}, {out / 'scaling.md'} "
          f"({report['seconds']:.0f} s in all)")
    if failed:
        print(f"FAILED: the outputs of the runs with {failed} worker(s) differ from the "
              "offline reference (the doc is left as it was)", file=sys.stderr, flush=True)
        return 1
    if args.write_doc:
        doc: Path = args.doc
        doc.write_text(replace_section(doc.read_text(), section, DOC_START, DOC_END))
        print(f"updated {doc}")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
