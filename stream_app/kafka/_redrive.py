"""Re-publish dead letters to their input topic once their producer is fixed.

A dead letter carries its record's topic, key and raw value. ``redrive`` reads the dead-letter
topic up to its end (as it is when the run starts) with its own consumer group, so a second run
sends nothing twice, and re-publishes the letters of the chosen reasons with the key placed by
``KAFKA_PARTITIONER``. Letters without their raw value (too large to keep) are counted and left.
Events already applied are ignored by the worker as duplicates.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from stream_app.events import RecordType
from stream_app.partitioning import producer_partitioner
from stream_app.serializers import OutputDecoder, SchemaCatalog
from stream_app.settings import Settings

from ._clients import aiokafka_options

__all__ = ["RedriveReport", "redrive_dead_letters"]


@dataclass
class RedriveReport:
    sent: Counter[str] = field(default_factory=Counter)  # by reason
    skipped: Counter[str] = field(default_factory=Counter)  # reason not chosen
    without_value: int = 0  # the raw value was left out: nothing to send


async def redrive_dead_letters(settings: Settings, reasons: frozenset[str], *,
                               dry_run: bool = False) -> RedriveReport:
    report = RedriveReport()
    decoder = OutputDecoder(SchemaCatalog.default())
    inputs = set(settings.input_topics)
    consumer = AIOKafkaConsumer(
        **aiokafka_options(settings), group_id=f"{settings.app_name}-redrive",
        enable_auto_commit=False, auto_offset_reset="earliest")
    producer = AIOKafkaProducer(**aiokafka_options(settings), acks="all",
                                enable_idempotence=True,
                                partitioner=producer_partitioner(settings.kafka_partitioner))
    await consumer.start()
    await producer.start()
    try:
        # the producer's lookup waits for the topic's metadata (the consumer's does not)
        partitions = await producer.partitions_for(settings.topic_deadletter)
        tps = [TopicPartition(settings.topic_deadletter, p) for p in sorted(partitions)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in tps])

        while await behind():
            batch = await consumer.getmany(timeout_ms=1000, max_records=1000)
            deliveries = []
            for tp, messages in batch.items():
                for message in messages:
                    if message.offset >= ends[tp]:
                        continue
                    letter = decoder.decode(RecordType.DEADLETTER, message.value)
                    reason = str(letter["reason"])
                    if reason not in reasons or letter["source_topic"] not in inputs:
                        report.skipped[reason] += 1
                    elif letter.get("raw") is None or letter.get("key") is None:
                        report.without_value += 1
                    else:
                        if not dry_run:
                            deliveries.append(await producer.send(
                                letter["source_topic"], letter["raw"], key=letter["key"]))
                        report.sent[reason] += 1
            if not dry_run and batch:
                await asyncio.gather(*deliveries)  # every letter delivered before the commit
                await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()
    return report
