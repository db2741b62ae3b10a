"""Embedding cache: passage vectors keyed by model fingerprint and a hash of the text.

Encoding is by far the slowest step of a reindex (tens of paragraphs a second on two
cores), so a reindex encodes only paragraphs whose text it has not seen with this model.
SQLite in WAL mode: a reindex killed mid-write leaves the cache as of its last commit.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    model TEXT NOT NULL, text_sha256 BLOB NOT NULL, vector BLOB NOT NULL,
    PRIMARY KEY (model, text_sha256)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS builds (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL, model TEXT NOT NULL, UNIQUE (path, model)
);
CREATE TABLE IF NOT EXISTS uses (
    build INTEGER NOT NULL, text_sha256 BLOB NOT NULL, PRIMARY KEY (build, text_sha256)
) WITHOUT ROWID;
"""
# `builds` and `uses` say which vectors each index build was made of (one row a build and
# model): `manage.py cache prune` keeps what a build still on disk uses (indexer/prune.py).
_LOOKUP_CHUNK = 500  # stays under SQLite's limit of bound parameters


def text_key(text: str) -> bytes:
    """The cache key of a passage text."""
    return hashlib.sha256(text.encode("utf-8")).digest()


class EmbeddingCache:
    """Vectors of one model (by fingerprint), stored as raw float32 bytes."""

    def __init__(self, path: Path, model_fingerprint: str, dimension: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self.model = model_fingerprint
        self.dimension = dimension

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def get(self, keys: Sequence[bytes]) -> Iterator[tuple[bytes, np.ndarray]]:
        """(key, vector) for each of the keys that has a cached vector, streamed: a million
        vectors are 1.5 GB, so the caller copies each where it belongs rather than collect."""
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                "SELECT text_sha256, vector FROM embeddings "
                f"WHERE model = ? AND text_sha256 IN ({marks})",
                (self.model, *chunk),
            )
            for key, blob in rows:
                vector = np.frombuffer(blob, dtype=np.float32)
                if vector.size == self.dimension:  # anything else is not ours: re-encode
                    yield key, vector

    def record_use(self, build: Path, keys: Iterable[bytes]) -> None:
        """Note that `build` (an index build folder) is made of these keys' vectors."""
        with self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO builds (path, model) VALUES (?, ?)",
                (str(build.absolute()), self.model),
            )
            (build_id,) = self._db.execute(
                "SELECT id FROM builds WHERE path = ? AND model = ?",
                (str(build.absolute()), self.model),
            ).fetchone()
            self._db.executemany(
                "INSERT OR IGNORE INTO uses (build, text_sha256) VALUES (?, ?)",
                ((build_id, key) for key in keys),
            )

    def put(self, items: Iterable[tuple[bytes, np.ndarray]]) -> None:
        """Store vectors (one transaction, so a crash keeps all of them or none)."""
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO embeddings (model, text_sha256, vector) VALUES (?, ?, ?)",
                ((self.model, key, np.asarray(v, dtype=np.float32).tobytes()) for key, v in items),
            )
