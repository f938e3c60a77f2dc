"""Where a running process's Python memory grows: with tracing on (``PYTHONTRACEMALLOC=N``
in the environment, N frames per allocation) and ``ALLOCATION_REPORT_SECONDS`` above 0, a
daemon thread logs every that many seconds the allocation sites that grew most since its
previous report. A diagnostic for memory growth (the soak); tracing costs CPU and memory, so
it is off unless both are set. (Not a signal: mode's worker takes SIGUSR1 for a stack dump
and SIGUSR2 for its debugger.)

The log lists code locations and sizes only, never values (no personal data).
"""

from __future__ import annotations

import logging
import threading
import tracemalloc

__all__ = ["AllocationReporter", "allocation_growth", "start_allocation_reports"]

log = logging.getLogger(__name__)


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


def _snapshot() -> tracemalloc.Snapshot:
    return tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)])


class AllocationReporter:
    """Takes a snapshot now; each ``report()`` logs the growth since the previous one."""

    def __init__(self, top: int = 25) -> None:
        self._top = top
        self._previous = _snapshot()
        log.info("python allocations: first snapshot taken (%.1f MiB traced)",
                 tracemalloc.get_traced_memory()[0] / 2**20)

    def report(self) -> str:
        snapshot = _snapshot()
        text = allocation_growth(self._previous, snapshot, self._top)
        self._previous = snapshot
        log.info("%s", text)
        return text


def start_allocation_reports(interval_seconds: float) -> threading.Thread | None:
    """Report every ``interval_seconds`` from a daemon thread, if tracemalloc is tracing and
    the interval is above 0; returns the thread (None when off)."""
    if interval_seconds <= 0 or not tracemalloc.is_tracing():
        return None
    reporter = AllocationReporter()
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(interval_seconds):
            if not tracemalloc.is_tracing():
                return
            reporter.report()

    thread = threading.Thread(target=run, name="allocation-reports", daemon=True)
    thread.start()
    return thread
