"""Issue 7's comparison: the ceiling, a naive Faust agent and the project's worker, side by side
on the same simulated traffic against one local Apache Kafka broker, in one run.

    .venv/bin/python -m bench.compare [--short] [--write-doc] [--bootstrap HOST:PORT]
        [--engines ceiling,naive,worker] [--backlog N] [--rate 5000] [--rate-seconds S] ...

(also ``predelinq bench [...]`` from a checkout, and ``make bench-short``). The engines, each
in its own subprocess (so that its CPU time and memory are its own) and its own fresh topics:

* **ceiling** (``bench/_ceiling.py``): a hand-rolled aiokafka loop (``getmany`` +
  ``AIOKafkaProducer``) running the worker's own ``BatchProcessor`` over a plain dict, every
  output produced and awaited, offsets committed per batch;
* **naive** (``bench/_naive.py``): a faust-streaming agent that, per event, updates the state in
  a faust Table with the project's feature code, calls CatBoost ``predict`` and
  ``shap.TreeExplainer.shap_values`` on one row, and sends a risk event. It runs at about a
  hundred events per second, so it gets its own short backlog, measured for a bounded time, and
  a lower offered rate;
* **worker**: ``python -m stream_app worker`` as shipped (``bench._worker.BenchWorker``).

For each engine: publish a backlog, start the engine and measure from the first record
consumed to the last (or to the time bound) the events per second and the engine's CPU time
per event (utime + stime from ``/proc/<pid>/stat``); then publish fresh events (the same
simulation, continued) at a fixed offered rate for a few seconds and take, for every risk event
triggered by one of them, its Kafka CreateTime minus that of the input record that triggered
it (matched on trigger topic + trigger event id; rescorings fired by absence deadlines have no
input record and are skipped); and the engine's peak RSS (VmHWM) over the whole run.

After each engine stopped (untimed), every risk score it published for the backlog is read back
and compared with the offline reference of the same events (``bench/_reference.py``: replay +
the same model, keyed by customer, trigger topic and trigger event id; features, score,
probability and reasons exactly, absence rescorings counted apart): any difference is printed
(customers as a hash), counted in the results JSON, and makes the bench exit non-zero without
touching the doc.

Results: ``bench/results/compare.json`` (``var/bench/compare-short.json`` with ``--short``;
``--commit REV`` runs the engines' code as of a commit instead of the working tree), a markdown
table on stdout, and with ``--write-doc`` the section between the ``bench:compare`` markers of
docs/performance.md. Nothing here asserts a timing, and nothing prints a customer id.
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
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

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
    worker_source,
)
from stream_app.settings import Settings

__all__ = [
    "DOC_END",
    "DOC_START",
    "ENGINES",
    "Drain",
    "Latency",
    "Sample",
    "assess_targets",
    "cpu_model",
    "cpu_seconds",
    "drain_figures",
    "latency_summary",
    "main",
    "match_latencies",
    "peak_rss",
    "percentile",
    "reference_note",
    "render_section",
    "replace_section",
    "results_table",
    "verify_outputs",
]

ENGINES = ("ceiling", "naive", "worker")
DOC_START = "<!-- bench:compare:start -->"
DOC_END = "<!-- bench:compare:end -->"
TIMER_TOPIC = "timer"  # trigger_topic of rescorings fired by absence deadlines
DOC_PATH = REPO / "docs" / "performance.md"
RESULTS = REPO / "bench" / "results"
SHORT_RESULTS = REPO / "var" / "bench" / "compare-short.json"  # not kept in git
SEED = 11
POLL_SECONDS = 0.1

# the worker's targets (issue 7, restated by issue 21)
TARGET_EVENTS_PER_SECOND = 20_000
TARGET_CPU_US_PER_EVENT = 50.0
TARGET_SHARE_OF_CEILING = 0.40
TARGET_P99_MS = 100.0
# the latency phase offers this share of the engine's own measured capacity (open loop: the
# publisher keeps its rate whatever the engine does), so latency is the engine's delay and
# not a queue's; --load-fraction 0 offers the fixed --rate instead
LOAD_FRACTION = 0.5
TARGET_OFFERED_RATE = 5_000.0  # the most events a latency phase offers per second

DESCRIPTIONS = {
    "ceiling": "hand-rolled aiokafka loop, the worker's BatchProcessor over a dict",
    "naive": "faust agent, per event: Table, CatBoost predict + shap on one row",
    "worker": "`python -m stream_app worker` as shipped",
}


# --- pure helpers ----------------------------------------------------------------------------
def cpu_seconds(stat_text: str, ticks_per_second: int) -> float:
    """utime + stime (seconds) of a ``/proc/<pid>/stat`` line (the command name, field 2, may
    hold spaces and parentheses: fields are counted after its last ``)``)."""
    fields = stat_text.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / ticks_per_second


def peak_rss(status_text: str) -> int | None:
    """VmHWM (peak resident set size) of a ``/proc/<pid>/status`` text, in bytes."""
    for line in status_text.splitlines():
        key, _, rest = line.partition(":")
        if key == "VmHWM":
            return int(rest.split()[0]) * 1024
    return None


def cpu_model(cpuinfo_text: str) -> str:
    """The first ``model name`` of ``/proc/cpuinfo`` ("unknown" when there is none)."""
    for line in cpuinfo_text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and value.strip():
            return value.strip()
    return "unknown"


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile ``q`` (0-100) of ``values`` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return float(ordered[min(rank, len(ordered)) - 1])


@dataclass(frozen=True)
class Sample:
    t: float  # monotonic seconds
    consumed: int  # records the engine has taken so far
    cpu: float  # the engine's utime + stime, seconds


@dataclass(frozen=True)
class Drain:
    events: int
    seconds: float
    events_per_second: float
    cpu_us_per_event: float
    complete: bool  # the whole backlog was consumed within the measurement


def drain_figures(samples: Sequence[Sample], target: int) -> Drain | None:
    """Throughput and CPU per event between the first sample that saw a record consumed and
    the first that saw ``target`` (else the last sample): deltas of both, so records consumed
    before the first sample do not count. None without two such samples."""
    start = next((s for s in samples if s.consumed > 0), None)
    if start is None:
        return None
    end = next((s for s in samples if s.consumed >= target), samples[-1])
    events = end.consumed - start.consumed
    seconds = end.t - start.t
    if events <= 0 or seconds <= 0:
        return None
    return Drain(events, seconds, events / seconds, (end.cpu - start.cpu) / events * 1e6,
                 end.consumed >= target)


@dataclass(frozen=True)
class Latency:
    latencies_ms: list[float]  # one per input record with a risk event
    timer_skipped: int  # risk events of absence deadlines (no input record)
    unmatched_outputs: int  # risk events of inputs outside the measured set
    inputs_without_output: int  # inputs with no risk event (flags, duplicates, late, ...)


def match_latencies(inputs: Mapping[tuple[str, str], int],
                    outputs: Iterable[tuple[int, str | None, str]]) -> Latency:
    """``inputs``: (topic, event id) -> Kafka timestamp (ms) of the input record;
    ``outputs``: (Kafka timestamp, trigger topic, trigger event id) of risk events. The
    latency of an input is its first risk event's timestamp minus its own."""
    first: dict[tuple[str, str], int] = {}
    timer = unmatched = 0
    for timestamp, topic, event_id in outputs:
        if topic == TIMER_TOPIC:
            timer += 1
            continue
        key = (topic or "", event_id)
        if key not in inputs:
            unmatched += 1
        elif key not in first or timestamp < first[key]:
            first[key] = timestamp
    return Latency([float(first[k] - inputs[k]) for k in first], timer, unmatched,
                   len(inputs) - len(first))


