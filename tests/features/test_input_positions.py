"""Input positions: a record read again from an older committed offset is a duplicate.

After a crash, at-least-once processing resumes from the last committed offset and reads again
every record the dead worker had processed after it: any number of a customer's events, more
than the 24-id de-duplication window can hold. The state keeps, per source, the input position
(partition, offset) of the newest record applied; a record at an older offset of the same
partition, not newer than what its source has applied, is recognised as read again. The
reference (``apply_event``) and the kernel (``apply_one``) agree on every outcome and byte.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream_app.events import InputEvent, Payment, Transaction
from stream_app.features._kernel_apply import apply_one, encode_events, new_events
from stream_app.features._layout import (
    _V5_CORE_BYTES,
    CORE_BYTES,
    decode_records,
    empty_records,
    load_records,
    record_bytes,
    record_to_state,
    state_to_record,
)
from stream_app.features._state import MAX_DEDUP_IDS, CustomerState
from stream_app.features._update import Applied, apply_event
from tests.features.test_kernel_apply import OUTCOME, event_lists
from tests.support.events import day_in, salary, statement, tx

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TX_PARTITION, PAY_PARTITION = 3, 1


def _positions(events: list[InputEvent], first: int = 0) -> list[tuple[int, int]]:
    """Each event's record position: transactions and payments on their own topics, one
    partition each (the customer's), offsets in arrival order from ``first``."""
    next_offset = {Transaction: first, Payment: first}
    out = []
    for event in events:
        kind = type(event)
        partition = TX_PARTITION if kind is Transaction else PAY_PARTITION
        offset = next_offset.get(kind, 0)
        next_offset[kind] = offset + 1
        out.append((partition, offset))
    return out


class Pair:
    """One customer's reference state and its fixed-layout record, fed the same records."""

    def __init__(self) -> None:
        self.state = CustomerState()
        self.records = empty_records(1)

    def feed(self, events: list[InputEvent],
             positions: list[tuple[int, int]]) -> list[Applied]:
        encoded = new_events(len(events))
        encode_events(events, encoded)
        encoded["partition"] = [p for p, _ in positions]
        encoded["offset"] = [o for _, o in positions]
        outcomes = []
        for j, (event, position) in enumerate(zip(events, positions, strict=True)):
            expected = apply_event(self.state, event, position)
            assert apply_one(self.records, 0, encoded, j) == OUTCOME[expected], (j, event)
            assert record_bytes(self.records, 0) == self.state.to_bytes(), (j, event)
            outcomes.append(expected)
        return outcomes


def _distinct_ids(events: list[InputEvent]) -> list[InputEvent]:
    """One id per event (a re-delivery repeats an event whole, never an id with another
    content)."""
    return [dataclasses.replace(event, event_id=f"E{i}") for i, event in enumerate(events)]


@SETTINGS
@given(events=event_lists(), data=st.data())
def test_reading_again_from_any_older_offset_changes_nothing(events: list[InputEvent],
                                                             data: st.DataObject) -> None:
    events = _distinct_ids(events)
    # producer retries: whole events again, later in the log under their own offsets
    for original in data.draw(st.lists(st.sampled_from(events), max_size=10)):
        events.insert(data.draw(st.integers(events.index(original) + 1, len(events))), original)
    positions = _positions(events)
    pair = Pair()
    pair.feed(events, positions)
    before = pair.state.to_bytes()
    resume = data.draw(st.integers(0, len(events) - 1))
    again = pair.feed(events[resume:], positions[resume:])
    assert Applied.APPLIED not in again
    assert pair.state.to_bytes() == before


def test_a_record_read_again_beyond_the_id_window_is_a_duplicate() -> None:
    # 8 salaries then 30 more transactions past a committed offset: the salaries' ids have left
    # the window when the resume reads them again
    events: list[InputEvent] = [salary(day_in(0) + i, 100_000) for i in range(8)]
    events += [tx(day_in(1) + i // 3, 1_000, hour=9 + i % 3) for i in range(30)]
    assert len(events) - 8 > MAX_DEDUP_IDS
    positions = _positions(events, first=500)
    pair = Pair()
    assert set(pair.feed(events, positions)) == {Applied.APPLIED}
    before = pair.state.to_bytes()
    assert pair.state.positions[0] == [TX_PARTITION + 1, 500 + len(events)]
    assert pair.feed(events, positions) == [Applied.REREAD] * len(events)
    assert pair.state.to_bytes() == before


def test_a_record_of_another_partition_falls_back_to_the_id_window() -> None:
    # positions of two partitions are not comparable (the topic's partitions were increased,
    # or a producer keyed the customer's events otherwise): only the window recognises a
    # duplicate, the documented limit
    events: list[InputEvent] = [salary(day_in(0), 100_000)]
    events += [tx(day_in(1) + i // 3, 1_000, hour=9 + i % 3) for i in range(MAX_DEDUP_IDS)]
    pair = Pair()
    pair.feed(events, _positions(events))
    assert pair.feed(events[:1], [(TX_PARTITION + 1, 0)]) == [Applied.APPLIED]
    assert pair.state.positions[0] == [TX_PARTITION + 2, 1]
    recent = events[-1]
    assert pair.feed([recent], [(TX_PARTITION, 0)]) == [Applied.DUPLICATE]  # in the window


def test_new_events_of_a_recreated_topic_are_applied_from_its_first_offset() -> None:
    old = [tx(day_in(0) + i, 1_000) for i in range(5)]
    pair = Pair()
    pair.feed(old, _positions(old, first=9_000))
    # the topic deleted and created again: offsets from 0, events newer than the state's
    new = [tx(day_in(1) + i, 2_000) for i in range(3)]
    assert pair.feed(new, _positions(new)) == [Applied.APPLIED] * 3
    assert pair.state.positions[0] == [TX_PARTITION + 1, 3]
    # ... and reading the new topic again from its start is recognised
    assert pair.feed(new, _positions(new)) == [Applied.REREAD] * 3


def test_a_late_record_after_the_newest_offset_is_still_applied() -> None:
    # out of order in event time but a new record (a higher offset): applied, not a duplicate
    newer, late = tx(day_in(2), 1_000), tx(day_in(1), 2_000)
    pair = Pair()
    assert pair.feed([newer, late], [(TX_PARTITION, 7), (TX_PARTITION, 8)]) == [
        Applied.APPLIED, Applied.APPLIED]


def test_each_source_keeps_its_own_position() -> None:
    payment = statement(day_in(0), 50_000, 2_500, due_day=day_in(0) + 20)
    transaction = tx(day_in(0), 1_000)
    pair = Pair()
    pair.feed([transaction, payment], [(TX_PARTITION, 40), (PAY_PARTITION, 3)])
    assert pair.state.positions == [[TX_PARTITION + 1, 41], [PAY_PARTITION + 1, 4]]
    # a payment at offset 5 is new on its topic though 5 < 41 on the transactions'
    later = statement(day_in(0) + 30, 60_000, 3_000, due_day=day_in(0) + 50)
    assert pair.feed([later], [(PAY_PARTITION, 5)]) == [Applied.APPLIED]


def test_an_older_offset_that_was_too_late_is_not_dead_lettered_again() -> None:
    # a record judged too late the first time, read again: a duplicate (its dead letter went
    # out with the batch that applied the records after it)
    newest, stale, after = tx(day_in(10), 1_000), tx(day_in(0), 1_000), tx(day_in(10), 5)
    pair = Pair()
    positions = [(TX_PARTITION, 0), (TX_PARTITION, 1), (TX_PARTITION, 2)]
    assert pair.feed([newest, stale, after], positions) == [
        Applied.APPLIED, Applied.TOO_LATE, Applied.APPLIED]
    assert pair.feed([stale], positions[1:2]) == [Applied.REREAD]


def _v5_bytes(records: np.ndarray) -> bytes:
    """What a version-5 worker wrote for ``records[0]``: the core without the positions."""
    value = record_bytes(records, 0)
    core, products = value[1:1 + CORE_BYTES], value[1 + CORE_BYTES:]
    return b"\x05" + core[:_V5_CORE_BYTES] + products


def test_a_version_5_state_restores_with_no_position_known() -> None:
    events: list[InputEvent] = [salary(day_in(0), 100_000), tx(day_in(0), 1_000),
                                statement(day_in(0), 50_000, 2_500, due_day=day_in(0) + 20)]
    pair = Pair()
    pair.feed(events, _positions(events, first=10))
    old = _v5_bytes(pair.records)
    restored = CustomerState.from_bytes(old)
    expected = CustomerState.from_bytes(pair.state.to_bytes())
    expected.positions = [[0, 0], [0, 0]]
    assert restored == expected
    # the batch path: version 5 beside version 6 and a new customer
    out = empty_records(3)
    assert load_records([pair.state.to_bytes(), old, None], out) == []
    assert record_to_state(out, 0) == pair.state
    assert record_to_state(out, 1) == expected
    assert record_to_state(out, 2) == CustomerState()
    records = empty_records(1)
    decode_records([old], records)
    assert record_to_state(records, 0) == expected
    # a damaged version-5 value is refused, as a damaged version-6 one is
    [(index, reason)] = load_records([old[:-3]], empty_records(1))
    assert index == 0
    assert "version 5" in reason
    # and version 6 is what it is written as again
    again = empty_records(1)
    state_to_record(restored, again, 0)
    assert record_bytes(again, 0)[0] == 6


def test_the_worker_positions_survive_the_changelog_round_trip() -> None:
    events: list[InputEvent] = [tx(day_in(0), 1_000)]
    pair = Pair()
    pair.feed(events, [(TX_PARTITION, 123_456_789_012)])
    restored = CustomerState.from_bytes(pair.state.to_bytes())
    assert restored.positions == [[TX_PARTITION + 1, 123_456_789_013], [0, 0]]
