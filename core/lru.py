"""A bounded, thread-safe least-recently-used cache that counts its hits and misses.

The serving caches are all this one kind: query vectors and sentence vectors
(encoders/query_cache.py) and whole answers (search/service.py). Each is bounded by its
entry count, set by an environment variable (core/config.py), and reports its counters
in `/api/stats`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True)
class CacheStats:
    """A cache's counters: lookups answered from it, lookups that were not, entries held."""

    hits: int
    misses: int
    size: int
    capacity: int

    @classmethod
    def total(cls, counts: Sequence[CacheStats]) -> CacheStats:
        """Several caches' counters summed (none: all zero)."""
        return cls(
            hits=sum(c.hits for c in counts),
            misses=sum(c.misses for c in counts),
            size=sum(c.size for c in counts),
            capacity=sum(c.capacity for c in counts),
        )


class LRU(Generic[K, V]):
    """At most ``capacity`` entries (0: none is kept, lookups still count), the least
    recently used dropped first."""

    def __init__(self, capacity: int) -> None:
        if capacity < 0:
            raise ValueError(f"a cache holds 0 or more entries, not {capacity}")
        self.capacity = capacity
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    def get(self, key: K) -> V | None:
        """The value stored for ``key`` (now the most recent), or None; counts the lookup."""
        with self._lock:
            value = self._entries.get(key)
            if value is None:
                self._misses += 1
                return None
            self._entries.move_to_end(key)
            self._hits += 1
            return value

    def put(self, key: K, value: V) -> V:
        """Store ``value`` for ``key``, dropping the oldest beyond capacity; returns it."""
        if self.capacity == 0:
            return value
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
        return value

    def stats(self) -> CacheStats:
        """The counters now."""
        with self._lock:
            return CacheStats(self._hits, self._misses, len(self._entries), self.capacity)
