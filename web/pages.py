"""HTML pages: the search form with its results, and an article page.

Plain server-rendered HTML: a GET form, links for paging, no JavaScript at all. Every value
is autoescaped except the snippet, which the Searcher has already escaped and marked up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from core.errors import SearchError
from index.text import script
from search.contract import (
    MAX_OFFSET,
    MAX_QUERY_CHARS,
    MODES,
    Hit,
    InvalidParameter,
    MoreHit,
    SearchRequest,
    SearchResult,
    problem,
    trim_query,
)
from search.snippets import highlight
from search.syntax import parse
from web.errors import STATUS, status_of
from web.searcher import get_searcher

bp = Blueprint("pages", __name__)

PAGE_SIZE = 10
LAST_PAGE = MAX_OFFSET // PAGE_SIZE + 1
MODE_LABELS = {
    "hybrid": "Гибридный / Hybrid",
    "bm25": "По словам / Words (BM25)",
    "semantic": "По смыслу / Meaning",
}
SORT_LABELS = {"relevance": "По релевантности / Relevance", "date": "Сначала новые / Newest first"}
GROUP_LABELS = {"article": "По статьям / By article", "none": "Все абзацы / Every paragraph"}
EXAMPLES = ("порт Чанкай", "stipends for NAM students")
# The form's fields besides q, and where the page's default differs from the API's: the page
# lists each article once, the API keeps its paragraph list.
FORM_FIELDS = ("mode", "sort", "group", "date_from", "date_to", "source", "rubric")
PAGE_DEFAULTS = {"group": "article"}
SCRIPT_LANGS = {"cyrillic": "ru", "latin": "en"}  # a paragraph's language, by its script
MAX_FIELD_CHARS = 200  # a refilled field is cut to this (the value itself is checked later)
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
    mode = _mode()
    if not trim_query(request.args.get("q", "")):
        return render_template("search.html", q="", mode=mode, result=None, **_form_context())
    page = _page_number()
    search_request = _search_request(page)
    result = get_searcher().search(search_request)
    query = search_request.q
    return render_template(
        "search.html",
        q=query,
        mode=mode,
        result=result,
        hits=[_shown(hit, query, mode) for hit in result.results],
        pager=_pager(result, query, mode, page),
        **_form_context(),
    )


def _search_request(page: int) -> SearchRequest:
    """The request of the form: its filled-in fields (an empty one is not given), the page's
    defaults where the form says nothing, and the page's size and offset."""
    args = MultiDict([(k, v) for k, v in request.args.items(multi=True) if v != ""])
    fixed: dict[str, Any] = {"k": PAGE_SIZE, "offset": (page - 1) * PAGE_SIZE}
    fixed |= {name: value for name, value in PAGE_DEFAULTS.items() if name not in args}
    return SearchRequest.from_query(args, **fixed)


def _defaults() -> dict[str, str]:
    """The form's fields as the page fills them when the request says nothing."""
    fields = SearchRequest.model_fields
    defaults = {name: PAGE_DEFAULTS.get(name, fields[name].default) for name in FORM_FIELDS}
    return {name: "" if value is None else str(value) for name, value in defaults.items()}


def _form_values() -> dict[str, str]:
    """The form's fields as the request gave them (a refused value too, so the user can fix
    it), the page's defaults where it gave none."""
    given = {name: request.args.get(name, "")[:MAX_FIELD_CHARS] for name in FORM_FIELDS}
    return {name: given[name] or default for name, default in _defaults().items()}


def _carried() -> dict[str, str]:
    """The form's fields (but mode) that differ from the page's defaults: what links back to
    this search (the pager, the results, the article page's way back) keep."""
    defaults = _defaults()
    return {
        name: value
        for name, value in _form_values().items()
        if name != "mode" and value != defaults[name]
    }


def _mode() -> str:
    """The request's mode (the form shows it even without a query); 400 when unknown."""
    mode = request.args.get("mode", MODES[0])
    if mode not in MODES:
        raise InvalidParameter("mode", problem("mode", SearchRequest.model_fields["mode"]))
    return mode


def _page_number() -> int:
    """`page`, from 1 to LAST_PAGE: the page's own parameter (the API takes offset)."""
    raw = request.args.get("page", "1")
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= LAST_PAGE:
        raise InvalidParameter("page", f"page must be an integer from 1 to {LAST_PAGE}")
    return int(raw)


def _form_context(refill: bool = True) -> dict[str, Any]:
    """What the search form needs besides q and mode: its choices, and its fields' values
    (the request's with `refill`, else the defaults)."""
    return {
        "modes": MODE_LABELS,
        "sorts": SORT_LABELS,
        "groups": GROUP_LABELS,
        "examples": EXAMPLES,
        "form": _form_values() if refill else _defaults(),
    }


@dataclass(frozen=True)
class Shown:
    """A hit as the results page shows it: with its links."""

    hit: Hit
    link: str  # the article at the hit's paragraph
    more: list[tuple[MoreHit, str, str]]  # grouped: other paragraphs, their links and numbers
    outlet_link: str | None  # this search narrowed to the hit's outlet
    rubric_link: str | None  # this search narrowed to the hit's rubric


