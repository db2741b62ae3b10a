"""The Searcher: both legs over the current index, fused, cut to a page, with snippets.

The web API, the web pages and `manage.py search` all answer through this one class.
It follows the index link: when a reindex swaps in a new build, the next search loads
it, while searches already running finish on the build they started with.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.config import Settings
from core.errors import REINDEX_HINT, IndexCorrupt, SearchError
from core.lru import LRU, CacheStats
from index.format import LoadedIndex, current_build, load_build
from index.manifest import Expected
from search import fusion as fuse
from search import reprints
from search.contract import (
    DATE_POOL,
    ArticleMeta,
    ArticleParagraph,
    ArticleWithParagraphs,
    Hit,
    LegHit,
    ModelInfo,
    MoreHit,
    SearchRequest,
    SearchResult,
    Stats,
)
from search.floor import is_nonsense
from search.phrases import required_rows, without_excluded
from search.sentences import DEFAULT_SENTENCES, SentenceVectors, across_scripts, nearest_sentences
from search.snippets import sentence_snippet, snippet
from search.syntax import ParsedQuery

if TYPE_CHECKING:
    from encoders.base import Encoder

# Which dense models make the semantic leg: both (the default), or one alone (evaluation).
DENSE_LEGS = ("both", "primary", "cross")
# The cross-lingual model's share of the semantic leg, for a query written in the corpus's
# main script and for one in another (an English question over Russian text): GIMP tuning split.
CROSS_WEIGHTS = {"same": 0.3, "other": 0.6}
COVERAGE_POWER = 4  # BM25 hit weight = (share of the query's IDF mass it holds) ** 4
# Each leg fetches at least the hits fusion normalises by, and 10x the page's end.
MIN_DEPTH = fuse.REF_RANK

Ranking = list[tuple[int, float]]


class Searcher:
    """Answers searches over the index at `index_dir` with its encoder and, when the index
    has cross-lingual vectors, the cross-lingual encoder (`cross`) too.

    `dense` picks the semantic leg's models (DENSE_LEGS): both, the default, or one alone,
    which only evaluation uses to measure each model on its own. `floor` turns the relevance
    floor (search/floor.py) on or off. `sentences` marks the sentence of a cross-script hit
    (search/sentences.py); evaluation, which reads no snippet, turns it off, and
    `sentence_cache` bounds the sentence vectors kept per model (0: none). `result_cache`
    bounds the answers kept, by build and request (0, the default here: every search runs;
    a server keeps POISK_RESULT_CACHE of them: Searcher.open). `loader` opens a build: the
    whole of it here, or its shards' answers (index/sharded.py).
    """

    def __init__(
        self,
        index_dir: Path,
        encoder: Encoder,
        cross: Encoder | None = None,
        dense: str = "both",
        floor: bool = True,
        sentences: bool = True,
        loader: Callable[[Path], LoadedIndex] = load_build,
        sentence_cache: int = DEFAULT_SENTENCES,
        result_cache: int = 0,
    ) -> None:
        if dense not in DENSE_LEGS:
            raise ValueError(f"dense must be one of {', '.join(DENSE_LEGS)}, not {dense!r}")
        self.index_dir = index_dir
        self.encoder = encoder
        self.cross = cross
        self.dense = dense
        self.floor = floor
        self.sentences = sentences
        self.loader = loader
        self._sentences = [SentenceVectors(encoder, sentence_cache)]  # primary, then cross
        if cross is not None:
            self._sentences.append(SentenceVectors(cross, sentence_cache))
        # Whole answers of head queries, by (build, request): a new build is a new key, so
        # a swap never serves an old build's answer, and old ones age out of the LRU.
        self._results: LRU[tuple[Path, SearchRequest], SearchResult] = LRU(result_cache)
        self._lock = threading.Lock()
        self._loaded: LoadedIndex | None = None
        self._seen: tuple[tuple[int, int, int], LoadedIndex] | None = None
        self._failed: tuple[Path, SearchError] | None = None  # a broken build: not retried

    @classmethod
    def open(
        cls,
        settings: Settings,
        index_dir: Path | None = None,
        load_encoder: Callable[..., Encoder] | None = None,
        load_cross: Callable[[str], Encoder | None] | None = None,
        loader: Callable[[Path], LoadedIndex] = load_build,
    ) -> Searcher:
        """The one way to open a Searcher: the configured models (loaded now: seconds) over
        `index_dir` or the configured index. The loaders are the models' own unless a test
        passes fakes; `loader` opens a build (Searcher)."""
        if load_encoder is None:  # the "queries" role: "auto" may pick another runtime
            from encoders.encoder import load_query_encoder as load_encoder
        if load_cross is None:
            from encoders.crosslingual import load_cross_encoder as load_cross
        encoder = load_encoder(settings.model, settings.cache_dir, settings.dtype)
        cross = load_cross(settings.cross_model)
        index_dir = index_dir or settings.index_dir
        return cls(
            index_dir,
            encoder,
            cross,
            floor=settings.floor,
            loader=loader,
            sentence_cache=settings.sentence_cache,
            result_cache=settings.result_cache,
        )

    def current(self) -> LoadedIndex:
        """The build the index link points at now, loaded and checked once.

        While the link leads to the very folder loaded last (one stat: its inode and change
        time), that build is current; else the link is resolved, which took ten times as
        long a request. A swap points the link at another folder, so it is never missed."""
        seen = self._seen
        if seen is not None and seen[0] == _identity(self.index_dir):
            return seen[1]
        build = current_build(self.index_dir)
        with self._lock:
            if self._loaded is None or self._loaded.path != build:
                self._loaded = self._load(build)
            identity = _identity(self._loaded.path)  # the folder itself, not the link
            self._seen = (identity, self._loaded) if identity is not None else None
            return self._loaded

    def _load(self, build: Path) -> LoadedIndex:
        """Open a build and check it against the encoder; remember a failure."""
        if self._failed and self._failed[0] == build:
            raise self._failed[1]
        try:
            index = self.loader(build)
            index.manifest.check(Expected.serving(self.encoder, self.cross))
        except SearchError as exc:
            self._failed = (build, exc)
            raise
        except Exception as exc:  # a damaged file can fail in ways the readers don't name
            error = IndexCorrupt(f"index at {build} is unreadable: {exc}; {REINDEX_HINT}")
            self._failed = (build, error)
            raise self._failed[1] from exc
        return index

    def search(self, request: SearchRequest) -> SearchResult:
        """One page of results for `request` (the API contract: search/contract.py): the
        answer kept from the same request to the same build, or a search."""
        started = time.perf_counter()
        index = self.current()
        kept = self._results.get((index.path, request))
        if kept is None:
            kept = self._results.put((index.path, request), self._search(index, request))
        took_ms = round((time.perf_counter() - started) * 1000, 1)
        return kept.model_copy(update={"took_ms": took_ms})

    def _search(self, index: LoadedIndex, request: SearchRequest) -> SearchResult:
        """Run `request` over `index`: both legs, fused, cut to a page, with snippets."""
        parsed = request.parsed  # phrases, exclusions, OR: search/syntax.py
        allowed = required_rows(index, parsed, _allowed(index, request))
        depth = _depth(request)
        terms, text = parsed.terms, parsed.text
        mode = request.mode
        lexical = index.lexical.search(terms, depth, allowed) if mode != "semantic" else []
        semantic = []
        if mode != "bm25" and not self._below_floor(index, text, terms, lexical):
            semantic = self._semantic(index, text, depth, allowed)
        lexical, semantic = (without_excluded(index, parsed, leg) for leg in (lexical, semantic))
        ranked, alpha = _fused(index, parsed, request, lexical, semantic)
        more, also = None, {}
        if request.group == "article":
            ranked, more = _by_article(index, ranked)
            ranked, more, also = reprints.collapse(index.store, ranked, more)
        if request.sort == "date":
            ranked = _newest_first(index, ranked[:DATE_POOL])
        total, relation = _total(index, request, lexical, semantic, ranked)
        page = ranked[request.offset : request.offset + request.k]
        hits = _hits(index, text, page, request.offset, lexical, semantic)
        if more is not None:
            hits = _with_more(index, text, hits, page, more)
        hits = self._sentences_marked(index, text, hits)
        hits = reprints.with_also_in(hits, page, also)
        return SearchResult(
            query=request.q,
            mode=mode,
            fusion=request.fusion,
            alpha=alpha,
            k=request.k,
            offset=request.offset,
            total=total,
            total_relation=relation,
            took_ms=0.0,  # search() states the time the caller waited
            results=hits,
        )

    def _below_floor(
        self, index: LoadedIndex, query: str, terms: list[str], lexical: Ranking
    ) -> bool:
        """Whether the relevance floor keeps the semantic leg from answering `query`: none of
        its words is in the corpus (the lexical leg, unfiltered) or a dictionary."""
        if not self.floor:
            return False
        # a term some live paragraph holds (weighted leaves out the others): what a lexical
        # search would find, without scoring the postings
        matched = bool(lexical) or bool(terms and index.lexical.weighted(terms))
        return is_nonsense(query, matched)

    def _semantic(
        self, index: LoadedIndex, query: str, depth: int, allowed: np.ndarray | None
    ) -> Ranking:
        """The semantic leg: each model's ranking as z-scores, weighted by its share, plus
        the title boost (fusion.semantic); or one model alone (self.dense), for measuring."""
        dense = self.dense
        if dense == "cross" and (index.cross is None or self.cross is None):
            raise ValueError("this index has no cross-lingual vectors")
        if dense != "both":
            vectors, encoder = (
                (index.cross, self.cross) if dense == "cross" else (index.vectors, self.encoder)
            )
            return vectors.search(encoder.encode_queries([query])[0], depth, allowed)
        return fuse.semantic(self.dense_legs(index, query, depth, allowed))

    def dense_legs(
        self, index: LoadedIndex, query: str, depth: int, allowed: np.ndarray | None = None
    ) -> list[fuse.DenseLeg]:
        """Each model's ranking, its share for this query, and the title similarity of
        every doc in any model's first REF_RANK (what fusion.semantic reads).

        e5 is the stronger within Russian, USE across languages, so USE's share is larger
        for a query in another script than the corpus's (CROSS_WEIGHTS; README, "Two dense
        legs").
        """
        models = [("primary", self.encoder)]
        if index.cross is not None and self.cross is not None:
            models.append(("cross", self.cross))
        shares = [1.0]
        if len(models) == 2:  # the corpus's script is counted on first use (79 ms at 1M)
            across = CROSS_WEIGHTS["same" if index.in_main_script(query) else "other"]
            shares = [1 - across, across]
        queries = [(model, encoder.encode_queries([query])[0]) for model, encoder in models]
        found = index.dense(queries, depth, allowed, fuse.REF_RANK)
        return [
            fuse.DenseLeg(ranking, share, titles)
            for (ranking, titles), share in zip(found, shares, strict=True)
        ]

    def _sentences_marked(self, index: LoadedIndex, query: str, hits: list[Hit]) -> list[Hit]:
        """`hits`, those in another script than `query` with the sentence nearest it marked
        (search/sentences.py), by the cross-lingual model when the index has one."""
        if not self.sentences:
            return hits
        across = [i for i, hit in enumerate(hits) if across_scripts(query, hit.text)]
        if not across:
            return hits
        # the cross-lingual model's when the index has its vectors (the last is the primary's
        # when there is no cross-lingual encoder)
        vectors = self._sentences[-1] if index.cross is not None else self._sentences[0]
        spans = nearest_sentences(vectors, query, [hits[i].text for i in across])
        marked = list(hits)
        for i, span in zip(across, spans, strict=True):
            if span is not None:
                hit = hits[i]
                update = {
                    "snippet": sentence_snippet(hit.text, span),
                    "sentence": hit.text[slice(*span)],
                }
                marked[i] = hit.model_copy(update=update)
        return marked

    def article(self, article_id: str) -> ArticleWithParagraphs | None:
        """An article and its paragraphs, or None for an unknown id."""
        store = self.current().store
        paragraphs = store.article_paragraphs(article_id)
        article = store.article(article_id, paragraphs)
        if article is None:
            return None
        meta = {key: value for key, value in article.to_dict().items() if key != "body"}
        return ArticleWithParagraphs(
            article=ArticleMeta(**meta),
            paragraphs=[ArticleParagraph(id=p.id, n=p.n, text=p.text) for p in paragraphs],
        )

    def result_cache_stats(self) -> CacheStats:
        """The answers this process keeps (`result_cache`): hits, misses, size, room."""
        return self._results.stats()

    def sentence_cache_stats(self) -> CacheStats:
        """The sentence vector caches of this process (search/sentences.py), summed."""
        return CacheStats.total([vectors.stats() for vectors in self._sentences])

    def stats(self) -> Stats:
        """What the current index holds and how it was built."""
        manifest = self.current().manifest
        cross = manifest.cross_model
        return Stats(
            articles=manifest.counts.articles,
            paragraphs=manifest.counts.paragraphs,
            model=ModelInfo(**manifest.model.model_dump()),
            cross_model=ModelInfo(**cross.model_dump()) if cross else None,
            built_at=manifest.built_at,
            generation=manifest.generation,
            vectors=manifest.vectors.kind,
            source=manifest.source.path,
            shards=manifest.shards,
            query_dtype=self.encoder.dtype,
        )


def _identity(path: Path) -> tuple[int, int, int] | None:
    """The device, inode and change time of the folder `path` leads to; None if none."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino, found.st_ctime_ns


