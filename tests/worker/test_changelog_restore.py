"""Changelog records applied straight into faust's recovery buffers (the worker's restore path,
``stream_app/worker/_changelog_restore``), on faust's own Recovery, tables and stores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faust
import pytest
from faust.types import TP
from faust.types.tuples import Message

from stream_app.worker._changelog_restore import after_fetch, restore_record, settle_read_tails


@pytest.fixture(params=["memory://", "rocksdb://"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> faust.App:
    return faust.App(f"restore-{tmp_path.name}", broker="kafka://127.0.0.1:1",
                     store=request.param, datadir=str(tmp_path))


def _table(app: faust.App, buffer_size: int = 1000) -> Any:
    return app.Table("state", partitions=2, key_type=bytes, value_type=bytes, default=None,
                     recovery_buffer_size=buffer_size)


def _message(tp: TP, offset: int, key: bytes, value: bytes | None) -> Message:
    return Message(topic=tp.topic, partition=tp.partition, offset=offset, timestamp=0.0,
                   timestamp_type=0, headers=[], key=key, value=value, checksum=None,
                   serialized_key_size=len(key), serialized_value_size=len(value or b""),
                   tp=tp)


def _recovering(app: faust.App, table: Any, partition: int, last_offset: int,
                *, standby: bool = False) -> tuple[Any, TP]:
    recovery = app.tables.recovery
    tp = TP(table.changelog_topic.get_topic_name(), partition)
    recovery.tp_to_table[tp] = table
    if standby:
        recovery.standby_tps.add(tp)
        recovery.standby_highwaters[tp] = last_offset
    else:
        recovery.active_tps.add(tp)
        recovery.active_highwaters[tp] = last_offset
        recovery.in_recovery = True
    return recovery, tp


def _stored(table: Any, partition: int) -> dict[bytes, bytes]:
    store = table.data
    if hasattr(store, "_db_for_partition"):  # RocksDB: the partition's own database
        return {k: v for k, v in store._db_for_partition(partition).items()
                if k != store.offset_key}
    return dict(store.data)


def test_an_active_partition_is_restored_and_its_recovery_ends(app: faust.App) -> None:
    table = _table(app, buffer_size=3)
    recovery, tp = _recovering(app, table, 1, last_offset=6)
    records = [(b"a", b"1"), (b"b", b"1"), (b"a", b"2"), (b"c", b"1"), (b"b", None),
               (b"d", b"1"), (b"c", b"2")]
    for offset, (key, value) in enumerate(records[:4]):
        assert restore_record(recovery, tp, _message(tp, offset, key, value))
    after_fetch(recovery)
    assert _stored(table, 1) == {b"a": b"2", b"b": b"1"}  # one full buffer of 3 applied
    assert recovery.in_recovery  # offsets 4-6 still to come
    assert not recovery.signal_recovery_end.is_set()
    for offset, (key, value) in enumerate(records[4:], start=4):
        assert restore_record(recovery, tp, _message(tp, offset, key, value))
    after_fetch(recovery)
    assert _stored(table, 1) == {b"a": b"2", b"c": b"2", b"d": b"1"}  # b deleted
    assert not recovery.in_recovery
    assert recovery.signal_recovery_end.is_set()
    assert recovery.active_offsets[tp] == 6


def test_a_record_at_or_below_the_offset_seen_is_not_applied_again(app: faust.App) -> None:
    table = _table(app)
    recovery, tp = _recovering(app, table, 0, last_offset=1)
    restore_record(recovery, tp, _message(tp, 0, b"a", b"old"))
    restore_record(recovery, tp, _message(tp, 1, b"a", b"new"))
    assert restore_record(recovery, tp, _message(tp, 0, b"a", b"old"))  # fetched again
    after_fetch(recovery)
    assert _stored(table, 0) == {b"a": b"new"}
    assert recovery.active_offsets[tp] == 1


def test_records_of_other_partitions_are_left_to_faust(app: faust.App) -> None:
    table = _table(app)
    recovery, _ = _recovering(app, table, 0, last_offset=5)
    other = TP(table.changelog_topic.get_topic_name(), 1)  # neither active nor standby
    assert not restore_record(recovery, other, _message(other, 0, b"a", b"1"))
    assert other not in recovery.active_offsets
    assert not any(recovery.buffers.values())


def test_a_standby_partition_follows_and_reports_ready(app: faust.App) -> None:
    table = _table(app, buffer_size=1)
    recovery, tp = _recovering(app, table, 0, last_offset=1, standby=True)
    table.standby_buffer_size = 1
    restore_record(recovery, tp, _message(tp, 0, b"a", b"1"))
    after_fetch(recovery)
    assert not app.tables.standbys_ready
    restore_record(recovery, tp, _message(tp, 1, b"b", b"1"))
    after_fetch(recovery)
    assert app.tables.standbys_ready
    assert recovery.standby_offsets[tp] == 1
    assert _stored(table, 0) == {b"a": b"1", b"b": b"1"}


class _Positions:
    """The consumer's read positions (what the Kafka client reports)."""

    def __init__(self, positions: dict[TP, int]) -> None:
        self.positions = positions

    async def position(self, tp: TP) -> int:
        if tp not in self.positions:
            raise RuntimeError("not assigned")  # aiokafka raises IllegalStateError
        return self.positions[tp]


def test_a_partition_read_past_its_highwater_ends_its_recovery(app: faust.App) -> None:
    """A changelog written with transactions ends in commit markers (or aborted records) that
    a read_committed consumer never returns: its position, not its last record, tells that
    the partition is read."""
    import asyncio

    table = _table(app)
    recovery, tp = _recovering(app, table, 0, last_offset=6)  # offset 6: a commit marker
    other = TP(tp.topic, 1)
    recovery.active_tps.add(other)
    recovery.tp_to_table[other] = table
    recovery.active_highwaters[other] = 3
    for offset in range(5):
        restore_record(recovery, tp, _message(tp, offset, b"a", str(offset).encode()))
    after_fetch(recovery)
    assert recovery.in_recovery
    positions = _Positions({tp: 6})  # offset 5 (a record, or a marker) not read yet
    assert not asyncio.run(settle_read_tails(positions, recovery))
    assert recovery.in_recovery
    positions.positions[tp] = 7  # read past the marker at 6
    assert asyncio.run(settle_read_tails(positions, recovery))  # tp settled ...
    assert recovery.active_offsets[tp] == 6
    assert recovery.in_recovery  # ... but the other partition has nothing read yet
    positions.positions[other] = 4  # nothing but aborted records and markers in it
    assert asyncio.run(settle_read_tails(positions, recovery))
    assert not recovery.in_recovery
    assert recovery.signal_recovery_end.is_set()
    assert _stored(table, 0) == {b"a": b"4"}  # the buffer was applied


def test_settling_skips_a_partition_the_consumer_no_longer_holds(app: faust.App) -> None:
    import asyncio

    table = _table(app)
    recovery, tp = _recovering(app, table, 0, last_offset=2)
    assert not asyncio.run(settle_read_tails(_Positions({}), recovery))
    assert recovery.in_recovery
    assert recovery.active_offsets.get(tp) is None or recovery.active_offsets[tp] < 2
