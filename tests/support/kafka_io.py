"""Produce raw records to, and read everything back from, a real broker (tests only)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord, TopicPartition

from stream_app.kafka import encode_record, group_lag
from stream_app.serializers import AvroCodec, SchemaCatalog


async def produce(bootstrap: str, records: Iterable[tuple[str, bytes | None, bytes | None]],
                  **client_options: Any) -> int:
    """Send and await every record (acks=all); ``client_options`` go to AIOKafkaProducer
    (e.g. the SASL settings of ``stream_app.kafka.aiokafka_options``)."""
    producer = AIOKafkaProducer(**{"bootstrap_servers": bootstrap, "acks": "all",
                                   "linger_ms": 5, **client_options})
    await producer.start()
    count = 0
    try:
        futures = []
        for topic, key, value in records:
            futures.append(await producer.send(topic, value, key=key))
            count += 1
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return count


async def consume_until(
    bootstrap: str,
    topics: list[str],
    done: Callable[[dict[str, list[ConsumerRecord[bytes, bytes]]]], bool],
    timeout: float,
    *,
    settle: float = 2.0,
    isolation_level: str = "read_uncommitted",
    **client_options: Any,
) -> dict[str, list[ConsumerRecord[bytes, bytes]]]:
    """Read all topics from the start until ``done(records)`` holds, then ``settle`` seconds
    more (to catch anything extra that should not be there), or until ``timeout``.
    ``client_options`` go to AIOKafkaConsumer (e.g. SASL settings)."""
    consumer = AIOKafkaConsumer(*topics, **{
        "bootstrap_servers": bootstrap, "group_id": None, "auto_offset_reset": "earliest",
        "isolation_level": isolation_level, **client_options})
    await consumer.start()
    records: dict[str, list[ConsumerRecord[bytes, bytes]]] = {t: [] for t in topics}
    deadline = time.monotonic() + timeout
    settle_until: float | None = None
    try:
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=250, max_records=10_000)
            for tp, messages in batch.items():
                records[tp.topic].extend(messages)
            if settle_until is None and done(records):
                settle_until = time.monotonic() + settle
            if settle_until is not None and time.monotonic() >= settle_until:
                break
    finally:
        await consumer.stop()
    return records


def encode_inputs(records: list[dict[str, Any]], topics: dict[str, str], *,
                  json_share: float = 0.0, seed: int = 5) -> list[tuple[str, bytes, bytes]]:
    """(topic, key, value) for simulated log records, as upstream producers publish them:
    keyed by customer_id, Avro-framed, or JSON for a random ``json_share`` of them.
    ``topics`` holds the TOPIC_* settings of the test."""
    codec = AvroCodec(SchemaCatalog.default())
    rng = random.Random(seed)
    setting_of = {"transaction": "TOPIC_TRANSACTIONS", "payment": "TOPIC_PAYMENTS",
                  "customer_flags": "TOPIC_CUSTOMER_FLAGS"}
    out = []
    for record in records:
        json_value = bool(json_share) and rng.random() < json_share
        value = encode_record(codec, record, "json" if json_value else "avro")
        out.append((topics[setting_of[record["type"]]], record["customer_id"].encode(), value))
    return out


async def read_committed(bootstrap: str, topic: str, partitions: int,
                         timeout: float = 30.0) -> dict[int, list[ConsumerRecord[bytes, bytes]]]:
    """Every committed record of ``topic`` per partition: read_committed up to each
    partition's last stable offset (records of transactions still open are after it)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                isolation_level="read_committed", enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        stable = await consumer.end_offsets(tps)  # the last stable offsets (read_committed)
        records: dict[int, list[ConsumerRecord[bytes, bytes]]] = {tp.partition: [] for tp in tps}
        deadline = time.monotonic() + timeout
        while [tp for tp in tps if await consumer.position(tp) < stable[tp]]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic} not read to its last stable offsets")
            for tp, messages in (await consumer.getmany(timeout_ms=250)).items():
                records[tp.partition].extend(m for m in messages if m.offset < stable[tp])
        return records
    finally:
        await consumer.stop()


async def produce_tracked(bootstrap: str,
                          records: Iterable[tuple[str, bytes | None, bytes | None]],
                          **client_options: Any) -> list[tuple[str, int, int]]:
    """Like :func:`produce`, but returns where each record landed: (topic, partition, offset)
    in input order."""
    producer = AIOKafkaProducer(**{"bootstrap_servers": bootstrap, "acks": "all",
                                   "linger_ms": 5, **client_options})
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for topic, key, value in records]
        sent = await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return [(m.topic, m.partition, m.offset) for m in sent]


async def uncommitted(bootstrap: str, group: str, topics: list[str]) -> dict[str, int]:
    """Records of ``topics`` the consumer group has not committed yet, per ``topic[partition]``
    (its lag; 0 everywhere once every record is processed and committed)."""
    offsets = await group_lag({"bootstrap_servers": bootstrap}, group, topics)
    return {f"{tp.topic}[{tp.partition}]": end - committed
            for tp, (end, committed) in offsets.items()}


async def rewind_group(bootstrap: str, group: str, topics: list[str], partitions: int,
                       offset: int = 0) -> None:
    """Commit ``offset`` for every partition of ``topics`` in ``group`` (no member may be
    running): what ``kafka-consumer-groups --reset-offsets --to-offset`` does."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for topic in topics for p in range(partitions)]
        consumer.assign(tps)
        await consumer.commit(dict.fromkeys(tps, offset))
    finally:
        await consumer.stop()


def wait_committed(bootstrap: str, group: str, topics: list[str],
                   timeout: float = 30.0) -> dict[str, int]:
    """Waits until the group's lag on ``topics`` is 0; returns the last lag seen."""
    deadline = time.monotonic() + timeout
    while True:
        lag = asyncio.run(uncommitted(bootstrap, group, topics))
        if not any(lag.values()) or time.monotonic() > deadline:
            return lag
        time.sleep(0.5)
