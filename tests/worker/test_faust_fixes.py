"""The faust fixes of stream_app.worker._faust_fixes, on a real (unconnected) faust consumer.

The end-to-end effect (no loss on SIGTERM, commits that keep up after a takeover) is checked
by tests/integration/test_crash_recovery.py; these pin each fix's rule.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

import faust
import pytest
from faust.types import TP
from faust.types.tuples import Message

from stream_app.worker import _faust_fixes
from stream_app.worker._faust_fixes import (
    HOLE_PATIENCE_SECONDS,
    CommitPolicy,
    apply_faust_fixes,
    set_commit_policy,
)

INPUT = "bank.transactions.v1"
CHANGELOG = "app-customer-state-changelog"


def _message(offset: int, topic: str = INPUT) -> Message:
    return Message(topic, 0, offset, 0.0, 0, None, b"k", b"v", None, tp=TP(topic, 0))


@pytest.fixture
def consumer() -> Any:
    apply_faust_fixes()
    app = faust.App(f"fixes-{id(object())}", broker="kafka://127.0.0.1:1")
    # what subscribing an agent with acks does (the conductor's set of acking topics)
    app.topics._acking_topics.update({INPUT, CHANGELOG})
    return app.consumer


@pytest.fixture
def processed(consumer: Any) -> weakref.WeakSet[Message]:
    done: weakref.WeakSet[Message] = weakref.WeakSet()
    set_commit_policy(consumer.app, CommitPolicy(frozenset({INPUT}), done.__contains__))
    return done


def test_a_processed_record_becomes_committable(consumer: Any,
                                                processed: weakref.WeakSet[Message]) -> None:
    message = _message(4)
    consumer.track_message(message)
    processed.add(message)
    assert consumer.ack(message) is True
    assert consumer._acked[message.tp] == [4]
    assert message not in consumer._unacked_messages


def test_an_unprocessed_record_is_released_but_not_committable(
        consumer: Any, processed: weakref.WeakSet[Message]) -> None:
    message = _message(4)
    consumer.track_message(message)
    assert consumer.ack(message) is False
    assert message.acked  # nothing waits for it (wait_empty, shutdown)
    assert message not in consumer._unacked_messages
    assert consumer._acked[message.tp] == []  # but its offset is not committed
    assert consumer._new_offset(message.tp) is None


def test_other_topics_keep_faust_rules(consumer: Any,
                                       processed: weakref.WeakSet[Message]) -> None:
    message = _message(9, topic=CHANGELOG)
    consumer.track_message(message)
    assert consumer.ack(message) is True
    assert consumer._acked[message.tp] == [9]


def test_no_gap_is_filled_for_the_policy_topics(consumer: Any,
                                                processed: weakref.WeakSet[Message]) -> None:
    owned, other = TP(INPUT, 0), TP("elsewhere", 0)
    asyncio.run(consumer._add_gap(owned, 10, 20))
    asyncio.run(consumer._add_gap(other, 10, 20))
    assert not consumer._gap[owned]  # never committable without being processed
    assert [(i.begin, i.end) for i in consumer._gap[other]] == [(10, 21)]
    consumer._committed_offset[owned] = 5
    consumer._acked[owned].extend([5, 6, 7, 9, 21])
    assert consumer._new_offset(owned) == 8  # stops before the unprocessed offset 8


def test_repeated_offsets_do_not_cut_a_commit_short(consumer: Any,
                                                    processed: weakref.WeakSet[Message]) -> None:
    tp = TP(INPUT, 0)
    consumer._committed_offset[tp] = 5
    consumer._acked[tp].extend([5, 6, 6, 7, 8, 8, 9])
    assert consumer._new_offset(tp) == 10  # faust alone: 7, then one offset per commit
    assert consumer._acked[tp] == []


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(_faust_fixes, "_clock", fake)
    return fake


def _recording_seeks(consumer: Any) -> list[tuple[TP, int]]:
    seeks: list[tuple[TP, int]] = []

    async def seek(tp: TP, offset: int) -> None:  # the broker call, recorded
        seeks.append((tp, offset))

    consumer.seek = seek
    return seeks


async def test_a_hole_at_the_head_is_never_passed_over_but_read_again(
        consumer: Any, processed: weakref.WeakSet[Message], clock: FakeClock) -> None:
    seeks = _recording_seeks(consumer)
    tp = TP(INPUT, 0)
    consumer._committed_offset[tp] = 7
    skipped, later = _message(7), _message(8)
    consumer.track_message(skipped)
    consumer.ack(skipped)  # released during a rebalance, never processed
    processed.add(later)
    consumer.ack(later)
    # faust alone passes over one missing offset at the head (meant for transaction markers)
    assert consumer._new_offset(tp) is None
    clock.now += HOLE_PATIENCE_SECONDS - 1
    assert consumer._new_offset(tp) is None
    await asyncio.sleep(0)
    assert seeks == []  # a hole is normal for a moment
    clock.now += 1
    assert consumer._new_offset(tp) is None
    await asyncio.sleep(0)
    assert seeks == [(tp, 7)]  # after HOLE_PATIENCE_SECONDS, the partition is read again
    again = _message(7)  # delivered again after the seek, processed this time
    processed.add(again)
    consumer.ack(again)
    assert consumer._new_offset(tp) == 9


async def test_offsets_still_missing_after_a_re_read_are_committed_past(
        consumer: Any, processed: weakref.WeakSet[Message], clock: FakeClock) -> None:
    seeks = _recording_seeks(consumer)
    tp = TP(INPUT, 0)
    consumer._committed_offset[tp] = 7  # 7 and 8: a transaction marker, an aborted record
    consumer._acked[tp].extend([9, 10])
    assert consumer._new_offset(tp) is None
    clock.now += HOLE_PATIENCE_SECONDS
    assert consumer._new_offset(tp) is None
    await asyncio.sleep(0)
    assert seeks == [(tp, 7)]  # read again once
    clock.now += HOLE_PATIENCE_SECONDS - 1
    assert consumer._new_offset(tp) is None
    clock.now += 1
    assert consumer._new_offset(tp) == 11  # nothing came at 7 and 8: not records
    assert consumer._acked_index[tp] == set()


async def test_no_re_read_while_rebalancing(
        consumer: Any, processed: weakref.WeakSet[Message], clock: FakeClock) -> None:
    seeks = _recording_seeks(consumer)
    tp = TP(INPUT, 0)
    consumer._committed_offset[tp] = 7
    consumer._acked[tp].extend([9, 10])
    consumer.app.rebalancing = True
    assert consumer._new_offset(tp) is None
    clock.now += 10 * HOLE_PATIENCE_SECONDS
    assert consumer._new_offset(tp) is None
    await asyncio.sleep(0)
    assert seeks == []
