"""Least-recently-used caches of vectors by text: query vectors in front of the micro-batcher.

News search has heavy head queries: the same few hundred strings make up much of the
traffic, and a query's encode is most of a hybrid request. A hit costs a dictionary lookup
instead of a model call. The cache is bounded by its entry count (384 float32 = 1.5 KB an
e5 vector, 2 KB a USE one: 4,096 entries are 6-8 MB) and is one per encoder per process.
The same cache keeps the sentence vectors that mark cross-script hits (search/sentences.py).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from encoders.batching import QueryBatcher

DEFAULT_ENTRIES = 4096


@dataclass(frozen=True)
class CacheStats:
    """A cache's counters: lookups answered from it, lookups that encoded, entries held."""

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


class VectorCache:
    """Thread-safe LRU of text -> vector, holding at most ``capacity`` entries (0: none).

    Stored vectors are read-only, so a caller that writes into one fails loudly instead of
    changing what later hits get.
    """

    def __init__(self, capacity: int = DEFAULT_ENTRIES) -> None:
        if capacity < 0:
            raise ValueError(f"a vector cache holds 0 or more entries, not {capacity}")
        self.capacity = capacity
        self._entries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    def get(self, text: str) -> np.ndarray | None:
        """The vector stored for ``text`` (now the most recent), or None; counts the lookup."""
        with self._lock:
            vector = self._entries.get(text)
            if vector is None:
                self._misses += 1
                return None
            self._entries.move_to_end(text)
            self._hits += 1
            return vector

    def put(self, text: str, vector: np.ndarray) -> np.ndarray:
        """Store a read-only copy of ``vector`` for ``text``, dropping the oldest beyond
        capacity; returns the stored array."""
        stored = np.array(vector, dtype=np.float32, copy=True)
        stored.setflags(write=False)
        if self.capacity == 0:
            return stored
        with self._lock:
            self._entries[text] = stored
            self._entries.move_to_end(text)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
        return stored

    def stats(self) -> CacheStats:
        """The counters now."""
        with self._lock:
            return CacheStats(self._hits, self._misses, len(self._entries), self.capacity)


class CachedQueries:
    """Single queries through the cache first, then the micro-batcher on a miss.

    Concurrent misses of the same text may both encode it: they are batched together anyway,
    and keeping a waiting list per text would cost more than the rare duplicate encode.
    """

    def __init__(
        self, encode_batch: Callable[[Sequence[str]], np.ndarray], capacity: int = DEFAULT_ENTRIES
    ) -> None:
        self.cache = VectorCache(capacity)
        self._encode_batch = encode_batch
        self._batcher = QueryBatcher(encode_batch)

    def encode_all(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dimension) vectors of `texts`: a single query through the cache and the
        micro-batcher (read-only rows: cached vectors are shared), several as one batch."""
        if len(texts) == 1:
            return self.encode(texts[0])[None, :]
        return self._encode_batch(texts)

    def encode(self, text: str) -> np.ndarray:
        """The vector of ``text``: cached, or encoded (batched with concurrent callers)."""
        vector = self.cache.get(text)
        if vector is None:
            vector = self.cache.put(text, self._batcher.encode(text))
        return vector
