"""The search contract: one definition of a search request and of its answer.

`SearchRequest` is the only place a search parameter is declared: its type, range, default
and description. The JSON API parses query strings into it (`from_query`), the page builds
one from its form, `manage.py search` generates its options from its fields, and the
OpenAPI document (web/openapi.py) is generated from these models. A parameter added here
reaches every front end; its error message is derived from its declaration (`problem`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo

from core.errors import SearchError
from search.fusion import DEFAULT_ALPHA, DEFAULT_ALPHAS, DEFAULT_FUSION, FUSIONS

MAX_QUERY_CHARS = 1000
MAX_K = 100
MAX_OFFSET = 1000

Mode = Literal["hybrid", "bm25", "semantic"]
Fusion = Literal[FUSIONS]  # type: ignore[valid-type]
Group = Literal["none", "article"]
MODES: tuple[str, ...] = get_args(Mode)

# The white space a query is trimmed of: JavaScript's (ECMA-262 WhiteSpace and LineTerminator),
# which is what the OpenAPI pattern "\S" for `q` means. Python's str.strip() also drops the
# control characters U+001C-U+001F and U+0085 (a schema-valid "\x1e" query became empty) and
# keeps U+FEFF (a schema-invalid one was searched).
BLANK = (
    "\t\n\v\f\r \u00a0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000\ufeff"
)

# Query-string syntax, ASCII only: int() and \d would also take other scripts' digits.
_INTEGER = re.compile(r"-?[0-9]{1,9}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def trim_query(query: str) -> str:
    """`query` without leading and trailing white space (BLANK)."""
    return query.strip(BLANK)


class InvalidParameter(SearchError):
    """A search parameter out of its range; `param` names it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


class SearchRequest(BaseModel):
    """One search: the query and how to run it, checked on construction."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    q: str = Field(
        max_length=MAX_QUERY_CHARS,
        description="the question, in any language; not only whitespace",
        json_schema_extra={"minLength": 1, "pattern": r"\S"},
    )
    k: int = Field(10, ge=1, le=MAX_K, description="page size")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="results to skip")
    mode: Mode = Field("hybrid", description="legs to run")
    fusion: Fusion = Field(DEFAULT_FUSION, description="how hybrid mode fuses the legs")
    alpha: float | None = Field(
        None,
        ge=0,
        le=1,
        description="weight of the semantic leg in coverage and convex fusion (default "
        f"{' and '.join(str(a) for a in DEFAULT_ALPHAS.values())}; ignored by the RRF fusions)",
        json_schema_extra={"default": DEFAULT_ALPHA},
    )
    date_from: date | None = Field(None, description="earliest article date")
    date_to: date | None = Field(None, description="latest article date (>= date_from)")
    group: Group = Field("none", description="article: each article once, at its best paragraph")

    @field_validator("q")
    @classmethod
    def _query(cls, value: str) -> str:
        """Trimmed, not empty, valid Unicode (a JSON or CLI string can hold a lone surrogate)."""
        value = trim_query(value)
        if not value:
            raise ValueError("q must not be empty")
        if not value.isascii() and any(0xD800 <= ord(c) <= 0xDFFF for c in value):
            raise ValueError("q must be valid Unicode text (it holds a lone surrogate)")
        return value

    @model_validator(mode="after")
    def _dates_in_order(self) -> SearchRequest:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from must not be after date_to")
        return self

    def __init__(self, **values: Any) -> None:
        """Validate `values`; a bad one raises InvalidParameter naming it."""
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise _invalid(type(self), exc) from None

    @property
    def alpha_used(self) -> float | None:
        """The semantic weight this search fuses with: the fusion's default unless given;
        None when the mode or the fusion has no weight."""
        if self.mode != "hybrid" or self.fusion not in DEFAULT_ALPHAS:
            return None
        return DEFAULT_ALPHAS[self.fusion] if self.alpha is None else self.alpha

    @classmethod
    def from_query(cls, args: Any, **fixed: Any) -> SearchRequest:
        """A request from a query string (a werkzeug MultiDict); `fixed` values win (the
        page sets k and offset itself). Parameters it does not declare are ignored."""
        values: dict[str, Any] = {}
        for name, field in cls.model_fields.items():
            if name in fixed or name not in args:
                continue
            raw = args.getlist(name) if hasattr(args, "getlist") else [args[name]]
            if len(raw) > 1:  # `k=5&k=50` is ambiguous: refuse rather than guess
                raise InvalidParameter(name, f"{name} must be given at most once")
            values[name] = parse_value(name, field, raw[0])
        if "q" not in values and "q" not in fixed:
            raise InvalidParameter("q", "q is required")
        return cls(**values, **fixed)


def parse_value(name: str, field: FieldInfo, raw: str) -> Any:
    """One query-string value as the field's type; InvalidParameter when it is not one."""
    kind = base_type(field)
    try:
        if kind is int and _INTEGER.fullmatch(raw):
            return int(raw)
        if kind is float and not math.isnan(float(raw)):
            return float(raw)
        if kind is date and _DATE.fullmatch(raw):
            return date.fromisoformat(raw)
    except ValueError:
        pass
    if kind in (int, float, date):
        raise InvalidParameter(name, problem(name, field))
    return raw


