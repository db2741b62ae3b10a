"""The news archive's features (sort, dates, grouping, outlets and rubrics, the article page)
through the API, the pages and the CLI, over a small news corpus and the fake encoder."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from core.config import Settings
from manage import cli
from search.contract import DATE_POOL
from tests.corpora import api_client, build_searcher
from tests.fakes import fake_cli_context
from tests.news import write_news_corpus
from tests.test_pages import Elements, link_parts, page
from web import create_app

NEWEST_FIRST = ["ifx-port", "tass-port", "bilingual-port", "undated-port"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_news_corpus(tmp_path_factory.mktemp("news") / "corpus")


@pytest.fixture(scope="module")
def client(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> FlaskClient:
    return api_client(tmp_path_factory.mktemp("idx"), corpus)


def search(client: FlaskClient, **params: object) -> dict:
    """The API's answer for "порт" (BM25 alone unless `params` say otherwise: only the port's
    paragraphs), up to 100 hits."""
    query = {"q": "порт", "k": 100, "mode": "bm25", **params}
    response = client.get("/api/search", query_string=query)
    assert response.status_code == 200, response.json
    return response.json


def filters_open(doc: Elements) -> bool:
    """Whether the form's filters are shown open."""
    (filters,) = doc.find("details", class_="filters")
    return "open" in filters


# --- 1. sort and dates ------------------------------------------------------------------


def test_sort_by_date_lists_articles_newest_first_and_the_undated_last(client) -> None:
    body = search(client, sort="date", group="article")
    assert [hit["article_id"] for hit in body["results"]] == NEWEST_FIRST


def test_sort_by_date_keeps_relevance_order_within_a_date(client) -> None:
    by_relevance = search(client, mode="hybrid")["results"]
    by_date = search(client, mode="hybrid", sort="date")["results"]
    assert sorted(h["id"] for h in by_date) == sorted(h["id"] for h in by_relevance)
    dates = [h["date"] or "" for h in by_date]
    assert dates == sorted(dates, reverse=True) and dates[-1] == ""
    for day in set(dates):  # the paragraphs of one date in the order relevance gives them
        same = [h["id"] for h in by_relevance if (h["date"] or "") == day]
        assert [h["id"] for h in by_date if (h["date"] or "") == day] == same


def test_sort_by_date_pages_through_one_pool(client) -> None:
    whole = [h["id"] for h in search(client, sort="date")["results"]]
    pages = [search(client, sort="date", k=2, offset=o)["results"] for o in range(0, 12, 2)]
    assert [h["id"] for p in pages for h in p] == whole
    assert search(client, sort="date", offset=DATE_POOL)["results"] == []


def test_default_sort_is_relevance_and_unchanged(client) -> None:
    assert search(client)["results"] == search(client, sort="relevance")["results"]


def test_date_range_on_the_page_keeps_its_dates_when_paging(client) -> None:
    url = "/?q=порт&group=none&date_from=2025-09-01&date_to=2025-09-30&sort=date"
    _, doc = page(client, url)
    dates = [a["datetime"] for a in doc.find("time")]
    assert dates and all("2025-09-01" <= d <= "2025-09-30" for d in dates)
    assert dates == sorted(dates, reverse=True)
    assert doc.find("input", name="date_from", type="date", value="2025-09-01")
    assert doc.find("input", name="date_to", type="date", value="2025-09-30")
    assert doc.selected("sort") == ["date"]
    assert filters_open(doc)  # a filter in use shows itself
    links = [link_parts(a["href"])[1] for a in doc.find("a", class_="result-title")]
    assert all(q["date_from"] == "2025-09-01" and q["sort"] == "date" for q in links)


def test_empty_form_fields_are_not_given(client) -> None:
    _, doc = page(client, "/?q=порт&mode=hybrid&sort=relevance&group=article&date_from=&date_to=")
    assert doc.find("li", class_="result")
    assert not filters_open(doc)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("date_from=2025-13-01", "date_from must be a date as YYYY-MM-DD"),
        ("date_from=2025-09-09&date_to=2025-09-01", "date_from must not be after date_to"),
    ],
)
def test_a_bad_date_is_a_message_above_the_refilled_form(client, query, message) -> None:
    html, doc = page(client, f"/?q=порт&sort=date&{query}", 400)
    assert doc.find("section", role="alert")
    assert message in html and "Bad request" in html
    (box,) = doc.find("input", name="q")
    assert box["value"] == "порт" and doc.selected("sort") == ["date"]
    given = dict(part.split("=") for part in query.split("&"))
    for name, value in given.items():
        assert doc.find("input", name=name, value=value)
    assert filters_open(doc)


