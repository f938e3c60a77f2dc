"""A fixed-window rate limiter per client, with bounded memory and an injectable clock."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    """At most ``max_requests`` per ``window`` seconds per client.

    A client's window opens with its first request and lasts ``window`` seconds; requests over
    the limit are refused (and not counted) until it closes. The limiter remembers at most
    ``max_clients`` clients, forgetting the least recently seen first.
    """

    def __init__(self, max_requests: int, window: float, *, clock: Callable[[], float],
                 max_clients: int = 10_000) -> None:
        self.max_requests = max_requests
        self.window = window
        self._clock = clock
        self._max_clients = max_clients
        self._windows: OrderedDict[str, list[float]] = OrderedDict()  # client -> [start, count]

    def hit(self, client: str) -> int | None:
        """Count a request: ``None`` when allowed, else the whole seconds to wait (>= 1)."""
        now = self._clock()
        entry = self._windows.get(client)
        if entry is None or now - entry[0] >= self.window:
            self._windows[client] = [now, 1]
            self._windows.move_to_end(client)
            while len(self._windows) > self._max_clients:
                self._windows.popitem(last=False)
            return None
        self._windows.move_to_end(client)
        if entry[1] < self.max_requests:
            entry[1] += 1
            return None
        return max(1, math.ceil(entry[0] + self.window - now))

    def __len__(self) -> int:
        return len(self._windows)
