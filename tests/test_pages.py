"""The HTML pages through Flask's test client, over a real Searcher with the fake encoder."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from flask.testing import FlaskClient

from search.service import Searcher
from tests.corpora import api_client, build_searcher, write_evil_corpus
from tests.fakes import FakeEncoder
from web import SECURITY_HEADERS, create_app

CHANCAY_ARTICLE = "000_f267e610140cff85"


class Elements(HTMLParser):
    """Every start tag of a page as (tag, attributes), and the page's text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.options: dict[str, list[dict[str, str | None]]] = {}  # by their select's name
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "select":
            self.options[str(dict(attrs).get("name"))] = []
        elif tag == "option":
            list(self.options.values())[-1].append(dict(attrs))

    def selected(self, name: str) -> list[str | None]:
        """The selected values of the select named `name`."""
        return [a["value"] for a in self.options[name] if "selected" in a]

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        """Attributes of the `tag` elements having these attribute values (class_ = class)."""
        wanted = {key.rstrip("_"): value for key, value in attrs.items()}
        return [
            a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in wanted.items())
        ]


def page(client: FlaskClient, url: str, status: int = 200) -> tuple[str, Elements]:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    return html, Elements(html)


def link_parts(href: str | None) -> tuple[str, dict[str, str], str]:
    """A link's path, query parameters and fragment, decoded."""
    parts = urlsplit(str(href))
    return parts.path, dict(parse_qsl(parts.query)), parts.fragment


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> FlaskClient:
    return api_client(tmp_path_factory.mktemp("pages"))


@pytest.fixture(scope="module")
def evil_client(tmp_path_factory: pytest.TempPathFactory) -> FlaskClient:
    tmp = tmp_path_factory.mktemp("evil-pages")
    searcher = build_searcher(tmp, write_evil_corpus(tmp / "corpus"))
    return create_app(searcher=searcher).test_client()


# --- the search page ----------------------------------------------------------------------


def test_empty_state_has_the_form_and_examples(client: FlaskClient) -> None:
    html, doc = page(client, "/")
    assert '<html lang="ru">' in html
    assert doc.find("meta", name="viewport")
    assert doc.find("form", class_="search", action="/", method="get")
    (box,) = doc.find("input", name="q", type="search")
    assert "autofocus" in box and box["value"] == ""
    assert doc.find("select", name="mode") and doc.find("button", type="submit")
    modes = [a["value"] for a in doc.options["mode"]]
    assert modes == ["hybrid", "bm25", "semantic"]
    examples = [a["href"] for a in doc.find("a", class_="example")]
    assert len(examples) == 2 and all(href.startswith("/?q=") for href in examples)
    assert 'Поиск / <span lang="en">Search</span>' in html and not doc.find("ol")


def test_examples_lead_to_results(client: FlaskClient) -> None:
    _, doc = page(client, "/")
    for href in (a["href"] for a in doc.find("a", class_="example")):
        _, results = page(client, str(href))
        assert results.find("li", class_="result")


def test_results_show_title_date_snippet_and_link(client: FlaskClient) -> None:
    html, doc = page(client, "/?q=порт+Чанкай&mode=bm25")
    assert doc.find("ol", class_="results") and doc.find("li", class_="result")
    (box,) = doc.find("input", name="q")
    assert box["value"] == "порт Чанкай"
    assert doc.selected("mode") == ["bm25"]
    first = link_parts(doc.find("a", class_="result-title")[0]["href"])
    query = {"hl": "7", "q": "порт Чанкай", "mode": "bm25"}
    assert first == (f"/articles/{CHANCAY_ARTICLE}", query, "p7")
    assert '<p class="snippet">' in html and "<mark>Чанкай</mark>" in html
    assert doc.find("time", datetime="2025-09-08")
    total = len(doc.find("li", class_="result"))
    assert f"Результаты 1–{total} из {total}" in html and f"Results 1–{total} of {total}" in html