def test_the_api_refuses_a_bad_date_and_sort(client) -> None:
    for params, param in (({"date_to": "2025-02-30"}, "date_to"), ({"sort": "old"}, "sort")):
        answer = client.get("/api/search", query_string={"q": "порт", **params})
        assert answer.status_code == 400 and answer.json["error"]["param"] == param
    assert "sort must be one of relevance, date" in answer.json["error"]["message"]


def test_the_cli_sorts_by_date(corpus: Path, tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path / "index", source_dir=corpus, cache_dir=tmp_path / "c")
    obj = fake_cli_context(settings)
    assert CliRunner().invoke(cli, ["reindex"], obj=obj).exit_code == 0
    args = ["search", "порт", "--mode", "bm25", "--sort", "date", "--group", "article", "--json"]
    found = CliRunner().invoke(cli, args, obj=obj)
    assert [h["article_id"] for h in json.loads(found.output)["results"]] == NEWEST_FIRST
    assert "--sort" in CliRunner().invoke(cli, ["search", "--help"], obj=obj).output


def test_the_pager_keeps_the_dates_and_the_order(tmp_path_factory) -> None:
    seeds = api_client(tmp_path_factory.mktemp("seeds"))
    _, doc = page(seeds, "/?q=Азербайджан&mode=semantic&group=none&date_from=2025-09-01&sort=date")
    (next_link,) = doc.find("a", rel="next")
    _, query, _ = link_parts(next_link["href"])
    assert query == {
        **{"q": "Азербайджан", "mode": "semantic", "group": "none"},
        **{"date_from": "2025-09-01", "sort": "date", "page": "2"},
    }


# --- 2. grouping by article -------------------------------------------------------------


def test_grouped_hits_carry_the_articles_other_paragraphs(client) -> None:
    flat = search(client, mode="bm25")
    grouped = search(client, mode="bm25", group="article")
    assert grouped["total"] == len(grouped["results"]) == len(NEWEST_FIRST)
    by_article: dict[str, list[str]] = {}
    for hit in flat["results"]:
        by_article.setdefault(hit["article_id"], []).append(hit["id"])
    for hit in grouped["results"]:
        ids = [hit["id"], *(other["id"] for other in hit["more"])]
        assert ids == by_article[hit["article_id"]]  # best first, then the rest in rank order
        assert all(set(other) == {"id", "text", "snippet", "score"} for other in hit["more"])
    tass = next(h for h in grouped["results"] if h["article_id"] == "tass-port")
    assert len(tass["more"]) == 2 and all("<mark>" in o["snippet"] for o in tass["more"])


def test_ungrouped_hits_have_no_more_key(client) -> None:
    assert all("more" not in hit for hit in search(client)["results"])


def test_grouped_answers_match_the_openapi_document(client) -> None:
    import jsonschema

    spec = client.get("/api/openapi.json").json
    schema = {"$ref": "#/components/schemas/SearchResult", "components": spec["components"]}
    jsonschema.validate(search(client, group="article"), schema)
    jsonschema.validate(search(client, group="article", sort="date", k=1), schema)


def test_the_page_groups_by_article_with_more_in_a_details(client) -> None:
    html, doc = page(client, "/?q=порт&mode=bm25")
    titles = [a["href"] for a in doc.find("a", class_="result-title")]
    assert len(titles) == len(NEWEST_FIRST) and doc.selected("group") == ["article"]
    assert f"Results 1–{len(titles)} of {len(titles)}" in html
    assert "Ещё 2 из этой статьи" in html and "2 more from this article" in html
    assert len(doc.find("details", class_="more")) == 3  # all but the one-paragraph article
    assert "<script" not in html  # it expands without JavaScript
    others = [a["href"] for t, a in doc.tags if t == "a" and "hl=" in str(a.get("href"))]
    assert len(others) == len(titles) + 4  # 2 + 1 + 1 other paragraphs, each linked
    path, query, anchor = link_parts(others[1])
    assert path.startswith("/articles/") and anchor == f"p{query['hl']}"


