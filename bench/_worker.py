"""Shared plumbing of the worker benchmarks (bench/state_at_scale.py, bench/soak.py).

* :func:`kafka_bootstrap`: an existing broker (``--bootstrap``) or a real Apache Kafka started
  here with :class:`stream_app.brokers.KafkaBroker` (stopped on exit);
* :func:`bench_settings`: the environment of one benchmark run (unique APP_NAME and topic
  names, so runs never see each other's records) and the same values as :class:`Settings`;
* :func:`ensure_model`: a model version directory (``--model``, or one trained once on
  simulated customers and kept in ``var/bench/registry``);
* :class:`BenchWorker`: ``python -m stream_app worker`` as a subprocess, with its sidecar
  (``/ready``, ``/metrics``) and its memory (``/proc/<pid>/status``);
* :func:`consumer_lag`: end offsets minus the consumer group's committed offsets;
* pure helpers (covered by ``tests/bench``): Prometheus text parsing, the changelog offsets
  faust logs at recovery, least-squares slopes, sizes and a markdown table.

Nothing here prints customer ids.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stream_app.brokers import KafkaBroker, free_port
from stream_app.settings import Settings

__all__ = [
    "BenchWorker",
    "MemoryUsage",
    "bench_settings",
    "consumer_lag",
    "dir_usage",
    "ensure_model",
    "kafka_bootstrap",
    "markdown_table",
    "max_timer_drift",
    "metric_total",
    "mib",
    "parse_metrics",
    "parse_recovery_offsets",
    "read_memory",
    "records_to_recover",
    "slope",
    "worker_source",
]

REPO = Path(__file__).resolve().parent.parent
DEFAULT_REGISTRY = REPO / "var" / "bench" / "registry"


# --- pure helpers ----------------------------------------------------------------------------
def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text exposition -> ``{'name{labels}': value}`` (comments skipped)."""
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        try:
            samples[name] = float(value)
        except ValueError:
            continue
    return samples


def metric_total(samples: dict[str, float], name: str) -> float:
    """Sum of every sample of ``name`` over all its label values (0.0 when absent)."""
    return sum(v for k, v in samples.items() if k == name or k.startswith(name + "{"))


_ROW = re.compile(r"^\|\s*(\S+)\s*\|\s*(\d+)\s*\|\s*(-?\d+)\s*\|")
_SECTIONS = (("highwater for active changelog partitions", "highwater"),
             ("active offsets at start of reading", "start"))


def parse_recovery_offsets(log_text: str, topic: str) -> dict[str, dict[int, int]]:
    """The offsets faust logs when an active recovery starts, for one changelog ``topic``:
    ``{"highwater": {partition: last offset}, "start": {partition: last offset read}}``
    from the *last* "Highwater for active changelog partitions" and "active offsets at start
    of reading" tables in the log (-1: none). Rows repeating the topic above show a ditto
    mark. Records the recovery reads = sum over partitions of highwater - start."""
    result: dict[str, dict[int, int]] = {"highwater": {}, "start": {}}
    section: str | None = None
    current: str | None = None
    for line in log_text.splitlines():
        lowered = line.lower()
        header = next((name for text, name in _SECTIONS if text in lowered), None)
        if header is not None:
            section, current = header, None
            result[section] = {}
            continue
        if section is None:
            continue
        if not line.startswith(("|", "+")):  # the table ends with the next log record
            section = None
            continue
        match = _ROW.match(line)
        if match is None:
            continue
        name, partition, offset = match.groups()
        if name != "\u3003":  # the ditto mark
            current = name
        if current == topic:
            result[section][int(partition)] = int(offset)
    return result


def records_to_recover(offsets: dict[str, dict[int, int]]) -> int:
    """Sum of highwater - start over the partitions of :func:`parse_recovery_offsets`."""
    start = offsets["start"]
    return sum(max(0, high - start.get(p, -1)) for p, high in offsets["highwater"].items())


_DRIFT = re.compile(r"woke up too late, with a drift of \+?(-?[0-9.]+)")


