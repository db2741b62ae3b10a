"""The front side of a sharded index: a build whose segments are spread over shards
(`reindex --shards N`), each served by its own process (index/shard.py), seen as the
LoadedIndex that search/ reads, so that the Searcher runs unchanged over it.

Every leg asks all shards and merges their answers as a segmented index merges its
segments' (index/composite.py): top lists by score, ties by global row, cut to k. BM25
weighs each query term over the whole build first (Elasticsearch's DFS phase: one round
trip for the terms' document frequencies and sound-alikes, summed over the shards), then
every shard scores its rows with those weights, so a score is the very float one process
computes. The query is encoded once, here; the shards receive vectors and analysed terms.

How a question reaches the shards is a `Shards` object's business: ShardsHere (one
process, for tests and the single-machine case) or Ray Serve handles (cluster/).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from core.errors import IndexMismatch
from core.records import Article, Paragraph
from index.composite import oldest_first
from index.format import LoadedIndex
from index.lexical import coverage_of, most_written, weigh
from index.manifest import Manifest
from index.rows import distinct
from index.shard import ShardHost
from index.swap import current_build

Ranking = list[tuple[int, float]]
LEXICON_CACHE = 256  # queries' term lists whose expansion and frequencies are kept
ARTICLE_CACHE = 10_000  # articles' metadata kept from the paragraphs read (then cleared)


class Shards(Protocol):
    """A way to ask every shard of an index the same question."""

    count: int

    def ask(self, build: Path, method: str, *args: Any) -> list[Any]:
        """ShardIndex.`method`(*args) of each shard over `build`, in shard order."""
        ...


class ShardsHere:
    """Every shard in this process: what the Ray deployments run, without Ray."""

    def __init__(self, index_dir: Path, count: int) -> None:
        self.count = count
        self.hosts = [ShardHost(index_dir, shard) for shard in range(count)]

    def ask(self, build: Path, method: str, *args: Any) -> list[Any]:
        """Each shard's answer, asked in turn."""
        return [host.call(str(build), method, args) for host in self.hosts]


def shards_of(index_dir: Path) -> int:
    """How many shards the current build of `index_dir` was cut into."""
    return Manifest.read(current_build(index_dir)).shards


def check_count(built: int, serving: int, where: Path) -> None:
    """IndexMismatch unless the build at `where`, cut into `built` shards, is served by as
    many shard deployments."""
    if built != serving:
        raise IndexMismatch(
            f"index at {where} has {built} shard(s), not {serving}; serve it with --shards "
            f"{built}, or rebuild it with `python manage.py reindex --shards {serving}`"
        )


def load_sharded(build: Path, shards: Shards) -> LoadedIndex:
    """The build at `build` as one index whose parts ask `shards`; IndexMismatch when the
    build was cut into another number of shards than are serving."""
    manifest = Manifest.read(build)
    check_count(manifest.shards, shards.count, build)
    ask = _Asker(build, shards)
    crossed = manifest.cross_model is not None
    return ShardedIndex(
        build,
        manifest,
        ShardedStore(ask),  # type: ignore[arg-type]
        ShardedLexical(ask, manifest.counts.paragraphs),  # type: ignore[arg-type]
        ShardedVectors(ask, "primary"),  # type: ignore[arg-type]
        ShardedVectors(ask, "cross") if crossed else None,  # type: ignore[arg-type]
        None,  # title vectors: read by the shards, for dense()
        None,
        ask,
    )