def latency_summary(latency: Latency) -> dict[str, Any]:
    values = latency.latencies_ms
    return {
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": max(values) if values else None,
        "matched": len(values),
        "timer_skipped": latency.timer_skipped,
        "unmatched_outputs": latency.unmatched_outputs,
        "inputs_without_risk_event": latency.inputs_without_output,
    }


def replace_section(text: str, body: str, start: str = DOC_START, end: str = DOC_END) -> str:
    """``text`` with what lies between the ``start`` and ``end`` markers replaced by ``body``
    (markers kept); appended as a new marked section at the end when the markers are absent.
    Raises ValueError when only one marker is present or they are out of order."""
    block = f"{start}\n{body.strip()}\n{end}"
    head, found_start, rest = text.partition(start)
    if not found_start:
        if end in text:
            raise ValueError(f"{end} without {start}")
        return text.rstrip("\n") + "\n\n" + block + "\n"
    _, found_end, tail = rest.partition(end)
    if not found_end:
        raise ValueError(f"{start} without {end} after it")
    return head + block + tail


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}"


def _duration(seconds: float) -> str:
    return f"{seconds:,.0f} s" if seconds < 120 else f"{seconds / 60:,.0f} minutes"


def assess_targets(worker: Mapping[str, Any], ceiling: Mapping[str, Any] | None
                   ) -> list[dict[str, Any]]:
    """The worker's targets, each with what was measured, met or missed, and by how much.
    ``worker`` and ``ceiling`` are engine results of this run."""
    targets: list[dict[str, Any]] = []
    drain = worker.get("drain") or {}
    eps = drain.get("events_per_second")
    if eps is not None:
        met = eps >= TARGET_EVENTS_PER_SECOND
        targets.append({
            "target": f"≥ {TARGET_EVENTS_PER_SECOND:,} events/s per worker process",
            "measured": f"{eps:,.0f} events/s", "met": met,
            "by": (f"{eps - TARGET_EVENTS_PER_SECOND:+,.0f} events/s "
                   f"({eps / TARGET_EVENTS_PER_SECOND:.0%} of the target)")})
    cpu = drain.get("cpu_us_per_event")
    if cpu is not None:
        targets.append({
            "target": f"≤ {TARGET_CPU_US_PER_EVENT:.0f} µs CPU per event",
            "measured": f"{cpu:,.0f} µs", "met": cpu <= TARGET_CPU_US_PER_EVENT,
            "by": f"{cpu - TARGET_CPU_US_PER_EVENT:+,.0f} µs "
                  f"({cpu / TARGET_CPU_US_PER_EVENT:.1f}x the bound)"})
    ceiling_eps = (ceiling["drain"]["events_per_second"]
                   if ceiling is not None and ceiling.get("drain") else None)
    if eps is not None and ceiling_eps:
        share = eps / ceiling_eps
        targets.append({
            "target": f"≥ {TARGET_SHARE_OF_CEILING:.0%} of the ceiling in the same run",
            "measured": f"{share:.0%} ({eps:,.0f} / {ceiling_eps:,.0f} events/s)",
            "met": share >= TARGET_SHARE_OF_CEILING,
            "by": f"{(share - TARGET_SHARE_OF_CEILING) * 100:+.0f} percentage points"})
    offered = worker.get("offered") or {}
    p99 = (worker.get("latency_ms") or {}).get("p99")
    if p99 is not None:
        rate = offered.get("achieved_rate") or 0.0
        wanted = LOAD_FRACTION * eps if eps else None
        at_load = wanted is not None and rate >= wanted * 0.95
        caught_up = bool(worker.get("caught_up"))
        note = "" if at_load else (
            f"; offered {rate:,.0f} events/s, not {LOAD_FRACTION:.0%} of the measured "
            "capacity: not comparable")
        if not caught_up:
            note += "; the worker had not caught up when measured (a lower bound)"
        targets.append({
            "target": f"p99 event→risk latency ≤ {TARGET_P99_MS:.0f} ms at "
                      f"{LOAD_FRACTION:.0%} of the measured capacity (open loop)",
            "measured": f"p99 {p99:,.0f} ms at {rate:,.0f} events/s",
            "met": p99 <= TARGET_P99_MS and at_load and caught_up,
            "by": f"{p99 - TARGET_P99_MS:+,.0f} ms ({p99 / TARGET_P99_MS:.1f}x the bound){note}"})
    return targets


