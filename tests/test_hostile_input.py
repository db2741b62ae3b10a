"""Hostile input against the real server: huge requests, odd characters, traversal, markup.

Most tests talk to `manage.py serve` (waitress) over a socket, because waitress has limits
and behaviours of its own that Flask's test client never meets; a few run in-process where
they need to look inside (which files were opened, whether the model was asked).
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.parse
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import EnvironBuilder

from search.contract import MAX_QUERY_CHARS, InvalidParameter, SearchRequest
from search.service import Searcher
from tests.audit import recording
from tests.conftest import SEEDS
from tests.corpora import build_searcher, write_evil_corpus
from tests.live import Server, get, raw, security_header_problems, serving
from web import create_app

MB = 1024 * 1024


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeds plus articles with markup in every field, indexed with the fake encoder."""
    tmp = tmp_path_factory.mktemp("hostile")
    source = Path(shutil.copytree(SEEDS, tmp / "corpus"))
    write_evil_corpus(source)
    build_searcher(tmp, source)
    return tmp


@pytest.fixture(scope="module")
def server(corpus: Path) -> Iterator[Server]:
    with serving(corpus / "index") as running:
        yield running


@pytest.fixture(scope="module")
def searcher(corpus: Path) -> Searcher:
    """The same index in-process, with an encoder that records what it is asked."""
    from tests.fakes import FakeEncoder

    return Searcher(corpus / "index", FakeEncoder())


@pytest.fixture(scope="module")
def app(searcher: Searcher) -> Flask:
    return create_app(searcher=searcher)


def status_line(response: bytes) -> int:
    """The status code of a raw HTTP response."""
    return int(response.split(b" ", 2)[1])


# --- size ------------------------------------------------------------------------------


def test_a_10_mb_query_is_refused_fast_by_the_server(server: Server) -> None:
    """waitress answers 431 once the request head passes 256 KiB: the app never sees it."""
    started = time.monotonic()
    head = b"GET /api/search?q=" + b"a" * (10 * MB) + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    answer = raw(server.port, head, timeout=5)
    assert status_line(answer) in (414, 431)
    assert time.monotonic() - started < 3
    assert get(server.port, "/api/health").status == 200  # and it is still serving


def test_a_url_past_16_kib_is_a_414_from_the_app(server: Server) -> None:
    answer = get(server.port, "/api/search?q=" + "a" * 100_000)
    assert answer.status == 414
    assert json.loads(answer.body)["error"]["code"] == "request_uri_too_long"
    assert security_header_problems(answer.headers) == []
    page = get(server.port, "/?q=" + "a" * 100_000)
    assert page.status == 414 and "414" in page.text


