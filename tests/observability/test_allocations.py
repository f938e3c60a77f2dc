"""The allocation-growth reports (a memory-growth diagnostic, on with PYTHONTRACEMALLOC)."""

from __future__ import annotations

import logging
import time
import tracemalloc
from collections.abc import Iterator

import pytest

from stream_app.observability import (
    AllocationReporter,
    allocation_growth,
    start_allocation_reports,
)


@pytest.fixture
def tracing() -> Iterator[None]:
    tracemalloc.start(1)
    try:
        yield
    finally:
        tracemalloc.stop()


def _grow() -> list[bytes]:
    return [bytes(1000) + bytes([i % 256]) for i in range(3000)]  # ~3 MB at this line


def test_the_growth_names_the_line_that_allocated(tracing: None) -> None:
    before = tracemalloc.take_snapshot()
    kept = _grow()
    text = allocation_growth(before, tracemalloc.take_snapshot(), top=3)
    assert len(kept) == 3000
    first_site = text.splitlines()[1]
    assert "test_allocations.py" in first_site
    assert float(first_site.split()[0]) > 2500  # KiB


def test_each_report_covers_the_growth_since_the_previous_one(tracing: None) -> None:
    def total_mib(text: str) -> float:  # "python allocations +2.95 MiB since ..."
        return float(text.split()[2])

    reporter = AllocationReporter(top=3)
    kept = _grow()
    first = reporter.report()
    assert "test_allocations.py" in first.splitlines()[1]
    assert total_mib(first) > 2.5
    second = reporter.report()  # nothing kept in between
    assert len(kept) == 3000
    assert abs(total_mib(second)) < 0.5


def test_reports_are_logged_periodically(tracing: None,
                                         caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="stream_app.observability._allocations"):
        thread = start_allocation_reports(0.05)
        assert thread is not None
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and sum(
                "since the previous snapshot" in r.getMessage() for r in caplog.records) < 2:
            time.sleep(0.02)
    assert sum("since the previous snapshot" in r.getMessage() for r in caplog.records) >= 2


def test_off_without_tracing_or_without_an_interval(tracing: None) -> None:
    assert start_allocation_reports(0) is None
    tracemalloc.stop()
    assert start_allocation_reports(10) is None
