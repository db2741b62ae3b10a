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
from pathlib import Path

import faiss
import numpy as np

from core.errors import IndexCorrupt

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

    def search(
        self,
        query: np.ndarray,
        k: int,
        allowed: np.ndarray | None = None,
        bitmap: np.ndarray | None = None,
    ) -> list[tuple[int, float]]:
        """Top-k (row, cosine) pairs for one unit-length query vector, best first.

        `allowed` (row numbers) or `bitmap` (rows as bits, numpy.packbits' little bit
        order: a segment's live rows) restricts the search inside FAISS, before the cut.
        """
        if self.size == 0 or k <= 0 or (allowed is not None and len(allowed) == 0):
            return []
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        params = None
        selector = None
        if allowed is not None:
            selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
        elif bitmap is not None:
            selector = faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))
        if selector is not None:
            params = (
                faiss.SearchParametersHNSW(sel=selector, efSearch=HNSW_EF_SEARCH)
                if self.kind == "hnsw"
                else faiss.SearchParameters(sel=selector)
            )
        scores, rows = self.index.search(q, min(k, self.size), params=params)
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]

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
