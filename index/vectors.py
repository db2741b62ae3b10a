"""The dense leg: unit-length float32 vectors in FAISS, scored by inner product (= cosine).

Small indexes are searched exactly (IndexFlatIP); from HNSW_THRESHOLD vectors on, an HNSW
graph keeps a query in the low milliseconds. The threshold and the HNSW settings come
from bench/faiss_threshold.py (see the README's "Vector index" section for the figures).

The HNSW index keeps its vectors as float16 (IndexHNSWSQ, QT_fp16): half the memory and
disk (768 MB instead of 1.5 GB at a million 384-d vectors), the same recall (bench/scale
measured recall@10 0.981 against 0.978 with float32 at 1M), scores within about 1e-3 of
the exact cosine.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import faiss
import numpy as np

from core.errors import IndexCorrupt
from index.rows import best, distinct

HNSW_THRESHOLD = 100_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 100
HNSW_EF_SEARCH = 128


def build_vector_index(vectors: np.ndarray, hnsw_threshold: int = HNSW_THRESHOLD) -> faiss.Index:
    """An inner-product index over `vectors` (n x dim, unit length): exact or HNSW by size."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    if n < hnsw_threshold:
        index = faiss.IndexFlatIP(dim)
    else:
        fp16 = faiss.ScalarQuantizer.QT_fp16
        index = faiss.IndexHNSWSQ(dim, fp16, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    index.add(vectors)
    return index


@dataclass
class VectorIndex:
    """A FAISS index whose vector i is the store's paragraph row i."""

    index: faiss.Index

    @classmethod
    def build(cls, vectors: np.ndarray) -> VectorIndex:
        """Index the paragraph vectors, choosing exact or HNSW search by size."""
        return cls(build_vector_index(vectors))

    @property
    def size(self) -> int:
        """Number of vectors."""
        return int(self.index.ntotal)

    @property
    def dimension(self) -> int:
        """Length of each vector."""
        return int(self.index.d)

    @property
    def kind(self) -> str:
        """'flat' (exact) or 'hnsw' (approximate)."""
        return "hnsw" if isinstance(self.index, faiss.IndexHNSW) else "flat"

    @cached_property
    def matrix(self) -> np.ndarray:
        """A flat index's vectors as a (size x dimension) array: a view, no copy."""
        n, d = self.size, self.dimension
        if n == 0:
            return np.zeros((0, d), dtype=np.float32)
        return faiss.rev_swig_ptr(self.index.get_xb(), n * d).reshape(n, d)

    def search(
        self,
        query: np.ndarray,
        k: int,
        allowed: np.ndarray | None = None,
        live: np.ndarray | None = None,
    ) -> list[tuple[int, float]]:
        """Top-k (row, cosine) pairs for one unit-length query vector, best first.

        `allowed` (row numbers) or `live` (a bool a row: a segment's undeleted rows)
        restricts the search before the cut.
        """
        rows, scores = self.nearest(query, k, allowed, live)
        return list(zip(rows.tolist(), scores.tolist(), strict=True))

    def nearest(
        self,
        query: np.ndarray,
        k: int,
        allowed: np.ndarray | None = None,
        live: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """search() as arrays: the top-k rows (int64) and their float32 cosines, best first
        (ties by row when exact), for callers that merge many segments' answers."""
        if self.size == 0 or k <= 0 or (allowed is not None and len(allowed) == 0):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(-1)
        if self.kind == "flat":
            return self._exact(q, k, allowed, live)
        selector = None
        if allowed is not None:
            selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
        elif live is not None:
            bits = np.packbits(live, bitorder="little")
            selector = faiss.IDSelectorBitmap(len(live), faiss.swig_ptr(bits))
        params = None
        if selector is not None:
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=HNSW_EF_SEARCH)
        scores, rows = self.index.search(q.reshape(1, -1), min(k, self.size), params=params)
        found = rows[0] >= 0
        return rows[0][found].astype(np.int64), scores[0][found]

    def _exact(
        self, q: np.ndarray, k: int, allowed: np.ndarray | None, live: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact search of a flat index: every candidate scored (scored), the best k kept
        (best): ties at the cut and in the order go by row."""
        return best(*self.scored(q, allowed, live), k)

    def scored(
        self, query: np.ndarray, allowed: np.ndarray | None = None, live: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """A flat index's rows (int64, ascending; the `allowed` or `live` ones only) and
        their float32 cosines with the query, every one, uncut: for a caller that cuts the
        rows of many flat segments together (index/composite.py).

        Scored row by row (inner_products) rather than by the index's search: FAISS splits
        the rows among threads and SIMD blocks by the index's size, so one vector's score
        could differ in its last bit between indexes of different sizes, and a near tie
        change places. Scored row by row, each row scores alike wherever it is, so a
        segmented index scores exactly like one build."""
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(-1)
        scores = inner_products(self.matrix, q)  # every row: a view, no copy
        if allowed is not None:
            rows = distinct([np.asarray(allowed, dtype=np.int64)])
        elif live is not None:
            rows = np.flatnonzero(live)
        else:
            return np.arange(len(scores), dtype=np.int64), scores
        return rows, scores[rows]

    def save(self, path: Path) -> None:
        """Write the index to one file (FAISS's own binary format, no pickle)."""
        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path, mmap: bool = True) -> VectorIndex:
        """Read an index written by save(); a damaged file raises IndexCorrupt.

        With `mmap` (the default) the vectors and the HNSW graph are memory-mapped rather
        than read: a million-paragraph index (1.8 GB) opens in milliseconds instead of
        seconds, and its pages are shared page cache the kernel can drop, not process
        memory. A mapped index is read-only (FAISS aborts on an add), which a built index is.
        """
        try:
            index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC if mmap else 0)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable"
            raise IndexCorrupt(f"vector index {path} is unreadable: {first}") from exc
        if isinstance(index, faiss.IndexHNSW):
            index.hnsw.efSearch = HNSW_EF_SEARCH
        return cls(index)


def inner_products(matrix: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Each row of a C-contiguous float32 matrix times the query (float32), one row at a
    time by FAISS's SIMD dot product: a row's score depends on that row alone, not on how
    many rows are scored with it, and it is twice to three times numpy einsum's speed."""
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    query = np.ascontiguousarray(query, dtype=np.float32)
    out = np.empty(len(matrix), dtype=np.float32)
    if len(matrix):
        faiss.fvec_inner_products_ny(
            faiss.swig_ptr(out), faiss.swig_ptr(query), faiss.swig_ptr(matrix),
            matrix.shape[1], len(matrix),
        )  # fmt: skip
    return out
