"""A segmented build seen as one index: its segments' stores, vector indexes and title
vectors answer over global paragraph rows (index/segments.py), with deleted paragraphs
and articles left out, so that search/ reads a build of many segments as it reads one.

Each leg runs over every segment and the answers are merged: the vector legs by score,
ties by global row, the order a single build gives; the lexical leg is index/lexical.py's
LexicalIndex over every segment's postings with the global statistics.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import faiss
import numpy as np

from core.errors import REINDEX_HINT, IndexCorrupt
from core.records import Article, Paragraph
from index.rows import best, distinct
from index.segments import Placement
from index.store import Store
from index.titles import Titles
from index.vectors import VectorIndex


@dataclass(frozen=True)
class RowMap:
    """Where every global row lives: its segment and its row there."""

    segment: np.ndarray  # int32 a global row
    local: np.ndarray  # int64 a global row
    placements: list[Placement]

    @classmethod
    def of(cls, placements: list[Placement], where: object, size: int | None = None) -> RowMap:
        """The map of segments' placements, whose live rows must number 0..N-1 once each;
        IndexCorrupt (naming `where`) otherwise. With `size` (N) the segments are a shard of
        the index (index/shard.py) and hold some of its rows, each once."""
        size = sum(p.live for p in placements) if size is None else size
        segment = np.full(size, -1, dtype=np.int32)
        local = np.zeros(size, dtype=np.int64)
        for i, placement in enumerate(placements):
            live = np.flatnonzero(placement.rows >= 0)
            rows = placement.rows[live]
            bad = rows.size and (
                int(rows.max()) >= size
                or np.any(segment[rows] != -1)
                or distinct([rows]).size != rows.size
            )
            if bad:
                raise IndexCorrupt(f"segments of {where} number their rows wrong; {REINDEX_HINT}")
            segment[rows], local[rows] = i, live
        return cls(segment, local, placements)

    @property
    def size(self) -> int:
        """Live paragraphs (of the whole index, when these segments are a shard of it)."""
        return len(self.segment)

    def own(self, rows: Iterable[int]) -> np.ndarray:
        """Those of `rows` (global rows) that these segments hold."""
        rows = np.fromiter(rows, dtype=np.int64)
        rows = rows[(rows >= 0) & (rows < self.size)]
        return rows[self.segment[rows] >= 0]

    def split(self, rows: Iterable[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Global rows grouped by segment: {segment: (global rows, local rows)}."""
        rows = np.fromiter(rows, dtype=np.int64)
        if rows.size and (rows.min() < 0 or rows.max() >= self.size):
            raise IndexCorrupt(f"row {int(rows.max())} past the index's {self.size} paragraphs")
        owners = self.segment[rows]
        return {
            int(s): (rows[owners == s], self.local[rows[owners == s]]) for s in distinct([owners])
        }


@dataclass
class SegmentedStore:
    """The segments' stores as one: paragraphs by global row, live articles by id."""

    stores: list[Store]
    rows: RowMap

    @cached_property
    def _owner(self) -> dict[str, int]:
        """Each live article's segment (read on first use: one scan of the article ids)."""
        owner = {}
        for i, (store, placement) in enumerate(zip(self.stores, self.rows.placements)):
            ids = store.article_ids()
            if len(ids) != len(placement.articles):
                raise IndexCorrupt(
                    f"paragraph store {store.path} holds {len(ids)} articles, its deletes "
                    f"file {len(placement.articles)}; {REINDEX_HINT}"
                )
            owner.update((a, i) for a, live in zip(ids, placement.articles) if live)
        return owner

    def count(self, table: str) -> int:
        """Live rows in 'articles' or 'paragraphs'."""
        if table == "paragraphs":
            return self.rows.size
        if table == "articles":
            return sum(int(p.articles.sum()) for p in self.rows.placements)
        raise ValueError(table)

    def rows_matching(
        self,
        date_from: str | None = None,
        date_to: str | None = None,
        outlet: str | None = None,
        rubric: str | None = None,
    ) -> list[int]:
        """Global rows of live paragraphs that pass the filters (Store.rows_matching)."""
        found = []
        for store, placement in zip(self.stores, self.rows.placements):
            local = store.rows_matching(date_from, date_to, outlet, rubric)
            rows = placement.rows[np.asarray(local, dtype=np.int64)]
            found.append(rows[rows >= 0])
        return distinct(found).tolist()

    def rows_between(self, date_from: str | None, date_to: str | None) -> list[int]:
        """Global rows of live paragraphs of articles dated within [date_from, date_to]."""
        return self.rows_matching(date_from, date_to)

    def paragraphs(self, rows: Sequence[int]) -> dict[int, Paragraph]:
        """Paragraphs by global row; every row must exist."""
        found: dict[int, Paragraph] = {}
        for segment, (glob, local) in self.rows.split(rows).items():
            texts = self.stores[segment].paragraphs(local.tolist())
            found.update(zip(glob.tolist(), map(texts.__getitem__, local.tolist())))
        return found

    def article(
        self, article_id: str, paragraphs: Sequence[Paragraph] | None = None
    ) -> Article | None:
        """A live article with its body rebuilt from its paragraphs, or None."""
        segment = self._owner.get(article_id)
        if segment is None:
            return None
        return self.stores[segment].article(article_id, paragraphs)

    def articles(self, article_ids: Iterable[str]) -> dict[str, Article]:
        """Live articles' metadata (body left empty) by id; every id must be live."""
        by_segment: dict[int, list[str]] = {}
        for article_id in set(article_ids):
            segment = self._owner.get(article_id)
            if segment is None:
                raise IndexCorrupt(f"paragraphs of article {article_id!r} outlive it")
            by_segment.setdefault(segment, []).append(article_id)
        found: dict[str, Article] = {}
        for segment, ids in by_segment.items():
            found.update(self.stores[segment].articles(ids))
        return found

    def reprint_groups(self, article_ids: Iterable[str]) -> dict[str, str]:
        """The reprint group (canonical article id) of each live one of `article_ids` that
        has one (Store.reprint_groups)."""
        by_segment: dict[int, list[str]] = {}
        for article_id in set(article_ids):
            segment = self._owner.get(article_id)
            if segment is not None:
                by_segment.setdefault(segment, []).append(article_id)
        found: dict[str, str] = {}
        for segment, ids in by_segment.items():
            found.update(self.stores[segment].reprint_groups(ids))
        return found

    def reprint_members(self, groups: Iterable[str]) -> dict[str, list[Article]]:
        """Each reprint group's live articles in every segment, oldest first."""
        wanted = list(set(groups))
        members: dict[str, list[Article]] = {}
        for segment, store in enumerate(self.stores):
            for group, articles in store.reprint_members(wanted).items():
                live = [a for a in articles if self._owner.get(a.id) == segment]
                members.setdefault(group, []).extend(live)
        return oldest_first(members)

    def holds(self, article_id: str) -> bool:
        """Whether `article_id` is a live article of these segments."""
        return article_id in self._owner

    def article_paragraphs(self, article_id: str) -> list[Paragraph]:
        """A live article's paragraphs in order ([] for an unknown id)."""
        segment = self._owner.get(article_id)
        return [] if segment is None else self.stores[segment].article_paragraphs(article_id)

    def close(self) -> None:
        """Release every store's file."""
        for store in self.stores:
            store.close()