def test_the_page_lists_paragraphs_with_group_none(client) -> None:
    _, doc = page(client, "/?q=порт&mode=bm25&group=none")
    assert len(doc.find("a", class_="result-title")) == len(search(client, mode="bm25")["results"])
    assert not doc.find("details", class_="more") and doc.selected("group") == ["none"]


def test_the_cli_says_how_many_more(corpus: Path, tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path / "index", source_dir=corpus, cache_dir=tmp_path / "c")
    obj = fake_cli_context(settings)
    assert CliRunner().invoke(cli, ["reindex"], obj=obj).exit_code == 0
    found = CliRunner().invoke(
        cli, ["search", "порт", "--mode", "bm25", "--group", "article"], obj=obj
    )
    assert "+ 2 more from this article" in found.output


# --- 7. outlet and rubric ---------------------------------------------------------------


def test_hits_carry_outlet_and_rubric_where_the_corpus_has_them(client) -> None:
    hits = {h["article_id"]: h for h in search(client, group="article")["results"]}
    assert (hits["tass-port"]["outlet"], hits["tass-port"]["rubric"]) == ("ТАСС", "Экономика")
    assert hits["undated-port"]["rubric"] == "ЭКОНОМИКА"
    assert "outlet" not in hits["bilingual-port"] and "rubric" not in hits["bilingual-port"]
    article = client.get("/api/articles/ifx-port").json["article"]
    assert article["outlet"] == "Интерфакс" and article["source"] == "news.jsonl"
    assert "outlet" not in client.get("/api/articles/bilingual-port").json["article"]


@pytest.mark.parametrize(
    ("params", "articles"),
    [
        ({"source": "тасс"}, {"tass-port", "undated-port"}),
        ({"source": "ИНТЕРФАКС"}, {"ifx-port"}),
        ({"rubric": "экономика"}, {"tass-port", "undated-port"}),
        ({"rubric": " Экономика  "}, {"tass-port", "undated-port"}),
        ({"source": "ТАСС", "rubric": "Политика"}, set()),
        ({"source": "ТАС"}, set()),  # the whole name, not a part of it
        ({"source": "ТАСС", "date_from": "2025-01-01"}, {"tass-port"}),
    ],
)
def test_outlet_and_rubric_filter_both_legs(client, params, articles) -> None:
    for mode in ("bm25", "semantic", "hybrid"):
        found = {h["article_id"] for h in search(client, mode=mode, **params)["results"]}
        assert found == articles, mode


def test_outlet_and_rubric_values_are_checked(client) -> None:
    for value, param in (("", "source"), ("x" * 201, "rubric")):
        answer = client.get("/api/search", query_string={"q": "порт", param: value})
        assert answer.status_code == 400 and answer.json["error"]["param"] == param
        assert answer.json["error"]["message"] == f"{param} must be 1 to 200 characters"


def test_the_page_shows_outlet_and_rubric_as_links_that_narrow_the_search(client) -> None:
    html, doc = page(client, "/?q=порт&mode=bm25")
    links = {
        link_parts(a["href"])[1].get("source"): a["href"] for a in doc.find("a", class_="outlet")
    }
    assert set(links) == {"ТАСС", "Интерфакс"}
    path, query, _ = link_parts(links["ТАСС"])
    assert path == "/" and query == {"q": "порт", "mode": "bm25", "source": "ТАСС"}
    _, narrowed = page(client, str(links["ТАСС"]))
    titles = [a["href"] for a in narrowed.find("a", class_="result-title")]
    assert len(titles) == 2 and narrowed.find("input", name="source", value="ТАСС")
    assert filters_open(narrowed)
    assert "Экономика" in html and "Интерфакс" in html


def test_the_page_filters_by_rubric_from_its_form(client) -> None:
    _, doc = page(client, "/?q=порт&mode=bm25&source=&rubric=политика")
    assert [link_parts(a["href"])[0] for a in doc.find("a", class_="result-title")] == [
        "/articles/ifx-port"
    ]


