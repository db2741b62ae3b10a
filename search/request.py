"""The search request: the one declaration of every search parameter, and its parsing.

`SearchRequest` is the only place a search parameter is declared: its type, range, default
and description. The JSON API parses query strings into it (`from_query`), the page builds
one from its form, `manage.py search` generates its options from its fields (`query_options`),
and the OpenAPI document (web/openapi.py) is generated from it. A parameter added here
reaches every front end; its error message is derived from its declaration (`problem`).
Read it through search/contract.py, which also holds the answer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

from core.errors import SearchError
from search.fusion import (
    DEFAULT_ALPHA,
    DEFAULT_ALPHAS,
    DEFAULT_FUSION,
    FEW_HOLDERS,
    FUSIONS,
    TRUSTED_ALPHA,
)
from search.syntax import BLANK, ParsedQuery, parse

MAX_QUERY_CHARS = 1000
MAX_K = 100
MAX_OFFSET = 1000
MAX_FILTER_CHARS = 200  # an outlet or rubric name
ONLY_OPERATORS = (
    'q has nothing to search for: only operators (-word, OR, ""); add a word that is not excluded'
)
# sort=date orders the first DATE_POOL results of the relevance ranking (the relevance floor):
# deeper results are too loosely related to the query to be worth listing by date.
DATE_POOL = 200

Mode = Literal["hybrid", "bm25", "semantic"]
Fusion = Literal[FUSIONS]  # type: ignore[valid-type]
Group = Literal["none", "article"]
Sort = Literal["relevance", "date"]
Syntax = Literal["on", "off"]
MODES: tuple[str, ...] = get_args(Mode)

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
        description="the question, in any language; not only whitespace. Syntax: "
        '"a phrase" (its words side by side, in order; a quote left open is ignored), '
        "-word (no result holds it), a OR b (either; upper-case OR). Words alone rank as "
        "always: nothing is required. A query with no word outside its operators "
        '(-foo, OR, "") is refused',
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
        description="weight of the semantic leg in coverage and convex fusion (coverage: "
        f"{DEFAULT_ALPHAS['coverage']}, or {TRUSTED_ALPHA} when BM25's first hit is one of at "
        f"most {FEW_HOLDERS} that hold every query word; convex: {DEFAULT_ALPHAS['convex']}; "
        "ignored by the RRF fusions)",
        json_schema_extra={"default": DEFAULT_ALPHA},
    )
    date_from: date | None = Field(None, description="earliest article date")
    date_to: date | None = Field(None, description="latest article date (>= date_from)")
    group: Group = Field("none", description="article: each article once, at its best paragraph")
    sort: Sort = Field(
        "relevance",
        description=f"date: the first {DATE_POOL} results by relevance, newest first "
        "(undated last, equal dates by relevance)",
    )

    syntax: Syntax = Field(
        "on",
        description='off: q is plain words; quotes, a leading "-" and OR are text (for pasted '
        "text that is not meant as query syntax)",
    )
    source: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_FILTER_CHARS,
        description="only articles of this outlet (the corpus's source field; outlet in "
        "answers): the whole name, any case",
    )
    rubric: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_FILTER_CHARS,
        description="only articles of this rubric: the whole name, any case",
    )

    @field_validator("source", "rubric")
    @classmethod
    def _filter_text(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Valid Unicode (a CLI string can hold a lone surrogate)."""
        if value is not None and _has_surrogate(value):
            raise ValueError(f"{info.field_name} must be valid Unicode text")
        return value

    @field_validator("q")
    @classmethod
    def _query(cls, value: str) -> str:
        """Trimmed, not empty, valid Unicode (a JSON or CLI string can hold a lone surrogate)."""
        value = trim_query(value)
        if not value:
            raise ValueError("q must not be empty")
        if _has_surrogate(value):
            raise ValueError("q must be valid Unicode text (it holds a lone surrogate)")
        return value

    @model_validator(mode="after")
    def _dates_in_order(self) -> SearchRequest:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from must not be after date_to")
        return self

    @model_validator(mode="after")
    def _something_to_search(self) -> SearchRequest:
        """A query that is only operators (`-foo`, `OR`, `""`) has nothing to search for."""
        if self.parsed.empty:
            raise ValueError(ONLY_OPERATORS)
        return self

    @property
    def parsed(self) -> ParsedQuery:
        """`q` read by the query syntax (search/syntax.py), or as plain words with syntax=off."""
        return parse(self.q, operators=self.syntax == "on")

    def __init__(self, **values: Any) -> None:
        """Validate `values`; a bad one raises InvalidParameter naming it."""
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise _invalid(type(self), exc) from None

    @property
    def alpha_used(self) -> float | None:
        """The semantic weight asked for: as given, else the fusion's default (which the
        coverage fusion may lower by the query's evidence: search/fusion.py); None when the
        mode or the fusion has no weight."""
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


def _has_surrogate(value: str) -> bool:
    """Whether `value` holds a lone surrogate (not text: it cannot be encoded)."""
    return not value.isascii() and any(0xD800 <= ord(c) <= 0xDFFF for c in value)


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
    if field.metadata and kind is str:
        return f"{name} must be 1 to {MAX_FILTER_CHARS} characters"
    return f"{name} is not valid"


def _invalid(model: type[BaseModel], exc: ValidationError) -> InvalidParameter:
    """The first validation error as InvalidParameter, in the field's own words."""
    error = exc.errors()[0]
    # A model-level error (loc empty) names its parameter first: "date_from must not be ..."
    name = str(error["loc"][0]) if error["loc"] else str(error["ctx"]["error"]).split()[0]
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


def query_options(model: type[BaseModel] = SearchRequest) -> Mapping[str, FieldInfo]:
    """Every parameter but the query itself, in declaration order (for the CLI)."""
    return {name: field for name, field in model.model_fields.items() if name != "q"}
