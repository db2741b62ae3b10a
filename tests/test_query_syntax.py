"""Query syntax ("phrases", -excluded, OR): the parser, and its effect through the API, the
page and the CLI over the small news corpus (tests/news.py) with the fake encoder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from core.config import Settings
from index.text import analyze
from manage import cli
from search.contract import InvalidParameter, SearchRequest
from search.request import ONLY_OPERATORS
from search.syntax import adjacent, parse
from tests.corpora import api_client
from tests.fakes import fake_cli_context
from tests.news import write_news_corpus
from tests.test_pages import page

MODES = ("bm25", "semantic", "hybrid")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_news_corpus(tmp_path_factory.mktemp("news") / "corpus")


@pytest.fixture(scope="module")
def client(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> FlaskClient:
    return api_client(tmp_path_factory.mktemp("idx"), corpus)


def texts(client: FlaskClient, q: str, **params: object) -> list[str]:
    """The paragraphs the API finds for `q` (up to 100)."""
    response = client.get("/api/search", query_string={"q": q, "k": 100, **params})
    assert response.status_code == 200, response.json
    return [hit["text"] for hit in response.json["results"]]


# --- the parser ---------------------------------------------------------------------------


def test_the_parser_reads_phrases_exclusions_and_or() -> None:
    parsed = parse('"порт Чанкай" -погода суда OR корабли')
    assert [(p.text, p.phrase) for p in parsed.parts] == [
        ("порт Чанкай", True),
        ("суда", False),
        ("корабли", False),
    ]
    assert [len(g) for g in parsed.groups] == [1, 2]
    assert parsed.excluded == {"погода"}
    assert parsed.text == "порт Чанкай суда корабли"  # what the dense models encode
    assert parsed.alternatives == [["порт"], ["чанкай"], [*analyze("суда"), *analyze("корабли")]]
    assert not parsed.plain and parse("порт Чанкай").plain


@pytest.mark.parametrize(
    ("query", "phrase"),
    [("«порт Чанкай»", "порт Чанкай"), ("“порт”", "порт"), ('x "порт Чанкай" y', "порт Чанкай")],
)
def test_typographic_quotes_make_a_phrase_too(query: str, phrase: str) -> None:
    (part,) = [p for p in parse(query).parts if p.phrase]
    assert part.text == phrase


@pytest.mark.parametrize("query", ['"порт Чанкай', 'he said: "Hard-working people live here'])
def test_a_quote_left_open_is_forgiven_as_plain_words(query: str) -> None:
    parsed = parse(query)
    assert not parsed.required and parsed.plain and parsed.text == query


def test_a_query_without_operators_is_one_part_as_before() -> None:
    parsed = parse("порт  Чанкай, Перу!")
    assert parsed.text == "порт  Чанкай, Перу!" and parsed.terms == analyze("порт Чанкай Перу")


def test_a_minus_inside_a_word_or_alone_is_text_and_lower_case_or_is_a_word() -> None:
    parsed = parse("COVID-19 - a or b")
    assert parsed.excluded == frozenset() and parsed.plain
    assert "covid" in parsed.terms and "or" not in parsed.excluded


@pytest.mark.parametrize("query", ["-порт", "OR", '""', "-порт OR -Перу", "« »"])
def test_a_query_of_operators_only_is_refused_by_the_request(query: str) -> None:
    with pytest.raises(InvalidParameter) as refused:
        SearchRequest(q=query)
    assert refused.value.param == "q" and str(refused.value) == ONLY_OPERATORS


def test_adjacent_holds_terms_side_by_side_in_order() -> None:
    tokens = analyze("Министры обсудили развитие порта Чанкай в Перу")
    assert adjacent(tokens, ("порт", "чанкай"))
    assert not adjacent(tokens, ("чанкай", "порт")) and not adjacent(tokens, ("порт", "перу"))


# --- the API ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_phrase_keeps_only_paragraphs_with_its_words_side_by_side(client, mode) -> None:
    found = texts(client, '"порт Чанкай"', mode=mode)
    assert found and all(adjacent(analyze(t), ("порт", "чанкай")) for t in found)
    assert "Строительство порта обошлось в три миллиарда долларов." not in found
    # "Порт Чанкай" in any form: "порта Чанкай", "порте Чанкай"
    assert any("порта Чанкай" in t for t in found) and any("порте Чанкай" in t for t in found)


@pytest.mark.parametrize("mode", MODES)
def test_a_phrase_out_of_order_finds_nothing(client, mode) -> None:
    assert texts(client, '"Чанкай порт"', mode=mode) == []


@pytest.mark.parametrize("mode", MODES)
def test_an_excluded_word_drops_its_paragraphs_from_every_leg(client, mode) -> None:
    everything = texts(client, "порт Чанкай", mode=mode)
    found = texts(client, "порт Чанкай -Перу", mode=mode)
    assert any("Перу" in t for t in everything)
    assert found and not any("перу" in analyze(t) for t in found)
    assert set(found) == {t for t in everything if "перу" not in analyze(t)} or mode != "bm25"


def test_or_joins_a_phrase_and_a_word_as_alternatives(client) -> None:
    found = texts(client, '"порт Чанкай" OR синоптики', mode="bm25")
    assert any("Синоптики" in t for t in found)
    assert all(adjacent(analyze(t), ("порт", "чанкай")) or "Синоптики" in t for t in found)
    assert not any(t.startswith("Строительство порта") for t in found)


def test_snippets_mark_the_words_not_the_operators(client) -> None:
    response = client.get("/api/search", query_string={"q": '"порт Чанкай" -Перу', "mode": "bm25"})
    snippet = response.json["results"][0]["snippet"]
    assert "<mark>" in snippet and response.json["query"] == '"порт Чанкай" -Перу'


def test_syntax_off_reads_every_operator_as_text(client) -> None:
    assert texts(client, '"Чанкай порт"', mode="bm25", syntax="off")
    assert any("Перу" in t for t in texts(client, "порт -Перу", mode="bm25", syntax="off"))
    assert texts(client, "-порт", mode="bm25", syntax="off")  # not refused: a word
    answer = client.get("/api/search", query_string={"q": "порт", "syntax": "maybe"})
    assert answer.json["error"] == {
        "code": "bad_request",
        "message": "syntax must be one of on, off",
        "param": "syntax",
    }


@pytest.mark.parametrize("query", ["-порт", "OR", '""'])
def test_the_api_refuses_a_query_of_operators_only(client, query: str) -> None:
    answer = client.get("/api/search", query_string={"q": query})
    assert answer.status_code == 400
    assert answer.json["error"] == {"code": "bad_request", "message": ONLY_OPERATORS, "param": "q"}


def test_the_openapi_document_describes_the_syntax(client) -> None:
    spec = client.get("/api/openapi.json").json
    (q,) = [p for p in spec["paths"]["/api/search"]["get"]["parameters"] if p["name"] == "q"]
    assert '"a phrase"' in q["description"] and "-word" in q["description"]
    assert "OR" in q["description"]


# --- the page and the CLI ----------------------------------------------------------------------


def test_the_page_explains_the_syntax_without_javascript(client) -> None:
    html, doc = page(client, "/")
    assert len(doc.find("details", class_="syntax")) == 1
    assert "Search syntax" in html and "порт -Перу" in html and "OR" in html


def test_the_page_shows_the_refusal_of_operators_only(client) -> None:
    html, doc = page(client, "/?q=-порт", 400)
    assert doc.find("section", role="alert")
    assert "q has nothing to search for" in html
    (box,) = doc.find("input", name="q")
    assert box["value"] == "-порт"


def test_the_page_runs_a_phrase(client) -> None:
    html, _ = page(client, "/?q=%22Чанкай+порт%22")
    assert "Nothing found" in html


def test_the_cli_searches_with_the_syntax_and_prints_the_refusal(corpus, tmp_path) -> None:
    settings = Settings(index_dir=tmp_path / "index", source_dir=corpus, cache_dir=tmp_path / "c")
    obj = fake_cli_context(settings)
    assert CliRunner().invoke(cli, ["reindex"], obj=obj).exit_code == 0
    args = ["search", "порт -Перу", "--mode", "bm25", "--json"]
    found = json.loads(CliRunner().invoke(cli, args, obj=obj).output)["results"]
    assert found and not any("перу" in analyze(hit["text"]) for hit in found)
    refused = CliRunner().invoke(cli, ["search", "--", "-Перу"], obj=obj)  # "--": not an option
    assert refused.exit_code != 0 and ONLY_OPERATORS in refused.output


def test_the_article_page_marks_the_words_not_the_excluded_ones(client) -> None:
    html, _ = page(client, "/articles/ifx-port?q=%22порт+Чанкай%22+-Министры&hl=0")
    assert "<mark>Чанкай</mark>" in html and "<mark>Министры</mark>" not in html


def test_a_phrase_checks_at_most_the_pool_of_its_best_candidates(client, monkeypatch) -> None:
    from search import phrases

    everything = texts(client, '"порт Чанкай"', mode="bm25")
    monkeypatch.setattr(phrases, "PHRASE_POOL", 1)
    assert texts(client, '"порт Чанкай"', mode="bm25") == everything[:1]
