"""Where a running process's Python memory grows: with tracing on (``PYTHONTRACEMALLOC=N``
in the environment, N frames per allocation), SIGUSR2 logs the allocation sites that grew
most since the previous SIGUSR2 (or since the start). A diagnostic for memory growth (the
soak); tracing costs CPU and memory, so it is off unless that variable is set.

The log lists code locations and sizes only, never values (no personal data).
"""

from __future__ import annotations

import logging
import signal
import tracemalloc
from types import FrameType

__all__ = ["allocation_growth", "install_allocation_dump"]

log = logging.getLogger(__name__)

_previous: list[tracemalloc.Snapshot] = []


def allocation_growth(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot,
                      top: int = 25) -> str:
    """The ``top`` allocation sites (file:line) by growth from ``before`` to ``after``."""
    stats = after.compare_to(before, "lineno")
    total = sum(stat.size_diff for stat in stats)
    lines = [f"python allocations {total / 2**20:+.2f} MiB since the previous snapshot; "
             f"top {top} sites by growth:"]
    for stat in stats[:top]:
        frame = stat.traceback[0]
        lines.append(f"  {stat.size_diff / 2**10:+10.1f} KiB {stat.count_diff:+8d} blocks "
                     f"{frame.filename}:{frame.lineno}")
    return "\n".join(lines)


def _dump(signum: int, frame: FrameType | None) -> None:
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)])
    if _previous:
        log.info("%s", allocation_growth(_previous[-1], snapshot))
    else:
        log.info("python allocations: first snapshot taken (%.1f MiB traced); the next "
                 "SIGUSR2 logs the growth since", tracemalloc.get_traced_memory()[0] / 2**20)
    _previous[:] = [snapshot]


def install_allocation_dump() -> bool:
    """Install the SIGUSR2 handler if tracemalloc is tracing; returns whether it did."""
    if not tracemalloc.is_tracing():
        return False
    signal.signal(signal.SIGUSR2, _dump)
    return True
