"""Article title vectors, kept beside the paragraph vectors so that a search can ask how
well each candidate paragraph's article title answers the query (the title boost,
search/fusion.py `semantic`).

A build holds one title matrix per model (`titles.npy`, `titles-cross.npy`: a unit
vector per article, zero for an article without a title, float16) and one map from
paragraph row to article row (`title_rows.npy`, int32). Plain .npy files, read
memory-mapped and without pickle; checked against each other at load.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import REINDEX_HINT, IndexCorrupt
from core.records import Article, Paragraph

TITLE_ROWS_NAME = "title_rows.npy"
TITLES_NAME = "titles.npy"
CROSS_TITLES_NAME = "titles-cross.npy"


def article_rows(paragraphs: Sequence[Paragraph], articles: Sequence[Article]) -> np.ndarray:
    """Each paragraph's article's position in `articles`."""
    row = {a.id: i for i, a in enumerate(articles)}
    return np.fromiter((row[p.article_id] for p in paragraphs), np.int32, len(paragraphs))


def save_titles(
    build: Path, rows: np.ndarray, vectors: np.ndarray, cross: np.ndarray | None
) -> None:
    """Write the paragraph-to-article map and each model's title vectors into `build`."""
    np.save(build / TITLE_ROWS_NAME, rows.astype(np.int32), allow_pickle=False)
    np.save(build / TITLES_NAME, vectors.astype(np.float16), allow_pickle=False)
    if cross is not None:
        np.save(build / CROSS_TITLES_NAME, cross.astype(np.float16), allow_pickle=False)


@dataclass(frozen=True)
class Titles:
    """One model's title vectors and the map from paragraph row to article row."""

    rows: np.ndarray
    vectors: np.ndarray

    def similarities(self, docs: Sequence[int], query: np.ndarray) -> dict[int, float]:
        """Cosine of each doc's article title with the (unit) query vector."""
        if not docs:
            return {}
        return dict(zip(docs, self.scores(np.asarray(docs, dtype=np.int64), query).tolist()))

    def scores(self, docs: np.ndarray, query: np.ndarray) -> np.ndarray:
        """similarities() as an array (float32), in the order of `docs` (int64)."""
        matrix = self.vectors[self.rows[docs]].astype(np.float32)
        # einsum, not BLAS: each row's sum the same however many rows are asked together,
        # so a build of many segments gives the very similarities of one build.
        return np.einsum("ij,j->i", matrix, np.asarray(query, dtype=np.float32))


def load_titles(
    build: Path, paragraphs: int, articles: int, dimensions: Sequence[int]
) -> list[Titles]:
    """Each model's Titles (`dimensions` in the order primary, cross), checked: a map of
    `paragraphs` article rows below `articles`, a matrix of `articles` rows a model."""
    names = [TITLES_NAME, CROSS_TITLES_NAME][: len(dimensions)]
    try:
        # plain arrays over the mappings (no memmap subclass: a Python cost on every slice)
        rows = np.asarray(np.load(build / TITLE_ROWS_NAME, mmap_mode="r", allow_pickle=False))
        matrices = [
            np.asarray(np.load(build / n, mmap_mode="r", allow_pickle=False)) for n in names
        ]
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(
            f"title vectors in {build} are missing or unreadable ({exc}); {REINDEX_HINT}"
        ) from exc
    ok = (
        rows.ndim == 1
        and rows.dtype == np.int32
        and len(rows) == paragraphs
        and (rows.size == 0 or (int(rows.min()) >= 0 and int(rows.max()) < articles))
        and all(
            m.ndim == 2 and m.dtype == np.float16 and m.shape == (articles, d)
            for m, d in zip(matrices, dimensions, strict=True)
        )
    )
    if not ok:
        raise IndexCorrupt(
            f"title vectors in {build} do not fit {paragraphs} paragraphs of {articles} "
            f"articles with {list(dimensions)}-d models; {REINDEX_HINT}"
        )
    return [Titles(rows, m) for m in matrices]
