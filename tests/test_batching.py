"""QueryBatcher: concurrent single queries share encoder calls; results and errors reach
the right callers."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from encoders.batching import QueryBatcher


class GatedEncoder:
    """Encodes a text as [len(text), 1]; the first call waits until `release` is set, so
    callers that arrive meanwhile queue up behind it."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.batches: list[list[str]] = []
        self.started = threading.Event()
        self.release = threading.Event()
        self.fail_on = fail_on

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.batches.append(list(texts))
        if len(self.batches) == 1:
            self.started.set()
            assert self.release.wait(10)
        if self.fail_on in texts:
            raise ValueError(f"cannot encode {self.fail_on}")
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)


def wait_queued(batcher: QueryBatcher, n: int) -> None:
    """Block until `n` requests wait in the batcher's queue."""
    for _ in range(1000):
        with batcher._queue_lock:
            if len(batcher._queue) >= n:
                return
        threading.Event().wait(0.005)
    raise AssertionError(f"{n} requests never queued")


def test_a_lone_query_is_encoded_at_once_in_a_batch_of_one() -> None:
    encoder = GatedEncoder()
    encoder.release.set()
    batcher = QueryBatcher(encoder)
    assert batcher.encode("abc").tolist() == [3.0, 1.0]
    assert batcher.encode("de").tolist() == [2.0, 1.0]
    assert encoder.batches == [["abc"], ["de"]]


def test_queries_arriving_during_an_encode_share_the_next_call() -> None:
    encoder = GatedEncoder()
    batcher = QueryBatcher(encoder, max_batch=16)
    texts = ["first", *("x" * n for n in range(1, 8))]
    with ThreadPoolExecutor(len(texts)) as pool:
        first = pool.submit(batcher.encode, texts[0])
        assert encoder.started.wait(10)
        rest = [pool.submit(batcher.encode, t) for t in texts[1:]]
        wait_queued(batcher, len(rest))
        encoder.release.set()
        results = [first.result(10), *(f.result(10) for f in rest)]
    assert encoder.batches[0] == ["first"]
    assert sorted(encoder.batches[1]) == sorted(texts[1:])  # one call for all seven
    assert len(encoder.batches) == 2
    for text, vector in zip(texts, results, strict=True):
        assert vector.tolist() == [len(text), 1.0]  # each caller got its own row


def test_a_batch_never_exceeds_its_cap() -> None:
    encoder = GatedEncoder()
    batcher = QueryBatcher(encoder, max_batch=3)
    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(batcher.encode, "first")
        assert encoder.started.wait(10)
        rest = [pool.submit(batcher.encode, "y" * n) for n in range(1, 8)]
        wait_queued(batcher, 7)
        encoder.release.set()
        assert [f.result(10).tolist()[0] for f in rest] == list(range(1, 8))
        first.result(10)
    assert [len(b) for b in encoder.batches] == [1, 3, 3, 1]


def test_an_error_reaches_every_caller_of_its_batch_and_no_other() -> None:
    encoder = GatedEncoder(fail_on="bad")
    batcher = QueryBatcher(encoder, max_batch=2)
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(batcher.encode, "first")
        assert encoder.started.wait(10)
        bad = pool.submit(batcher.encode, "bad")
        wait_queued(batcher, 1)
        neighbour = pool.submit(batcher.encode, "ok")
        wait_queued(batcher, 2)
        later = pool.submit(batcher.encode, "later")
        wait_queued(batcher, 3)
        encoder.release.set()
        assert first.result(10).tolist() == [5.0, 1.0]
        for future in (bad, neighbour):  # "ok" shared the failing call
            with pytest.raises(ValueError, match="cannot encode bad"):
                future.result(10)
        assert later.result(10).tolist() == [5.0, 1.0]
    assert encoder.batches == [["first"], ["bad", "ok"], ["later"]]
