"""One table from domain errors to HTTP answers, read by the API (JSON) and the pages (HTML)."""

from __future__ import annotations

from core.errors import IndexCorrupt, IndexMismatch, IndexNotFound, ModelError, SearchError
from search.contract import InvalidParameter

# error class -> (HTTP status, the API's error code)
STATUS: dict[type[SearchError], tuple[int, str]] = {
    InvalidParameter: (400, "bad_request"),
    IndexNotFound: (503, "index_unavailable"),
    IndexMismatch: (503, "index_unavailable"),
    IndexCorrupt: (503, "index_unavailable"),
    ModelError: (503, "model_unavailable"),
}


def status_of(exc: SearchError) -> tuple[int, str]:
    """The status and code for `exc`: its class's or its nearest listed base class's.
    Handlers are registered for the listed classes only: anything else is a 500."""
    return next(STATUS[kind] for kind in type(exc).__mro__ if kind in STATUS)
