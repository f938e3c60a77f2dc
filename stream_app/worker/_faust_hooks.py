"""Where the worker plugs into faust-streaming 0.15.3: two documented, version-checked
replacements of private faust methods (like ``_faust_fixes``), each a no-op for an app that
registered nothing.

1. **Intake.** ``Consumer._drain_messages`` (the loop that hands every fetched record to
   faust's conductor) puts the records of an app's *intake topics* into its
   :class:`~stream_app.worker._intake.Intake` and goes on; the records of the tables'
   active and standby changelog partitions go straight into faust's recovery buffers
   (``_changelog_restore``) instead of a task and a queue hand-off each; any other record
   takes faust's path unchanged. Records come from :func:`~stream_app.worker._fetch.fetch`,
   faust's ``getmany`` without its silent loss of the records it does not deliver (which
   once made a takeover restore nothing). faust never tracks or acknowledges intake
   records, so it never commits their offsets: the worker commits them itself
   (``_offsets``). Everything else of faust's consumer is kept: the group and its
   co-partitioned assignment, the seek to the committed offsets after every rebalance, the
   read offsets that drop records fetched before a seek, flow control and pausing.
2. **Quiesce.** ``App._on_partitions_revoked`` and ``App._stop_consumer`` first await the
   app's *quiesce hook*: the batch loop finishes the batch in progress and commits what it
   processed, before faust revokes the tables' partitions (a batch still running then would
   write to a revoked partition's store) or leaves the group. faust's own wait for in-flight
   work (``wait_empty``) only knows records it tracks, which intake records are not.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, cast

from ._changelog_restore import after_fetch, restore_record, settle_read_tails
from ._faust_fixes import verify_faust_version
from ._fetch import fetch
from ._intake import Intake

__all__ = ["Quiesce", "install_hooks", "set_intake", "set_quiesce_hook"]

log = logging.getLogger(__name__)

Quiesce = Callable[[str], Awaitable[None]]  # called with "revoke" or "stop"

_intakes: weakref.WeakKeyDictionary[Any, Intake] = weakref.WeakKeyDictionary()
_quiesce: weakref.WeakKeyDictionary[Any, Quiesce] = weakref.WeakKeyDictionary()
_originals: dict[str, Callable[..., Any]] = {}


def set_intake(app: Any, intake: Intake) -> None:
    _intakes[app] = intake


def set_quiesce_hook(app: Any, hook: Quiesce) -> None:
    _quiesce[app] = hook


async def _drain_into_intake(self: Any, fetcher: Any) -> None:
    """faust's ``Consumer._drain_messages`` with intake records put aside (hook 1)."""
    intake = _intakes.get(self.app)
    if intake is None:
        await _originals["Consumer._drain_messages"](self, fetcher)
        return
    from faust.transport.consumer import CONSUMER_FETCHING

    consumer_should_stop = self._stopped.is_set
    fetcher_should_stop = fetcher._stopped.is_set
    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            self.diag.set_flag(CONSUMER_FETCHING)
            records = fetch(self, timeout=1.0)  # faust's getmany, losing nothing
            await self.sleep(0)  # the fetch may not release the loop (as faust does)
            if not self.should_stop:
                await _drain_fetched(self, records, intake)
            self.diag.unset_flag(CONSUMER_FETCHING)
    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            log.info("Broker stopped consumer, shutting down...")
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            return
        raise
    except Exception as exc:
        log.exception("Drain messages raised: %r", exc)
        raise
    finally:
        self.diag.unset_flag(CONSUMER_FETCHING)


async def _drain_fetched(self: Any, records: Any, intake: Intake) -> None:
    """One fetch: intake records into the intake, the tables' changelog records into their
    recovery buffers (``_changelog_restore``), any others down faust's path."""
    get_read_offset = self._read_offset.__getitem__
    set_read_offset = self._read_offset.__setitem__
    intake_topics = intake.topics
    put = intake.put
    recovery = self.app.tables.recovery
    restored = False
    since_yield = 0
    async for tp, message in records:
        offset = message.offset
        read_offset = get_read_offset(tp)
        if read_offset is not None and offset < read_offset:
            continue  # fetched before a seek back (faust drops these too)
        if tp.topic not in intake_topics:
            if restore_record(recovery, tp, message):
                restored = True
                set_read_offset(tp, offset)
            else:
                await _faust_path(self, tp, message, read_offset)
            continue
        put(message)
        set_read_offset(tp, offset)
        if intake.full:
            await self.wait_first(intake.wait_room(), self.suspend_flow.wait())
        since_yield += 1
        if since_yield >= 1000:  # let the batch loop and the sidecar run
            since_yield = 0
            await self.sleep(0)
    if restored:
        after_fetch(recovery)
    elif recovery.in_recovery:  # nothing restored: perhaps only transaction markers are left
        await settle_read_tails(self, recovery)


async def _faust_path(self: Any, tp: Any, message: Any, read_offset: int | None) -> None:
    """What faust's drain loop does with a record of any other topic (a changelog's)."""
    offset = message.offset
    if read_offset and offset - read_offset > 1 and self.app.topics.acks_enabled_for(
            message.topic):
        await self._add_gap(tp, read_offset + 1, offset)
    if self._commit_every is not None and self._n_acked >= self._commit_every:
        self._n_acked = 0
        await self.commit()
    await self.wait_first(self.callback(message), self.suspend_flow.wait())
    self._read_offset[tp] = offset


async def _quiesce_then_revoke(self: Any, revoked: Any) -> None:
    """faust's ``App._on_partitions_revoked`` after the app's quiesce hook (hook 2)."""
    hook = _quiesce.get(self)
    if hook is not None and not self.should_stop:
        await _run_hook(hook, "revoke")
    await _originals["App._on_partitions_revoked"](self, revoked)


async def _quiesce_then_stop_consumer(self: Any) -> None:
    """faust's ``App._stop_consumer`` after the app's quiesce hook (hook 2)."""
    hook = _quiesce.get(self)
    if hook is not None:
        await _run_hook(hook, "stop")
    await _originals["App._stop_consumer"](self)


async def _run_hook(hook: Quiesce, reason: str) -> None:
    try:
        await hook(reason)
    except Exception:  # a failed commit: the records are read again, never lost
        log.exception("quiescing the batch loop before %s failed", reason)


def install_hooks() -> None:
    """Idempotent. Must run before the app creates its consumer (which binds
    ``App._on_partitions_revoked`` as its rebalance callback)."""
    verify_faust_version()
    from faust.app.base import App
    from faust.transport.consumer import Consumer

    replacements: list[tuple[Any, str, Callable[..., Any]]] = [
        (Consumer, "_drain_messages", _drain_into_intake),
        (App, "_on_partitions_revoked", _quiesce_then_revoke),
        (App, "_stop_consumer", _quiesce_then_stop_consumer),
    ]
    for owner, name, replacement in replacements:
        key = f"{cast(type, owner).__name__}.{name}"
        if key not in _originals:
            _originals[key] = getattr(owner, name)
            setattr(owner, name, replacement)
    log.debug("faust hooks installed")
