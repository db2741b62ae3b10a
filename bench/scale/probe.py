"""Load an index in a fresh process and time searches through the Searcher the API uses.

Run by bench.scale: python -m bench.scale.probe INDEX_DIR QUERIES.npz [--repeat 3]
Prints one JSON object. Query encoding is left out: the Searcher gets an encoder that
returns precomputed vectors (the bench's synthetic query vectors), so the dense leg and
the fused search are timed without the model. A fresh process makes the load time and
the resident memory those of a server starting on this index (the model aside).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from bench.scale.memory import status
from encoders import encoder as _encoder  # noqa: F401  (OMP_WAIT_POLICY=PASSIVE, as a server)
from index.manifest import Manifest, ModelRecord
from index.swap import current_build
from index.text import analyze
from search.contract import SearchRequest
from search.service import Searcher

WARMUP = 20
DEPTH = 100  # candidates a leg fetches for a first page (search.service.MIN_DEPTH)


class PrecomputedEncoder:
    """An Encoder whose query vectors are looked up, not computed (passages: refused)."""

    def __init__(self, model: ModelRecord, vectors: dict[str, np.ndarray]) -> None:
        self.name = model.name
        self.fingerprint = model.fingerprint
        self.dtype = model.dtype
        self.dimension = model.dimension
        self.max_tokens = 510
        self.vectors = vectors

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self.vectors[t] for t in texts])

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError("the probe never indexes")


def percentiles(ms: list[float]) -> dict[str, float]:
    """Median and 95th percentile, in milliseconds."""
    return {
        "p50": round(statistics.median(ms), 2),
        "p95": round(statistics.quantiles(ms, n=20)[-1], 2),
    }


def timings(run: Callable[[int], object], count: int, repeat: int) -> list[float]:
    """Milliseconds of run(i) for i in range(count), `repeat` times over."""
    out = []
    for _ in range(repeat):
        for i in range(count):
            started = time.perf_counter()
            run(i)
            out.append((time.perf_counter() - started) * 1000)
    return out


def probe(index_dir: Path, texts: list[str], vectors: np.ndarray, repeat: int) -> dict:
    """Load time, first-search time, latencies per mode and per leg, resident memory."""
    model = Manifest.read(current_build(index_dir)).model
    encoder = PrecomputedEncoder(model, dict(zip(texts, vectors)))
    started = time.perf_counter()
    searcher = Searcher(index_dir, encoder)
    index = searcher.current()
    load_s = time.perf_counter() - started
    after_load = status()
    started = time.perf_counter()
    searcher.search(SearchRequest(q=texts[0]))
    first_ms = (time.perf_counter() - started) * 1000
    for i in range(min(WARMUP, len(texts))):
        searcher.search(SearchRequest(q=texts[i], mode="hybrid"))
    n = len(texts)
    terms = [analyze(t) for t in texts]
    latency = {
        "bm25_leg": timings(lambda i: index.lexical.search(terms[i], DEPTH), n, repeat),
        "dense_leg": timings(lambda i: index.vectors.search(vectors[i], DEPTH), n, repeat),
    }
    for mode in ("bm25", "semantic", "hybrid"):
        latency[mode] = timings(
            lambda i, m=mode: searcher.search(SearchRequest(q=texts[i], mode=m)), n, repeat
        )
    return {
        "load_s": round(load_s, 3),
        "first_search_ms": round(first_ms, 1),
        "latency_ms": {k: percentiles(v) for k, v in latency.items()},
        "searches_per_mode": n * repeat,
        "memory_after_load_mb": {k: round(v) for k, v in after_load.items()},
        "memory_mb": {k: round(v) for k, v in status().items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("queries", type=Path, help=".npz with `texts` and `vectors`")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    data = np.load(args.queries)
    texts = [str(t) for t in data["texts"]]
    result = probe(args.index_dir, texts, data["vectors"].astype(np.float32), args.repeat)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
