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
2. **Unprocessed records are acknowledged, then committed.** A stream acknowledges every
   record it *skips*: those it takes from its queue while flow control is suspended (a
   shutdown or a rebalance in progress) or that were fetched in an earlier consumer
   generation. On a graceful stop faust then commits them in its final commit; a record that
   never reached our agent was committed as done (found by the SIGTERM case of
   ``tests/integration/test_crash_recovery.py``: one event lost now and then). Likewise
   ``take_events`` acknowledges a whole batch in a ``finally``, even one we refused to
   process. The fix lets an app register an *ack guard*: an acknowledgement of a record the
   guard refuses still releases it (nothing waits for it) but does not make its offset
   committable, so it is consumed again after the seek to the committed offset that follows
   every rebalance, or by the next owner.
3. **False gaps and repeated offsets.** faust fills offsets it never saw into the
   committable set when the fetcher's read offset jumps (meant for compacted topics and
   transaction markers). Around the seeks of a rebalance (see fix 4) the read offset jumps
   back and forth: the "gaps" then spanned records never processed and repeated offsets
   already acknowledged, and a repeat ends the run of consecutive offsets a commit may take,
   so commits crawled at one offset per commit interval (found by the consumer-lag check of
   ``tests/integration/test_crash_recovery.py``; upstream: robinhood/faust#559, #625). The
   fix, for the topics of a commit policy: no gap filling, and acknowledged offsets are
   de-duplicated before each commit. (faust still passes over a single missing offset at the
   head of the acknowledged ones, which transaction markers need.)
4. **Stream partitions resume before the seek to their committed offsets.** At the end of a
   recovery faust resumes fetching the input partitions and only then seeks them to the
   committed offsets; records fetched in between are processed, then read again after the
   seek, while records still in flight from before the seek arrive after it: the source of
   the false gaps of fix 3 and of records skipped between the two (found in the worker logs
   of the same tests). The fix seeks first, then resumes.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from faust.types.tuples import ack_lock
from mode.utils.futures import notify

__all__ = ["CommitPolicy", "apply_faust_fixes", "set_commit_policy", "verify_faust_version"]

log = logging.getLogger(__name__)
_VERIFIED_FAUST = "0.15.3"


async def _highwaters_from_broker(self: Any, partitions: list[Any]) -> Mapping[Any, int]:
    consumer = self._ensure_consumer()
    # end_offsets honours the consumer's isolation level: read_committed (exactly_once)
    # gives the last stable offset, read_uncommitted the log end offset
    offsets: Mapping[Any, int] = await consumer.end_offsets(partitions)
    return offsets


@dataclass(frozen=True, slots=True)
class CommitPolicy:
    """What an app may commit: records of ``topics`` only once ``committable(message)``."""

    topics: frozenset[str]
    committable: Callable[[Any], bool]


_policies: weakref.WeakKeyDictionary[Any, CommitPolicy] = weakref.WeakKeyDictionary()
_originals: dict[str, Callable[..., Any]] = {}  # the faust methods we wrap
def set_commit_policy(app: Any, policy: CommitPolicy) -> None:
    """Applies fixes 2 and 3 to ``app``'s consumer for the policy's topics."""
    _policies[app] = policy


def _guarded_ack(self: Any, message: Any) -> bool:
    policy = _policies.get(self.app)
    if policy is None or message.topic not in policy.topics:
        result: bool = _originals["Consumer.ack"](self, message)
        return result
    if policy.committable(message):
        result = _originals["Consumer.ack"](self, message)
        return result
    with ack_lock:  # released, so wait_empty() does not wait for it; offset not committable
        message.acked = True
        self._unacked_messages.discard(message)
        notify(self._waiting_for_ack)
    log.debug("record %s[%d]@%d released unprocessed: not committable", message.topic,
              message.partition, message.offset)
    return False


async def _add_gap_unless_policy(self: Any, tp: Any, offset_from: int, offset_to: int) -> None:
    policy = _policies.get(self.app)
    if policy is not None and tp.topic in policy.topics:
        return
    await _originals["Consumer._add_gap"](self, tp, offset_from, offset_to)


def _new_offset_deduplicated(self: Any, tp: Any) -> int | None:
    policy = _policies.get(self.app)
    if policy is not None and tp.topic in policy.topics:
        acked = self._acked[tp]
        if len(acked) > 1:
            acked[:] = sorted(set(acked))
    result: int | None = _originals["Consumer._new_offset"](self, tp)
    return result


async def _resume_streams_after_seek(self: Any, generation_id: int = 0) -> None:
    """faust's ``Recovery._resume_streams`` with the seek before the resume (fix 4)."""
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


def verify_faust_version() -> None:
    """Refuse a faust-streaming other than the one these replacements were checked on."""
    import faust

    if faust.__version__ != _VERIFIED_FAUST:
        raise RuntimeError(
            f"stream_app.worker's faust fixes and hooks were verified against faust-streaming "
            f"{_VERIFIED_FAUST}, found {faust.__version__}: re-check them")


def apply_faust_fixes() -> None:
    """Idempotent: replacing a method with itself again changes nothing."""
    from faust.transport.drivers import aiokafka as driver

    verify_faust_version()
    # a documented, version-checked replacement of one private method (see the docstring)
    setattr(driver.AIOKafkaConsumerThread, "_highwaters", _highwaters_from_broker)  # noqa: B010
    from faust.transport.consumer import Consumer

    replacements = {"ack": _guarded_ack,  # fix 2
                    "_add_gap": _add_gap_unless_policy,  # fix 3
                    "_new_offset": _new_offset_deduplicated}  # fix 3
    for name, replacement in replacements.items():
        if f"Consumer.{name}" not in _originals:
            _originals[f"Consumer.{name}"] = getattr(Consumer, name)
            setattr(Consumer, name, replacement)
    from faust.tables.recovery import Recovery

    if "Recovery._resume_streams" not in _originals:  # fix 4
        _originals["Recovery._resume_streams"] = Recovery._resume_streams
        setattr(Recovery, "_resume_streams", _resume_streams_after_seek)  # noqa: B010
    log.debug("faust fixes applied")
