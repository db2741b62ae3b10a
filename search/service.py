"""The Searcher: both legs over the current index, fused, cut to a page, with snippets.

The web API, the web pages and `manage.py search` all answer through this one class.
It follows the index link: when a reindex swaps in a new build, the next search loads
it, while searches already running finish on the build they started with.
"""

from __future__ import annotations

import threading
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.config import Settings
from core.errors import REINDEX_HINT, IndexCorrupt, SearchError
from core.records import Article, Hit, LegHit, Paragraph, SearchResult
from index.format import LoadedIndex, current_build, load_build
from index.manifest import Expected
from index.text import analyze
from search import fusion as fuse
from search.fusion import DEFAULT_ALPHAS, DEFAULT_FUSION, FUSIONS
from search.snippets import snippet

if TYPE_CHECKING:
    from encoders.encoder import Encoder

MODES = ("hybrid", "bm25", "semantic")
# Which dense models make the semantic leg: both (the default), or one alone (evaluation).
DENSE_LEGS = ("both", "primary", "cross")
# The cross-lingual model's share of the semantic leg, for a query written in the corpus's
# main script and for one in another (an English question over Russian text): GIMP tuning split.
CROSS_WEIGHTS = {"same": 0.3, "other": 0.6}
COVERAGE_POWER = 4  # BM25 hit weight = (share of the query's IDF mass it holds) ** 4
MAX_QUERY_CHARS = 1000
MAX_K = 100
MAX_OFFSET = 1000
# Each leg fetches at least the hits fusion normalises by, and 10x the page's end.
MIN_DEPTH = fuse.REF_RANK

Ranking = list[tuple[int, float]]

# The white space a query is trimmed of: JavaScript's (ECMA-262 WhiteSpace and LineTerminator),
# which is what the OpenAPI pattern "\S" for `q` means. Python's str.strip() also drops the
# control characters U+001C-U+001F and U+0085 (a schema-valid "\x1e" query became empty) and
# keeps U+FEFF (a schema-invalid one was searched).
BLANK = (
    "\t\n\v\f\r \u00a0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000\ufeff"
)


def trim_query(query: str) -> str:
    """`query` without leading and trailing white space (BLANK)."""
    return query.strip(BLANK)