def max_timer_drift(log_text: str) -> float:
    """The largest lateness (seconds) of faust's periodic timers the log reports ("Timer
    commit woke up too late, with a drift of +9.5"): how long the event loop was blocked at
    worst (0.0 when no timer was late)."""
    return max((float(m.group(1)) for m in _DRIFT.finditer(log_text)), default=0.0)


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ys over xs (0.0 with fewer than two distinct xs)."""
    n = len(xs)
    if n < 2 or n != len(ys):
        return 0.0
    mean_x = sum(xs) / n
    mean_y = sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx


def mib(value: float) -> float:
    return value / (1024 * 1024)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |",
             "| " + " | ".join("---" for _ in headers) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# --- environment -----------------------------------------------------------------------------
@contextlib.contextmanager
def kafka_bootstrap(bootstrap: str | None, *, heap: str = "1g") -> Iterator[str]:
    """Yield a bootstrap address: ``bootstrap`` as given, or a fresh Apache Kafka broker's
    (started here, stopped and deleted on exit)."""
    if bootstrap:
        yield bootstrap
        return
    print("starting Apache Kafka (stream_app.brokers.KafkaBroker) ...", flush=True)
    with KafkaBroker(heap=heap) as broker:
        print(f"Apache Kafka {broker.version} on {broker.bootstrap_servers}", flush=True)
        yield broker.bootstrap_servers


def bench_settings(prefix: str, bootstrap: str, **extra: str) -> tuple[dict[str, str], Settings]:
    """Environment variables of one run (unique APP_NAME and topic names) and the same
    values as :class:`Settings` (what the worker will read)."""
    run = f"{prefix}-{time.strftime('%H%M%S')}-{uuid.uuid4().hex[:6]}"
    env = {
        "APP_NAME": run,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "TOPIC_TRANSACTIONS": f"{run}.bank.transactions.v1",
        "TOPIC_PAYMENTS": f"{run}.bank.payments.v1",
        "TOPIC_CUSTOMER_FLAGS": f"{run}.customer.flags.v1",
        "TOPIC_RISK_SCORES": f"{run}.risk.scores.v1",
        "TOPIC_INTERVENTIONS": f"{run}.risk.interventions.v1",
        "TOPIC_DEADLETTER": f"{run}.risk.deadletter.v1",
        **extra,
    }
    settings = Settings(**{k.lower(): v for k, v in env.items()})  # type: ignore[arg-type]
    return env, settings


def ensure_model(path: str | None) -> Path:
    """``path`` if given; else the champion of ``var/bench/registry``, trained there once on
    simulated customers (600 customers x 200 days, about 20 s)."""
    from model_registry import promote
    from stream_app.scoring import ScoringModel

    if path:
        ScoringModel.load(path)  # fail early on a damaged model
        return Path(path)
    champion = DEFAULT_REGISTRY / "champion"
    if champion.exists():
        with contextlib.suppress(Exception):
            ScoringModel.load(champion)
            return champion
    from stream_app.simulate import BankSimulator, SimulationConfig, labels_from_truth
    from stream_app.training import (
        TrainingParams,
        build_dataset,
        save_trained_model,
        train_model,
    )

    print("training a benchmark model on 600 simulated customers (first run only) ...",
          flush=True)
    config = SimulationConfig(customers=600, days=200, seed=3)
    simulator = BankSimulator(config)
    events = list(simulator.events())
    labels = labels_from_truth(simulator.truths, start_ms=config.start_ms, days=config.days)
    trained = train_model(build_dataset(events, labels), TrainingParams(iterations=80, seed=3))
    DEFAULT_REGISTRY.mkdir(parents=True, exist_ok=True)
    version = save_trained_model(DEFAULT_REGISTRY, trained)
    promote(DEFAULT_REGISTRY, version.version, "champion")
    return champion


def worker_source(commit: str | None, workdir: Path) -> tuple[Path, str]:
    """Where the worker's code comes from: the working tree, or (``commit``) a snapshot of
    that commit's ``stream_app``, ``model_registry`` and ``schemas`` extracted with ``git
    archive`` into ``workdir/src`` (``python -m stream_app`` imports from its cwd first), so a
    long run is not affected by edits made meanwhile. Returns (directory, description)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip()

    if not commit:
        dirty = bool(git("status", "--porcelain", "--", "stream_app", "model_registry"))
        return REPO, f"working tree at {git('rev-parse', '--short', 'HEAD')}" + (
            " with uncommitted changes" if dirty else "")
    rev = git("rev-parse", "--short", commit)
    target = workdir / "src"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev, "stream_app", "model_registry", "schemas"],
                             cwd=REPO, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target, f"commit {rev} (git archive)"


def dir_usage(path: Path) -> tuple[int, int]:
    """(bytes allocated on disk, apparent bytes) of every file under ``path``."""
    allocated = apparent = 0
    if not path.exists():
        return 0, 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                st = Path(root, name).stat()
                allocated += st.st_blocks * 512
                apparent += st.st_size
    return allocated, apparent