@dataclass
class SegmentedVectors:
    """One model's vector indexes, a segment each, searched as one over global rows."""

    parts: list[VectorIndex]
    rows: RowMap
    _masks: dict[int, np.ndarray | None] = field(default_factory=dict, repr=False)

    @property
    def size(self) -> int:
        """Live vectors."""
        return self.rows.size

    @property
    def dimension(self) -> int:
        """Length of each vector."""
        return self.parts[0].dimension if self.parts else 0

    @property
    def kind(self) -> str:
        """'hnsw' when any segment's index is approximate, else 'flat' (exact)."""
        return "hnsw" if any(p.kind == "hnsw" for p in self.parts) else "flat"

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (global row, cosine) pairs, best first, ties by row, among the live (and
        `allowed`) rows of every segment: an approximate segment's own top k, and every
        row of the exact (flat) ones, cut once together. Small segments, the new ones, are
        flat: cutting each to its own top k before the merge cost more than scoring them."""
        rows, scores = [], []
        local_allowed = None if allowed is None else self.rows.split(allowed)
        for i, (part, placement) in enumerate(zip(self.parts, self.rows.placements)):
            local = None
            if local_allowed is not None:
                local = local_allowed.get(i, (None, np.zeros(0, dtype=np.int64)))[1]
                if local.size == 0:
                    continue
            live = self._live(i, placement) if local is None else None
            if part.kind == "flat":
                found, cosines = part.scored(query, local, live)
            else:
                found, cosines = part.nearest(query, k, local, live)
            rows.append(np.asarray(placement.rows)[found])
            scores.append(cosines)
        if not rows:
            return []
        merged, cosines = best(np.concatenate(rows), np.concatenate(scores), k)
        return list(zip(merged.tolist(), cosines.tolist(), strict=True))

    def _live(self, i: int, placement: Placement) -> np.ndarray | None:
        """The segment's live rows as a mask (None: all live), made once."""
        if i not in self._masks:
            live = placement.rows >= 0
            self._masks[i] = None if live.all() else live
        return self._masks[i]

    def check(self, dimension: int, where: object) -> None:
        """Every segment's vectors of `dimension`, scored by inner product."""
        for part in self.parts:
            metric = part.index.metric_type
            if part.dimension != dimension or metric != faiss.METRIC_INNER_PRODUCT:
                raise IndexCorrupt(
                    f"vector index in {where} holds {part.dimension}-d vectors with metric "
                    f"{metric}, not {dimension}-d inner product; {REINDEX_HINT}"
                )


@dataclass(frozen=True)
class SegmentedTitles:
    """One model's title vectors, a segment each, by global paragraph row."""

    parts: list[Titles]
    rows: RowMap

    def similarities(self, docs: Sequence[int], query: np.ndarray) -> dict[int, float]:
        """Cosine of each doc's article title with the (unit) query vector."""
        found: dict[int, float] = {}
        for segment, (glob, local) in self.rows.split(docs).items():
            found.update(zip(glob.tolist(), self.parts[segment].scores(local, query).tolist()))
        return {int(doc): found[int(doc)] for doc in docs}


def oldest_first(members: dict[str, list[Article]]) -> dict[str, list[Article]]:
    """Reprint groups with their articles oldest first (undated last, ties by id); groups
    left without an article dropped."""
    for articles in members.values():
        articles.sort(key=lambda a: (a.date is None, a.date or "", a.id))
    return {group: articles for group, articles in members.items() if articles}
