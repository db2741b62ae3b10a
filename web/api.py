"""The JSON API under /api: search, articles, stats, health and its own OpenAPI document.

Every error is a JSON object `{"error": {"code", "message", "param"?}}`; domain errors
become HTTP statuses only here, at the edge.
"""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, Response, abort, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from core.errors import SearchError
from core.lru import CacheStats
from search.contract import CacheCounters, SearchRequest
from search.service import Searcher
from web import openapi
from web.errors import STATUS, status_of
from web.searcher import get_searcher

bp = Blueprint("api", __name__, url_prefix="/api")


def error_response(status: int, code: str, message: str, param: str | None = None) -> Response:
    """The JSON error body every failure under /api answers with."""
    error = {"code": code, "message": message}
    if param is not None:
        error["param"] = param
    response = jsonify({"error": error})
    response.status_code = status
    return response


# --- endpoints --------------------------------------------------------------------------


@bp.get("/search")
def search() -> ResponseReturnValue:
    """One page of fused results (the API contract in docs/design.md)."""
    return get_searcher().search(SearchRequest.from_query(request.args)).to_dict()


@bp.get("/articles/<path:article_id>")
def article(article_id: str) -> ResponseReturnValue:
    """An article's metadata and its paragraphs in order."""
    found = get_searcher().article(article_id)
    if found is None:
        abort(404, description=f"no article with id {article_id!r}")
    return found.to_dict()


@bp.get("/stats")
def stats() -> ResponseReturnValue:
    """What the current index holds and how it was built, and this process's caches."""
    searcher = get_searcher()
    caches = {
        "query_cache": _answer(query_cache_stats(searcher)),
        "sentence_cache": _answer(searcher.sentence_cache_stats()),
        "result_cache": _answer(searcher.result_cache_stats()),
    }
    return searcher.stats().model_copy(update=caches).to_dict()


def query_cache_stats(searcher: Searcher) -> CacheStats:
    """The query caches of the searcher's encoders, summed (an encoder without one adds 0)."""
    models = (searcher.encoder, searcher.cross)
    counts = [c() for e in models if (c := getattr(e, "query_cache_stats", None)) is not None]
    return CacheStats.total(counts)


def _answer(counts: CacheStats) -> CacheCounters:
    """A cache's counters as the API states them."""
    return CacheCounters(**asdict(counts))


@bp.get("/health")
def health() -> ResponseReturnValue:
    """200 while the process is up; `index` says whether searches can be answered."""
    try:
        generation = get_searcher().stats().generation
    except SearchError as exc:
        message = status_of(exc)[2]
        return {"status": "ok", "index": False, "generation": None, "message": message}
    return {"status": "ok", "index": True, "generation": generation, "message": None}


@bp.get("/openapi.json")
def openapi_document() -> ResponseReturnValue:
    """The OpenAPI description of this API."""
    return openapi.document()


# --- errors -----------------------------------------------------------------------------


def _search_error(exc: SearchError) -> ResponseReturnValue:
    """A domain error as its status (web/errors.py); a bad parameter names itself."""
    status, code, message = status_of(exc)
    return error_response(status, code, message, getattr(exc, "param", None))


for _kind in STATUS:
    bp.register_error_handler(_kind, _search_error)


def http_error(exc: HTTPException) -> ResponseReturnValue:
    """Any HTTP error under /api as JSON, keeping its headers (405's Allow)."""
    code = (exc.name or "error").lower().replace(" ", "_")
    response = error_response(exc.code or 500, code, exc.description or exc.name)
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response
