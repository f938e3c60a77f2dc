"""Where a worker's CPU time goes, per event: the pure batch work (decode, state, features,
score, reasons, policy, encode) profiled with cProfile, outside Kafka and faust.

    .venv/bin/python -m bench.profile_batch [--customers 2000] [--days 60] [--batch 100]
        [--top 25] [--model DIR] [--reasons]

Simulated events, encoded as producers do (Confluent-framed Avro), go through the worker's own
:class:`~stream_app.processing.BatchProcessor` (built as the worker builds it, see
bench/_ceiling.py) over an in-memory store, in batches of ``--batch``. Prints the time per
event without the profiler, then the functions that take the most time (self and cumulative)
with it; with ``--reasons``, instead, what computing reason codes only when a customer's score
or band changes would save. Nothing here prints customer ids.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
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


def iter_inputs(customers: int, days: int, seed: int = 17) -> Iterator[InputRecord]:
    """A simulated bank's events as the worker receives them (Avro, keyed, partitioned),
    generated as they go."""
    codec = AvroCodec(SchemaCatalog.default())
    events = BankSimulator(SimulationConfig(customers=customers, days=days, seed=seed)).events()
    for offset, record in enumerate(events):
        key = record["customer_id"].encode()
        partition = (murmur2(key) & 0x7FFFFFFF) % PARTITIONS
        yield InputRecord(_TOPICS[record["type"]], partition, offset, key,
                          encode_record(codec, record))


def encoded_inputs(customers: int, days: int) -> list[InputRecord]:
    """A simulated bank's events as the worker receives them (Avro, keyed, partitioned)."""
    return list(iter_inputs(customers, days))


def run(processor: BatchProcessor, inputs: list[InputRecord], batch: int) -> float:
    """Seconds to process every input in batches (state kept across batches)."""
    store = DictStore()
    started = time.perf_counter()
    for i in range(0, len(inputs), batch):
        processor.process(inputs[i : i + batch], store)
    return time.perf_counter() - started


def reasons_cost(model: ScoringModel, settings: Settings, inputs: list[InputRecord],
                 batch: int, seconds: float) -> str:
    """What computing reason codes only when a customer's score or band changes could save:
    the time of the reason work (exact SHAP contributions from the model's leaf table, then
    the top reasons) over the run's matrices, and how many risk events repeat the
    customer's previous score or band."""
    from stream_app.scoring import top_reasons

    matrices: list[np.ndarray] = []
    processor = build_processor(settings, model)
    observe = processor._observer

    def keep(scoring: ScoringModel, scored: Any, matrix: np.ndarray) -> None:
        matrices.append(matrix)
        if observe is not None:
            observe(scoring, scored, matrix)

    processor._observer = keep
    store = DictStore()
    previous: dict[str, tuple[int, str]] = {}
    events = same_score = same_band = 0
    for i in range(0, len(inputs), batch):
        for risk in processor.process(inputs[i : i + batch], store).scores:
            events += 1
            before = previous.get(risk.customer_id)
            if before is not None:
                same_score += before[0] == risk.score
                same_band += before[1] == risk.band
            previous[risk.customer_id] = (risk.score, risk.band)
    forest = model.forest
    started = time.perf_counter()
    for matrix in matrices:
        forest.raw_scores(forest.leaf_indexes(matrix))  # the score without contributions
    bare = time.perf_counter() - started
    started = time.perf_counter()
    for matrix in matrices:
        scored = model.score(matrix)
        top_reasons(scored.contributions, matrix)
    full = time.perf_counter() - started
    reasons = max(full - bare, 0.0)
    share = reasons / seconds
    return (f"reason codes (SHAP contributions + top reasons): {reasons / events * 1e6:.1f} "
            f"µs per risk event, {share:.1%} of the batch work; {same_score / events:.1%} of "
            f"risk events repeat the customer's previous score, {same_band / events:.1%} its "
            f"band: computing reasons only on a score change would save at most "
            f"{share * same_score / events:.1%} of the batch work, only on a band change "
            f"{share * same_band / events:.1%}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--model", help="model version directory (default: the bench model)")
    parser.add_argument("--reasons", action="store_true",
                        help="instead of the profile: what reasons only on a change would save")
    args = parser.parse_args(argv)

    model = ScoringModel.load(ensure_model(args.model))
    settings = Settings(enable_interventions=True)  # type: ignore[call-arg]
    inputs = encoded_inputs(args.customers, args.days)

    def fresh() -> BatchProcessor:
        return build_processor(settings, model)

    seconds = run(fresh(), inputs, args.batch)
    print(f"{len(inputs)} events, batch {args.batch}: {seconds / len(inputs) * 1e6:.1f} µs/event "
          f"({len(inputs) / seconds:,.0f} events/s on one core, no Kafka)")
    if args.reasons:
        print(reasons_cost(model, settings, inputs, args.batch, seconds))
        return 0
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
