"""Domain records shared by the indexer, the searcher and the web layer."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Article:
    """One news article as read from the corpus, before it is split."""

    id: str
    title: str
    body: str
    date: str | None = None  # ISO YYYY-MM-DD
    url: str | None = None
    rubric: str | None = None
    source: str = ""  # file the article came from, relative to the corpus folder

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form of the article."""
        return asdict(self)


@dataclass(frozen=True)
class Paragraph:
    """A retrievable unit: one paragraph (or a sentence-bounded cut of a long one)."""

    id: str  # "<article-id>:<n>"
    article_id: str
    n: int  # 0-based position inside the article
    text: str

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form of the paragraph."""
        return asdict(self)


@dataclass(frozen=True)
class LegHit:
    """Where one leg (BM25 or semantic) ranked a paragraph: 1-based rank and raw score."""

    rank: int
    score: float


@dataclass(frozen=True)
class Hit:
    """One search result: a paragraph, its article, its fused and per-leg standing."""

    rank: int  # 1-based, over the whole result list (offset included)
    id: str
    article_id: str
    title: str
    date: str | None
    url: str | None
    text: str  # the full paragraph, plain text
    snippet: str  # HTML-escaped text with <mark>ed query words, trimmed when long
    score: float  # fused score (or the single leg's score in bm25/semantic mode)
    bm25: LegHit | None
    semantic: LegHit | None

    def to_dict(self) -> dict[str, Any]:
        """The hit as in the API contract (legs that missed it are null)."""
        return asdict(self)


@dataclass(frozen=True)
class SearchResult:
    """One page of results and how it was produced."""

    query: str
    mode: str  # hybrid | bm25 | semantic
    fusion: str  # rrf | convex
    alpha: float | None  # weight of the semantic leg in convex fusion, else None
    k: int
    offset: int
    total: int  # candidates found by the legs after fusion and filters
    took_ms: float
    results: list[Hit]

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of `GET /api/search`."""
        return asdict(self)
