"""The input offsets this worker may commit: those of records whose batch has delivered its
outputs and its state (pure bookkeeping; the batch loop commits them).

The worker commits its input offsets itself instead of leaving it to faust's acknowledgement
tracking, whose gap filling and per-offset sets lost or stalled offsets across rebalances
(see docs/reliability.md). The rule is Kafka's own: a partition's committable offset is the
offset after the last record processed, and records are processed in partition order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["OffsetLedger"]


class OffsetLedger:
    """Processed-but-uncommitted offsets, per topic-partition, and how far each partition
    was processed since the ledger began (a new ledger per consumer generation)."""

    def __init__(self) -> None:
        self._pending: dict[Any, int] = {}
        self._next: dict[Any, int] = {}  # offset after the last record processed

    def __bool__(self) -> bool:
        return bool(self._pending)

    def processed(self, tp: Any, offset: int) -> None:
        """The record at ``offset`` of ``tp`` has been fully processed."""
        following = offset + 1
        if following > self._pending.get(tp, -1):
            self._pending[tp] = following
        if following > self._next.get(tp, -1):
            self._next[tp] = following

    def seen(self, tp: Any, offset: int) -> bool:
        """Whether the record at ``offset`` was processed already under this ledger: a
        re-delivery after a seek back, whose effects are in the state already (applying it
        again would count it twice once it is older than the de-duplication window)."""
        return offset < self._next.get(tp, -1)

    def pending(self) -> dict[Any, int]:
        """What to commit now: for each partition, the offset of the next record to read."""
        return dict(self._pending)

    def committed(self, offsets: Mapping[Any, int]) -> None:
        """These offsets were committed; partitions processed further stay pending."""
        for tp, offset in offsets.items():
            if self._pending.get(tp) == offset:
                del self._pending[tp]
