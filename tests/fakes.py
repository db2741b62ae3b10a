"""A tiny deterministic encoder for tests that do not depend on real semantics."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from index.manifest import (
    ANALYZER,
    BM25,
    FORMAT_VERSION,
    Counts,
    Manifest,
    ModelRecord,
    SourceRecord,
    VectorsRecord,
)
from index.text import analyze


class FakeEncoder:
    """Hashed bag of stems, unit length; records every text it is asked to encode."""

    def __init__(self, name: str = "fake", dimension: int = 32, max_tokens: int = 500) -> None:
        self.name = name
        self.fingerprint = hashlib.sha256(f"{name}/{dimension}".encode()).hexdigest()
        self.dtype = "float32"
        self.dimension = dimension
        self.max_tokens = max_tokens
        self.passages: list[str] = []
        self.queries: list[str] = []

    def count_tokens(self, text: str) -> int:
        """One token a whitespace-separated word."""
        return len(text.split())

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dimension, dtype=np.float32)
        for term in analyze(text) or [text]:
            h = int.from_bytes(hashlib.blake2b(term.encode(), digest_size=4).digest(), "little")
            v[h % self.dimension] += 1.0
        return v / (np.linalg.norm(v) or 1.0)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.queries.extend(texts)
        return np.stack([self._vector(t) for t in texts]) if texts else self._empty()

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.passages.extend(texts)
        return np.stack([self._vector(t) for t in texts]) if texts else self._empty()

    def _empty(self) -> np.ndarray:
        return np.zeros((0, self.dimension), dtype=np.float32)


def manifest_of(model: ModelRecord, cross_model: ModelRecord | None = None) -> Manifest:
    """A valid manifest of a build made by `model` (and `cross_model`), for checks only."""
    return Manifest(
        generation="g",
        built_at="2025-09-08T00:00:00+00:00",
        model=model,
        counts=Counts(articles=0, paragraphs=0, skipped=0),
        source=SourceRecord(path="seeds", fingerprint="0" * 64),
        vectors=VectorsRecord(kind="flat", count=0, passage="paragraph", title_weight=0.2),
        analyzer=ANALYZER,
        bm25=BM25,
        cross_model=cross_model,
        segments=[],
        reprints=False,
        format_version=FORMAT_VERSION,
    )


def fake_cli_context(settings: object) -> dict[str, object]:
    """The click context object that runs `manage.py` commands on `settings` with fake
    encoders (a FakeEncoder for the model, no cross-lingual model)."""
    return {
        "settings": settings,
        "load_encoder": lambda name, cache, dtype: FakeEncoder(name=name),
        "load_cross_encoder": lambda name: None,
    }
