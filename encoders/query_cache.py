"""Least-recently-used caches of vectors by text: query vectors in front of the micro-batcher.

News search has heavy head queries: the same few hundred strings make up much of the
traffic, and a query's encode is most of a hybrid request. A hit costs a dictionary lookup
instead of a model call. The cache is bounded by its entry count (384 float32 = 1.5 KB an
e5 vector, 2 KB a USE one: 4,096 entries are 6-8 MB) and is one per encoder per process.
The same cache keeps the sentence vectors that mark cross-script hits (search/sentences.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from core.lru import LRU
from encoders.batching import QueryBatcher

DEFAULT_ENTRIES = 4096


class VectorCache(LRU[str, np.ndarray]):
    """LRU of text -> vector (core/lru.py), holding at most ``capacity`` entries (0: none).

    Stored vectors are read-only copies, so a caller that writes into one fails loudly
    instead of changing what later hits get.
    """

    def __init__(self, capacity: int = DEFAULT_ENTRIES) -> None:
        super().__init__(capacity)

    def put(self, key: str, value: np.ndarray) -> np.ndarray:
        """Store a read-only float32 copy of ``value`` for ``key``; returns the stored array."""
        stored = np.array(value, dtype=np.float32, copy=True)
        stored.setflags(write=False)
        return super().put(key, stored)


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
