"""The web service: a JSON API under /api and HTML pages, over one shared Searcher.

`create_app()` is an application factory (as in Flask's flaskr tutorial): it takes its
settings and, for tests, a ready Searcher; otherwise the Searcher, and with it the
embedding model, is built on first use, once per process.
"""

from __future__ import annotations

from flask import Flask, current_app, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, InternalServerError, RequestURITooLarge
from werkzeug.wrappers import Response

from core.config import Settings
from search.service import Searcher
from web.searcher import LazySearcher

# Nothing here takes a request body; anything bigger than this is refused unread.
MAX_BODY_BYTES = 64 * 1024
# A valid search URL stays below this: q holds at most 1000 characters, which is at most
# 12 KB percent-encoded (4-byte UTF-8). Longer URLs are refused before q is even parsed.
MAX_URL_BYTES = 16 * 1024

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def is_api_request() -> bool:
    """Errors under /api answer JSON; everywhere else, a page."""
    return request.path == "/api" or request.path.startswith("/api/")


def create_app(settings: Settings | None = None, searcher: Searcher | None = None) -> Flask:
    """The Flask app over `searcher`, or over one built lazily from `settings` (or the env)."""
    from web import api, pages

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    # "/api/articles//etc/passwd" is an unknown id (404), not a 308 to a rewritten URL that
    # the API's document does not declare; no route of ours has an empty segment.
    app.url_map.merge_slashes = False
    app.json.sort_keys = False  # keep the contract's key order
    app.json.ensure_ascii = False  # Russian stays readable
    app.extensions["poisk"] = LazySearcher(settings or Settings.from_env(), searcher)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.before_request(_refuse_long_urls)
    app.after_request(_add_security_headers)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    return app


def _refuse_long_urls() -> None:
    """414 for an oversized URL before any view parses it (and before the model sees it)."""
    environ = request.environ
    size = len(environ.get("PATH_INFO", "")) + len(environ.get("QUERY_STRING", ""))
    if size > MAX_URL_BYTES:
        raise RequestURITooLarge(f"the URL is longer than {MAX_URL_BYTES} bytes")


def _add_security_headers(response: Response) -> Response:
    """Headers every response carries: no inline code, no framing, no sniffing."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _http_error(exc: HTTPException) -> ResponseReturnValue:
    """404, 405, 414, ... as JSON under /api and as a page elsewhere."""
    from web import api, pages

    return api.http_error(exc) if is_api_request() else pages.http_error(exc)


def _unexpected_error(exc: Exception) -> ResponseReturnValue:
    """A bug: log the traceback, answer a plain 500 without it."""
    current_app.logger.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return _http_error(InternalServerError())
