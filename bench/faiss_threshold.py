"""Where exact FAISS search stops being fast enough: flat vs HNSW latency and recall.

Run: .venv/bin/python -m bench.faiss_threshold [--sizes 10000,30000,100000,200000]

Vectors are synthetic but clustered (points around 2,000 random centres, 384-d, unit
length), like sentence embeddings; i.i.d. noise would make HNSW look broken. Queries are
perturbed corpus points. Latency is the median of single-vector searches on one thread,
as one request is served.
"""

from __future__ import annotations

import argparse
import statistics
import time

import faiss
import numpy as np

from index.vectors import HNSW_EF_SEARCH, HNSW_M, build_vector_index

DIM = 384


def clustered(n: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    """n unit vectors scattered around random centres."""
    picks = centres[rng.integers(0, len(centres), n)]
    x = picks + 0.6 * rng.standard_normal((n, DIM)).astype(np.float32) / np.sqrt(DIM)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def median_ms(index: faiss.Index, queries: np.ndarray, k: int = 100) -> float:
    """Median latency of single-query searches, in milliseconds."""
    times = []
    for q in queries:
        t = time.perf_counter()
        index.search(q[None, :], k)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def recall_at_10(exact: faiss.Index, approx: faiss.Index, queries: np.ndarray) -> float:
    """Share of the exact top-10 that the approximate index also returns in its top 10."""
    _, truth = exact.search(queries, 10)
    _, found = approx.search(queries, 10)
    hits = sum(len(set(t) & set(f)) for t, f in zip(truth, found))
    return hits / truth.size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,30000,100000,200000")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    centres = rng.standard_normal((2000, DIM)).astype(np.float32)
    faiss.omp_set_num_threads(1)
    print(f"HNSW M={HNSW_M} efSearch={HNSW_EF_SEARCH}")
    print("| paragraphs | flat ms | HNSW ms | HNSW recall@10 | HNSW build s |")
    print("|---|---|---|---|---|")
    for n in (int(s) for s in args.sizes.split(",")):
        vectors = clustered(n, rng, centres)
        queries = vectors[rng.integers(0, n, 200)] + 0.01 * rng.standard_normal((200, DIM))
        queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
        flat = build_vector_index(vectors, hnsw_threshold=n + 1)
        faiss.omp_set_num_threads(2)
        t = time.perf_counter()
        hnsw = build_vector_index(vectors, hnsw_threshold=0)
        build_s = time.perf_counter() - t
        faiss.omp_set_num_threads(1)
        print(
            f"| {n:,} | {median_ms(flat, queries):.2f} | {median_ms(hnsw, queries):.2f} "
            f"| {recall_at_10(flat, hnsw, queries):.3f} | {build_s:.1f} |"
        )


if __name__ == "__main__":
    main()