class InvalidParameter(SearchError):
    """A search parameter out of its range; `param` names it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


def check_parameters(
    query: str, k: int, offset: int, mode: str, fusion: str, alpha: float | None
) -> str:
    """The trimmed query, or InvalidParameter naming the first bad value."""
    query = trim_query(query)
    if not query.isascii() and any(0xD800 <= ord(c) <= 0xDFFF for c in query):
        raise InvalidParameter("q", "q must be valid Unicode text (it holds a lone surrogate)")
    rules = [
        ("q", bool(query), "q must not be empty"),
        ("q", len(query) <= MAX_QUERY_CHARS, f"q must be at most {MAX_QUERY_CHARS} characters"),
        ("k", 1 <= k <= MAX_K, f"k must be an integer from 1 to {MAX_K}"),
        ("offset", 0 <= offset <= MAX_OFFSET, f"offset must be from 0 to {MAX_OFFSET}"),
        ("mode", mode in MODES, f"mode must be one of {', '.join(MODES)}"),
        ("fusion", fusion in FUSIONS, f"fusion must be one of {', '.join(FUSIONS)}"),
        ("alpha", alpha is None or 0.0 <= alpha <= 1.0, "alpha must be from 0 to 1"),
    ]
    for param, ok, message in rules:
        if not ok:
            raise InvalidParameter(param, message)
    return query


class Searcher:
    """Answers searches over the index at `index_dir` with its encoder and, when the index
    has cross-lingual vectors, the cross-lingual encoder (`cross`) too."""

    def __init__(self, index_dir: Path, encoder: Encoder, cross: Encoder | None = None) -> None:
        self.index_dir = index_dir
        self.encoder = encoder
        self.cross = cross
        self._lock = threading.Lock()
        self._loaded: LoadedIndex | None = None
        self._failed: tuple[Path, SearchError] | None = None  # a broken build: not retried

    @classmethod
    def from_settings(cls, settings: Settings) -> Searcher:
        """A searcher with the configured models (loads them: seconds)."""
        from encoders.crosslingual import load_cross_encoder
        from encoders.encoder import load_encoder

        encoder = load_encoder(settings.model, settings.cache_dir, settings.dtype)
        return cls(settings.index_dir, encoder, load_cross_encoder(settings.cross_model))

    def current(self) -> LoadedIndex:
        """The build the index link points at now, loaded and checked once."""
        build = current_build(self.index_dir)
        loaded = self._loaded
        if loaded is not None and loaded.path == build:
            return loaded
        with self._lock:
            if self._loaded is None or self._loaded.path != build:
                self._loaded = self._load(build)
            return self._loaded

    def _load(self, build: Path) -> LoadedIndex:
        """Open a build and check it against the encoder; remember a failure."""
        if self._failed and self._failed[0] == build:
            raise self._failed[1]
        try:
            index = load_build(build)
            index.manifest.check(Expected.serving(self.encoder, self.cross))
        except SearchError as exc:
            self._failed = (build, exc)
            raise
        except Exception as exc:  # a damaged file can fail in ways the readers don't name
            error = IndexCorrupt(f"index at {build} is unreadable: {exc}; {REINDEX_HINT}")
            self._failed = (build, error)
            raise self._failed[1] from exc
        return index

    def search(
        self,
        query: str,
        k: int = 10,
        offset: int = 0,
        mode: str = "hybrid",
        fusion: str = DEFAULT_FUSION,
        alpha: float | None = None,
        date_from: date | None = None,
        date_to: date | None = None,
        collapse: bool = False,
        dense: str = "both",
    ) -> SearchResult:
        """One page of results for `query` (see the API contract in the README); with
        `collapse`, only the best paragraph of each article; `dense` picks the semantic
        leg's models (DENSE_LEGS; one alone is for measuring each)."""
        started = time.perf_counter()
        query = check_parameters(query, k, offset, mode, fusion, alpha)
        if date_from and date_to and date_from > date_to:
            raise InvalidParameter("date_from", "date_from must not be after date_to")
        weighted = fusion in DEFAULT_ALPHAS and mode == "hybrid"
        alpha = (DEFAULT_ALPHAS[fusion] if alpha is None else alpha) if weighted else None
        index = self.current()
        allowed = None
        if date_from or date_to:
            iso = (d.isoformat() if d else None for d in (date_from, date_to))
            allowed = np.asarray(index.store.rows_between(*iso), dtype=np.int64)
        depth = max(MIN_DEPTH, 10 * (offset + k))
        terms = analyze(query)
        lexical = index.lexical.search(terms, depth, allowed) if mode != "semantic" else []
        semantic = self._semantic(index, query, depth, allowed, dense) if mode != "bm25" else []
        ranked = _fused(index, terms, mode, fusion, alpha, lexical, semantic)
        if collapse:
            ranked = _best_per_article(index, ranked)
        hits = _hits(index, query, ranked[offset : offset + k], offset, lexical, semantic)
        took = round((time.perf_counter() - started) * 1000, 1)
        return SearchResult(query, mode, fusion, alpha, k, offset, len(ranked), took, hits)

    def _semantic(
        self, index: LoadedIndex, query: str, depth: int, allowed: np.ndarray | None, dense: str
    ) -> Ranking:
        """The semantic leg: each model's ranking as z-scores, weighted by its share, plus
        the title boost (fusion.semantic); `dense` names one model alone, for measuring."""
        if dense not in DENSE_LEGS:
            raise ValueError(f"dense must be one of {', '.join(DENSE_LEGS)}, not {dense!r}")
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
        models = [(index.vectors, self.encoder, index.titles)]
        if index.cross is not None and self.cross is not None:
            models.append((index.cross, self.cross, index.cross_titles))
        shares = [1.0]
        if len(models) == 2:  # the corpus's script is counted on first use (79 ms at 1M)
            across = CROSS_WEIGHTS["same" if index.in_main_script(query) else "other"]
            shares = [1 - across, across]
        found = []
        for vectors, encoder, _ in models:
            vector = encoder.encode_queries([query])[0]
            found.append((vector, vectors.search(vector, depth, allowed)))
        tops = sorted({doc for _, ranking in found for doc, _ in ranking[: fuse.REF_RANK]})
        return [
            fuse.DenseLeg(ranking, share, titles.similarities(tops, vector) if titles else {})
            for (vector, ranking), share, (_, _, titles) in zip(found, shares, models, strict=True)
        ]

    def article(self, article_id: str) -> tuple[Article, list[Paragraph]] | None:
        """An article and its paragraphs, or None for an unknown id."""
        store = self.current().store
        paragraphs = store.article_paragraphs(article_id)
        article = store.article(article_id, paragraphs)
        return None if article is None else (article, paragraphs)

    def stats(self) -> dict[str, Any]:
        """What the current index holds and how it was built."""
        manifest = self.current().manifest
        return {
            "articles": manifest.counts.articles,
            "paragraphs": manifest.counts.paragraphs,
            "model": manifest.model.model_dump(),
            "cross_model": manifest.cross_model and manifest.cross_model.model_dump(),
            "built_at": manifest.built_at,
            "generation": manifest.generation,
            "vectors": manifest.vectors.kind,
            "source": manifest.source.path,
        }


