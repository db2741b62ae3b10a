"""Recall@10 of the dense leg against exact search, measured on the bench's queries."""

from __future__ import annotations

import faiss
import numpy as np

from bench.scale.corpus import Query
from index.vectors import VectorIndex

CHUNK = 100_000


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int = 10) -> np.ndarray:
    """Rows of the k largest inner products of each query, by brute force in chunks
    (the vectors may be memory-mapped; no full copy is made)."""
    best_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_i = np.full((len(queries), k), -1, dtype=np.int64)
    for start in range(0, len(vectors), CHUNK):
        chunk = np.ascontiguousarray(vectors[start : start + CHUNK])
        s, i = faiss.knn(queries, chunk, min(k, len(chunk)), metric=faiss.METRIC_INNER_PRODUCT)
        all_s = np.hstack([best_s, s])
        all_i = np.hstack([best_i, i + start])
        top = np.argsort(-all_s, axis=1, kind="stable")[:, :k]
        best_s = np.take_along_axis(all_s, top, axis=1)
        best_i = np.take_along_axis(all_i, top, axis=1)
    return best_i


def recall_at_10(index: VectorIndex, vectors: np.ndarray, queries: list[Query]) -> float:
    """Share of the exact top 10 that the index's own search also returns in its top 10."""
    matrix = np.stack([q.vector for q in queries]).astype(np.float32)
    truth = exact_top(vectors, matrix)
    hits = 0
    for q, exact in zip(matrix, truth):
        found = {row for row, _ in index.search(q, 10)}
        hits += len(found & set(exact.tolist()))
    return round(hits / truth.size, 4)
