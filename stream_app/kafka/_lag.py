"""A consumer group's lag from the broker: end offsets minus committed offsets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

__all__ = ["group_lag"]


async def group_lag(options: dict[str, Any], group: str,
                    topics: Sequence[str]) -> dict[TopicPartition, tuple[int, int]]:
    """(end offset, committed offset) of every partition of ``topics`` for the consumer
    ``group``; committed is 0 where the group has committed nothing. ``options`` are
    aiokafka client options (``aiokafka_options(settings)`` or ``bootstrap_servers=...``).
    The lag of a partition is end - committed."""
    admin = AIOKafkaAdminClient(**options)
    # subscribed (no group): its start fetches the topics' metadata, hence their partitions
    consumer = AIOKafkaConsumer(*topics, **options, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        tps = [TopicPartition(topic, partition) for topic in topics
               for partition in sorted(consumer.partitions_for_topic(topic) or ())]
        ends = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
        await admin.close()
    return {tp: (ends[tp], max(committed[tp].offset, 0) if tp in committed else 0)
            for tp in tps}