def _fused(
    index: LoadedIndex,
    parsed: ParsedQuery,
    request: SearchRequest,
    lexical: Ranking,
    semantic: Ranking,
) -> tuple[Ranking, float | None]:
    """The final ranking, one leg as it is or both fused as the request asks, and the
    semantic weight it was fused with (None where there is none)."""
    mode, fusion, alpha = request.mode, request.fusion, request.alpha_used
    if mode == "bm25":
        return lexical, None
    if mode == "semantic":
        return semantic, None
    if fusion == "convex":
        return fuse.convex(lexical, semantic, alpha or 0.0), alpha
    if fusion == "coverage":
        coverage = _coverage(index, parsed.alternatives, lexical)
        if request.alpha is None:  # the default weight follows the query's own evidence
            same_script = index.in_main_script(parsed.text)
            alpha = fuse.coverage_alpha(lexical, coverage, same_script)
        weights = {doc: c**COVERAGE_POWER for doc, c in coverage.items()}
        return fuse.convex(lexical, semantic, alpha or 0.0, weights), alpha
    if fusion == "coverage-rrf":
        coverage = _coverage(index, parsed.alternatives, lexical)
        weights = {doc: c**COVERAGE_POWER for doc, c in coverage.items()}
        return fuse.rrf([lexical, semantic], weights=[weights, None]), None
    return fuse.rrf([lexical, semantic]), None


