"""The *ceiling* engine of bench/compare.py: a hand-rolled aiokafka loop doing the worker's pure
work and nothing else.

It builds the same :class:`~stream_app.processing.BatchProcessor` the worker builds (see
``stream_app/worker/_runtime.py``: decoder, encoder, policy, output topics, metrics, drift
observer, the model loaded from ``MODEL_PATH``) over a plain in-memory dict instead of faust
tables, then loops: ``getmany`` up to ``BATCH_SIZE`` records (waiting at most
``BATCH_WINDOW_MS``), process the batch, send every output and await its delivery, commit the
batch's offsets. No faust, no changelog, no sidecar: what is left is the floor any engine on
this machine pays for the same work.

    python -m bench._ceiling --status FILE     (configuration from the environment, as the
                                                worker: KAFKA_*, TOPIC_*, MODEL_PATH, BATCH_*)

``BENCH_CEILING_PRODUCE=batches`` (a bench knob, not a product setting) sends each batch's
outputs as one aiokafka record batch per topic partition (``send_batches``) instead of one
``send`` per output: the "outputs produced in batches" technique of issue 7, measured here
where nothing else differs.

``FILE`` is rewritten every 0.1 s with ``{"consumed": N}`` (records handed to the processor so
far), which the harness polls. SIGTERM or SIGINT stops after the batch in progress.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stream_app.processing import BatchProcessor
from stream_app.scoring import ScoringModel
from stream_app.settings import Settings

__all__ = ["DictStore", "build_processor", "main", "send_batches", "write_status"]


class DictStore:
    """The processor's StateStore protocol over plain dicts, one per input partition."""

    def __init__(self) -> None:
        self._states: dict[int, dict[bytes, bytes]] = {}
        self._contacts: dict[int, dict[bytes, bytes]] = {}

    def get(self, partition: int, key: bytes) -> bytes | None:
        return self._states.get(partition, {}).get(key)

    def put(self, partition: int, key: bytes, value: bytes) -> None:
        self._states.setdefault(partition, {})[key] = value

    def get_contact(self, partition: int, key: bytes) -> bytes | None:
        return self._contacts.get(partition, {}).get(key)

    def put_contact(self, partition: int, key: bytes, value: bytes) -> None:
        self._contacts.setdefault(partition, {})[key] = value

    def items(self, partition: int) -> Iterator[tuple[bytes, bytes]]:
        return iter(list(self._states.get(partition, {}).items()))


