"""Retry delays (the sink, the worker, the schema registry calls): exponential, capped, cut
short by a shutdown; and the retry loop they share."""

from __future__ import annotations

import asyncio
import time

import pytest

from stream_app.backoff import Backoff, sleep_unless_stopped


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


def test_retry_reports_each_retryable_failure_with_its_delay_then_returns() -> None:
    from stream_app.backoff import retry

    attempts: list[int] = []
    reported: list[tuple[str, float]] = []

    async def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError(f"down {len(attempts)}")
        return "up"

    result = asyncio.run(retry(flaky, retryable=lambda e: isinstance(e, ConnectionError),
                               on_retry=lambda e, d: reported.append((str(e), d)),
                               backoff=Backoff(initial=0.01, cap=0.015)))
    assert result == "up"
    assert reported == [("down 1", 0.01), ("down 2", 0.015)]


def test_retry_raises_what_is_not_retryable_at_once() -> None:
    from stream_app.backoff import retry

    reported: list[float] = []

    async def broken() -> None:
        raise ValueError("a deployment error")

    with pytest.raises(ValueError, match="deployment error"):
        asyncio.run(retry(broken, retryable=lambda e: isinstance(e, ConnectionError),
                          on_retry=lambda e, d: reported.append(d), backoff=Backoff()))
    assert reported == []
