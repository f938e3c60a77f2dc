"""Publish simulated (or logged) events to the input topics, Avro-framed, keyed by customer_id,
optionally at a fixed rate."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaProducer

from stream_app.events import RecordType
from stream_app.partitioning import producer_partitioner
from stream_app.serializers import AvroCodec, SchemaCatalog, encode_json
from stream_app.settings import Settings

from ._clients import aiokafka_options

__all__ = ["RECORD_TYPES", "encode_record", "publish_events"]

RECORD_TYPES = {  # the simulator's and event logs' "type" -> the contract's record type
    "transaction": RecordType.TRANSACTION,
    "payment": RecordType.PAYMENT,
    "customer_flags": RecordType.CUSTOMER_FLAGS,
}
_IN_FLIGHT = 2000


def encode_record(codec: AvroCodec, record: dict[str, Any], wire_format: str = "avro") -> bytes:
    """A simulated or logged event (with its "type") as a producer sends its value: the
    contract's Confluent-framed Avro, or JSON."""
    body = {k: v for k, v in record.items() if k != "type"}
    if wire_format == "avro":
        return codec.encode(RECORD_TYPES[record["type"]], body)
    return encode_json(body)


async def publish_events(
    settings: Settings,
    records: Iterable[dict[str, Any]],
    *,
    rate: float | None = None,
    wire_format: str = "avro",
    on_progress: Callable[[int], None] | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Send every record to its topic; returns how many were sent (and acknowledged)."""
    topics = {
        "transaction": settings.topic_transactions,
        "payment": settings.topic_payments,
        "customer_flags": settings.topic_customer_flags,
    }
    codec = AvroCodec(SchemaCatalog.default())
    # acks=all without the idempotent producer: the embedded demo broker has no
    # InitProducerId, and re-sent duplicates are harmless (the worker deduplicates event ids)
    # keys placed as KAFKA_PARTITIONER says the upstream producers place them
    producer = AIOKafkaProducer(**aiokafka_options(settings), acks="all", linger_ms=5,
                                partitioner=producer_partitioner(settings.kafka_partitioner))
    await producer.start()
    sent = 0
    started = time.monotonic()
    pending: list[asyncio.Future[Any]] = []

    async def drain() -> None:
        if pending:
            await asyncio.gather(*pending)
            pending.clear()
        if on_progress:
            on_progress(sent)

    try:
        for record in records:
            if stop is not None and stop.is_set():
                break
            value = encode_record(codec, record, wire_format)
            pending.append(await producer.send(topics[record["type"]], value,
                                               key=record["customer_id"].encode()))
            sent += 1
            if len(pending) >= _IN_FLIGHT:
                await drain()
            if rate:
                ahead = sent / rate - (time.monotonic() - started)
                if ahead > 0.005:
                    await drain()
                    await asyncio.sleep(ahead)
        await drain()
    finally:
        await producer.stop()
    return sent
