"""The query vector cache: LRU order, bounds, counters, threads, and /api/stats."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from encoders.query_cache import CachedQueries, VectorCache
from search.service import Searcher
from tests.corpora import build_searcher
from tests.fakes import FakeEncoder
from web import create_app


def vec(x: float) -> np.ndarray:
    return np.full(4, x, dtype=np.float32)


def test_least_recently_used_entries_go_first() -> None:
    cache = VectorCache(2)
    cache.put("a", vec(1))
    cache.put("b", vec(2))
    assert cache.get("a") is not None  # "a" is now the most recent
    cache.put("c", vec(3))  # so "b" goes
    assert cache.get("b") is None
    assert cache.get("a")[0] == 1 and cache.get("c")[0] == 3
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.size, stats.capacity) == (3, 1, 2, 2)


def test_stored_vectors_are_read_only_copies() -> None:
    cache = VectorCache(4)
    original = vec(1)
    stored = cache.put("a", original)
    original[:] = 9  # the caller's array is not the cached one
    assert cache.get("a")[0] == 1
    with pytest.raises(ValueError):
        stored[0] = 5


def test_a_zero_capacity_cache_holds_nothing() -> None:
    cache = VectorCache(0)
    assert cache.put("a", vec(1))[0] == 1
    assert cache.get("a") is None
    assert cache.stats().size == 0
    with pytest.raises(ValueError):
        VectorCache(-1)


class Counting:
    """An encode_batch that records what it was asked to encode."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.lock = threading.Lock()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        with self.lock:
            self.calls.append(list(texts))
        return np.stack([vec(len(t)) for t in texts])


def test_only_misses_reach_the_encoder() -> None:
    encode = Counting()
    queries = CachedQueries(encode, capacity=8)
    for text in ["a", "bb", "a", "a", "bb", "ccc"]:
        assert queries.encode(text)[0] == len(text)
    assert [t for call in encode.calls for t in call] == ["a", "bb", "ccc"]
    assert (queries.cache.stats().hits, queries.cache.stats().misses) == (3, 3)


def test_concurrent_callers_get_their_own_vectors_and_stay_bounded() -> None:
    encode = Counting()
    queries = CachedQueries(encode, capacity=16)
    texts = [f"q{'x' * (i % 40)}" for i in range(400)]
    errors: list[str] = []

    def client(offset: int) -> None:
        for i in range(200):
            text = texts[(i * 7 + offset) % len(texts)]
            if queries.encode(text)[0] != len(text):
                errors.append(text)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = queries.cache.stats()
    assert errors == []
    assert stats.hits + stats.misses == 8 * 200 and stats.size <= 16


class CachedFake(FakeEncoder):
    """The fake encoder with a real query cache in front, as the real encoders have."""

    def __init__(self) -> None:
        super().__init__()
        self._queries = CachedQueries(lambda texts: FakeEncoder.encode_queries(self, texts), 4)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._queries.encode(texts[0])[None, :]

    def query_cache_stats(self):
        return self._queries.cache.stats()


def test_stats_report_the_query_cache(tmp_path: Path) -> None:
    built = build_searcher(tmp_path)
    encoder = CachedFake()
    client = create_app(searcher=Searcher(built.index_dir, encoder)).test_client()
    assert client.get("/api/stats").json["query_cache"] == {
        "hits": 0,
        "misses": 0,
        "size": 0,
        "capacity": 4,
    }
    for q in ["порт", "порт", "Чанкай", "порт"]:
        answer = client.get("/api/search", query_string={"q": q, "mode": "semantic"})
        assert answer.status_code == 200
    stats = client.get("/api/stats").json["query_cache"]
    assert stats == {"hits": 2, "misses": 2, "size": 2, "capacity": 4}
    assert encoder.queries == ["порт", "Чанкай"]  # the repeats never reached the model
