"""A bounded LRU cache whose entries expire after a time to live (injectable clock)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["TtlCache"]

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """``ttl`` seconds per entry (0 disables the cache), at most ``max_entries`` entries: the
    least recently used goes first."""

    def __init__(self, ttl: float, *, clock: Callable[[], float],
                 max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self._clock = clock
        self._max_entries = max_entries
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()  # key -> (expires, value)

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if self._clock() >= expires:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        if self.ttl <= 0:
            return
        self._entries[key] = (self._clock() + self.ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