@dataclass(frozen=True)
class MemoryUsage:
    rss: int  # VmRSS, bytes
    hwm: int  # VmHWM (peak RSS), bytes
    anon: int = 0  # RssAnon: heap, arenas, anonymous mappings (what a leak grows)
    file: int = 0  # RssFile: pages of mapped files (shared libraries) resident
    heap: int = 0  # resident pages of the [heap] mapping: glibc's main arena (the main
    # thread's malloc: RocksDB blocks read and memtables written by the event loop, large
    # Python objects); the other anonymous pages are pymalloc arenas, threads' arenas, stacks


def read_memory(pid: int) -> MemoryUsage | None:
    values: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            values[key] = int(rest.split()[0]) * 1024
    if "VmRSS" not in values:
        return None
    return MemoryUsage(values["VmRSS"], values.get("VmHWM", values["VmRSS"]),
                       anon=values.get("RssAnon", 0), file=values.get("RssFile", 0),
                       heap=_heap_rss(pid))


def _heap_rss(pid: int) -> int:
    """Resident bytes of the process's ``[heap]`` mapping (0 if unknown)."""
    try:
        with Path(f"/proc/{pid}/smaps").open() as smaps:
            in_heap = False
            for line in smaps:
                if line[0] in "0123456789abcdef":  # a mapping's header; fields are "Name:"
                    in_heap = line.rstrip().endswith("[heap]")
                elif in_heap and line.startswith("Rss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


async def consumer_lag(settings: Settings, group: str,
                       topics: Sequence[str]) -> tuple[int, int, int]:
    """(lag, end offsets, committed offsets), each summed over the ``topics``' partitions:
    records of those topics the consumer ``group`` has not committed yet."""
    from stream_app.kafka import aiokafka_options, group_lag

    offsets = await group_lag(aiokafka_options(settings), group, topics)
    end_total = sum(end for end, _ in offsets.values())
    committed_total = sum(committed for _, committed in offsets.values())
    return end_total - committed_total, end_total, committed_total


# --- the worker subprocess -------------------------------------------------------------------
class BenchWorker:
    """``python -m stream_app worker`` with its own sidecar port, state dir and log file."""

    def __init__(self, env: dict[str, str], *, state_dir: Path, model_path: Path,
                 log_path: Path, store: str = "rocksdb://", source: Path = REPO) -> None:
        self.port = free_port()
        self.source = source  # the directory ``stream_app`` is imported from
        self.log_path = log_path
        self.env = {
            **os.environ,
            "ENVIRONMENT": "test",
            # the bench reads /metrics without a key, ten times a second
            "METRICS_PUBLIC_INFO": "true",
            "RATE_LIMIT_MAX_REQUESTS": "1000000",
            # the measured path includes the contact policy (off by default since issue 22)
            "ENABLE_INTERVENTIONS": "true",
            "LOG_LEVEL": "INFO",
            "MODEL_PATH": str(model_path),
            "MODEL_WATCH_INTERVAL_SECONDS": "0",
            "STATE_STORE_URL": store,
            "STATE_DIR": str(state_dir),
            "SIDECAR_HOST": "127.0.0.1",
            "SIDECAR_PORT": str(self.port),
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> BenchWorker:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.started_at = time.monotonic()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "stream_app", "worker"], cwd=self.source,
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        """(HTTP status, body); status 0 when the sidecar does not answer."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}",
                                        timeout=timeout) as reply:
                return reply.status, reply.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except OSError:
            return 0, b""

    def ready(self) -> tuple[int, dict[str, Any]]:
        status, body = self.get("/ready")
        try:
            return status, json.loads(body) if body else {}
        except ValueError:
            return status, {}

    def metrics(self) -> dict[str, float] | None:
        status, body = self.get("/metrics")
        return parse_metrics(body.decode()) if status == 200 else None

    def memory(self) -> MemoryUsage | None:
        return read_memory(self.pid) if self.alive() else None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def stop(self, timeout: float = 60.0) -> tuple[int | None, float]:
        """Graceful stop (SIGTERM; SIGKILL after ``timeout``): (exit code, seconds taken)."""
        if self.process is None:
            return None, 0.0
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                print(f"worker did not stop within {timeout:.0f}s after SIGTERM: SIGKILL",
                      flush=True)
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode, time.monotonic() - started

    def wait_ready(self, timeout: float = 180.0) -> float:
        """Seconds from start until ``/ready`` answers 200 (raises if it exits or times out)."""
        while True:
            elapsed = time.monotonic() - self.started_at
            if not self.alive():
                raise RuntimeError(f"worker exited during start-up:\n{self.log_tail()}")
            if elapsed > timeout:
                raise RuntimeError(f"worker not ready after {timeout:.0f}s:\n{self.log_tail()}")
            if self.ready()[0] == 200:
                return elapsed
            time.sleep(0.25)