def write_status(path: Path, status: dict[str, Any]) -> None:
    """Replace ``path`` atomically with ``status`` as JSON (the harness never reads half)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status))
    tmp.replace(path)


def build_processor(settings: Settings, model: ScoringModel) -> BatchProcessor:
    """The processor exactly as ``WorkerRuntime.__init__`` wires it (no challenger)."""
    from stream_app.events import RecordType
    from stream_app.observability import WorkerMetrics
    from stream_app.policy import InterventionPolicy, load_policy
    from stream_app.processing import OutputTopics
    from stream_app.scoring import DriftMonitor, ScoredBatch
    from stream_app.serializers import InputDecoder, OutputEncoder, SchemaCatalog

    drift: list[DriftMonitor | None] = [None]

    def observe(scoring: ScoringModel, scored: ScoredBatch, matrix: Any) -> None:
        monitor = drift[0]
        if monitor is None or monitor.version != scoring.version:
            monitor = drift[0] = DriftMonitor.from_metadata(scoring.version, scoring.metadata)
        if monitor is not None:
            monitor.observe(scored.scores, matrix)

    catalog = SchemaCatalog.default()
    policy = InterventionPolicy(load_policy(settings.policy_path),
                                enabled=settings.enable_interventions,
                                threshold=settings.auto_trigger_threshold)
    topic_types = {
        settings.topic_transactions: RecordType.TRANSACTION,
        settings.topic_payments: RecordType.PAYMENT,
        settings.topic_customer_flags: RecordType.CUSTOMER_FLAGS,
    }
    return BatchProcessor(
        decoder=InputDecoder(catalog, topic_types),
        encoder=OutputEncoder(catalog, settings.output_format.value),
        model=lambda: model,
        observer=observe,
        policy=policy,
        topics=OutputTopics(settings.topic_risk_scores, settings.topic_interventions,
                            settings.topic_deadletter),
        metrics=WorkerMetrics(),
    )


async def _run(settings: Settings, status_path: Path) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    from stream_app.kafka import aiokafka_options
    from stream_app.processing import InputRecord

    processor = build_processor(settings, ScoringModel.load(settings.model_path))
    store = DictStore()
    options = aiokafka_options(settings)
    consumer = AIOKafkaConsumer(*settings.input_topics, **options,
                                group_id=settings.app_name, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    producer = AIOKafkaProducer(**options, acks="all")  # the worker's producer_acks=-1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    consumed = 0

    async def report() -> None:
        while True:
            write_status(status_path, {"consumed": consumed})
            await asyncio.sleep(0.1)

    await producer.start()
    await consumer.start()
    produce_batches = os.environ.get("BENCH_CEILING_PRODUCE", "records") == "batches"
    partitions: dict[str, int] = {}
    for topic in (settings.topic_risk_scores, settings.topic_interventions,
                  settings.topic_deadletter):
        partitions[topic] = len(await producer.partitions_for(topic))
    reporter = asyncio.create_task(report())
    try:
        while not stop.is_set():
            fetched = await consumer.getmany(timeout_ms=settings.batch_window_ms,
                                             max_records=settings.batch_size)
            records = [InputRecord(r.topic, r.partition, r.offset, r.key, r.value)
                       for batch in fetched.values() for r in batch]
            if not records:
                continue
            consumed += len(records)
            result = processor.process(records, store)
            if produce_batches:
                deliveries = await send_batches(producer, result.outputs, partitions)
            else:
                deliveries = [await producer.send(out.topic, out.value, key=out.key)
                              for out in result.outputs]
            if deliveries:
                await asyncio.gather(*deliveries)
            await consumer.commit({TopicPartition(tp.topic, tp.partition): batch[-1].offset + 1
                                   for tp, batch in fetched.items() if batch})
    finally:
        reporter.cancel()
        write_status(status_path, {"consumed": consumed})
        await consumer.stop()
        await producer.stop()


async def send_batches(producer: Any, outputs: list[Any],
                       partitions: dict[str, int]) -> list[Any]:
    """The outputs as one aiokafka record batch per topic partition (``create_batch`` /
    ``send_batch``: no per-record call into the accumulator), to the partition Kafka's default
    partitioner gives each key, as ``send`` would; returns the batches' delivery futures."""
    from collections import defaultdict

    from aiokafka.partitioner import murmur2

    groups: dict[tuple[str, int], list[Any]] = defaultdict(list)
    for out in outputs:
        partition = 0 if out.key is None else (  # a dead letter of a record without a key
            (murmur2(out.key) & 0x7FFFFFFF) % partitions[out.topic])
        groups[(out.topic, partition)].append(out)
    futures = []
    for (topic, partition), members in groups.items():
        batch = producer.create_batch()
        for out in members:
            if batch.append(key=out.key, value=out.value, timestamp=None) is None:  # full
                futures.append(await producer.send_batch(batch, topic, partition=partition))
                batch = producer.create_batch()
                batch.append(key=out.key, value=out.value, timestamp=None)
        futures.append(await producer.send_batch(batch, topic, partition=partition))
    return futures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--status", required=True, help="progress file the harness polls")
    args = parser.parse_args(argv)
    from stream_app.settings import load_settings

    settings = load_settings()
    print(f"ceiling engine (pid {os.getpid()}): batches of {settings.batch_size}", flush=True)
    asyncio.run(_run(settings, Path(args.status)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
