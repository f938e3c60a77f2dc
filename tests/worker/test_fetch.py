"""The drain loop's fetch (``stream_app/worker/_fetch``): it takes only the partitions it was
asked for, and what it does not deliver is fetched again unless a seek or a new assignment
moved the partition since. The thread-side steps run on a real aiokafka consumer against the
real broker; :class:`Rewinds` is pure."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from stream_app.worker._fetch import Rewinds, fetch_in_thread, rewind_in_thread

RECORDS_PER_PARTITION = 10


def test_a_held_back_record_holds_back_the_rest_of_its_partition() -> None:
    rewinds = Rewinds()
    p0, p1 = TopicPartition("t", 0), TopicPartition("t", 1)
    assert rewinds.admit(p0, 0, deliverable=True)
    assert not rewinds.admit(p0, 1, deliverable=False)
    assert not rewinds.admit(p0, 2, deliverable=True)  # no gap: 1 is not delivered
    assert rewinds.admit(p1, 5, deliverable=True)
    assert rewinds.first_held == {p0: 1}


def test_nothing_is_held_back_when_everything_is_delivered() -> None:
    rewinds = Rewinds()
    assert all(rewinds.admit(TopicPartition("t", 0), offset, True) for offset in range(5))
    assert rewinds.first_held == {}


async def _topic_with_records(bootstrap: str) -> str:
    topic = f"fetch-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 2, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for partition in (0, 1):
            for n in range(RECORDS_PER_PARTITION):
                await producer.send_and_wait(topic, b"%d" % n, partition=partition)
    finally:
        await producer.stop()
    return topic


async def _consumer(bootstrap: str, topic: str) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    consumer.assign([TopicPartition(topic, 0), TopicPartition(topic, 1)])
    for tp in consumer.assignment():
        await consumer.position(tp)  # resolve the start positions
    return consumer


async def _buffered(consumer: AIOKafkaConsumer, tp: TopicPartition) -> None:
    """Wait until aiokafka's fetcher holds records of ``tp`` (fetched, not yet taken)."""
    for _ in range(200):
        if tp in consumer._fetcher._records:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"no records of {tp} fetched")


async def _fetch_all(consumer: AIOKafkaConsumer, tp: TopicPartition,
                     ) -> tuple[list[int], Any]:
    """Everything ``fetch_in_thread`` gives for ``tp`` until its last record, and the mark."""
    offsets: list[int] = []
    mark = None
    while not offsets or offsets[-1] < RECORDS_PER_PARTITION - 1:
        records, marks = await fetch_in_thread(consumer, frozenset({tp}), 2.0, None)
        assert set(records) <= {tp}
        offsets += [record.offset for record in records.get(tp, [])]
        mark = marks.get(tp, mark)
    return offsets, mark


@pytest.fixture
async def consumer(kafka_broker: Any) -> AsyncIterator[AIOKafkaConsumer]:
    topic = await _topic_with_records(kafka_broker.bootstrap_servers)
    consumer = await _consumer(kafka_broker.bootstrap_servers, topic)
    try:
        yield consumer
    finally:
        await consumer.stop()


def _tps(consumer: AIOKafkaConsumer) -> tuple[TopicPartition, TopicPartition]:
    p0, p1 = sorted(consumer.assignment())
    return p0, p1


async def test_aiokafka_reads_an_empty_partition_set_as_every_partition(
        consumer: AIOKafkaConsumer) -> None:
    """The upstream behaviour the fix is about (re-check on an aiokafka upgrade): asked for
    no partition, ``fetched_records`` hands out (and moves past) every partition's records."""
    p0, p1 = _tps(consumer)
    await _buffered(consumer, p0)
    await _buffered(consumer, p1)
    records = await consumer._fetcher.fetched_records(set(), timeout=1.0)
    assert set(records) == {p0, p1}


async def test_an_empty_snapshot_takes_nothing(consumer: AIOKafkaConsumer) -> None:
    p0, p1 = _tps(consumer)
    await _buffered(consumer, p0)
    before = {tp: await consumer.position(tp) for tp in (p0, p1)}
    assert await fetch_in_thread(consumer, frozenset(), 1.0, None) == ({}, {})
    assert {tp: await consumer.position(tp) for tp in (p0, p1)} == before


async def test_only_the_snapshot_partitions_are_taken(consumer: AIOKafkaConsumer) -> None:
    p0, p1 = _tps(consumer)
    await _buffered(consumer, p1)
    offsets, _ = await _fetch_all(consumer, p0)
    assert offsets == list(range(RECORDS_PER_PARTITION))
    assert await consumer.position(p1) == 0  # p1's buffered records were left alone


async def test_held_back_records_are_fetched_again(consumer: AIOKafkaConsumer) -> None:
    p0, _ = _tps(consumer)
    offsets, mark = await _fetch_all(consumer, p0)
    assert offsets == list(range(RECORDS_PER_PARTITION))
    assert await rewind_in_thread(consumer, {p0: 4}, {p0: mark}) == [p0]
    again, _ = await _fetch_all(consumer, p0)
    assert again == list(range(4, RECORDS_PER_PARTITION))


async def test_a_seek_since_the_fetch_stands(consumer: AIOKafkaConsumer) -> None:
    """E.g. a recovery's seek between the fetch and the drain loop's verdict."""
    p0, _ = _tps(consumer)
    _, mark = await _fetch_all(consumer, p0)
    consumer.seek(p0, 7)
    assert await rewind_in_thread(consumer, {p0: 2}, {p0: mark}) == []
    again, _ = await _fetch_all(consumer, p0)
    assert again == list(range(7, RECORDS_PER_PARTITION))


async def test_a_new_assignment_since_the_fetch_stands(consumer: AIOKafkaConsumer) -> None:
    p0, p1 = _tps(consumer)
    _, mark = await _fetch_all(consumer, p0)
    consumer.assign([p0, p1])  # a new assignment: positions start again from the reset
    assert await rewind_in_thread(consumer, {p0: 2}, {p0: mark}) == []
    assert await consumer.position(p0) == 0