def results_table(engines: Sequence[Mapping[str, Any]]) -> str:
    """The markdown table of a run's engine results (ratios against the ceiling's events/s)."""
    ceiling = next((e for e in engines if e["engine"] == "ceiling" and e.get("drain")), None)
    base = ceiling["drain"]["events_per_second"] if ceiling else None
    rows = []
    for e in engines:
        drain = e.get("drain") or {}
        eps = drain.get("events_per_second")
        latency = e.get("latency_ms") or {}
        offered = e.get("offered") or {}
        partial = "" if drain.get("complete", True) else " (time-bounded)"
        lag = "" if e.get("caught_up", True) else " (not caught up)"
        rows.append([
            e["engine"],
            f"{drain.get('events', 0):,} of {e['backlog_events']:,}{partial}",
            _fmt(eps),
            f"{eps / base:.2f}x" if eps and base else "n/a",
            _fmt(drain.get("cpu_us_per_event")),
            _fmt(e.get("peak_rss_mib")),
            f"{_fmt(offered.get('achieved_rate'))} for {_fmt(offered.get('seconds'))} s",
            f"{_fmt(latency.get('p50'))} / {_fmt(latency.get('p99'))}{lag}",
        ])
    return markdown_table(
        ["engine", "events measured", "events/s", "vs ceiling", "CPU µs/event",
         "peak RSS MiB", "offered events/s", "latency p50 / p99 ms"], rows)


