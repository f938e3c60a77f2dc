"""Targeted fixes of faust-streaming 0.15.3 behaviour that breaks our guarantees.

Each fix is a small replacement of one faust method, applied once before the app starts,
documented here with the failure it prevents, and covered by an integration test. They are
checked against the installed faust version and refused on any other (re-verify on upgrade).

1. **Table recovery with ``exactly_once`` reads no changelog after a rebalance.** To find how
   far to read a changelog partition, faust asks aiokafka's ``last_stable_offset(tp)``, which
   is only known after that partition has been fetched; for a newly assigned partition it is
   ``None``/``-1``, so recovery decides there is nothing to read and the new owner continues
   with an empty state for every customer of that partition (found by
   ``tests/integration/test_crash_recovery.py``: after a SIGKILL, the survivor's features
   differed from replay; related upstream report: robinhood/faust#658). The fix asks the
   broker (``ListOffsets``): with the consumer's ``read_committed`` isolation the broker
   answers the last stable offset, which is what recovery must read up to.
2. **Stream partitions resume before the seek to their committed offsets.** At the end of a
   recovery (``Recovery._resume_streams`` when there was nothing to read,
   ``Recovery.on_recovery_completed`` after reading changelogs) faust resumes fetching the
   input partitions and only then seeks them to the committed offsets. Records fetched in
   between come from where the fetcher stood before the rebalance, past the records dropped
   when the rebalance began: they are processed first, and the dropped ones only after the
   seek, out of order (found in the worker logs of the same tests; the second path only
   later, by the at-least-once SIGKILL scenario). The fix seeks first, then resumes.

3. **Offset lookups wait behind a 1.5-second long poll.** faust builds its consumer with
   ``fetch_max_wait_ms=1500`` (hard-coded): a fetch that finds no new records is held by the
   broker for 1.5 s, and a broker answers the requests of one connection in order, so every
   ``ListOffsets`` the consumer sends meanwhile (a recovery's highwaters and earliest
   offsets) waits for it. That made an ``exactly_once`` restart spend
   about 4 s of its 5.4 s of recovery waiting (``tests/integration/test_crash_recovery.py``:
   ready 11.0 s after the restart with 1.5 s, 6.6 s with 100 ms). The fix sets the app's
   own value (``KAFKA_FETCH_MAX_WAIT_MS``, ``set_fetch_max_wait``) on the consumer faust
   creates, before it starts; records that arrive are returned at once either way.

4. **Every worker start waits one second for nothing.** ``TableManager.on_start`` sleeps 1 s
   before it subscribes the tables' changelogs and starts the recovery (room for tables
   that agents define as they start); the consumer subscribes, joins the group and restores
   only after it. The worker defines both of its tables before the app starts, so the fix
   starts at once: a worker that can join its group at once is ready about 1 s sooner (a
   restart after a SIGKILL gains nothing measurable: its join waits for the dead member's
   session to expire). The changelog subscription and the recovery are faust's own.

Two earlier fixes, of faust's acknowledgement and gap-filling bookkeeping of input offsets,
went with that bookkeeping: the worker takes its input records from faust's consumer and
commits their offsets itself (``_faust_hooks``, ``_offsets``).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["apply_faust_fixes", "set_fetch_max_wait", "verify_faust_version"]

log = logging.getLogger(__name__)
_VERIFIED_FAUST = "0.15.3"


async def _highwaters_from_broker(self: Any, partitions: list[Any]) -> Mapping[Any, int]:
    consumer = self._ensure_consumer()
    # end_offsets honours the consumer's isolation level: read_committed (exactly_once)
    # gives the last stable offset, read_uncommitted the log end offset
    offsets: Mapping[Any, int] = await consumer.end_offsets(partitions)
    return offsets


_originals: dict[str, Callable[..., Any]] = {}  # the faust methods we replace
_fetch_max_wait_ms: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()


def set_fetch_max_wait(app: Any, milliseconds: int) -> None:
    """The broker's longest hold of an empty fetch for ``app``'s worker consumer (fix 3);
    call it before the app creates its consumer."""
    _fetch_max_wait_ms[app] = milliseconds


def _create_worker_consumer(self: Any, transport: Any) -> Any:
    """faust's ``AIOKafkaConsumerThread._create_worker_consumer`` with the app's fetch wait
    (fix 3); faust's own value for an app that set none."""
    consumer = _originals["AIOKafkaConsumerThread._create_worker_consumer"](self, transport)
    wait = _fetch_max_wait_ms.get(self.app)
    if wait is not None:
        if not isinstance(getattr(consumer, "_fetch_max_wait_ms", None), int):
            raise RuntimeError("aiokafka's consumer no longer keeps _fetch_max_wait_ms: "
                               "re-check stream_app.worker._faust_fixes (fix 3)")
        consumer._fetch_max_wait_ms = wait  # read when the consumer starts its fetcher
    return consumer


