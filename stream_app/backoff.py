"""Exponential backoff that a shutdown signal interrupts (the sink, the worker, the schema
registry calls)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["Backoff", "retry", "sleep_unless_stopped"]

T = TypeVar("T")


class Backoff:
    """Delays ``initial``, ``initial * 2``, ... capped at ``cap`` seconds; ``reset`` starts over."""

    def __init__(self, initial: float = 0.5, cap: float = 10.0) -> None:
        if not 0 < initial <= cap:
            raise ValueError("backoff needs 0 < initial <= cap")
        self.initial = initial
        self.cap = cap
        self._next = initial

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self.cap)
        return delay

    def reset(self) -> None:
        self._next = self.initial


async def sleep_unless_stopped(seconds: float, stop: asyncio.Event) -> bool:
    """Sleep ``seconds``, returning early when ``stop`` is set; True when stopped."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return stop.is_set()


async def retry(call: Callable[[], Awaitable[T]], *, retryable: Callable[[Exception], bool],
                on_retry: Callable[[Exception, float], None], backoff: Backoff) -> T:
    """``await call()`` until it returns; an exception ``retryable`` accepts is reported to
    ``on_retry`` with the delay before the next attempt, any other is raised."""
    while True:
        try:
            return await call()
        except Exception as exc:
            if not retryable(exc):
                raise
            delay = backoff.next_delay()
            on_retry(exc, delay)
            await asyncio.sleep(delay)