@dataclass
class ShardedIndex(LoadedIndex):
    """The build as one index whose parts ask the shards (load_sharded). It has no title
    vectors of its own: each shard weighs its candidates' titles in dense()."""

    ask: _Asker | None = None

    def dense(
        self,
        queries: Sequence[tuple[str, np.ndarray]],
        k: int,
        allowed: np.ndarray | None,
        ref: int,
    ) -> list[tuple[Ranking, dict[int, float]]]:
        """LoadedIndex.dense in one round: every shard's top lists and its candidates'
        title similarities, merged; the build's candidates are among the shards'."""
        assert self.ask is not None
        answers = self.ask("dense", list(queries), k, allowed, ref)
        found = [_merged((answer[i][0] for answer in answers), k) for i in range(len(queries))]
        tops = sorted({doc for hits in found for doc, _ in hits[:ref]})
        sims: list[dict[int, float]] = [{} for _ in queries]
        for answer in answers:
            for i, (_, titles) in enumerate(answer):
                sims[i].update(titles)
        return [
            (hits, {doc: known[doc] for doc in tops if doc in known})
            for hits, known in zip(found, sims, strict=True)
        ]


@dataclass(frozen=True)
class _Asker:
    """Questions about one build, to all its shards."""

    build: Path
    shards: Shards

    def __call__(self, method: str, *args: Any) -> list[Any]:
        return self.shards.ask(self.build, method, *args)


def _merged(answers: Iterable[Ranking], k: int) -> Ranking:
    """The first k of the shards' top lists: best score first, ties by row."""
    return sorted((hit for answer in answers for hit in answer), key=lambda h: (-h[1], h[0]))[:k]


@dataclass(frozen=True)
class ShardedLexical:
    """BM25 over every shard, weighed with the whole build's statistics."""

    ask: _Asker
    size: int  # live paragraphs of the build

    def expand(self, terms: Sequence[str]) -> list[list[str]]:
        """Each distinct term with the terms of any shard that sound like it, sorted (as
        LexicalIndex.expand lists them from the whole vocabulary)."""
        return self._lexicon(terms)[0]

    def weighted(self, terms: Sequence[str]) -> list[tuple[str, float]]:
        """(term, IDF) pairs of the query, in LexicalIndex.weighted's order."""
        groups, frequencies = self._lexicon(terms)
        expanded = dict.fromkeys(t for group in groups for t in group)
        return weigh({term: frequencies.get(term, 0) for term in expanded}, self.size)

    def _lexicon(self, terms: Sequence[str]) -> tuple[list[list[str]], dict[str, int]]:
        """The expansion of `terms` and the build's document frequency of every term in it;
        asked once for a query's terms (the search and its coverage weights both need it)."""
        return self._lexicon_of(tuple(dict.fromkeys(terms)))

    @functools.lru_cache(maxsize=LEXICON_CACHE)  # noqa: B019 (one object a build, kept with it)
    def _lexicon_of(self, terms: tuple[str, ...]) -> tuple[list[list[str]], dict[str, int]]:
        """_lexicon of distinct terms, asked of the shards."""
        groups: dict[str, set[str]] = {term: set() for term in terms}
        frequencies: dict[str, int] = {}
        for alikes, counts in self.ask("lexicon", list(groups)):
            for term, found in alikes.items():
                groups[term].update(found)
            for term, n in counts.items():
                frequencies[term] = frequencies.get(term, 0) + n
        return [[term, *sorted(found)] for term, found in groups.items()], frequencies

    def search(self, terms: Sequence[str], k: int, allowed: np.ndarray | None = None) -> Ranking:
        """Top-k (row, score) pairs over the build (LexicalIndex.search)."""
        weighted = self.weighted(terms)
        if not weighted:
            return []
        return _merged(self.ask("lexical_top", weighted, k, allowed), k)

    def scores_of(self, terms: Sequence[str], docs: np.ndarray) -> np.ndarray:
        """The BM25 scores of `docs` (LexicalIndex.scores_of)."""
        docs = np.asarray(docs, dtype=np.int64)
        scores = np.zeros(self.size, dtype=np.float32)
        for rows, values in self.ask("lexical_scores", self.weighted(terms), docs):
            scores[rows] = values
        return scores[docs]

    def coverage(self, terms: Sequence[str | Sequence[str]], docs: Sequence[int]) -> np.ndarray:
        """Each doc's share of the query's IDF mass (LexicalIndex.coverage)."""
        items = list(dict.fromkeys((t,) if isinstance(t, str) else tuple(t) for t in terms))
        distinct = list(dict.fromkeys(t for item in items for t in item))
        expansion = dict(zip(distinct, self.expand(distinct), strict=True))
        groups = [[t for term in dict.fromkeys(item) for t in expansion[term]] for item in items]
        answers = self.ask("holders", groups, list(docs))
        holders = [
            (sum(a[g][0] for a in answers), np.logical_or.reduce([a[g][1] for a in answers]))
            for g in range(len(groups))
        ]
        return coverage_of(holders, self.size, len(docs))

    def holding(self, term: str) -> np.ndarray:
        """The rows holding `term`, sorted."""
        return distinct(self.ask("holding", term))

    def main_script(self) -> str | None:
        """The build's main script (LexicalIndex.main_script)."""
        totals = {"cyrillic": 0, "latin": 0}
        for answer in self.ask("script_totals"):
            for written, n in answer.items():
                totals[written] += n
        return most_written(totals)