def test_a_store_written_before_outlets_reads_as_one_without_them(tmp_path: Path) -> None:
    import sqlite3

    from index.store import SCHEMA, Store

    path = tmp_path / "store.sqlite"
    with sqlite3.connect(path) as db:
        old = "\n".join(line for line in SCHEMA.splitlines() if "reprint" not in line)
        db.executescript(old.replace(", outlet TEXT,", ""))
        db.execute("INSERT INTO articles VALUES ('a', 'T', '2025-09-01', NULL, 'Р', 'a.txt')")
        db.execute("INSERT INTO paragraphs VALUES (0, 'a:0', 'a', 0, 'Порт.')")
    db.close()
    store = Store(path)
    assert store.articles(["a"])["a"].outlet is None
    assert store.rows_matching(rubric="р") == [0] and store.rows_matching(outlet="ТАСС") == []
    assert store.reprint_groups(["a"]) == {} and store.reprint_members(["a"]) == {}
    store.close()


# --- 6. the article page ----------------------------------------------------------------


def test_the_article_page_marks_the_querys_words_throughout(client) -> None:
    html, doc = page(client, "/articles/tass-port?q=порт+Чанкай&hl=1")
    paragraphs = [a for t, a in doc.tags if t == "p" and str(a.get("id", "")).startswith("p")]
    assert len(paragraphs) == 4
    assert html.count("<mark>") == 4  # Порт, Чанкай, порта, порт: every paragraph but the last
    assert "<mark>Порт</mark> <mark>Чанкай</mark>" in html and "<mark>порта</mark>" in html
    _, plain = page(client, "/articles/tass-port")
    assert "<mark>" not in plain.text and not plain.find("mark")


def test_the_article_page_escapes_while_it_marks(tmp_path_factory) -> None:
    from tests.corpora import write_evil_corpus

    tmp = tmp_path_factory.mktemp("evil-marks")
    evil = create_app(searcher=build_searcher(tmp, write_evil_corpus(tmp / "corpus")))
    html, doc = page(evil.test_client(), "/articles/evil?q=порт+script")
    assert "<mark>Порт</mark> &lt;<mark>script</mark>&gt;alert(1)" in html
    assert not doc.find("script") and not doc.find("img")


def test_the_article_page_has_a_search_box_that_keeps_the_search(client) -> None:
    _, doc = page(client, "/articles/tass-port?q=порт&mode=bm25&sort=date&source=ТАСС&hl=0")
    assert doc.find("form", class_="search", action="/", method="get")
    (box,) = doc.find("input", name="q", type="search")
    assert box["value"] == "порт" and "autofocus" not in box  # focus would leave #p0
    assert doc.selected("mode") == ["bm25"] and doc.selected("sort") == ["date"]
    assert doc.find("input", name="source", value="ТАСС")
    (back,) = [link_parts(a["href"]) for a in doc.find("a") if str(a["href"]).startswith("/?")]
    assert back[1] == {"q": "порт", "mode": "bm25", "sort": "date", "source": "ТАСС"}


def test_the_article_page_has_headings_and_languages(client) -> None:
    html, doc = page(client, "/articles/bilingual-port?q=port")
    assert len(doc.find("h1")) == 1 and doc.find("h1", lang="en")  # more Latin letters
    assert page(client, "/articles/tass-port")[1].find("h1", lang="ru")
    assert doc.find("h2", class_="visually-hidden")
    langs = [
        a.get("lang") for t, a in doc.tags if t == "p" and str(a.get("id", "")).startswith("p")
    ]
    assert langs[:2] == ["ru", "en"]  # (the third's long Latin URL outweighs its Russian)
    assert '<span lang="en">Back to search</span>' in html
    assert "The <mark>port</mark> of Chancay" in html


def test_long_words_and_links_wrap(client) -> None:
    css = client.get("/static/style.css").get_data(as_text=True)
    assert re.search(r"\.article p[^{]*\{[^}]*overflow-wrap: anywhere", css)
    assert re.search(r"\.visually-hidden\s*\{[^}]*clip", css)