@pytest.mark.parametrize("path", ["/api/search", "/"])
def test_a_10_mb_query_never_reaches_the_model(app: Flask, searcher: Searcher, path: str) -> None:
    asked = len(searcher.encoder.queries)  # type: ignore[attr-defined]
    environ = EnvironBuilder(path=path).get_environ()
    environ["QUERY_STRING"] = "q=" + "%D0%B1" * (10 * MB // 6)  # as a server passes it on
    started = time.monotonic()
    statuses: list[str] = []
    body = b"".join(app(environ, lambda status, headers: statuses.append(status)))
    assert statuses[0].startswith("414") and body
    assert time.monotonic() - started < 1
    assert len(searcher.encoder.queries) == asked  # type: ignore[attr-defined]


def test_a_body_over_64_kib_is_refused_before_it_is_read(server: Server) -> None:
    """Claim 10 MB, send 1 KiB: a server that limits bodies answers 413 at once."""
    head = b"POST /api/search HTTP/1.1\r\nHost: x\r\nContent-Length: 10485760\r\n\r\n"
    answer = raw(server.port, head + b"x" * 1024, timeout=2)
    assert answer and status_line(answer) == 413


def test_a_request_with_a_body_gets_no_further_than_405(server: Server) -> None:
    answer = get(server.port, "/api/search?q=x", method="POST", body=b"x" * 1_000)
    assert answer.status == 405
    assert security_header_problems(answer.headers) == []


def test_ten_thousand_distinct_words_are_refused(server: Server, searcher: Searcher) -> None:
    words = " ".join(f"w{i}" for i in range(10_000))
    query = urllib.parse.urlencode({"q": words})
    assert get(server.port, f"/api/search?{query}").status == 414  # the URL is 88 KB
    with pytest.raises(InvalidParameter, match="at most 1000"):
        SearchRequest(q=words)  # the CLI's way in: refused by length


def test_the_longest_query_of_distinct_words_is_answered_quickly(server: Server) -> None:
    words = " ".join(f"слово{i}" for i in range(200))[:MAX_QUERY_CHARS]
    started = time.monotonic()
    answer = get(server.port, "/api/search?" + urllib.parse.urlencode({"q": words, "k": 100}))
    assert answer.status == 200
    assert time.monotonic() - started < 2


# --- odd characters --------------------------------------------------------------------

ODD_QUERIES = {
    "nul": "%00",
    "nul inside a word": "%D0%BF%D0%BE%00%D1%80%D1%82",
    "rtl override and marks": "%E2%80%AE%D7%A9%D7%9C%D7%95%D7%9D%E2%80%8F",
    "emoji and zwj": "%F0%9F%91%A9%E2%80%8D%F0%9F%91%A7%F0%9F%98%80",
    "mixed scripts": "%D0%BF%D0%BE%D1%80%D1%82+port+%E6%B8%AF+%D9%85%D9%8A%D9%86%D8%A7%D8%A1",
    "lone high surrogate": "%ED%A0%80",
    "lone low surrogate": "%ED%B3%AD",
    "surrogate pair as cesu-8": "%ED%A0%BD%ED%B8%80",
    "overlong slash": "%C0%AF",
    "invalid bytes": "%FF%FE%FD",
    "truncated sequence": "%D0",
    "bom": "%EF%BB%BF",
    "only combining marks": "%CC%81%CC%81",
    "only control characters": "%01%02%1B%7F",
}


@pytest.mark.parametrize("encoded", ODD_QUERIES.values(), ids=ODD_QUERIES.keys())
def test_odd_characters_in_the_query_are_answered_not_crashed_on(
    server: Server, encoded: str
) -> None:
    for mode in ("hybrid", "bm25", "semantic"):
        answer = get(server.port, f"/api/search?q={encoded}&mode={mode}")
        assert answer.status in (200, 400), answer.text
        body = json.loads(answer.body)
        assert "results" in body if answer.status == 200 else body["error"]["param"] == "q"
    page = get(server.port, f"/?q={encoded}")
    assert page.status in (200, 400)
    assert "text/html" in page.headers["content-type"]


@pytest.mark.parametrize("target", [b"/api/search?q=\xed\xa0\x80", b"/?q=\xff", b"/articles/\xc0"])
def test_raw_bytes_that_are_not_utf_8_are_a_400(server: Server, target: bytes) -> None:
    request = b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    answer = raw(server.port, request)
    assert status_line(answer) == 400


def test_a_query_keeps_its_characters_through_the_api(server: Server) -> None:
    text = "порт\u202eЧанкай 😀 港"
    answer = get(server.port, "/api/search?" + urllib.parse.urlencode({"q": text}))
    assert json.loads(answer.body)["query"] == text


# --- path traversal ----------------------------------------------------------------------

TRAVERSALS = [
    "../../../../etc/passwd",
    "..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%252e%252e%252fetc%252fpasswd",
    "..%5C..%5C..%5Cwindows%5Cwin.ini",
    "/etc/passwd",
    "%2Fetc%2Fpasswd",
    "....//....//etc/passwd",
    "..%00/etc/passwd",
    "%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
    "../../manage.py",
    "..%2F..%2Fmanage.py",
]


def traversal_targets() -> list[str]:
    """Every traversal under each route that takes a path."""
    return [
        f"{prefix}{attack}"
        for prefix in ("/api/articles/", "/articles/", "/static/")
        for attack in TRAVERSALS
    ]


@pytest.mark.parametrize("target", traversal_targets())
def test_path_traversal_is_a_404_over_the_socket(server: Server, target: str) -> None:
    answer = get(server.port, target)
    assert answer.status == 404, target
    assert b"root:" not in answer.body and b"import click" not in answer.body
    assert security_header_problems(answer.headers) == []


def test_path_traversal_opens_no_file(app: Flask) -> None:
    """Not a single file is opened for any traversal (templates are loaded beforehand)."""
    client = app.test_client()
    client.get("/articles/nope")  # loads the error page's templates once
    client.get("/api/articles/nope")
    with recording("open") as opened:
        for target in traversal_targets():
            assert client.get(target).status_code == 404, target
    assert opened == []


def test_an_empty_path_segment_is_a_404_not_a_redirect(server: Server) -> None:
    """Werkzeug would 308 to the URL with slashes merged, a status the API never declares."""
    for target in ("/api/articles//etc/passwd", "/articles//etc/passwd", "/api//search?q=x"):
        answer = get(server.port, target)
        assert answer.status == 404, target
        assert "location" not in answer.headers


def test_an_article_id_with_markup_comes_back_escaped(server: Server) -> None:
    page = get(server.port, "/articles/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert page.status == 404
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text
    api = get(server.port, "/api/articles/%3Cscript%3E")
    assert api.status == 404 and api.headers["content-type"] == "application/json"


# --- markup never runs -------------------------------------------------------------------


def test_markup_in_a_query_is_escaped_on_the_400_page(server: Server) -> None:
    query = urllib.parse.quote("<script>alert(1)</script>")
    page = get(server.port, f"/?q={query}&page=0")
    assert page.status == 400
    assert "<script>alert" not in page.text and "&lt;script&gt;alert(1)" in page.text


def test_markup_from_the_corpus_is_escaped_in_results_and_articles(server: Server) -> None:
    results = get(server.port, "/?q=" + urllib.parse.quote("порт Чанкай"))
    article = get(server.port, "/articles/evil")
    for page in (results, article):
        assert page.status == 200
        assert "<script>" not in page.text and "<img" not in page.text
        assert 'href="javascript:' not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in article.text


class ActiveMarkup(HTMLParser):
    """Collects what a browser would run: script elements, on* handlers, javascript: links."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.found.append("<script>")
        for name, value in attrs:
            if name.startswith("on") or name == "style":
                self.found.append(f"<{tag} {name}>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.found.append(f"<{tag} {name}={value}>")


def active_markup(html: str) -> list[str]:
    parser = ActiveMarkup()
    parser.feed(html)
    return parser.found


@pytest.mark.parametrize(
    "target",
    [
        "/",
        "/?q=%3Cscript%3Ealert(1)%3C/script%3E",
        "/?q=%D0%BF%D0%BE%D1%80%D1%82",
        "/articles/evil",
        "/articles/%3Cimg%20src=x%20onerror=alert(1)%3E",
        "/?page=x&q=%3Cb%3E",
    ],
)
def test_no_page_carries_script_handlers_or_javascript_links(server: Server, target: str) -> None:
    page = get(server.port, target)
    assert "text/html" in page.headers["content-type"]
    assert active_markup(page.text) == []


# --- security headers --------------------------------------------------------------------

RESPONSE_KINDS: list[tuple[str, str, int]] = [
    ("GET", "/", 200),
    ("GET", "/?q=%D0%BF%D0%BE%D1%80%D1%82", 200),
    ("GET", "/api/search?q=x", 200),
    ("GET", "/api/health", 200),
    ("GET", "/api/openapi.json", 200),
    ("GET", "/static/style.css", 200),
    ("HEAD", "/", 200),
    ("OPTIONS", "/api/search", 200),
    ("GET", "/api/search?q=x&k=0", 400),
    ("GET", "/?q=x&page=0", 400),
    ("GET", "/api/nope", 404),
    ("GET", "/nope", 404),
    ("GET", "/static/nope.css", 404),
    ("POST", "/api/search", 405),
    ("DELETE", "/", 405),
    ("GET", "/api/search?q=" + "a" * 20_000, 414),
    ("GET", "/?q=" + "a" * 20_000, 414),
]


@pytest.mark.parametrize(("method", "target", "status"), RESPONSE_KINDS)
def test_security_headers_on_every_kind_of_response(
    server: Server, method: str, target: str, status: int
) -> None:
    answer = get(server.port, target, method=method)
    assert answer.status == status
    assert security_header_problems(answer.headers) == []
    assert answer.headers.get("referrer-policy") == "no-referrer"


def test_security_headers_on_a_500(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:  # a Searcher with a bug
        def search(self, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError("bug")

    client = create_app(searcher=Broken()).test_client()  # type: ignore[arg-type]
    with caplog.at_level("CRITICAL"):
        for path in ("/api/search?q=x", "/?q=x"):
            response = client.get(path)
            assert response.status_code == 500
            assert security_header_problems(response.headers) == []


def test_security_headers_on_a_503(tmp_path: Path) -> None:
    with serving(tmp_path / "no-index") as server:
        for target in ("/api/search?q=x", "/?q=x", "/api/stats"):
            answer = get(server.port, target)
            assert answer.status == 503
            assert security_header_problems(answer.headers) == []


def test_the_policy_allows_only_own_scripts_and_no_framing() -> None:
    """The policy itself, which the browser test relies on."""
    from web import SECURITY_HEADERS

    assert security_header_problems(SECURITY_HEADERS) == []
    csp = SECURITY_HEADERS["Content-Security-Policy"]
    assert "'unsafe-" not in csp and "script-src 'self'" in csp


# --- a hostile corpus ----------------------------------------------------------------------


def test_a_jsonl_line_with_a_lone_surrogate_is_skipped_not_fatal(tmp_path: Path) -> None:
    """'\\ud800' is valid JSON but no character: it used to fail the whole reindex."""
    from indexer.build import reindex
    from tests.fakes import FakeEncoder

    source = tmp_path / "corpus"
    source.mkdir()
    lines = [
        '{"id": "bad", "title": "t", "text": "Порт \\ud800 Чанкай."}',
        '{"id": "good", "title": "t", "text": "Порт Чанкай."}',
    ]
    (source / "a.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = reindex(source, tmp_path / "index", FakeEncoder(), tmp_path / "cache")
    assert report.articles == 1
    assert [(s.source, s.line) for s in report.skipped] == [("a.jsonl", 1)]
    assert "not a character" in report.skipped[0].reason
