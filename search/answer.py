"""The search answer: the response models every front end serializes (search/contract.py).

Each is closed and immutable; `to_dict()` is its JSON form, and the OpenAPI document
(web/openapi.py) is generated from these models.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from search.request import MAX_K, MAX_OFFSET, MAX_QUERY_CHARS, Fusion, Mode

Rank = Annotated[int, Field(ge=1)]
NullableDate = Annotated[str | None, Field(json_schema_extra={"format": "date"})]


class _Record(BaseModel):
    """A closed, immutable response object; to_dict() is its JSON form.

    Keys added after the first release (OPTIONAL) are left out of the JSON while they are
    None, so an answer that does not use them is what it always was."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    OPTIONAL: ClassVar[frozenset[str]] = frozenset()

    def to_dict(self) -> dict[str, Any]:
        """The plain-JSON form, keys in declaration order, absent optional keys left out."""
        return {
            name: _plain(getattr(self, name))
            for name in type(self).model_fields
            if not (name in self.OPTIONAL and getattr(self, name) is None)
        }


def _plain(value: Any) -> Any:
    """A field's value as plain JSON (records through their to_dict)."""
    if isinstance(value, _Record):
        return value.to_dict()
    if isinstance(value, BaseModel):
        return value.model_dump()
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


class LegHit(_Record):
    """Where one leg (BM25 or semantic) ranked a paragraph: 1-based rank and raw score."""

    rank: Rank
    score: float


class MoreHit(_Record):
    """Another paragraph of a grouped hit's article among the results."""

    id: str = Field(description='"<article_id>:<n>"')
    text: str = Field(description="the whole paragraph, plain text")
    snippet: str = Field(description="HTML-escaped text; the only markup is <mark> around matches")
    score: float = Field(description="fused score")


class AlsoIn(_Record):
    """Another outlet's reprint of a grouped hit's story (indexer/reprints.py)."""

    OPTIONAL = frozenset({"outlet"})

    article_id: str
    title: str
    date: NullableDate
    outlet: str | None = Field(None, description="who published it (absent when unknown)")


class Hit(_Record):
    """One search result: a paragraph, its article, its fused and per-leg standing."""

    OPTIONAL = frozenset({"rubric", "outlet", "more", "sentence", "also_in"})

    rank: Rank = Field(description="1-based, over the whole result list (offset included)")
    id: str = Field(description='"<article_id>:<n>", n from 0')
    article_id: str
    title: str
    date: NullableDate
    url: str | None
    text: str = Field(description="the whole paragraph, plain text")
    snippet: str = Field(description="HTML-escaped text; the only markup is <mark> around matches")
    score: float = Field(description="fused score (the single leg's in bm25/semantic mode)")
    bm25: LegHit | None
    semantic: LegHit | None
    rubric: str | None = Field(None, description="the article's rubric (absent when it has none)")
    outlet: str | None = Field(
        None, description="who published the article (absent when the corpus does not say)"
    )
    more: list[MoreHit] | None = Field(
        None,
        description="group=article only (absent otherwise): the article's other paragraphs "
        "among the results, best first",
    )
    sentence: str | None = Field(
        None,
        description="a paragraph in another script than the query (an English query, a "
        "Russian paragraph) and of two sentences or more: its sentence nearest the query in "
        "meaning, the one the snippet marks instead of words (absent otherwise)",
    )
    also_in: list[AlsoIn] | None = Field(
        None,
        description="group=article only, for a story reprinted by other outlets (found at "
        "index time): the other reprints, oldest first; the hit is the best-ranked of them "
        "(absent otherwise)",
    )


class SearchResult(_Record):
    """One page of results and how it was produced (the body of GET /api/search)."""

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    mode: Mode
    fusion: Fusion
    alpha: float | None = Field(
        ge=0, le=1, description="semantic weight in convex fusion; null otherwise"
    )
    k: int = Field(ge=1, le=MAX_K)
    offset: int = Field(ge=0, le=MAX_OFFSET)
    total: int = Field(
        ge=0,
        description="results (paragraphs, or articles when grouped), the same on every page: "
        "those among each leg's first 100 hits, or the whole date-sorted pool",
    )
    total_relation: Literal["eq", "gte"] = Field(
        description="eq: total is exact; gte: a leg had more hits, total is a lower bound"
    )
    took_ms: float = Field(ge=0)
    results: list[Hit] = Field(max_length=MAX_K)


class ArticleMeta(_Record):
    """An article without its body (the body is exactly its paragraphs)."""

    id: str
    title: str
    date: NullableDate
    url: str | None
    rubric: str | None
    source: str = Field(description="file it came from, in the corpus")
    outlet: str | None = Field(
        None, description="who published it (absent when the corpus does not say)"
    )

    OPTIONAL = frozenset({"outlet"})


class ArticleParagraph(_Record):
    """One paragraph of an article, in order."""

    id: str
    n: int = Field(ge=0)
    text: str


class ArticleWithParagraphs(_Record):
    """An article and its paragraphs (the body of GET /api/articles/<id>)."""

    article: ArticleMeta
    paragraphs: list[ArticleParagraph]


# what computed a model's vectors: torch in float32 or bfloat16, or ONNX Runtime
Dtype = Literal["float32", "bfloat16", "onnx-fp32", "onnx-int8", "onnx-mixed"]


class ModelInfo(BaseModel):
    """A dense model an index was built with."""

    name: str
    fingerprint: str
    dtype: Dtype | None = Field(
        None, description="what computed the vectors: torch in float32 or bfloat16, or ONNX Runtime"
    )
    dimension: int = Field(ge=1)


class CacheCounters(_Record):
    """A cache of the server process that answered (a vector cache: one per dense model,
    summed): lookups answered from it, lookups that were not, entries held, room."""

    hits: int = Field(ge=0)
    misses: int = Field(ge=0)
    size: int = Field(ge=0, description="entries held now")
    capacity: int = Field(
        ge=0,
        description="most entries held (POISK_QUERY_CACHE or POISK_SENTENCE_CACHE a model, "
        "POISK_RESULT_CACHE)",
    )


class Stats(_Record):
    """What the current index holds and how it was built (the body of GET /api/stats)."""

    articles: int = Field(ge=0)
    paragraphs: int = Field(ge=0)
    model: ModelInfo
    cross_model: ModelInfo | None = Field(
        description="the cross-lingual dense model; null when the index has none"
    )
    built_at: str = Field(json_schema_extra={"format": "date-time"})
    generation: str
    vectors: Literal["flat", "hnsw"]
    source: str = Field(description="folder the index was built from")
    shards: int = Field(ge=1, description="shards the index is split into (docs/segments.md)")
    query_dtype: Dtype | None = Field(
        None,
        description="what this server encodes queries with: the runtime POISK_RUNTIME picks for "
        "queries, which may differ from the one that computed the index's vectors (`model`)",
    )
    query_cache: CacheCounters | None = Field(
        None, description="this server process's query vector caches; null outside a server"
    )
    sentence_cache: CacheCounters | None = Field(
        None,
        description="this server process's caches of the sentence vectors that mark "
        "cross-script hits; null outside a server",
    )
    result_cache: CacheCounters | None = Field(
        None,
        description="this server process's kept answers, by build and request; null outside "
        "a server",
    )

    def to_dict(self) -> dict[str, Any]:
        """The plain-JSON form; a model record leaves out what the index did not record."""
        return self.model_dump(exclude_none=False) | {
            "model": self.model.model_dump(exclude_none=True),
            "cross_model": self.cross_model and self.cross_model.model_dump(exclude_none=True),
        }