def _coverage(index: LoadedIndex, terms: list[list[str]], lexical: Ranking) -> dict[int, float]:
    """Each BM25 hit's share of the query's IDF mass (0..1); `terms` are the query's groups
    (a term each, or the alternatives of `a OR b`: ParsedQuery.alternatives).

    Raised to COVERAGE_POWER it weighs the hit: an English query over Russian text, or a
    paraphrase, often matches a paragraph on one incidental word (a number, a Latin name);
    unweighted, such hits push the semantic leg's answers down. The power keeps full
    matches at full weight and makes a quarter-match count 0.4%.
    """
    docs = [doc for doc, _ in lexical]
    return dict(zip(docs, index.lexical.coverage(terms, docs).tolist()))


def _by_article(index: LoadedIndex, ranked: Ranking) -> tuple[Ranking, dict[int, Ranking]]:
    """The ranking with each article's first (best) paragraph only, and for each of those
    the article's other paragraphs in the ranking, best first."""
    paragraphs = index.store.paragraphs([doc for doc, _ in ranked])
    best_of: dict[str, int] = {}
    best, more = [], {}
    for doc, score in ranked:
        article_id = paragraphs[doc].article_id
        if article_id not in best_of:
            best_of[article_id] = doc
            best.append((doc, score))
            more[doc] = []
        else:
            more[best_of[article_id]].append((doc, score))
    return best, more


