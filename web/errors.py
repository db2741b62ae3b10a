"""One table from domain errors to HTTP answers, read by the API (JSON) and the pages (HTML).

The domain errors' messages are written for the operator: they name files and folders on
the server ("no index at /srv/poisk/var/index"). A 503 tells the public what is wrong and
what fixes it in words that give nothing of the server away; the full message goes to the
server's log, where the operator looks.
"""

from __future__ import annotations

from flask import current_app

from core.errors import (
    IndexCorrupt,
    IndexMismatch,
    IndexNotFound,
    ModelError,
    SearchError,
    ShardUnavailable,
)
from search.contract import InvalidParameter

REINDEX = "run `python manage.py reindex` to build it"

# error class -> (HTTP status, the API's error code, what the public is told; None: the
# error's own message, which is about the request, not the server)
STATUS: dict[type[SearchError], tuple[int, str, str | None]] = {
    InvalidParameter: (400, "bad_request", None),
    IndexNotFound: (
        503,
        "index_unavailable",
        f"the search index has not been built yet; {REINDEX}",
    ),
    IndexMismatch: (
        503,
        "index_unavailable",
        f"the search index was built for another model or version; {REINDEX}",
    ),
    IndexCorrupt: (
        503,
        "index_unavailable",
        f"the search index is damaged or incomplete; {REINDEX}",
    ),
    ModelError: (
        503,
        "model_unavailable",
        "the search service is unavailable (the embedding model could not be loaded)",
    ),
    # its message names the shard and nothing of the server: "shard 2 of 4 is unavailable ..."
    ShardUnavailable: (503, "shard_unavailable", None),
}

UNLISTED = (500, "internal_server_error", "the search service failed; the error is logged")


def status_of(exc: SearchError) -> tuple[int, str, str]:
    """The status, code and public message for `exc`, by its class or its nearest listed base
    class (handlers are registered for the listed classes only; the health check asks about
    any SearchError, and an unlisted one is a 500).
    A message kept from the public is logged."""
    listed = (STATUS[kind] for kind in type(exc).__mro__ if kind in STATUS)
    status, code, public = next(listed, UNLISTED)
    if public is not None:
        current_app.logger.warning("service unavailable: %s", exc)
    return status, code, public or str(exc)
