"""The sink's Kafka consumer: created and started with backoff, offsets committed by hand."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from stream_app.backoff import Backoff, sleep_unless_stopped
from stream_app.kafka import aiokafka_options
from stream_app.settings import Settings

__all__ = ["commit_offsets", "consumer_group", "start_consumer"]

log = logging.getLogger(__name__)

_COMMIT_TIMEOUT_SECONDS = 15.0


def consumer_group(settings: Settings) -> str:
    return f"{settings.app_name}-audit-sink"


def _create(settings: Settings) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        settings.topic_risk_scores,
        settings.topic_interventions,
        settings.topic_outcomes,
        **aiokafka_options(settings),
        group_id=consumer_group(settings),
        client_id=consumer_group(settings),
        enable_auto_commit=False,  # offsets are committed after the database commit only
        auto_offset_reset="earliest",
        # with PROCESSING_GUARANTEE=exactly_once, outputs of aborted transactions (a worker
        # that died mid-batch) are never stored; without transactions this changes nothing
        isolation_level="read_committed",
        max_poll_records=settings.sink_batch_size,
        session_timeout_ms=int(settings.kafka_session_timeout_seconds * 1000),
        heartbeat_interval_ms=int(settings.kafka_heartbeat_interval_seconds * 1000),
        rebalance_timeout_ms=int(settings.kafka_rebalance_timeout_seconds * 1000),
        metadata_max_age_ms=30_000,  # notice topics created after the sink started
    )


async def start_consumer(settings: Settings, stop: asyncio.Event,
                         backoff: Backoff | None = None) -> AIOKafkaConsumer | None:
    """A started consumer, waiting with backoff while Kafka is unreachable; None if ``stop``
    was set first."""
    backoff = backoff or Backoff()
    while not stop.is_set():
        consumer = _create(settings)
        try:
            await consumer.start()
        except (KafkaError, OSError) as exc:
            await consumer.stop()
            delay = backoff.next_delay()
            log.warning("Kafka not reachable yet (%s); retrying in %.1fs",
                        type(exc).__name__, delay)
            await sleep_unless_stopped(delay, stop)
            continue
        return consumer
    return None


async def commit_offsets(consumer: AIOKafkaConsumer, offsets: Mapping[Any, int]) -> bool:
    """Commit the offsets of partitions still assigned to us; False when the commit failed.

    A failure loses nothing: the rows are in the database, and the records are consumed again
    (by us or by the partition's new owner) and skipped as duplicates.
    """
    assigned = consumer.assignment()
    owned = {tp: offset for tp, offset in offsets.items() if tp in assigned}
    if not owned:
        return not offsets
    try:
        await asyncio.wait_for(consumer.commit(owned), _COMMIT_TIMEOUT_SECONDS)
    except (KafkaError, TimeoutError) as exc:
        log.warning("offset commit failed (%s); the batch will be consumed again and "
                    "deduplicated", type(exc).__name__)
        return False
    return len(owned) == len(offsets)