def render_section(report: Mapping[str, Any]) -> str:
    """The docs/performance.md section of a run (without the markers)."""
    machine, versions, config = report["machine"], report["versions"], report["config"]
    engines = report["engines"]
    lines = [
        "### Side by side: ceiling, naive Faust agent, the worker (issue 7)",
        "",
        f"`{report['command']}` (also `predelinq bench`; `make bench-short` runs the short "
        f"mode), {report['date']}: {machine['cores']} cores "
        f"({machine['cpu_model']}), Python {versions['python']}, faust-streaming "
        f"{versions['faust-streaming']}, aiokafka {versions['aiokafka']}, catboost "
        f"{versions['catboost']}, shap {versions['shap']}, {versions['kafka']}; worker code: "
        f"{report['worker_source']}; {report['model']}. {config['partitions']} partitions, "
        f"`BATCH_SIZE={config['batch_size']}` for the ceiling and the worker, worker and naive "
        f"table store `{config['store']}`, {config['customers']:,} simulated customers.",
        "",
        results_table(engines),
        "",
    ]
    headline = report.get("headline")
    if headline:
        lines += [f"**Headline: the worker runs at {headline['throughput_ratio']:.2f}x the "
                  f"ceiling's events/s** ({headline['worker_events_per_second']:,.0f} vs "
                  f"{headline['ceiling_events_per_second']:,.0f}) and spends "
                  f"{headline['cpu_ratio']:.2f}x its CPU per event. Ratios are the figure to "
                  "compare across machines; absolute numbers vary with the VM.", ""]
    naive = next((e for e in engines if e["engine"] == "naive"), None)
    notes = [
        "* events/s and CPU µs/event: a pre-published backlog drained from the first record "
        "consumed to the last (utime + stime of the engine's process over the same span); "
        "peak RSS: VmHWM over the engine's whole run.",
        "* latency: Kafka CreateTime of the risk event minus that of the input record that "
        "triggered it, for the events published at the offered rate after the backlog; "
        "rescorings fired by absence deadlines have no input record and are left out.",
    ]
    if config.get("load_fraction"):
        notes.append(
            f"* offered: {config['load_fraction']:.0%} of each engine's own drain rate (at "
            f"most {config['rate']:,.0f} events/s), published at that rate whatever the "
            "engine does (open loop), so the latency is the engine's delay below capacity.")
    if naive is not None:
        naive_eps = (naive.get("drain") or {}).get("events_per_second")
        alone = (f" (their backlog alone would take it "
                 f"{_duration(config['backlog'] / naive_eps)})" if naive_eps else "")
        notes.append(
            f"* naive: its own backlog of {naive['backlog_events']:,} events measured for at "
            f"most {config['naive_drain_seconds']:.0f} s, and {naive['offered']['rate']:,.0f} "
            f"events/s offered{alone}.")
    overloaded = [e["engine"] for e in engines
                  if (e.get("drain") or {}).get("events_per_second", math.inf)
                  < (e.get("offered") or {}).get("achieved_rate", 0.0)]
    if overloaded:
        notes.append(
            f"* {', '.join(overloaded)}: offered more events per second than drained, so "
            "the queue grew through the latency phase and the latency measures that queue "
            "(it rises with the phase's length), not the engine's per-event delay.")
    checked = [e for e in engines if e.get("reference_check")]
    if checked:
        notes.append(reference_note(checked))
    lines += ["Notes:", "", *notes, ""]
    targets = report.get("targets") or []
    if targets:
        lines += ["The worker's targets (issues 7 and 21), in this run:", "", markdown_table(
            ["target", "measured", "verdict", "by"],
            [[t["target"], t["measured"], "met" if t["met"] else "**missed**", t["by"]]
             for t in targets])]
    return "\n".join(lines)


def reference_note(engines: Sequence[Mapping[str, Any]]) -> str:
    """The doc's note on the output check, one line per engine checked."""
    from bench._reference import summary_line

    lines = [
        "* outputs checked against the offline reference (`bench/_reference.py`, untimed, "
        "after the drain): every risk score published for the backlog is read back and "
        "compared with `replay_events` (the pure-Python feature code) scored by the same "
        "model, keyed by (customer, trigger topic, trigger event id): `features_sha256`, "
        "score, probability and reasons exactly (the naive agent: features only, it scores "
        "with CatBoost's predict and shap), both directions counted; the bench exits non-zero "
        "on any difference. Each customer's events are replayed in the order the engine "
        "merged its three input topics (read from its outputs; each topic's own order is the "
        "produced one). Absence-deadline rescorings (`timer`) are counted apart, not matched: "
        "whether and when they fire depends on the partition's stream time, i.e. on how the "
        "engine interleaved all customers' events and where its batches ended."]
    for e in engines:
        lines.append(f"  * {e['engine']}: {summary_line(e['reference_check'])}")
    return "\n".join(lines)


# --- the engines -----------------------------------------------------------------------------
def _read_cpu(pid: int) -> float:
    return cpu_seconds(Path(f"/proc/{pid}/stat").read_text(), os.sysconf("SC_CLK_TCK"))


def _read_peak_rss(pid: int) -> int | None:
    try:
        return peak_rss(Path(f"/proc/{pid}/status").read_text())
    except OSError:
        return None


class Engine(Protocol):
    name: str

    @property
    def pid(self) -> int: ...

    def alive(self) -> bool: ...

    def consumed(self) -> int: ...

    def stop(self) -> None: ...

    def log_tail(self) -> str: ...


class ScriptEngine:
    """``python -m bench._<engine> --status FILE`` (the ceiling or the naive agent)."""

    def __init__(self, name: str, env: dict[str, str], workdir: Path,
                 source: Path = REPO) -> None:
        self.name = name
        workdir.mkdir(parents=True, exist_ok=True)
        self.status = workdir / "status.json"
        self.log_path = workdir / f"{name}.log"
        if source != REPO:  # stream_app from ``source`` (the cwd comes first), bench from here
            env = {**env, "PYTHONPATH": os.pathsep.join(
                p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"bench._{name}", "--status", str(self.status)],
                cwd=source, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def consumed(self) -> int:
        try:
            return int(json.loads(self.status.read_text())["consumed"])
        except (OSError, ValueError, KeyError):
            return 0

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def log_tail(self) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-40:])


class WorkerEngine:
    """The shipped worker (:class:`BenchWorker`); consumption from its ``/metrics``."""

    name = "worker"

    def __init__(self, worker: BenchWorker) -> None:
        self.worker = worker.start()

    @property
    def pid(self) -> int:
        return self.worker.pid

    def alive(self) -> bool:
        return self.worker.alive()

    def consumed(self) -> int:
        return int(metric_total(self.worker.metrics() or {}, "predelinq_input_records_total"))

    def stop(self) -> None:
        self.worker.stop()

    def log_tail(self) -> str:
        return self.worker.log_tail()


