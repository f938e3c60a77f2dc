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

from stream_app.worker._faust_fixes import CommitPolicy, apply_faust_fixes, set_commit_policy

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