def _allowed(index: LoadedIndex, request: SearchRequest) -> np.ndarray | None:
    """The rows the request's filters (dates, outlet, rubric) let through, for both legs to
    search among before the cut; None when it has no filter."""
    dates = (request.date_from, request.date_to)
    if not any(dates) and request.source is None and request.rubric is None:
        return None
    iso = [d.isoformat() if d else None for d in dates]
    rows = index.store.rows_matching(*iso, outlet=request.source, rubric=request.rubric)
    return np.asarray(rows, dtype=np.int64)


def _depth(request: SearchRequest) -> int:
    """How many hits each leg fetches: 10x the end of the results the request can list (the
    page's end; the whole date pool for sort=date, so that every page sorts the same pool)."""
    end = DATE_POOL if request.sort == "date" else request.offset + request.k
    return max(MIN_DEPTH, 10 * end)


def _total(
    index: LoadedIndex, request: SearchRequest, lexical: Ranking, semantic: Ranking, listed: Ranking
) -> tuple[int, str]:
    """How many results the search has, the same on every page, and whether that is exact
    ("eq") or a lower bound ("gte").

    A deeper page fetches more from each leg, so counting what was fetched would grow page
    by page. The count is of what every page fetches: each leg's first MIN_DEPTH hits
    (paragraphs, or their articles when grouped); a leg that had that many may hold more,
    and the count is then a lower bound. Sorted by date, the results are a fixed pool (the
    first DATE_POOL by relevance, fetched alike on every page) and are counted exactly.
    """
    if request.sort == "date":
        return len(listed), "eq"
    counted = {doc for leg in (lexical, semantic) for doc, _ in leg[:MIN_DEPTH]}
    more = any(len(leg) >= MIN_DEPTH for leg in (lexical, semantic))  # a leg cut short
    if request.group == "article":
        paragraphs = index.store.paragraphs(sorted(counted))
        counted = reprints.article_key(index.store, {paragraphs[d].article_id for d in counted})
    return len(counted), "gte" if more else "eq"