async def _resume_streams_after_seek(self: Any, generation_id: int = 0) -> None:
    """faust's ``Recovery._resume_streams`` with the seek before the resume (fix 2)."""
    app = self.app
    consumer = app.consumer
    await app.on_rebalance_complete.send()
    assignment = consumer.assignment()
    if app.consumer_generation_id != generation_id:
        self.log.warning("Recovery rebalancing again")
        return
    if assignment:
        self.log.info("Seek stream partitions to committed offsets.")
        await self._wait(consumer.perform_seek(), timeout=app.conf.broker_request_timeout)
        consumer.resume_partitions({tp for tp in assignment if not self._is_changelog_tp(tp)})
    else:
        self.log.info("Resuming streams with empty assignment")
    self.completed.set()
    self.log.info("Resuming flow...")
    app.flow_control.resume()
    consumer.resume_flow()
    await app._fetcher.maybe_start()
    self.tables.on_actives_ready()
    self.tables.on_standbys_ready()
    app.on_rebalance_end()
    self.log.info("Worker ready")


async def _start_tables_at_once(self: Any) -> None:
    """faust's ``TableManager.on_start`` without its one-second sleep (fix 4)."""
    if not self.should_stop:
        await self._update_channels()
        await self.recovery.start()


def verify_faust_version() -> None:
    """Refuse a faust-streaming other than the one these replacements were checked on."""
    import faust

    if faust.__version__ != _VERIFIED_FAUST:
        raise RuntimeError(
            f"stream_app.worker's faust fixes and hooks were verified against faust-streaming "
            f"{_VERIFIED_FAUST}, found {faust.__version__}: re-check them")


async def _recovery_completed_after_seek(self: Any, generation_id: int = 0) -> None:
    """faust's ``Recovery.on_recovery_completed`` with the seek before the resume (fix 2)."""
    import asyncio

    app = self.app
    consumer = app.consumer
    self.log.info("Restore complete!")
    await app.on_rebalance_complete.send()
    self._set_recovery_ended()
    callbacks = [asyncio.ensure_future(table.on_recovery_completed(
        self.actives_for_table[table], self.standbys_for_table[table]))
        for table in self.tables.values()]
    if callbacks:
        await asyncio.wait(callbacks)
    assignment = consumer.assignment()
    if app.consumer_generation_id != generation_id:
        self.log.warning(f"Recovery rebalancing again app id {app.consumer_generation_id} "
                         f"param {generation_id}")
        return
    if assignment:
        self.log.info("Seek stream partitions to committed offsets.")
        await self._wait(consumer.perform_seek(), timeout=app.conf.broker_request_timeout)
    consumer.resume_partitions({tp for tp in assignment if not self._is_changelog_tp(tp)})
    self.completed.set()
    app.flow_control.resume()
    consumer.resume_flow()
    await app._fetcher.maybe_start()
    self.tables.on_actives_ready()
    if not app.assignor.assigned_standbys():
        self.tables.on_standbys_ready()
    app.on_rebalance_end()
    self.log.info("Worker ready")


def apply_faust_fixes() -> None:
    """Idempotent: replacing a method with itself again changes nothing."""
    from faust.transport.drivers import aiokafka as driver

    verify_faust_version()
    # a documented, version-checked replacement of one private method (see the docstring)
    setattr(driver.AIOKafkaConsumerThread, "_highwaters", _highwaters_from_broker)  # noqa: B010
    if "AIOKafkaConsumerThread._create_worker_consumer" not in _originals:  # fix 3
        _originals["AIOKafkaConsumerThread._create_worker_consumer"] = (
            driver.AIOKafkaConsumerThread._create_worker_consumer)
        setattr(driver.AIOKafkaConsumerThread,  # noqa: B010 - a documented replacement
                "_create_worker_consumer", _create_worker_consumer)
    from faust.tables.recovery import Recovery

    for name, replacement in (("_resume_streams", _resume_streams_after_seek),  # fix 2
                              ("on_recovery_completed", _recovery_completed_after_seek)):
        if f"Recovery.{name}" not in _originals:
            _originals[f"Recovery.{name}"] = getattr(Recovery, name)
            setattr(Recovery, name, replacement)
    from faust.tables.manager import TableManager

    if "TableManager.on_start" not in _originals:  # fix 4
        _originals["TableManager.on_start"] = TableManager.on_start
        setattr(TableManager, "on_start", _start_tables_at_once)  # noqa: B010 - documented
    log.debug("faust fixes applied")
