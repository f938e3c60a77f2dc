"""Table recovery without faust's per-record hand-off: changelog records go straight from the
consumer's fetch into faust's recovery buffers.

faust-streaming 0.15.3 hands every fetched changelog record to its conductor in a task of its
own (``Consumer._drain_messages`` → ``wait_first(callback, suspend_flow.wait())``), decodes it
into an event, queues it, and ``Recovery._slurp_changelogs`` takes it off the queue one at a
time, each under ``asyncio.wait_for`` (another task and a timer). A py-spy profile of a worker
recovering 1M customers put 59% of its time in that asyncio machinery
(``bench/results/recovery_profile.txt``).

``restore_record`` does what ``_slurp_changelogs`` does with one record of an active or
standby changelog partition: remember its offset (records at or below the offset already
seen are skipped, as faust does), append it to the table's recovery buffer and apply the
buffer to the store when it holds ``recovery_buffer_size`` records; synchronously, with no
task. ``after_fetch`` then does what faust does after each record, once per fetch: end the
active recovery when no active partition has records left (flush the buffers, mark the end,
wake ``Recovery``'s wait), and note when the standbys have caught up. Records of any other
partition take faust's path, and so does everything else of the recovery (highwaters, seeks,
pauses).

``settle_read_tails`` ends an active partition's recovery when the consumer has read past
its highwater although the last records it returned are below it: the tail of a changelog
written with transactions holds commit markers (and aborted records) that a read_committed
consumer never returns. faust notices that only after two consecutive 5-second timeouts of
its changelog queue (``detect_aborted_tx``), which added up to 10 s to every exactly_once
restart and takeover; the consumer's position tells at once.

The stores read only ``event.message`` (RocksDB: raw key and value, partition, offset) and
``event.key`` / ``event.value`` (memory store). The worker's tables are bytes to bytes with
the raw codec, so the decoded key and value are the message's own bytes.
"""

from __future__ import annotations

import logging
from time import monotonic
from typing import Any

__all__ = ["after_fetch", "restore_record", "settle_read_tails"]

log = logging.getLogger(__name__)


class _ChangelogEvent:
    """What a store's ``apply_changelog_batch`` reads of a faust event."""

    __slots__ = ("key", "message", "value")

    def __init__(self, message: Any) -> None:
        self.message = message
        self.key = message.key
        self.value = message.value


def restore_record(recovery: Any, tp: Any, message: Any) -> bool:
    """Apply one fetched changelog record as ``Recovery._slurp_changelogs`` would; False
    (nothing done) if ``tp`` is neither an active nor a standby changelog partition, for
    faust's own path."""
    if tp in recovery.active_tps:
        offsets = recovery.active_offsets
        table = recovery.tp_to_table[tp]
        size = table.recovery_buffer_size
        recovery._active_events_received_at[tp] = monotonic()
    elif tp in recovery.standby_tps:
        offsets = recovery.standby_offsets
        table = recovery.tp_to_table[tp]
        size = table.standby_buffer_size
        recovery._standby_events_received_at[tp] = monotonic()
    else:
        return False
    offset = message.offset
    seen = offsets.get(tp)
    if seen is None or offset > seen:
        offsets[tp] = offset
        buffer = recovery.buffers[table]
        buffer.append(_ChangelogEvent(message))
        if len(buffer) >= size:
            table.apply_changelog_batch(buffer)
            buffer.clear()
            recovery._last_flush_at = monotonic()
    return True


def after_fetch(recovery: Any) -> None:
    """After the records of one fetch: what faust checks after each record."""
    if recovery.in_recovery and not recovery.need_recovery():
        recovery.flush_buffers()  # apply anything still buffered
        recovery._set_recovery_ended()
        if recovery._actives_span is not None:
            recovery._actives_span.set_tag("Actives-Ready", True)
        log.debug("changelog restore: active recovery complete")
        recovery.signal_recovery_end.set()
    standby_ready = recovery._standbys_span is None and recovery.tables.standbys_ready
    if not standby_ready and not recovery.standby_remaining_total():
        if recovery._standbys_span:
            from faust.utils.tracing import finish_span

            finish_span(recovery._standbys_span)
            recovery._standbys_span = None
        recovery.tables.on_standbys_ready()


async def settle_read_tails(consumer: Any, recovery: Any) -> bool:
    """End the recovery of every active changelog partition the consumer has read past its
    highwater (its position is beyond it) though no record at the highwater came; call it
    after a fetch that brought no changelog records. True if one was settled."""
    if not recovery.in_recovery:
        return False
    offsets = recovery.active_offsets
    settled = False
    for tp, highwater in list(recovery.active_highwaters.items()):
        seen = offsets[tp]  # a Counter, as faust's own remaining-count reads it
        if highwater is None or seen is None or seen >= highwater:
            continue
        try:
            position = await consumer.position(tp)  # the next offset it will return
        except Exception as exc:  # e.g. no longer assigned (a rebalance): faust decides
            log.debug("changelog restore: no position for %s (%s)", tp, type(exc).__name__)
            continue
        if position is not None and position > highwater:
            log.debug("changelog restore: %s read to its highwater (transaction markers)", tp)
            offsets[tp] = highwater
            settled = True
    if settled:
        after_fetch(recovery)
    return settled