def _start(name: str, env: dict[str, str], *, model: Path, store: str, workdir: Path,
           source: Path) -> Engine:
    worker = BenchWorker(env, state_dir=workdir / "state", model_path=model,
                         log_path=workdir / "worker.log", store=store, source=source)
    if name == "worker":
        return WorkerEngine(worker)
    # the worker's environment, to the letter
    return ScriptEngine(name, worker.env, workdir, source)


def _watch(engine: Engine, target: int, *, bound: float, timeout: float) -> list[Sample]:
    """Samples every POLL_SECONDS until ``target`` records were consumed, ``bound`` seconds
    after the first was, or ``timeout`` seconds in all (raises if the engine exits)."""
    samples: list[Sample] = []
    started = time.monotonic()
    first: float | None = None
    while True:
        if not engine.alive():
            raise RuntimeError(f"{engine.name} exited:\n{engine.log_tail()}")
        consumed = engine.consumed()
        now = time.monotonic()
        samples.append(Sample(now, consumed, _read_cpu(engine.pid)))
        if consumed > 0 and first is None:
            first = now
        if consumed >= target or (first is not None and now - first >= bound):
            return samples
        if now - started > timeout:
            return samples
        time.sleep(POLL_SECONDS)


async def _end_offsets(settings: Settings, topics: Sequence[str]) -> dict[Any, int]:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from stream_app.kafka import aiokafka_options

    consumer = AIOKafkaConsumer(**aiokafka_options(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(settings.topic_partitions)]
        ends: dict[Any, int] = await consumer.end_offsets(tps)
        return ends
    finally:
        await consumer.stop()


async def _read(settings: Settings, starts: Mapping[Any, int],
                ends: Mapping[Any, int] | None = None) -> list[Any]:
    """Every record of the partitions in ``starts`` from those offsets to ``ends`` (default:
    their current ends)."""
    from aiokafka import AIOKafkaConsumer

    from stream_app.kafka import aiokafka_options

    consumer = AIOKafkaConsumer(**aiokafka_options(settings), enable_auto_commit=False)
    await consumer.start()
    records: list[Any] = []
    try:
        tps = list(starts)
        consumer.assign(tps)
        if ends is None:
            ends = await consumer.end_offsets(tps)
        for tp in tps:
            consumer.seek(tp, starts[tp])
        waiting = {tp for tp in tps if ends[tp] > starts[tp]}
        while waiting:
            fetched = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for tp, batch in fetched.items():
                records.extend(r for r in batch if r.offset < ends[tp])
            for tp in list(waiting):
                if await consumer.position(tp) >= ends[tp]:
                    waiting.discard(tp)
    finally:
        await consumer.stop()
    return records


def _latency(settings: Settings, marks: Mapping[Any, int]) -> Latency:
    """Match the risk events after ``marks`` to the input records after ``marks``."""
    from stream_app.events import RecordType
    from stream_app.serializers import InputDecoder, OutputDecoder, SchemaCatalog

    catalog = SchemaCatalog.default()
    decoder = InputDecoder(catalog, {
        settings.topic_transactions: RecordType.TRANSACTION,
        settings.topic_payments: RecordType.PAYMENT,
        settings.topic_customer_flags: RecordType.CUSTOMER_FLAGS,
    })
    outputs = OutputDecoder(catalog)
    records = asyncio.run(_read(settings, marks))
    inputs: dict[tuple[str, str], int] = {}
    scores: list[tuple[int, str | None, str]] = []
    for record in records:
        if record.topic == settings.topic_risk_scores:
            risk = outputs.decode(RecordType.RISK_SCORE, record.value)
            scores.append((record.timestamp, risk.get("trigger_topic"),
                           str(risk["trigger_event_id"])))
        else:
            event = decoder.decode_record(record.topic, record.value)
            inputs[(record.topic, str(event["event_id"]))] = record.timestamp
    return match_latencies(inputs, scores)


# --- the output check (bench/_reference.py) --------------------------------------------------
# the naive agent scores with CatBoost's own predict and shap's TreeExplainer, not the
# project's tree evaluation and exact leaf SHAP: its probabilities and contributions may differ
# in the last bits, so only its features (and the published/expected keys) are held exact
FIELDS_BY_ENGINE = {"naive": ("features_sha256",)}


def verify_outputs(settings: Settings, records: Sequence[Mapping[str, Any]], model: Path,
                   ends: Mapping[Any, int], *, fields: Sequence[str] | None = None,
                   label: str = "") -> dict[str, Any]:
    """Read back the risk scores up to ``ends`` (offsets of the risk-score topic's partitions)
    and compare them with the offline reference of ``records`` (the events as produced):
    bench/_reference.py. Prints the outcome and the first differing keys (customers as a
    hash); returns the check as JSON. Not timed: call it after the measured phases."""
    from bench._reference import (
        FIELDS,
        check_scores,
        expected_scores,
        published_score,
        summary_line,
    )
    from stream_app.events import RecordType
    from stream_app.partitioning import partition_for
    from stream_app.scoring import ScoringModel
    from stream_app.serializers import OutputDecoder, SchemaCatalog

    started = time.monotonic()
    decoder = OutputDecoder(SchemaCatalog.default())
    starts = {tp: 0 for tp in ends if tp.topic == settings.topic_risk_scores}
    published = [published_score(decoder.decode(RecordType.RISK_SCORE, r.value))
                 for r in asyncio.run(_read(settings, starts, ends))]
    topics = {"transaction": settings.topic_transactions, "payment": settings.topic_payments,
              "customer_flags": settings.topic_customer_flags}
    partitions, partitioner = settings.topic_partitions, settings.kafka_partitioner
    reordering: dict[str, int] = {}
    expected = expected_scores(
        records, topics, ScoringModel.load(model),
        partition_of=lambda c: partition_for(c.encode(), partitions, partitioner),
        published=published, reordering=reordering)
    check = check_scores(expected, published, fields=tuple(fields or FIELDS))
    check.reordered_customers = reordering.get("customers", 0)
    check.reordered_scores = reordering.get("scores", 0)
    result = check.to_json()
    result["seconds"] = round(time.monotonic() - started, 1)
    prefix = f"{label}: " if label else ""
    print(f"{prefix}{summary_line(result)} ({result['seconds']:.0f} s to check, untimed)",
          flush=True)
    if not check.ok:
        print(f"{prefix}OUTPUTS DIFFER FROM THE REFERENCE: {check.differing:,} differ, "
              f"{check.missing:,} expected but not published, {check.unexpected:,} "
              f"published but not expected; the first ones:", flush=True)
        for example in check.examples:
            print(f"{prefix}  {json.dumps(example)}", flush=True)
    return result


def _settle(settings: Settings, topic: str, *, timeout: float = 30.0) -> None:
    """Wait until ``topic``'s end offsets stop moving (the last outputs are delivered)."""
    previous: dict[Any, int] | None = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ends = asyncio.run(_end_offsets(settings, [topic]))
        if ends == previous:
            return
        previous = ends
        time.sleep(1.0)


@dataclass(frozen=True)
class Workload:
    backlog: list[dict[str, Any]]
    offered: list[dict[str, Any]]
    rate: float  # events/s offered, or the most offered with load_fraction
    drain_bound: float  # seconds of drain measured at most
    rate_seconds: float = 10.0
    load_fraction: float | None = None  # offer this share of the measured events/s


def offered_rate(workload: Workload, drain: Drain | None) -> float:
    """The latency phase's offered events/s: the share of the engine's drain rate (at most
    ``workload.rate``), or the fixed rate without a load fraction or a drain figure."""
    if not workload.load_fraction or drain is None:
        return workload.rate
    return max(1.0, min(workload.rate, workload.load_fraction * drain.events_per_second))


def run_engine(name: str, bootstrap: str, workload: Workload, *, model: Path, partitions: int,
               store: str, workdir: Path, timeout: float, source: Path = REPO
               ) -> dict[str, Any]:
    from stream_app.kafka import ensure_topics, publish_events

    env, settings = bench_settings(f"compare-{name}", bootstrap,
                                   TOPIC_PARTITIONS=str(partitions))
    asyncio.run(ensure_topics(settings))
    sent = asyncio.run(publish_events(settings, workload.backlog))
    print(f"{name}: {sent:,} events published, starting the engine ...", flush=True)
    engine = _start(name, env, model=model, store=store, workdir=workdir / name,
                    source=source)
    inputs = list(settings.input_topics)
    try:
        samples = _watch(engine, sent, bound=workload.drain_bound, timeout=timeout)
        drain = drain_figures(samples, sent)
        print(f"{name}: drain {drain}", flush=True)
        rest = _watch(engine, sent, bound=timeout, timeout=timeout)[-1]  # before the rate phase
        if rest.consumed < sent:
            raise RuntimeError(f"{name}: backlog not consumed in {timeout:.0f}s "
                               f"({rest.consumed}/{sent})")
        _settle(settings, settings.topic_risk_scores)
        marks = asyncio.run(_end_offsets(settings, [*inputs, settings.topic_risk_scores]))
        rate = offered_rate(workload, drain)
        events = workload.offered[:max(1, round(rate * workload.rate_seconds))]
        print(f"{name}: offering {len(events):,} events at {rate:,.0f}/s ...", flush=True)
        started = time.monotonic()
        offered = asyncio.run(publish_events(settings, events, rate=rate))
        offered_seconds = time.monotonic() - started
        last = _watch(engine, sent + offered, bound=timeout, timeout=timeout)[-1]
        caught_up = last.consumed >= sent + offered
        _settle(settings, settings.topic_risk_scores)
        hwm = _read_peak_rss(engine.pid)
    finally:
        engine.stop()
    latency = _latency(settings, marks)
    ends = asyncio.run(_end_offsets(settings, [settings.topic_risk_scores]))
    # the drain's outputs: the risk scores up to the marks taken after the backlog's settled
    check = verify_outputs(settings, workload.backlog, model,
                           {tp: n for tp, n in marks.items()
                            if tp.topic == settings.topic_risk_scores},
                           fields=FIELDS_BY_ENGINE.get(name), label=name)
    result: dict[str, Any] = {
        "engine": name,
        "description": DESCRIPTIONS[name],
        "backlog_events": sent,
        "drain": {k: round(v, 2) if isinstance(v, float) else v
                  for k, v in asdict(drain).items()} if drain else None,
        "peak_rss_mib": round(hwm / 2**20, 1) if hwm else None,
        "offered": {"rate": round(rate, 1), "load_fraction": workload.load_fraction,
                    "events": offered,
                    "seconds": round(offered_seconds, 1),
                    "achieved_rate": round(offered / max(offered_seconds, 1e-9), 1)},
        "caught_up": caught_up,
        "latency_ms": latency_summary(latency),
        "risk_events": sum(ends.values()),
        "reference_check": check,
    }
    print(json.dumps(result), flush=True)
    return result


# --- the run ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    engines: tuple[str, ...]
    customers: int
    backlog: int
    rate: float
    rate_seconds: float
    load_fraction: float
    naive_backlog: int
    naive_rate: float
    naive_drain_seconds: float
    partitions: int
    store: str
    timeout: float


def _plan(args: argparse.Namespace) -> Plan:
    short = bool(args.short)

    def pick(value: Any, full: Any, quick: Any) -> Any:
        return value if value is not None else (quick if short else full)

    engines = tuple(e.strip() for e in args.engines.split(",") if e.strip())
    unknown = [e for e in engines if e not in ENGINES]
    if unknown or not engines:
        raise SystemExit(f"--engines: choose among {', '.join(ENGINES)} (got {args.engines})")
    return Plan(
        engines=tuple(e for e in ENGINES if e in engines),
        customers=pick(args.customers, 3000, 1500),
        backlog=pick(args.backlog, 150_000, 30_000),
        rate=args.rate,
        rate_seconds=pick(args.rate_seconds, 30.0, 10.0),
        load_fraction=args.load_fraction,
        naive_backlog=pick(args.naive_backlog, 6000, 1500),
        naive_rate=args.naive_rate,
        naive_drain_seconds=pick(args.naive_drain_seconds, 60.0, 15.0),
        partitions=args.partitions,
        store=args.store,
        timeout=pick(args.timeout, 600.0, 120.0),
    )


def _workloads(plan: Plan) -> dict[str, Workload]:
    from stream_app.simulate import BankSimulator, SimulationConfig

    offered = round(plan.rate * plan.rate_seconds)
    naive_offered = round(plan.naive_rate * plan.rate_seconds)
    wanted = max(plan.backlog + offered, plan.naive_backlog + naive_offered)
    # enough simulated days for the events wanted (about 1.5 events per customer and day)
    days = max(30, math.ceil(wanted / plan.customers / 1.2))
    simulator = BankSimulator(SimulationConfig(customers=plan.customers, days=days, seed=SEED))
    events = list(itertools.islice(simulator.events(), wanted))
    if len(events) < wanted:
        raise SystemExit(f"the simulation gave {len(events)} events, {wanted} wanted: "
                         "use more --customers")
    # the offered events continue the backlog's simulation (later in event time)
    fraction = plan.load_fraction or None
    full = Workload(events[:plan.backlog], events[plan.backlog:plan.backlog + offered],
                    plan.rate, plan.timeout, plan.rate_seconds, fraction)
    naive = Workload(events[:plan.naive_backlog],
                     events[plan.naive_backlog:plan.naive_backlog + naive_offered],
                     plan.naive_rate, plan.naive_drain_seconds, plan.rate_seconds, fraction)
    return {"ceiling": full, "worker": full, "naive": naive}


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _model_description(path: Path) -> str:
    from catboost import CatBoostClassifier

    from model_registry import read_version

    verified = read_version(path)
    version = verified.version
    model = CatBoostClassifier()
    model.load_model(blob=verified.model_bytes)
    depth = version.metadata.get("params", {}).get("depth")
    return (f"model {version.version} ({model.tree_count_} trees"
            + (f" of depth {depth})" if depth else ")"))


def _report(plan: Plan, engines: list[dict[str, Any]], *, kafka: str, source: str,
            command: str, model: str) -> dict[str, Any]:
    from stream_app.settings import load_settings

    by_name = {e["engine"]: e for e in engines}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        cpuinfo = ""
    report: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d"),
        "machine": {"cores": os.cpu_count(), "cpu_model": cpu_model(cpuinfo),
                    "platform": platform.platform()},
        "versions": {"python": platform.python_version(),
                     "faust-streaming": _version("faust-streaming"),
                     "aiokafka": _version("aiokafka"), "catboost": _version("catboost"),
                     "shap": _version("shap"), "kafka": kafka},
        "command": command,
        "worker_source": source,
        "model": model,
        "config": {**asdict(plan), "batch_size": load_settings().batch_size},
        "engines": engines,
    }
    worker, ceiling = by_name.get("worker"), by_name.get("ceiling")
    if worker and ceiling and worker.get("drain") and ceiling.get("drain"):
        w, c = worker["drain"], ceiling["drain"]
        report["headline"] = {
            "throughput_ratio": round(w["events_per_second"] / c["events_per_second"], 3),
            "cpu_ratio": round(w["cpu_us_per_event"] / c["cpu_us_per_event"], 3),
            "worker_events_per_second": w["events_per_second"],
            "ceiling_events_per_second": c["events_per_second"],
        }
    if worker:
        report["targets"] = assess_targets(worker, ceiling)
    return report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.compare", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--short", action="store_true",
                        help="small backlogs and 10 s rate phases (about 3 minutes; CI)")
    parser.add_argument("--write-doc", action="store_true",
                        help="replace the bench:compare section of docs/performance.md "
                             "(full runs with every engine only)")
    parser.add_argument("--bootstrap", help="an existing broker (default: start Apache Kafka)")
    parser.add_argument("--model", help="model version directory (default: trained once)")
    parser.add_argument("--commit", help="run the engines' stream_app at this commit, "
                                         "extracted with git archive (default: the working "
                                         "tree, uncommitted edits included)")
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated subset")
    parser.add_argument("--customers", type=int, help="simulated customers (3000; short 1500)")
    parser.add_argument("--backlog", type=int,
                        help="backlog of the ceiling and the worker (150000; short 30000)")
    parser.add_argument("--rate", type=float, default=TARGET_OFFERED_RATE,
                        help="most events/s the latency phase offers (ceiling, worker); "
                             "with --load-fraction 0, exactly this")
    parser.add_argument("--load-fraction", type=float, default=LOAD_FRACTION,
                        help="the latency phase offers this share of each engine's measured "
                             "events/s (0: the fixed --rate)")
    parser.add_argument("--rate-seconds", type=float,
                        help="length of the latency phase (30; short 10)")
    parser.add_argument("--naive-backlog", type=int, help="naive's backlog (6000; short 1500)")
    parser.add_argument("--naive-rate", type=float, default=50.0,
                        help="offered events/s of the naive agent's latency phase")
    parser.add_argument("--naive-drain-seconds", type=float,
                        help="naive's drain is measured for at most this long (60; short 15)")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--store", default="rocksdb://",
                        help="table store of the worker and the naive agent")
    parser.add_argument("--timeout", type=float,
                        help="longest wait for an engine to start, drain or catch up "
                             "(600; short 120)")
    parser.add_argument("--out", type=Path, help="JSON results (default "
                                                 "bench/results/compare.json; short: "
                                                 "var/bench/compare-short.json)")
    parser.add_argument("--doc", type=Path, default=DOC_PATH, help="the document --write-doc "
                                                                  "updates")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    plan = _plan(args)
    # the publishers' retries while new topics elect their leaders are expected: not shown
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    if args.write_doc and (args.short or plan.engines != ENGINES):
        raise SystemExit("--write-doc documents full runs of every engine only")
    out: Path = args.out or (SHORT_RESULTS if args.short else RESULTS / "compare.json")
    started = time.monotonic()
    workloads = _workloads(plan)
    model = ensure_model(args.model)
    from stream_app.brokers import DEFAULT_KAFKA_VERSION

    kafka = (f"external broker at {args.bootstrap}" if args.bootstrap
             else f"Apache Kafka {DEFAULT_KAFKA_VERSION} (one local broker)")
    results: list[dict[str, Any]] = []
    with kafka_bootstrap(args.bootstrap) as bootstrap, \
            tempfile.TemporaryDirectory(prefix="predelinq-compare-") as tmp:
        source, described = worker_source(args.commit, Path(tmp))
        print(f"engines' code: {described}", flush=True)
        for name in plan.engines:
            results.append(run_engine(name, bootstrap, workloads[name], model=model,
                                      partitions=plan.partitions, store=plan.store,
                                      workdir=Path(tmp), timeout=plan.timeout,
                                      source=source))
    command = shlex.join([".venv/bin/python", "-m", "bench.compare",
                          *(sys.argv[1:] if argv is None else argv)])
    report = _report(plan, results, kafka=kafka, source=described, command=command,
                     model=_model_description(model))
    report["seconds"] = round(time.monotonic() - started, 1)
    failed = [e["engine"] for e in results if not (e.get("reference_check") or {}).get("ok")]
    report["outputs_equal_reference"] = not failed
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    section = render_section(report)
    print(section)
    print(f"results: {out} ({report['seconds']:.0f} s in all)")
    if failed:
        print(f"FAILED: the outputs of {', '.join(failed)} differ from the offline reference "
              f"(counts in {out}; the doc is left as it was)", file=sys.stderr, flush=True)
        return 1
    if args.write_doc:
        doc: Path = args.doc
        doc.write_text(replace_section(doc.read_text(), section))
        print(f"updated {doc}")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