def _fused(
    index: LoadedIndex,
    terms: list[str],
    mode: str,
    fusion: str,
    alpha: float | None,
    lexical: Ranking,
    semantic: Ranking,
) -> Ranking:
    """The final ranking: one leg as it is, or both fused (`alpha` is set when the fusion
    has a weight)."""
    if mode == "bm25":
        return lexical
    if mode == "semantic":
        return semantic
    if fusion == "convex":
        return fuse.convex(lexical, semantic, alpha or 0.0)
    if fusion == "coverage":
        return fuse.convex(lexical, semantic, alpha or 0.0, _coverage(index, terms, lexical))
    if fusion == "coverage-rrf":
        return fuse.rrf([lexical, semantic], weights=[_coverage(index, terms, lexical), None])
    return fuse.rrf([lexical, semantic])


def _coverage(index: LoadedIndex, terms: list[str], lexical: Ranking) -> dict[int, float]:
    """Each BM25 hit's weight: (share of the query's IDF mass it matched) ** 4.

    An English query over Russian text, or a paraphrase, often matches a paragraph on
    one incidental word (a number, a Latin name); unweighted, such hits push the
    semantic leg's answers down. The power keeps full matches at full weight and makes
    a quarter-match count 0.4%.
    """
    docs = [doc for doc, _ in lexical]
    coverage = index.lexical.coverage(terms, docs) ** COVERAGE_POWER
    return dict(zip(docs, coverage.tolist()))


def _best_per_article(index: LoadedIndex, ranked: Ranking) -> Ranking:
    """The ranking with each article's first (best) paragraph only."""
    paragraphs = index.store.paragraphs([doc for doc, _ in ranked])
    seen: set[str] = set()
    best = []
    for doc, score in ranked:
        article_id = paragraphs[doc].article_id
        if article_id not in seen:
            seen.add(article_id)
            best.append((doc, score))
    return best


def _hits(
    index: LoadedIndex, query: str, page: Ranking, offset: int, lexical: Ranking, semantic: Ranking
) -> list[Hit]:
    """Hits for one page, with texts, articles, snippets and both legs' standing."""
    legs = [{doc: LegHit(r, s) for r, (doc, s) in enumerate(leg, 1)} for leg in (lexical, semantic)]
    paragraphs = index.store.paragraphs([doc for doc, _ in page])
    articles = index.store.articles(p.article_id for p in paragraphs.values())
    hits = []
    for rank, (doc, score) in enumerate(page, start=offset + 1):
        p = paragraphs[doc]
        a = articles[p.article_id]
        hits.append(
            Hit(
                rank,
                p.id,
                a.id,
                a.title,
                a.date,
                a.url,
                p.text,
                snippet(p.text, query),
                score,
                legs[0].get(doc),
                legs[1].get(doc),
            )
        )
    return hits
