"""HTML pages: the search form with its results, and an article page.

Plain server-rendered HTML: a GET form, links for paging, no JavaScript at all. Every value
is autoescaped except the snippet, which the Searcher has already escaped and marked up.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from search.errors import IndexCorrupt, IndexMismatch, IndexNotFound, ModelError, SearchError
from search.models import Hit, SearchResult
from search.service import MAX_OFFSET, MAX_QUERY_CHARS, MODES, InvalidParameter, trim_query
from web import get_searcher
from web.api import choice_arg, int_arg, query_arg
from web.unavailable import public_message

bp = Blueprint("pages", __name__)

PAGE_SIZE = 10
LAST_PAGE = MAX_OFFSET // PAGE_SIZE + 1
MODE_LABELS = {
    "hybrid": "Гибридный / Hybrid",
    "bm25": "По словам / Words (BM25)",
    "semantic": "По смыслу / Meaning",
}
EXAMPLES = ("порт Чанкай", "stipends for NAM students")
# Bilingual titles of the error pages, by status.
ERROR_TITLES = {
    400: "Неверный запрос / Bad request",
    404: "Не найдено / Not found",
    405: "Метод не поддерживается / Method not allowed",
    414: "Слишком длинный адрес / URL too long",
    500: "Внутренняя ошибка / Internal error",
    503: "Сервис недоступен / Service unavailable",
}


@bp.get("/")
def search() -> ResponseReturnValue:
    """The search form; with `q`, one page of results under it."""
    mode = choice_arg(request.args, "mode", MODES)
    if not trim_query(request.args.get("q", "")):
        return render_template("search.html", q="", mode=mode, result=None, **_form_context())
    query = query_arg(request.args)
    page = int_arg(request.args, "page", 1, 1, LAST_PAGE)
    result = get_searcher().search(query, k=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, mode=mode)
    return render_template(
        "search.html",
        q=query,
        mode=mode,
        result=result,
        hits=[(hit, _hit_link(hit, query, mode)) for hit in result.results],
        pager=_pager(result, query, mode, page),
        **_form_context(),
    )


def _form_context() -> dict[str, Any]:
    """What the search form needs besides the current values."""
    return {"modes": MODE_LABELS, "examples": EXAMPLES}


def _hit_link(hit: Hit, query: str, mode: str) -> str:
    """The article page scrolled to, and marking, the hit's paragraph."""
    n = hit.id.rsplit(":", 1)[1]
    return url_for(
        "pages.article", article_id=hit.article_id, hl=n, q=query, mode=mode, _anchor=f"p{n}"
    )


def _pager(result: SearchResult, query: str, mode: str, page: int) -> dict[str, Any]:
    """The 'results 11–20 of N' numbers and the previous/next links (None at the ends)."""
    first, last = result.offset + 1, result.offset + len(result.results)
    has_next = last < result.total and page < LAST_PAGE

    def link(number: int) -> str:
        return url_for("pages.search", q=query, mode=mode, page=number if number > 1 else None)

    return {
        "first": first,
        "last": last,
        "total": result.total,
        "prev": link(page - 1) if page > 1 else None,
        "next": link(page + 1) if has_next else None,
        "first_page": link(1),
    }


@bp.get("/articles/<path:article_id>")
def article(article_id: str) -> ResponseReturnValue:
    """An article, every paragraph anchored as #p<n>; `hl` marks the one a result pointed at."""
    found = get_searcher().article(article_id)
    if found is None:
        abort(404, description=f"Статьи {article_id!r} нет / No article {article_id!r}")
    meta, paragraphs = found
    back = url_for("pages.search", q=request.args.get("q") or None, mode=_given_mode())
    return render_template(
        "article.html",
        article=meta,
        paragraphs=paragraphs,
        hl=request.args.get("hl", type=int),
        source_url=_web_url(meta.url),
        back=back,
    )


def _given_mode() -> str | None:
    """The request's mode when it is a valid one (for links back to the search)."""
    mode = request.args.get("mode")
    return mode if mode in MODES else None


def _web_url(url: str | None) -> str | None:
    """The URL if it is http(s): a corpus could carry a javascript: link."""
    if url and urlsplit(url).scheme.lower() in ("http", "https"):
        return url
    return None


# --- errors -----------------------------------------------------------------------------


def error_page(
    status: int, message: str, command: str | None = None, keep_query: bool = False
) -> tuple[str, int]:
    """A small page for a failed request, with the search form to go on from.

    `keep_query` refills the form with the request's q and mode (for a 400, so the user can
    fix it); other errors never parse the query string, which may be the problem (414).
    """
    q, mode = "", MODES[0]
    if keep_query:
        q = request.args.get("q", "")[:MAX_QUERY_CHARS]
        mode = _given_mode() or mode
    context = {"status": status, "message": message, "command": command, "q": q, "mode": mode}
    title = ERROR_TITLES.get(status, "Ошибка / Error")
    return render_template("error.html", title=title, **context, **_form_context()), status


@bp.errorhandler(InvalidParameter)
def _bad_parameter(exc: InvalidParameter) -> ResponseReturnValue:
    return error_page(400, str(exc), keep_query=True)


@bp.errorhandler(IndexNotFound)
@bp.errorhandler(IndexMismatch)
@bp.errorhandler(IndexCorrupt)
def _index_unavailable(exc: SearchError) -> ResponseReturnValue:
    return error_page(503, public_message(exc), command="python manage.py reindex")


@bp.errorhandler(ModelError)
def _model_unavailable(exc: ModelError) -> ResponseReturnValue:
    return error_page(503, public_message(exc))


def http_error(exc: HTTPException) -> ResponseReturnValue:
    """Any HTTP error outside /api as a page, keeping its headers (405's Allow)."""
    body, status = error_page(exc.code or 500, exc.description or exc.name)
    headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
    return body, status, headers
