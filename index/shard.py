"""The shard side of a sharded index: what one shard of a build answers for the front
that searches all of them (index/sharded.py), here or on a Ray Serve replica.

A shard is the segments of a build that the build's manifest assigns to it (`reindex
--shards N`, docs/segments.md). Its rows are the build's global rows and its BM25 scores
use the whole build's statistics (index/format.py `load_build(build, shard)`), so the
front, merging the shards' answers as a segmented index merges its segments' answers,
gets exactly what one process over the whole build gets. Every answer is plain data
(numbers, strings, arrays, records) so that it travels between processes.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.records import Article, Paragraph
from index.format import LoadedIndex, load_build
from index.swap import current_build

# The methods of ShardIndex a front may call (ShardHost.call refuses any other name).
METHODS = frozenset(
    {
        "lexicon", "lexical_top", "lexical_scores", "holders", "holding", "script_totals",
        "dense", "vector_search", "paragraphs", "articles", "rows_matching",
        "reprint_groups", "reprint_members", "article_paragraphs", "article",
    }
)  # fmt: skip


class ShardIndex:
    """One shard of one build, opened and checked: the coarse questions a front asks it,
    one round trip each, answered over the shard's rows only."""

    def __init__(self, build: Path, shard: int) -> None:
        self.build = build
        self.shard = shard
        self.index: LoadedIndex = load_build(build, shard)

    def lexicon(self, terms: Sequence[str]) -> tuple[dict[str, list[str]], dict[str, int]]:
        """For each term, the shard's terms that sound like it (LexicalIndex.expand), and
        how many of the shard's live paragraphs hold each of all these terms."""
        lexical = self.index.lexical
        alikes = {group[0]: group[1:] for group in lexical.expand(terms)}
        every = dict.fromkeys([*terms, *(t for found in alikes.values() for t in found)])
        return alikes, {term: lexical.frequency(term) for term in every}

    def lexical_top(
        self, weighted: Sequence[tuple[str, float]], k: int, allowed: np.ndarray | None
    ) -> list[tuple[int, float]]:
        """The shard's top k BM25 hits for (term, IDF) pairs the front weighed."""
        return self.index.lexical.top_weighted(weighted, k, allowed)

    def lexical_scores(
        self, weighted: Sequence[tuple[str, float]], docs: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The shard's rows among `docs` and their BM25 scores."""
        own = self.index.store.rows.own(docs)
        return own, self.index.lexical.scores_weighted(weighted)[own]

    def holders(
        self, groups: Sequence[Sequence[str]], docs: Sequence[int]
    ) -> list[tuple[int, np.ndarray]]:
        """LexicalIndex.holders over the shard's paragraphs."""
        return self.index.lexical.holders(groups, docs)

    def holding(self, term: str) -> np.ndarray:
        """The shard's rows holding `term`."""
        return self.index.lexical.holding(term)

    def script_totals(self) -> dict[str, int]:
        """LexicalIndex.script_totals over the shard's paragraphs."""
        return self.index.lexical.script_totals()

    def vector_search(
        self, model: str, query: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> list[tuple[int, float]]:
        """The shard's top k rows by one model's vectors ("primary" or "cross")."""
        if model not in self.index.models:
            return []
        return self.index.models[model][0].search(query, k, self._own(allowed))

    def dense(
        self,
        queries: Sequence[tuple[str, np.ndarray]],
        k: int,
        allowed: np.ndarray | None,
        ref: int,
    ) -> list[tuple[list[tuple[int, float]], dict[int, float]]]:
        """LoadedIndex.dense over the shard's rows: each model's top k, and the title
        similarities of the shard's candidates (any model's first `ref` here), among which
        are all of the shard's rows in the build's candidates."""
        return self.index.dense(queries, k, self._own(allowed), ref)

    def _own(self, allowed: np.ndarray | None) -> np.ndarray | None:
        """The shard's rows among `allowed` (None: no filter)."""
        return None if allowed is None else self.index.store.rows.own(allowed)

    def paragraphs(self, rows: Sequence[int]) -> tuple[dict[int, Paragraph], dict[str, Article]]:
        """The shard's paragraphs among `rows`, by row, and their articles' metadata."""
        store = self.index.store
        found = store.paragraphs(store.rows.own(rows).tolist())
        return found, store.articles({p.article_id for p in found.values()})

    def articles(self, article_ids: Sequence[str]) -> dict[str, Article]:
        """The shard's live articles among `article_ids`, metadata only."""
        store = self.index.store
        return store.articles(a for a in article_ids if store.holds(a))

    def rows_matching(self, *filters: str | None) -> list[int]:
        """The shard's rows passing the filters (Store.rows_matching)."""
        return self.index.store.rows_matching(*filters)

    def reprint_groups(self, article_ids: Sequence[str]) -> dict[str, str]:
        """Reprint groups of the shard's articles among `article_ids`."""
        return self.index.store.reprint_groups(article_ids)

    def reprint_members(self, groups: Sequence[str]) -> dict[str, list[Article]]:
        """Each reprint group's live articles in this shard."""
        return self.index.store.reprint_members(groups)

    def article_paragraphs(self, article_id: str) -> list[Paragraph]:
        """A live article's paragraphs, when the shard holds it ([] otherwise)."""
        return self.index.store.article_paragraphs(article_id)

    def article(self, article_id: str, paragraphs: Sequence[Paragraph] | None) -> Article | None:
        """A live article of the shard with its body, or None."""
        return self.index.store.article(article_id, paragraphs)


class ShardHost:
    """Serves one shard of whatever build the front names: the build is opened on first
    use (the current build at start, so that a replica is ready before traffic), and a
    reindex's new build replaces it when the front asks for it."""

    def __init__(self, index_dir: Path, shard: int) -> None:
        self.index_dir = index_dir
        self.shard = shard
        self._lock = threading.Lock()
        self._open: ShardIndex = ShardIndex(current_build(index_dir), shard)

    def call(self, build: str, method: str, args: Sequence[Any]) -> Any:
        """ShardIndex.`method`(*args) over `build` (a build folder of this index)."""
        if method not in METHODS:
            raise ValueError(f"a shard answers no {method!r}")
        return getattr(self._at(Path(build)), method)(*args)

    def _at(self, build: Path) -> ShardIndex:
        """The shard of `build`, opened once."""
        opened = self._open
        if opened.build == build:
            return opened
        with self._lock:
            if self._open.build != build:
                if build.parent != self._open.build.parent:
                    raise ValueError(f"{build} is not a build of {self.index_dir}")
                self._open = ShardIndex(build, self.shard)
            return self._open