def _newest_first(index: LoadedIndex, ranked: Ranking) -> Ranking:
    """`ranked` by its articles' dates, newest first; undated articles after every dated one;
    equal dates (and the undated) keep their relevance order (the sort is stable)."""
    paragraphs = index.store.paragraphs([doc for doc, _ in ranked])
    articles = index.store.articles(p.article_id for p in paragraphs.values())
    dates = {doc: articles[p.article_id].date or "" for doc, p in paragraphs.items()}
    return sorted(ranked, key=lambda item: dates[item[0]], reverse=True)


def _with_more(
    index: LoadedIndex, query: str, hits: list[Hit], page: Ranking, more: dict[int, Ranking]
) -> list[Hit]:
    """`hits` (grouped: one an article, in `page`'s order) each with its article's other
    paragraphs from `more`, with their snippets."""
    paragraphs = index.store.paragraphs([d for doc, _ in page for d, _ in more[doc]])

    def other(doc: int, score: float) -> MoreHit:
        p = paragraphs[doc]
        return MoreHit(id=p.id, text=p.text, snippet=snippet(p.text, query), score=score)

    return [
        hit.model_copy(update={"more": [other(*item) for item in more[doc]]})
        for hit, (doc, _) in zip(hits, page, strict=True)
    ]


def _hits(
    index: LoadedIndex, query: str, page: Ranking, offset: int, lexical: Ranking, semantic: Ranking
) -> list[Hit]:
    """Hits for one page, with texts, articles, snippets and both legs' standing."""
    on_page = {doc for doc, _ in page}
    legs = [
        {doc: LegHit(rank=r, score=s) for r, (doc, s) in enumerate(leg, 1) if doc in on_page}
        for leg in (lexical, semantic)
    ]
    paragraphs = index.store.paragraphs([doc for doc, _ in page])
    articles = index.store.articles(p.article_id for p in paragraphs.values())
    hits = []
    for rank, (doc, score) in enumerate(page, start=offset + 1):
        p = paragraphs[doc]
        a = articles[p.article_id]
        hits.append(
            Hit(
                rank=rank,
                id=p.id,
                article_id=a.id,
                title=a.title,
                date=a.date,
                url=a.url,
                text=p.text,
                snippet=snippet(p.text, query),
                score=score,
                bm25=legs[0].get(doc),
                semantic=legs[1].get(doc),
                rubric=a.rubric,
                outlet=a.outlet,
            )
        )
    return hits
