"""What each processing guarantee costs: the same backlog drained by one worker with
``PROCESSING_GUARANTEE=at_least_once`` and with ``exactly_once`` (Kafka transactions).

For each guarantee, in a fresh set of topics: publish a simulated bank's events (the backlog),
start ``python -m stream_app worker`` and measure, from the first record consumed to the last,
the events per second and the worker's CPU time per event (``/proc/<pid>/stat``), then check
that the consumer group committed every record.

    .venv/bin/python bench/guarantee_cost.py [--bootstrap HOST:PORT] [--customers 1500]
        [--days 120] [--partitions 4] [--markdown]

Without ``--bootstrap`` a real Apache Kafka broker is started (stream_app.brokers). The
figures go to docs/reliability.md ("Processing guarantees").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._worker import (
    BenchWorker,
    bench_settings,
    consumer_lag,
    ensure_model,
    kafka_bootstrap,
    markdown_table,
    metric_total,
)
from stream_app.kafka import ensure_topics, publish_events
from stream_app.simulate import BankSimulator, SimulationConfig

GUARANTEES = ("at_least_once", "exactly_once")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def run_one(guarantee: str, bootstrap: str, records: list[dict[str, Any]], *, model: Path,
            partitions: int, workdir: Path) -> dict[str, Any]:
    env, settings = bench_settings("guarantee", bootstrap, PROCESSING_GUARANTEE=guarantee,
                                   TOPIC_PARTITIONS=str(partitions),
                                   ENABLE_INTERVENTIONS="false")
    asyncio.run(ensure_topics(settings))
    sent = asyncio.run(publish_events(settings, records))
    worker = BenchWorker(env, state_dir=workdir / guarantee / "state", model_path=model,
                         log_path=workdir / guarantee / "worker.log").start()
    try:
        worker.wait_ready(timeout=180)
        first = last = None
        cpu_first = cpu_last = 0.0
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            metrics = worker.metrics() or {}
            consumed = metric_total(metrics, "predelinq_input_records_total")
            now = time.monotonic()
            if first is None and consumed > 0:
                first, cpu_first = now, _cpu_seconds(worker.pid)
            if consumed >= sent:
                last, cpu_last = now, _cpu_seconds(worker.pid)
                break
            time.sleep(0.1)
        if first is None or last is None:
            raise RuntimeError(f"{guarantee}: the backlog was not consumed:\n{worker.log_tail()}")
        topics = [settings.topic_transactions, settings.topic_payments]
        lag = -1
        for _ in range(60):  # the last commit follows within the commit interval
            lag = asyncio.run(consumer_lag(settings, settings.app_name, topics))[0]
            if lag == 0:
                break
            time.sleep(0.5)
    finally:
        worker.stop()
    seconds = max(last - first, 1e-9)
    return {"guarantee": guarantee, "events": sent, "seconds": round(seconds, 2),
            "events_per_second": round(sent / seconds),
            "cpu_us_per_event": round((cpu_last - cpu_first) / sent * 1e6, 1),
            "uncommitted_after": lag}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", help="an existing broker (default: start one)")
    parser.add_argument("--customers", type=int, default=1500)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--model", help="model version directory (default: trained once)")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = parser.parse_args(argv)

    records = list(BankSimulator(SimulationConfig(customers=args.customers, days=args.days,
                                                  seed=11)).events())
    model = ensure_model(args.model)
    results = []
    with kafka_bootstrap(args.bootstrap) as bootstrap, \
            tempfile.TemporaryDirectory(prefix="predelinq-guarantee-") as tmp:
        for guarantee in GUARANTEES:
            print(f"{guarantee}: {len(records)} events ...", flush=True)
            results.append(run_one(guarantee, bootstrap, records, model=model,
                                   partitions=args.partitions, workdir=Path(tmp)))
            print(json.dumps(results[-1]), flush=True)
    base = results[0]["events_per_second"]
    for result in results:
        result["relative_throughput"] = round(result["events_per_second"] / base, 2)
    if args.markdown:
        print(markdown_table(
            ["guarantee", "events", "events/s", "CPU µs/event", "vs at_least_once",
             "uncommitted after"],
            [[r["guarantee"], r["events"], r["events_per_second"], r["cpu_us_per_event"],
              f"{r['relative_throughput']:.2f}x", r["uncommitted_after"]] for r in results]))
    print(json.dumps(results))
    return 0 if all(r["uncommitted_after"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