def _shown(hit: Hit, query: str, mode: str) -> Shown:
    """`hit` with the links its result shows."""

    def narrowed(name: str, value: str | None) -> str | None:
        if value is None:
            return None
        return url_for("pages.search", q=query, mode=mode, **(_carried() | {name: value}))

    return Shown(
        hit=hit,
        link=_hit_link(hit, query, mode),
        more=_more(hit, query, mode),
        outlet_link=narrowed("source", hit.outlet),
        rubric_link=narrowed("rubric", hit.rubric),
    )


def _more(hit: Hit, query: str, mode: str) -> list[tuple[MoreHit, str, str]]:
    """A grouped hit's other paragraphs: each with its link and its number (from 1)."""
    return [
        (other, _paragraph_link(hit.article_id, other.id, query, mode), _number(other.id))
        for other in hit.more or []
    ]


def _number(paragraph_id: str) -> str:
    """A paragraph's place in its article as a reader counts, from 1."""
    return str(int(paragraph_id.rsplit(":", 1)[1]) + 1)


def _hit_link(hit: Hit, query: str, mode: str) -> str:
    """The article page scrolled to, and marking, the hit's paragraph."""
    return _paragraph_link(hit.article_id, hit.id, query, mode)


def _paragraph_link(article_id: str, paragraph_id: str, query: str, mode: str) -> str:
    """The article page scrolled to, and marking, one of its paragraphs."""
    n = paragraph_id.rsplit(":", 1)[1]
    return url_for(
        "pages.article",
        article_id=article_id,
        hl=n,
        q=query,
        mode=mode,
        **_carried(),
        _anchor=f"p{n}",
    )


def _pager(result: SearchResult, query: str, mode: str, page: int) -> dict[str, Any]:
    """The 'results 11–20 of N' numbers and the previous/next links (None at the ends)."""
    first, last = result.offset + 1, result.offset + len(result.results)
    more = result.total_relation == "gte"  # a lower bound: results may go on past it
    has_next = page < LAST_PAGE and (
        last < result.total or (more and last == result.offset + PAGE_SIZE)
    )

    def link(number: int) -> str:
        at = number if number > 1 else None
        return url_for("pages.search", q=query, mode=mode, **_carried(), page=at)

    return {
        "first": first,
        "last": last,
        "total": f"{result.total}+" if more else str(result.total),
        "prev": link(page - 1) if page > 1 else None,
        "next": link(page + 1) if has_next else None,
        "first_page": link(1),
    }


@bp.get("/articles/<path:article_id>")
def article(article_id: str) -> ResponseReturnValue:
    """An article, every paragraph anchored as #p<n>; `hl` marks the one a result pointed at,
    `q`'s words are marked throughout, and a search box starts the next search."""
    found = get_searcher().article(article_id)
    if found is None:
        abort(404, description=f"Статьи {article_id!r} нет / No article {article_id!r}")
    meta = found.article
    q = trim_query(request.args.get("q", ""))[:MAX_QUERY_CHARS]
    mode = _given_mode()
    back = url_for("pages.search", q=q or None, mode=mode, **_carried())
    words = parse(q).text  # marked: the query's words, not its operators ("-Перу")
    return render_template(
        "article.html",
        article=meta,
        title_lang=_lang(meta.title),
        paragraphs=[(p, highlight(p.text, words), _lang(p.text)) for p in found.paragraphs],
        hl=request.args.get("hl", type=int),
        source_url=_web_url(meta.url),
        back=back,
        q=q,
        mode=mode or MODES[0],
        autofocus=False,  # the reader came to read: focus would scroll away from #p<n>
        **_form_context(),
    )


def _lang(text: str) -> str | None:
    """The language a text is written in, from its script (ru, en), for its lang attribute;
    None when it has no letters of either."""
    return SCRIPT_LANGS.get(script(text) or "")


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

    `keep_query` refills the form with the request's values (for a 400, so the user can fix
    it); other errors never parse the query string, which may be the problem (414).
    """
    q, mode = "", MODES[0]
    if keep_query:
        q = request.args.get("q", "")[:MAX_QUERY_CHARS]
        mode = _given_mode() or mode
    context = {"status": status, "message": message, "command": command, "q": q, "mode": mode}
    title = ERROR_TITLES.get(status, "Ошибка / Error")
    page = render_template("error.html", title=title, **context, **_form_context(keep_query))
    return page, status


def _search_error(exc: SearchError) -> ResponseReturnValue:
    """A domain error as a page with its status (web/errors.py): a bad parameter refills the
    form to fix it; an unusable index says how to build one."""
    status, code, message = status_of(exc)
    if isinstance(exc, InvalidParameter):
        return error_page(status, message, keep_query=True)
    command = "python manage.py reindex" if code == "index_unavailable" else None
    return error_page(status, message, command=command)


for _kind in STATUS:
    bp.register_error_handler(_kind, _search_error)


def http_error(exc: HTTPException) -> ResponseReturnValue:
    """Any HTTP error outside /api as a page, keeping its headers (405's Allow)."""
    body, status = error_page(exc.code or 500, exc.description or exc.name)
    headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
    return body, status, headers
