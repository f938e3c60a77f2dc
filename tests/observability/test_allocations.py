"""SIGUSR2 logs where Python memory grew, when tracemalloc traces (a growth diagnostic)."""

from __future__ import annotations

import logging
import os
import signal
import tracemalloc
from collections.abc import Iterator

import pytest

from stream_app.observability import allocation_growth, install_allocation_dump


@pytest.fixture
def tracing() -> Iterator[None]:
    previous = signal.getsignal(signal.SIGUSR2)
    tracemalloc.start(1)
    try:
        yield
    finally:
        tracemalloc.stop()
        signal.signal(signal.SIGUSR2, previous)


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


def test_sigusr2_logs_the_growth_between_two_signals(
        tracing: None, caplog: pytest.LogCaptureFixture) -> None:
    assert install_allocation_dump()
    with caplog.at_level(logging.INFO, logger="stream_app.observability._allocations"):
        os.kill(os.getpid(), signal.SIGUSR2)
        kept = _grow()
        os.kill(os.getpid(), signal.SIGUSR2)
    messages = [r.getMessage() for r in caplog.records]
    assert len(kept) == 3000
    assert "first snapshot taken" in messages[0]
    assert "test_allocations.py" in messages[1].splitlines()[1]


def test_nothing_is_installed_without_tracing() -> None:
    assert not tracemalloc.is_tracing()
    assert not install_allocation_dump()
