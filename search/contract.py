"""The search contract: one definition of a search request and of its answer.

`SearchRequest` is the only place a search parameter is declared: its type, range, default
and description. The JSON API parses query strings into it (`from_query`), the page builds
one from its form, `manage.py search` generates its options from its fields, and the
OpenAPI document (web/openapi.py) is generated from these models. A parameter added here
reaches every front end; its error message is derived from its declaration (`problem`).

The request and its parsing are in search/request.py, the answer models in
search/answer.py; every front end imports both from here.
"""

from search.answer import (
    AlsoIn,
    ArticleMeta,
    ArticleParagraph,
    ArticleWithParagraphs,
    CacheCounters,
    Hit,
    LegHit,
    ModelInfo,
    MoreHit,
    NullableDate,
    Rank,
    SearchResult,
    Stats,
)
from search.request import (
    BLANK,
    DATE_POOL,
    MAX_FILTER_CHARS,
    MAX_K,
    MAX_OFFSET,
    MAX_QUERY_CHARS,
    MODES,
    Fusion,
    Group,
    InvalidParameter,
    Mode,
    SearchRequest,
    Sort,
    base_type,
    bounds,
    choices,
    parse_value,
    problem,
    query_options,
    trim_query,
)

__all__ = [
    "BLANK",
    "DATE_POOL",
    "MAX_FILTER_CHARS",
    "MAX_K",
    "MAX_OFFSET",
    "MAX_QUERY_CHARS",
    "MODES",
    "AlsoIn",
    "ArticleMeta",
    "ArticleParagraph",
    "ArticleWithParagraphs",
    "CacheCounters",
    "Fusion",
    "Group",
    "Hit",
    "InvalidParameter",
    "LegHit",
    "Mode",
    "ModelInfo",
    "MoreHit",
    "NullableDate",
    "Rank",
    "SearchRequest",
    "SearchResult",
    "Sort",
    "Stats",
    "base_type",
    "bounds",
    "choices",
    "parse_value",
    "problem",
    "query_options",
    "trim_query",
]