def base_type(field: FieldInfo) -> Any:
    """The field's type without None: int, float, date, str, or a Literal."""
    annotation = field.annotation
    args = [a for a in get_args(annotation) if a is not type(None)]
    if args and getattr(annotation, "__origin__", None) is not Literal:
        return args[0]
    return annotation


def choices(field: FieldInfo) -> tuple[str, ...]:
    """The allowed values of a Literal field (empty for any other)."""
    kind = base_type(field)
    return get_args(kind) if getattr(kind, "__origin__", None) is Literal else ()


def bounds(field: FieldInfo) -> tuple[Any, Any]:
    """The field's (ge, le) bounds, None where it has none."""
    low = high = None
    for item in field.metadata:
        low = getattr(item, "ge", None) if getattr(item, "ge", None) is not None else low
        high = getattr(item, "le", None) if getattr(item, "le", None) is not None else high
    return low, high


def problem(name: str, field: FieldInfo) -> str:
    """What a value of this field must be, said to a user."""
    kind, (low, high) = base_type(field), bounds(field)
    if choices(field):
        return f"{name} must be one of {', '.join(choices(field))}"
    if kind is int:
        return f"{name} must be an integer from {low} to {high}"
    if kind is float:
        return f"{name} must be a number from {low} to {high}"
    if kind is date:
        return f"{name} must be a date as YYYY-MM-DD"
    return f"{name} is not valid"


def _invalid(model: type[BaseModel], exc: ValidationError) -> InvalidParameter:
    """The first validation error as InvalidParameter, in the field's own words."""
    error = exc.errors()[0]
    name = str(error["loc"][0]) if error["loc"] else "date_from"
    if name == "q":
        if error["type"] == "missing":
            return InvalidParameter("q", "q is required")
        if error["type"] == "string_too_long":
            return InvalidParameter("q", f"q must be at most {MAX_QUERY_CHARS} characters")
        if error["type"] == "string_type":
            return InvalidParameter("q", "q must be text")
    if error["type"] == "value_error":
        return InvalidParameter(name, str(error["ctx"]["error"]))
    if name not in model.model_fields:
        return InvalidParameter(name, f"{name} is not a search parameter")
    return InvalidParameter(name, problem(name, model.model_fields[name]))


# --- the answer -------------------------------------------------------------------------

Rank = Annotated[int, Field(ge=1)]
NullableDate = Annotated[str | None, Field(json_schema_extra={"format": "date"})]


class _Record(BaseModel):
    """A closed, immutable response object; to_dict() is its JSON form."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_dict(self) -> dict[str, Any]:
        """The plain-JSON form, keys in declaration order."""
        return self.model_dump()


class LegHit(_Record):
    """Where one leg (BM25 or semantic) ranked a paragraph: 1-based rank and raw score."""

    rank: Rank
    score: float


class Hit(_Record):
    """One search result: a paragraph, its article, its fused and per-leg standing."""

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
    total: int = Field(ge=0, description="candidates found by the legs after fusion and filters")
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


class ArticleParagraph(_Record):
    """One paragraph of an article, in order."""

    id: str
    n: int = Field(ge=0)
    text: str


class ArticleWithParagraphs(_Record):
    """An article and its paragraphs (the body of GET /api/articles/<id>)."""

    article: ArticleMeta
    paragraphs: list[ArticleParagraph]


class ModelInfo(BaseModel):
    """A dense model an index was built with."""

    name: str
    fingerprint: str
    dtype: Literal["float32", "bfloat16", "onnx-fp32", "onnx-int8"] | None = Field(
        None, description="what computed the vectors: torch in float32 or bfloat16, or ONNX Runtime"
    )
    dimension: int = Field(ge=1)


class QueryCacheStats(_Record):
    """The query vector caches of the server process that answered (one per dense model,
    summed): lookups answered from them, lookups that encoded, entries held, room."""

    hits: int = Field(ge=0)
    misses: int = Field(ge=0)
    size: int = Field(ge=0, description="entries held now")
    capacity: int = Field(ge=0, description="most entries held (POISK_QUERY_CACHE per model)")


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
    query_cache: QueryCacheStats | None = Field(
        None, description="this server process's query vector caches; null outside a server"
    )

    def to_dict(self) -> dict[str, Any]:
        """The plain-JSON form; a model record leaves out what the index did not record."""
        return self.model_dump(exclude_none=False) | {
            "model": self.model.model_dump(exclude_none=True),
            "cross_model": self.cross_model and self.cross_model.model_dump(exclude_none=True),
        }


def query_options(model: type[BaseModel] = SearchRequest) -> Mapping[str, FieldInfo]:
    """Every parameter but the query itself, in declaration order (for the CLI)."""
    return {name: field for name, field in model.model_fields.items() if name != "q"}