@dataclass(frozen=True)
class ShardedVectors:
    """One model's vectors over every shard."""

    ask: _Asker
    model: str  # "primary" or "cross"

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> Ranking:
        """Top-k (row, cosine) pairs over the build, ties by row."""
        return _merged(self.ask("vector_search", self.model, query, k, allowed), k)


@dataclass(frozen=True)
class ShardedStore:
    """Paragraphs and articles, each read from the shard that holds it."""

    ask: _Asker
    known: dict[str, Article] = field(default_factory=dict)  # articles of paragraphs read

    def paragraphs(self, rows: Sequence[int]) -> dict[int, Paragraph]:
        """Paragraphs by global row. Each shard sends their articles' metadata along, which
        a page asks for next (articles): one round trip fewer."""
        found: dict[int, Paragraph] = {}
        if len(self.known) > ARTICLE_CACHE:
            self.known.clear()
        for paragraphs, articles in self.ask("paragraphs", list(rows)):
            found.update(paragraphs)
            self.known.update(articles)
        return found

    def articles(self, article_ids: Iterable[str]) -> dict[str, Article]:
        """Live articles' metadata by id."""
        wanted = set(article_ids)
        found = {a: self.known[a] for a in wanted if a in self.known}
        missing = sorted(wanted - found.keys())
        if missing:
            for answer in self.ask("articles", missing):
                found.update(answer)
        return found

    def rows_matching(
        self,
        date_from: str | None = None,
        date_to: str | None = None,
        outlet: str | None = None,
        rubric: str | None = None,
    ) -> list[int]:
        """Rows of live paragraphs that pass the filters, sorted."""
        answers = self.ask("rows_matching", date_from, date_to, outlet, rubric)
        return sorted(row for answer in answers for row in answer)

    def reprint_groups(self, article_ids: Iterable[str]) -> dict[str, str]:
        """The reprint group of each of `article_ids` that has one."""
        found: dict[str, str] = {}
        for answer in self.ask("reprint_groups", list(set(article_ids))):
            found.update(answer)
        return found

    def reprint_members(self, groups: Iterable[str]) -> dict[str, list[Article]]:
        """Each reprint group's live articles in every shard, oldest first."""
        members: dict[str, list[Article]] = {}
        for answer in self.ask("reprint_members", list(set(groups))):
            for group, articles in answer.items():
                members.setdefault(group, []).extend(articles)
        return oldest_first(members)

    def article_paragraphs(self, article_id: str) -> list[Paragraph]:
        """A live article's paragraphs in order ([] for an unknown id)."""
        return next((a for a in self.ask("article_paragraphs", article_id) if a), [])

    def article(
        self, article_id: str, paragraphs: Sequence[Paragraph] | None = None
    ) -> Article | None:
        """A live article with its body, or None."""
        given = None if paragraphs is None else list(paragraphs)
        answers = self.ask("article", article_id, given)
        return next((a for a in answers if a is not None), None)

    def close(self) -> None:
        """Nothing to release here: the shards hold the files."""
