"""The drain loop's fetch: faust's ``Consumer.getmany`` without its silent loss of records.

faust-streaming 0.15.3 fetches in two steps. The consumer thread takes records out of
aiokafka's fetch buffers (``Fetcher.fetched_records``), which moves each partition's position
past them; the main loop then yields them one by one, and drops, without a word, those of a
partition no longer in its live set of active partitions, every record once the generation
changes, and the whole batch when flow is stopped. A dropped record is never read again
unless something seeks its partition back. Two ways this lost changelog records, both in
one fetch that spans a rebalance:

- faust passes its *live* set of active partitions to the thread, and aiokafka reads an
  empty set as "every partition". While a new generation's recovery is being set up every
  partition is paused (the set is empty): a fetch still waiting from the previous
  generation wakes on the first changelog records read after the recovery's seek and takes
  all of them, and the main loop drops them (flow stopped). The recovery then finds the
  consumer's position past its highwater and ends with nothing restored: the new owner of
  those partitions went on from an empty state (the "takeover restores nothing" failure of
  ``docs/reliability.md``; faust's own path ends the same way after its 10 s
  ``detect_aborted_tx`` wait).
- a changelog partition active when the fetch began and paused when its records come back
  (another rebalance during a recovery) loses them the same way.

:func:`fetch` does what faust's ``getmany`` does, with two changes. The thread gets a
*snapshot* of the active partitions (never empty: with none, nothing is fetched), so it
takes only records of partitions that were active when the fetch began. And a partition
whose records are not delivered is **rewound**: the thread seeks it back to its first
undelivered record, unless its position moved since the fetch took them (a seek, such as
the recovery's own, or a new assignment): then the newer position stands. Once one record
of a partition is held back, so are all its later ones in the batch (no gaps).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka.errors import ConsumerStoppedError

__all__ = ["Mark", "Rewinds", "fetch", "fetch_in_thread", "rewind_in_thread"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Mark:
    """Where a partition stood in aiokafka's assignment right after a fetch took records."""

    assignment: Any  # aiokafka's Assignment object (a new one at every rebalance)
    position: int | None


@dataclass(slots=True)
class Rewinds:
    """Which records of one fetch were held back: the first held-back offset of each
    partition, and every later record of a held-back partition is held back too."""

    first_held: dict[Any, int] = field(default_factory=dict)

    def admit(self, tp: Any, offset: int, deliverable: bool) -> bool:
        """True if the record at ``offset`` of ``tp`` is delivered."""
        if tp in self.first_held:
            return False
        if deliverable:
            return True
        self.first_held[tp] = offset
        return False


def _assignment(consumer: Any) -> Any:
    subscription = consumer._subscription.subscription
    return None if subscription is None else subscription.assignment


async def fetch_in_thread(consumer: Any, partitions: frozenset[Any], timeout: float,
                          max_records: int | None,
                          ) -> tuple[Mapping[Any, list[Any]], dict[Any, Mark]]:
    """In the consumer thread: faust's ``AIOKafkaConsumerThread._fetch_records`` for a
    snapshot of the active partitions, and where each partition that gave records stands
    right after (taken with no await in between)."""
    if not partitions:
        return {}, {}
    fetcher = consumer._fetcher
    if consumer._closed or fetcher._closed:
        raise ConsumerStoppedError()
    with fetcher._subscriptions.fetch_context():
        records = await fetcher.fetched_records(partitions, timeout=timeout,
                                                max_records=max_records)
    assignment = _assignment(consumer)
    marks = {}
    if assignment is not None:
        for tp in records:
            state = assignment.state_value(tp)
            valid = state is not None and state.has_valid_position
            marks[tp] = Mark(assignment, state.position if valid else None)
    return records, marks


async def rewind_in_thread(consumer: Any, first_held: Mapping[Any, int],
                           marks: Mapping[Any, Mark]) -> list[Any]:
    """In the consumer thread (no await: nothing moves a position meanwhile): seek each
    partition back to its first held-back offset if it still stands where the fetch left
    it; the partitions rewound."""
    assignment = _assignment(consumer)
    rewound = []
    for tp, offset in first_held.items():
        mark = marks.get(tp)
        if mark is None or assignment is None or mark.assignment is not assignment:
            continue  # reassigned since: the new assignment's position stands
        state = assignment.state_value(tp)
        if state is None or not state.has_valid_position or state.position != mark.position:
            continue  # sought since (e.g. a recovery's seek): that position stands
        consumer.seek(tp, offset)
        rewound.append(tp)
    return rewound


async def fetch(self: Any, timeout: float) -> AsyncIterator[tuple[Any, Any]]:
    """faust's ``Consumer.getmany`` (``self`` is faust's consumer) that loses nothing: the
    records it does not deliver are fetched again."""
    if not self.flow_active:
        await self.wait(self.can_resume_flow)
    active = frozenset(self._get_active_partitions())
    if not active:
        await self.sleep(1)  # as faust: nothing to fetch, still release the loop
        return
    thread = self._thread
    aiokafka_consumer = thread._ensure_consumer()
    records, marks = await thread.call_thread(
        fetch_in_thread, aiokafka_consumer, active, timeout, aiokafka_consumer._max_poll_records)
    if not records or self.should_stop:
        return
    track_end_offset = self.app.monitor.track_tp_end_offset
    for tp in records:  # once per partition and fetch (faust: at every record)
        track_end_offset(tp, self.highwater(tp))
    generation_id = self.app.consumer_generation_id
    live = self._active_partitions  # faust's live set: it changes as we go
    buffered = self._buffered_partitions
    to_message = self._to_message
    rewinds = Rewinds()
    flow_was_active = self.flow_active
    try:
        for tp, record in self.scheduler.iterate(records):
            deliverable = (self.flow_active
                           and self.app.consumer_generation_id == generation_id
                           and (live is None or tp in live or tp in buffered))
            if rewinds.admit(tp, record.offset, deliverable):
                yield tp, to_message(tp, record)
    finally:
        if rewinds.first_held:
            rewound = await thread.call_thread(rewind_in_thread, aiokafka_consumer,
                                               dict(rewinds.first_held), marks)
            log.debug("fetch: %d partitions held back, %d rewound to their first "
                      "undelivered record", len(rewinds.first_held), len(rewound))
        if not flow_was_active:
            await _seek_to_committed(self)


async def _seek_to_committed(self: Any) -> None:
    """What faust's ``getmany`` does when it finds flow stopped."""
    try:
        await self.perform_seek()
    except Exception as exc:
        log.warning("exception performing seek when flow not active %r", exc)
