"""The JSON API under /api: search, articles, stats, health and its own OpenAPI document.

Every error is a JSON object `{"error": {"code", "message", "param"?}}`; domain errors
become HTTP statuses only here, at the edge.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from search.errors import IndexCorrupt, IndexMismatch, IndexNotFound, ModelError, SearchError
from search.fusion import FUSIONS
from search.models import Article, Paragraph
from search.service import (
    MAX_K,
    MAX_OFFSET,
    MAX_QUERY_CHARS,
    MODES,
    InvalidParameter,
    trim_query,
)
from web import get_searcher, openapi
from web.unavailable import public_message

bp = Blueprint("api", __name__, url_prefix="/api")

# ASCII digits only: int() and \d would also take other scripts' digits.
_INTEGER = re.compile(r"-?[0-9]{1,9}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def error_response(status: int, code: str, message: str, param: str | None = None) -> Response:
    """The JSON error body every failure under /api answers with."""
    error = {"code": code, "message": message}
    if param is not None:
        error["param"] = param
    response = jsonify({"error": error})
    response.status_code = status
    return response


# --- query-string parsing, shared with the pages --------------------------------------


def query_arg(args: Mapping[str, str]) -> str:
    """`q`: required, at most MAX_QUERY_CHARS characters, not only whitespace."""
    query = args.get("q")
    if query is None:
        raise InvalidParameter("q", "q is required")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidParameter("q", f"q must be at most {MAX_QUERY_CHARS} characters")
    if not trim_query(query):
        raise InvalidParameter("q", "q must not be empty")
    return query


def int_arg(args: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """An integer parameter within low..high, `default` when absent."""
    raw = args.get(name)
    if raw is None:
        return default
    if not _INTEGER.fullmatch(raw) or not low <= int(raw) <= high:
        raise InvalidParameter(name, f"{name} must be an integer from {low} to {high}")
    return int(raw)


def choice_arg(args: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of `choices`, the first one when absent."""
    value = args.get(name, choices[0])
    if value not in choices:
        raise InvalidParameter(name, f"{name} must be one of {', '.join(choices)}")
    return value


def alpha_arg(args: Mapping[str, str]) -> float | None:
    """`alpha`: a number from 0 to 1 (the semantic leg's weight in convex fusion)."""
    raw = args.get("alpha")
    if raw is None:
        return None
    try:
        alpha = float(raw)
    except ValueError:
        alpha = math.nan
    if not 0.0 <= alpha <= 1.0:  # NaN fails this too
        raise InvalidParameter("alpha", "alpha must be a number from 0 to 1")
    return alpha


def date_arg(args: Mapping[str, str], name: str) -> date | None:
    """An ISO date YYYY-MM-DD, None when absent."""
    raw = args.get(name)
    if raw is None:
        return None
    try:
        if _DATE.fullmatch(raw):
            return date.fromisoformat(raw)
    except ValueError:
        pass
    raise InvalidParameter(name, f"{name} must be a date as YYYY-MM-DD")


SEARCH_PARAMS = ("q", "k", "offset", "mode", "fusion", "alpha", "date_from", "date_to")


def search_args(args: MultiDict[str, str]) -> dict[str, Any]:
    """Keyword arguments for Searcher.search(); InvalidParameter names the first bad one."""
    for name in SEARCH_PARAMS:  # `k=5&k=50` is ambiguous: refuse rather than guess
        if len(args.getlist(name)) > 1:
            raise InvalidParameter(name, f"{name} must be given at most once")
    params = {
        "query": query_arg(args),
        "k": int_arg(args, "k", 10, 1, MAX_K),
        "offset": int_arg(args, "offset", 0, 0, MAX_OFFSET),
        "mode": choice_arg(args, "mode", MODES),
        "fusion": choice_arg(args, "fusion", FUSIONS),
        "alpha": alpha_arg(args),
        "date_from": date_arg(args, "date_from"),
        "date_to": date_arg(args, "date_to"),
    }
    if params["date_from"] and params["date_to"] and params["date_from"] > params["date_to"]:
        raise InvalidParameter("date_from", "date_from must not be after date_to")
    return params


# --- endpoints --------------------------------------------------------------------------


@bp.get("/search")
def search() -> ResponseReturnValue:
    """One page of fused results (the API contract in docs/design.md)."""
    return get_searcher().search(**search_args(request.args)).to_dict()


@bp.get("/articles/<path:article_id>")
def article(article_id: str) -> ResponseReturnValue:
    """An article's metadata and its paragraphs in order."""
    found = get_searcher().article(article_id)
    if found is None:
        abort(404, description=f"no article with id {article_id!r}")
    return article_body(*found)


def article_body(article: Article, paragraphs: list[Paragraph]) -> dict[str, Any]:
    """The article without its body: the body is exactly the paragraphs, listed next to it."""
    meta = {key: value for key, value in article.to_dict().items() if key != "body"}
    return {
        "article": meta,
        "paragraphs": [{"id": p.id, "n": p.n, "text": p.text} for p in paragraphs],
    }


@bp.get("/stats")
def stats() -> ResponseReturnValue:
    """What the current index holds and how it was built."""
    return get_searcher().stats()


@bp.get("/health")
def health() -> ResponseReturnValue:
    """200 while the process is up; `index` says whether searches can be answered."""
    try:
        generation = get_searcher().stats()["generation"]
    except SearchError as exc:
        message = public_message(exc)
        return {"status": "ok", "index": False, "generation": None, "message": message}
    return {"status": "ok", "index": True, "generation": generation, "message": None}


@bp.get("/openapi.json")
def openapi_document() -> ResponseReturnValue:
    """The OpenAPI description of this API."""
    return openapi.document()


# --- errors -----------------------------------------------------------------------------


@bp.errorhandler(InvalidParameter)
def _bad_parameter(exc: InvalidParameter) -> ResponseReturnValue:
    return error_response(400, "bad_request", str(exc), exc.param)


@bp.errorhandler(IndexNotFound)
@bp.errorhandler(IndexMismatch)
@bp.errorhandler(IndexCorrupt)
def _index_unavailable(exc: SearchError) -> ResponseReturnValue:
    return error_response(503, "index_unavailable", public_message(exc))


@bp.errorhandler(ModelError)
def _model_unavailable(exc: ModelError) -> ResponseReturnValue:
    return error_response(503, "model_unavailable", public_message(exc))


def http_error(exc: HTTPException) -> ResponseReturnValue:
    """Any HTTP error under /api as JSON, keeping its headers (405's Allow)."""
    code = (exc.name or "error").lower().replace(" ", "_")
    response = error_response(exc.code or 500, code, exc.description or exc.name)
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response
