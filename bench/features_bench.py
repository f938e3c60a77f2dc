"""Feature engine, simulator and replay benchmarks (issue: feature engine).

Measures, on this machine:
  * state update + feature vector: microseconds per event (and each part alone);
  * serialised bytes per customer after 365 simulated days (median, p99, max);
  * state codec: encode and decode microseconds per customer;
  * simulator throughput to a JSON Lines file (events/s);
  * offline replay throughput (events/s) on a log of about 1M events.

Run: ``.venv/bin/python -m bench.features_bench [--events 1000000] [--markdown]``.
The numbers go in docs/performance.md; nothing here is asserted by the test suite.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

from stream_app.features import CustomerState, apply_event, feature_vector
from stream_app.offline import read_jsonl_log, replay_events, to_event, write_jsonl_log
from stream_app.simulate import BankSimulator, SimulationConfig


def _per_event_costs(customers: int, days: int) -> dict[str, float]:
    events = [to_event(r) for r in BankSimulator(
        SimulationConfig(customers=customers, days=days, seed=5)).events()]
    states: dict[str, CustomerState] = {}
    started = time.perf_counter()
    for event in events:
        state = states.get(event.customer_id)
        if state is None:
            state = states[event.customer_id] = CustomerState()
        apply_event(state, event)
    apply_us = (time.perf_counter() - started) / len(events) * 1e6
    sample = list(states.values())
    started = time.perf_counter()
    for state in sample * 5:
        feature_vector(state, state.watermark)
    vector_us = (time.perf_counter() - started) / (5 * len(sample)) * 1e6
    blobs = [s.to_bytes() for s in sample]
    started = time.perf_counter()
    for state in sample * 5:
        state.to_bytes()
    encode_us = (time.perf_counter() - started) / (5 * len(sample)) * 1e6
    started = time.perf_counter()
    for blob in blobs * 5:
        CustomerState.from_bytes(blob)
    decode_us = (time.perf_counter() - started) / (5 * len(blobs)) * 1e6
    sizes = sorted(len(b) for b in blobs)
    return {
        "events": float(len(events)),
        "apply_us": apply_us,
        "vector_us": vector_us,
        "encode_us": encode_us,
        "decode_us": decode_us,
        "bytes_median": float(statistics.median(sizes)),
        "bytes_p99": float(sizes[min(len(sizes) - 1, int(len(sizes) * 0.99))]),
        "bytes_max": float(sizes[-1]),
    }


def _simulate_and_replay(target_events: int) -> dict[str, float]:
    # ~1.52 events per customer-day with the simulator's defaults
    days = 180
    customers = max(1, round(target_events / (days * 1.52)))
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "events.jsonl"
        started = time.perf_counter()
        count = write_jsonl_log(log, BankSimulator(
            SimulationConfig(customers=customers, days=days, seed=9)).events())
        simulate_s = time.perf_counter() - started
        started = time.perf_counter()
        rows = sum(1 for _ in replay_events(read_jsonl_log(log)))
        replay_s = time.perf_counter() - started
    return {"log_events": float(count), "customers": float(customers),
            "simulate_events_per_s": count / simulate_s, "replay_events_per_s": count / replay_s,
            "replay_rows": float(rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="replay log size")
    parser.add_argument("--customers", type=int, default=300, help="for the per-event costs")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    costs = _per_event_costs(args.customers, 365)
    flow = _simulate_and_replay(args.events)
    rows = [
        ("state update (apply_event)", f"{costs['apply_us']:.1f} µs/event"),
        ("feature vector", f"{costs['vector_us']:.1f} µs/vector"),
        ("update + vector", f"{costs['apply_us'] + costs['vector_us']:.1f} µs/event"),
        ("state encode / decode", f"{costs['encode_us']:.1f} / {costs['decode_us']:.1f} "
                                  "µs/customer"),
        ("serialised state after 365 days",
         f"median {costs['bytes_median']:.0f} B, p99 {costs['bytes_p99']:.0f} B, "
         f"max {costs['bytes_max']:.0f} B ({args.customers} customers)"),
        ("simulator to JSON Lines", f"{flow['simulate_events_per_s']:,.0f} events/s "
                                    f"({flow['log_events']:,.0f} events)"),
        ("replay, every event + absence deadlines",
         f"{flow['replay_events_per_s']:,.0f} events/s ({flow['replay_rows']:,.0f} rows)"),
    ]
    header = (f"{platform.processor() or platform.machine()}, Python "
              f"{platform.python_version()}, {time.strftime('%Y-%m-%d')}")
    if args.markdown:
        print(f"Measured: {header}\n\n| measure | result |\n| --- | --- |")
        for name, value in rows:
            print(f"| {name} | {value} |")
    else:
        print(header)
        for name, value in rows:
            print(f"{name:42s} {value}")


if __name__ == "__main__":
    main()