def test_pagination_keeps_query_and_mode(client: FlaskClient) -> None:
    _, doc = page(client, "/?q=Азербайджан&mode=semantic&group=none")
    assert not doc.find("a", rel="prev")
    (next_link,) = doc.find("a", rel="next")
    query = {"q": "Азербайджан", "mode": "semantic", "group": "none"}
    assert link_parts(next_link["href"]) == ("/", {**query, "page": "2"}, "")
    html2, doc2 = page(client, str(next_link["href"]))
    assert "Results 11–20 of 21" in html2
    assert doc2.find("ol", class_="results", start="11")
    (prev_link,) = doc2.find("a", rel="prev")
    assert link_parts(prev_link["href"]) == ("/", query, "")
    firsts = {a["href"] for a in doc.find("a", class_="result-title")}
    seconds = {a["href"] for a in doc2.find("a", class_="result-title")}
    assert not firsts & seconds
    _, last = page(client, "/?q=Азербайджан&mode=semantic&group=none&page=3")
    assert not last.find("a", rel="next") and len(last.find("li", class_="result")) == 1


def test_nothing_found(client: FlaskClient) -> None:
    html, doc = page(client, "/?q=zzzzqqq&mode=bm25")
    assert "Ничего не найдено / Nothing found" in html and not doc.find("ol")


def test_a_page_past_the_end_says_so(client: FlaskClient) -> None:
    html, doc = page(client, "/?q=порт&page=50")
    assert "Nothing on this page" in html and not doc.find("li", class_="result")


def test_blank_query_is_the_empty_state(client: FlaskClient) -> None:
    _, doc = page(client, "/?q=+++")
    assert not doc.find("ol") and doc.find("a", class_="example")


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("/?q=x&mode=fuzzy", "mode must be one of"),
        ("/?q=x&page=0", "page must be an integer"),
        ("/?q=x&page=abc", "page must be an integer"),
        ("/?q=" + "a" * 1001, "at most 1000 characters"),
    ],
)
def test_bad_parameters_are_a_400_page(client: FlaskClient, url: str, words: str) -> None:
    html, doc = page(client, url, 400)
    assert words in html and "Bad request" in html
    assert doc.find("form", class_="search")  # the user can try again from here


def test_markup_in_the_query_is_inert(client: FlaskClient) -> None:
    html, doc = page(client, "/?q=%3Cscript%3Ealert(1)%3C/script%3E+порт")
    assert "<script" not in html
    assert doc.find("input", name="q")[0]["value"] == "<script>alert(1)</script> порт"
    assert "&lt;script&gt;" in html


def test_markup_in_the_corpus_is_escaped_in_results(evil_client: FlaskClient) -> None:
    html, doc = page(evil_client, "/?q=порт+alert+onerror")
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert not [t for t, a in doc.tags if t in ("script", "img") or "onerror" in a]
    assert "&lt;script&gt;" in html and "&lt;img src=x <mark>onerror</mark>" in html
    assert "javascript:" not in html


def test_markup_in_the_corpus_is_escaped_on_the_article_page(evil_client: FlaskClient) -> None:
    html, doc = page(evil_client, "/articles/evil?hl=1")
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert not [t for t, a in doc.tags if t in ("script", "img") or "onerror" in a]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;рубрика&lt;/b&gt;" in html
    # a javascript: URL is shown as text, never as a link
    assert not [a for a in doc.find("a") if "javascript" in str(a.get("href"))]


def test_no_inline_script_or_style_anywhere(client: FlaskClient) -> None:
    for url in ("/", "/?q=порт", f"/articles/{CHANCAY_ARTICLE}?hl=1", "/nope", "/?q=x&k=0"):
        html = client.get(url).get_data(as_text=True)
        doc = Elements(html)
        assert not [t for t, _ in doc.tags if t in ("script", "style")], url
        assert not [a for _, a in doc.tags if "style" in a or any(k.startswith("on") for k in a)]


