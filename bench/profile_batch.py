"""Where a worker's CPU time goes, per event: the pure batch work (decode, state, features,
score, reasons, policy, encode) profiled with cProfile, outside Kafka and faust.

    .venv/bin/python -m bench.profile_batch [--customers 2000] [--days 60] [--batch 100]
        [--top 25] [--model DIR]

Simulated events, encoded as producers do (Confluent-framed Avro), go through the worker's own
:class:`~stream_app.processing.BatchProcessor` (built as the worker builds it, see
bench/_ceiling.py) over an in-memory store, in batches of ``--batch``. Prints the time per
event without the profiler, then the functions that take the most time (self and cumulative)
with it. Nothing here prints customer ids.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiokafka.partitioner import murmur2

from bench._ceiling import DictStore, build_processor
from bench._worker import ensure_model
from stream_app.kafka import encode_record
from stream_app.processing import BatchProcessor, InputRecord
from stream_app.scoring import ScoringModel
from stream_app.serializers import AvroCodec, SchemaCatalog
from stream_app.settings import Settings
from stream_app.simulate import BankSimulator, SimulationConfig

PARTITIONS = 8
_TOPICS = {"transaction": "bank.transactions.v1", "payment": "bank.payments.v1",
           "customer_flags": "customer.flags.v1"}


def encoded_inputs(customers: int, days: int) -> list[InputRecord]:
    """A simulated bank's events as the worker receives them (Avro, keyed, partitioned)."""
    codec = AvroCodec(SchemaCatalog.default())
    out = []
    events = BankSimulator(SimulationConfig(customers=customers, days=days, seed=17)).events()
    for offset, record in enumerate(events):
        key = record["customer_id"].encode()
        partition = (murmur2(key) & 0x7FFFFFFF) % PARTITIONS
        out.append(InputRecord(_TOPICS[record["type"]], partition, offset, key,
                               encode_record(codec, record)))
    return out


def run(processor: BatchProcessor, inputs: list[InputRecord], batch: int) -> float:
    """Seconds to process every input in batches (state kept across batches)."""
    store = DictStore()
    started = time.perf_counter()
    for i in range(0, len(inputs), batch):
        processor.process(inputs[i : i + batch], store)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--model", help="model version directory (default: the bench model)")
    args = parser.parse_args(argv)

    model = ScoringModel.load(ensure_model(args.model))
    settings = Settings(enable_interventions=True)  # type: ignore[call-arg]
    inputs = encoded_inputs(args.customers, args.days)

    def fresh() -> BatchProcessor:
        return build_processor(settings, model)

    seconds = run(fresh(), inputs, args.batch)
    print(f"{len(inputs)} events, batch {args.batch}: {seconds / len(inputs) * 1e6:.1f} µs/event "
          f"({len(inputs) / seconds:,.0f} events/s on one core, no Kafka)")
    profiler = cProfile.Profile()
    processor = fresh()
    profiler.enable()
    run(processor, inputs, args.batch)
    profiler.disable()
    for order in ("tottime", "cumulative"):
        text = io.StringIO()
        stats: Any = pstats.Stats(profiler, stream=text)
        stats.strip_dirs().sort_stats(order).print_stats(args.top)
        print(f"--- by {order} ---")
        print("ncalls" + text.getvalue().split("ncalls", 1)[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
