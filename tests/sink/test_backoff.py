"""Retry delays of the sink: exponential, capped, and cut short by a shutdown."""

from __future__ import annotations

import asyncio
import time

import pytest

from stream_app.sink import Backoff, sleep_unless_stopped


def test_delays_double_up_to_the_cap_and_reset() -> None:
    backoff = Backoff(initial=0.5, cap=10.0)
    assert [backoff.next_delay() for _ in range(7)] == [0.5, 1, 2, 4, 8, 10, 10]
    backoff.reset()
    assert backoff.next_delay() == 0.5
    with pytest.raises(ValueError, match="initial"):
        Backoff(initial=0, cap=1)


async def test_a_stop_signal_cuts_the_sleep_short() -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, stop.set)
    started = time.monotonic()
    assert await sleep_unless_stopped(30, stop) is True
    assert time.monotonic() - started < 5
    assert await sleep_unless_stopped(0.01, asyncio.Event()) is False