# --- the article page -------------------------------------------------------------------


def test_article_page_marks_the_highlighted_paragraph(client: FlaskClient) -> None:
    html, doc = page(client, f"/articles/{CHANCAY_ARTICLE}?hl=7&q=порт&mode=bm25")
    ids = [a["id"] for t, a in doc.tags if t == "p" and str(a.get("id", "")).startswith("p")]
    assert ids == [f"p{n}" for n in range(13)]
    (marked,) = doc.find("p", class_="hl")
    assert marked["id"] == "p7" and marked["aria-current"] == "true"
    assert "Чанкай" in html and "2025-09-08" in html
    assert "Back to search" in html
    links = [link_parts(a["href"]) for a in doc.find("a")]
    assert ("/", {"q": "порт", "mode": "bm25"}, "") in links


def test_article_page_without_hl_marks_nothing(client: FlaskClient) -> None:
    for url in (f"/articles/{CHANCAY_ARTICLE}", f"/articles/{CHANCAY_ARTICLE}?hl=x"):
        _, doc = page(client, url)
        assert not doc.find("p", class_="hl")


def test_article_page_shows_rubric_and_source_link(evil_client: FlaskClient) -> None:
    _, doc = page(evil_client, "/articles/linked")
    (link,) = doc.find("a", class_="source")
    assert link["href"] == "https://example.org/a?b=1&c=2"
    assert link["rel"] == "noopener noreferrer"
    _, nested = page(evil_client, "/articles/news/2025/nested")
    assert [a["id"] for a in nested.find("p") if a.get("id")] == ["p0", "p1"]


def test_unknown_article_is_a_404_page(client: FlaskClient) -> None:
    html, doc = page(client, "/articles/nope", 404)
    assert "Not found" in html and doc.find("form", class_="search")


def test_result_links_open_the_right_paragraph(client: FlaskClient) -> None:
    _, doc = page(client, "/?q=стипендии")
    for link in doc.find("a", class_="result-title")[:3]:
        href = str(link["href"])
        n = re.search(r"#p(\d+)$", href).group(1)  # type: ignore[union-attr]
        _, article = page(client, href.split("#")[0])
        assert article.find("p", class_="hl")[0]["id"] == f"p{n}"


# --- errors and headers -----------------------------------------------------------------


def test_without_an_index_the_page_says_how_to_build_one(tmp_path: Path) -> None:
    client = create_app(searcher=Searcher(tmp_path / "none", FakeEncoder())).test_client()
    html, _ = page(client, "/?q=порт", 503)
    assert "<code>python manage.py reindex</code>" in html
    page(client, "/")  # the empty form needs no index
    page(client, "/articles/x", 503)


def test_other_errors_are_pages(client: FlaskClient) -> None:
    page(client, "/nope", 404)
    response = client.post("/")
    assert response.status_code == 405 and "GET" in response.headers["Allow"]
    assert response.mimetype == "text/html"
    assert page(client, "/?q=" + "a" * 20_000, 414)[0].count("URL") >= 1


def test_a_bug_is_a_500_page_without_details() -> None:
    class Broken:  # stands in for a Searcher with a bug
        def search(self, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError("secret internals")

    client = create_app(searcher=Broken()).test_client()  # type: ignore[arg-type]
    html, _ = page(client, "/?q=x", 500)
    assert "secret" not in html and "Traceback" not in html


def test_security_headers_on_pages_and_static(client: FlaskClient) -> None:
    for url in ("/", "/?q=порт", f"/articles/{CHANCAY_ARTICLE}", "/nope", "/static/style.css"):
        response = client.get(url)
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, (url, name)
        response.close()


def test_stylesheet_is_served(client: FlaskClient) -> None:
    response = client.get("/static/style.css")
    assert response.status_code == 200 and response.mimetype == "text/css"
    assert b"@media" in response.data
    response.close()
