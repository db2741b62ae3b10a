"""The JSON API through Flask's test client, over a real Searcher with the fake encoder."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from core.config import Settings
from search.contract import InvalidParameter, SearchRequest, trim_query
from search.service import Searcher
from tests.corpora import build_searcher, write_evil_corpus
from tests.fakes import FakeEncoder
from web import MAX_URL_BYTES, SECURITY_HEADERS, create_app

SEARCH_KEYS = {
    *("query", "mode", "fusion", "alpha", "k", "offset", "total", "total_relation"),
    *("took_ms", "results"),
}
HIT_KEYS = {
    *("rank", "id", "article_id", "title", "date", "url", "text", "snippet", "score"),
    *("bm25", "semantic"),
}
CHANCAY = "000_f267e610140cff85:7"  # the seed paragraph about the port of Chancay


@pytest.fixture(scope="module")
def searcher(tmp_path_factory: pytest.TempPathFactory) -> Searcher:
    return build_searcher(tmp_path_factory.mktemp("api"))


@pytest.fixture(scope="module")
def app(searcher: Searcher) -> Flask:
    return create_app(searcher=searcher)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="module")
def evil_client(tmp_path_factory: pytest.TempPathFactory) -> FlaskClient:
    tmp = tmp_path_factory.mktemp("evil")
    searcher = build_searcher(tmp, write_evil_corpus(tmp / "corpus"))
    return create_app(searcher=searcher).test_client()


@pytest.fixture(scope="module")
def no_index_client(tmp_path_factory: pytest.TempPathFactory) -> FlaskClient:
    """A real Searcher pointed at a folder that does not exist."""
    missing = tmp_path_factory.mktemp("empty") / "no-index"
    return create_app(searcher=Searcher(missing, FakeEncoder())).test_client()


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return (
        create_app(searcher=Searcher(Path("unused"), FakeEncoder()))
        .test_client()
        .get("/api/openapi.json")
        .json
    )


def assert_schema(spec: dict[str, Any], name: str, body: Any) -> None:
    """`body` matches components/schemas/`name` of the served OpenAPI document."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    jsonschema.validate(body, schema, jsonschema.Draft202012Validator, format_checker=checker)


def assert_error(response: Any, status: int, code: str, param: str | None = None) -> dict:
    """A JSON error with this status and code (and `param` for a 400)."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.json["error"]
    assert error["code"] == code
    assert error["message"]
    assert error.get("param") == param
    return error


# --- search ---------------------------------------------------------------------------


def test_search_answers_the_contract(client: FlaskClient, spec: dict) -> None:
    body = client.get("/api/search", query_string={"q": "порт Чанкай"}).json
    assert set(body) == SEARCH_KEYS
    assert (body["query"], body["mode"], body["fusion"], body["alpha"]) == (
        "порт Чанкай",
        "hybrid",
        "coverage",
        0.3,  # BM25's first hit alone holds both words: fusion.coverage_alpha
    )
    assert (body["k"], body["offset"]) == (10, 0)
    assert len(body["results"]) == 10 and body["total"] >= 10
    hit = body["results"][0]
    assert set(hit) == HIT_KEYS
    assert hit["id"] == CHANCAY and hit["article_id"] == CHANCAY.split(":")[0]
    assert hit["date"] == "2025-09-08" and hit["url"] is None
    assert set(hit["bm25"]) == {"rank", "score"} and set(hit["semantic"]) == {"rank", "score"}
    assert "<mark>Чанкай</mark>" in hit["snippet"] and "<mark>" not in hit["text"]
    assert [h["rank"] for h in body["results"]] == list(range(1, 11))
    assert_schema(spec, "SearchResult", body)


def test_single_leg_modes_leave_the_other_leg_null(client: FlaskClient, spec: dict) -> None:
    for mode, missing in (("bm25", "semantic"), ("semantic", "bm25")):
        body = client.get("/api/search", query_string={"q": "порт", "mode": mode}).json
        assert body["mode"] == mode and body["results"]
        assert all(hit[missing] is None for hit in body["results"])
        assert_schema(spec, "SearchResult", body)
    bm25 = client.get("/api/search?q=порт+Чанкай&mode=bm25").json
    assert bm25["results"][0]["id"] == CHANCAY


def test_convex_fusion_takes_alpha(client: FlaskClient) -> None:
    body = client.get("/api/search?q=порт&fusion=convex&alpha=0.25").json
    assert (body["fusion"], body["alpha"]) == ("convex", 0.25)
    assert client.get("/api/search?q=порт&fusion=convex").json["alpha"] == 0.5
    assert client.get("/api/search?q=порт&alpha=1").json["alpha"] == 1.0  # coverage has one
    # alpha means nothing to the RRF fusions or to a single leg: accepted, reported as null
    for fusion in ("rrf", "coverage-rrf"):
        assert client.get(f"/api/search?q=порт&fusion={fusion}&alpha=1").json["alpha"] is None
    assert client.get("/api/search?q=порт&mode=bm25&alpha=1").json["alpha"] is None


def test_a_query_is_trimmed_of_javascript_white_space_as_the_openapi_pattern_means() -> None:
    """The schema's `\\S` is an ECMA-262 regex: U+001E and U+0085 are not white space
    there (Python's str.strip() drops them), U+FEFF and U+3000 are."""
    assert trim_query("\x1e\x1e\x1e") == "\x1e\x1e\x1e"
    assert trim_query("\x85") == "\x85"
    assert trim_query(" \ufeff\t порт\u3000\u2028") == "порт"


def test_control_characters_that_python_calls_space_are_a_query(client: FlaskClient) -> None:
    response = client.get("/api/search?q=%1E%1E%1E")
    assert response.status_code == 200, response.json


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("", "q"),
        ("q=", "q"),
        ("q=%20%09%0A", "q"),
        ("q=%EF%BB%BF%E2%80%83%E3%80%80", "q"),  # BOM, em space, ideographic space: white space
        ("q=" + "a" * 1001, "q"),
        *[(f"q=x&k={v}", "k") for v in ("0", "101", "-1", "abc", "1.5", "", "1e1", "%D9%A3")],
        *[(f"q=x&offset={v}", "offset") for v in ("-1", "1001", "x", "", "99999999999")],
        *[(f"q=x&mode={v}", "mode") for v in ("fuzzy", "", "BM25")],
        *[(f"q=x&fusion={v}", "fusion") for v in ("max", "")],
        *[(f"q=x&alpha={v}", "alpha") for v in ("-0.1", "1.5", "nan", "inf", "abc", "")],
        *[
            (f"q=x&date_from={v}", "date_from")
            for v in ("2025-13-01", "2025-9-8", "20250908", "yesterday", "", "2025-09-08T00:00")
        ],
        ("q=x&date_to=2025-02-30", "date_to"),
        *[(f"q=x&{name}={v}&{name}={v}", name) for name, v in (("q", "x"), ("k", "5"))],
        ("q=x&date_from=2025-09-08&date_to=2025-09-01", "date_from"),
    ],
)
def test_each_bad_parameter_is_a_400_naming_it(
    client: FlaskClient, spec: dict, query: str, param: str
) -> None:
    response = client.get(f"/api/search?{query}")
    assert_error(response, 400, "bad_request", param)
    assert_schema(spec, "Error", response.json)


def test_limits_themselves_are_accepted(client: FlaskClient) -> None:
    ok = ["k=1", "k=100", "offset=1000", "alpha=0", "alpha=1", "alpha=1e-3", "k=007"]
    ok += ["date_from=0001-01-01&date_to=9999-12-31"]
    for query in [f"q=x&{extra}" for extra in ok] + ["q=" + "я" * 1000, "q=%20x%20"]:
        response = client.get(f"/api/search?{query}")
        assert response.status_code == 200, (query, response.json)
    assert client.get("/api/search?q=порт&offset=1000").json["results"] == []


def test_unknown_parameters_are_ignored(client: FlaskClient) -> None:
    response = client.get("/api/search?q=порт&page=7&utm_source=x")
    assert response.status_code == 200 and response.json["offset"] == 0


def test_dates_filter_the_articles(client: FlaskClient) -> None:
    later = client.get("/api/search?q=Перу&k=100&date_from=2025-09-05").json["results"]
    earlier = client.get("/api/search?q=Перу&k=100&date_to=2025-09-05").json["results"]
    assert later and {h["date"] for h in later} == {"2025-09-08"}
    assert earlier and {h["date"] for h in earlier} == {"2025-09-04"}
    same_day = "/api/search?q=Перу&date_from=2025-09-04&date_to=2025-09-04"
    assert client.get(same_day).json["results"]


def test_pages_continue_without_overlap_or_gap(client: FlaskClient) -> None:
    def page(k: int, offset: int) -> dict:
        return client.get(f"/api/search?q=Азербайджан&k={k}&offset={offset}").json

    first, second, whole = page(5, 0), page(5, 5), page(10, 0)
    assert [h["id"] for h in first["results"] + second["results"]] == [
        h["id"] for h in whole["results"]
    ]
    assert [h["rank"] for h in second["results"]] == [6, 7, 8, 9, 10]
    assert first["total"] == second["total"] == whole["total"] > 10


def test_odd_queries_do_not_break_the_search(client: FlaskClient) -> None:
    for query in (".", "???", "и", "\u0000", "😀", "a" * 1000, "ёЁ ЧАНКАЙ"):
        response = client.get("/api/search", query_string={"q": query})
        assert response.status_code == 200, (query, response.get_data(as_text=True))


def test_a_refusal_from_the_searcher_is_a_400(
    client: FlaskClient, searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise InvalidParameter("k", "k is too large for this index")

    monkeypatch.setattr(searcher, "search", refuse)
    error = assert_error(client.get("/api/search?q=x"), 400, "bad_request", "k")
    assert error["message"] == "k is too large for this index"


# --- escaping ---------------------------------------------------------------------------


def test_markup_in_the_query_comes_back_inert(client: FlaskClient) -> None:
    body = client.get("/api/search", query_string={"q": "<script>alert(1)</script> порт"}).json
    assert body["query"] == "<script>alert(1)</script> порт"
    for hit in body["results"]:
        assert only_mark_tags(hit["snippet"])


def test_markup_in_the_corpus_comes_back_escaped_in_snippets(evil_client: FlaskClient) -> None:
    body = evil_client.get("/api/search?q=порт+alert+onerror&k=100").json
    evil = [h for h in body["results"] if h["article_id"] == "evil"]
    assert len(evil) == 2
    snippets = " ".join(h["snippet"] for h in evil)
    assert "&lt;script&gt;" in snippets and "&lt;img" in snippets
    assert all(only_mark_tags(h["snippet"]) for h in body["results"])
    assert "<script>" in " ".join(h["text"] for h in evil)  # text is plain text, not HTML


def only_mark_tags(html: str) -> bool:
    """The only tags in `html` are <mark> and </mark>."""
    return set(re.findall(r"<[^>]*>", html)) <= {"<mark>", "</mark>"}


# --- articles, stats, health --------------------------------------------------------------


def test_article_lists_its_paragraphs_in_order(client: FlaskClient, spec: dict) -> None:
    body = client.get("/api/articles/000_f267e610140cff85").json
    assert set(body) == {"article", "paragraphs"}
    assert set(body["article"]) == {"id", "title", "date", "url", "rubric", "source"}
    assert body["article"]["date"] == "2025-09-08"
    assert [p["n"] for p in body["paragraphs"]] == list(range(13))
    assert all(p["id"] == f"000_f267e610140cff85:{p['n']}" for p in body["paragraphs"])
    assert set(body["paragraphs"][0]) == {"id", "n", "text"}
    assert_schema(spec, "ArticleWithParagraphs", body)


def test_article_ids_may_contain_slashes(evil_client: FlaskClient) -> None:
    body = evil_client.get("/api/articles/news/2025/nested").json
    assert body["article"]["title"] == "Вложенная статья"
    assert [p["id"] for p in body["paragraphs"]] == ["news/2025/nested:0", "news/2025/nested:1"]


def test_unknown_article_is_a_json_404(client: FlaskClient, spec: dict) -> None:
    for path in ("/api/articles/nope", "/api/articles/000_f267e610140cff85:7"):
        response = client.get(path)
        assert_error(response, 404, "not_found")
        assert_schema(spec, "Error", response.json)


def test_stats_describe_the_index(client: FlaskClient, spec: dict) -> None:
    body = client.get("/api/stats").json
    assert (body["articles"], body["paragraphs"], body["vectors"]) == (2, 21, "flat")
    assert body["model"]["name"] == "fake" and body["model"]["dimension"] == 32
    assert body["shards"] == 1
    assert body["query_dtype"] == "float32"  # the runtime its encoder encodes queries in
    assert_schema(spec, "Stats", body)


def test_stats_count_the_answers_kept(tmp_path: Path, spec: dict) -> None:
    built = build_searcher(tmp_path)
    keeping = Searcher(built.index_dir, built.encoder, result_cache=8)
    client = create_app(searcher=keeping).test_client()
    for q in ("порт", "порт", "порт Чанкай", "порт"):
        assert client.get("/api/search", query_string={"q": q}).status_code == 200
    body = client.get("/api/stats").json
    assert body["result_cache"] == {"hits": 2, "misses": 2, "size": 2, "capacity": 8}
    assert_schema(spec, "Stats", body)


def test_health_with_an_index(client: FlaskClient, spec: dict) -> None:
    body = client.get("/api/health").json
    generation = client.get("/api/stats").json["generation"]
    assert body == {"status": "ok", "index": True, "generation": generation, "message": None}
    assert_schema(spec, "Health", body)


# --- no index, errors ---------------------------------------------------------------------


def test_without_an_index_searches_answer_503(no_index_client: FlaskClient, spec: dict) -> None:
    for path in ("/api/search?q=порт", "/api/stats", "/api/articles/x"):
        error = assert_error(no_index_client.get(path), 503, "index_unavailable")
        assert "manage.py reindex" in error["message"]
        assert_schema(spec, "Error", {"error": error})


def test_without_an_index_health_is_still_200(no_index_client: FlaskClient, spec: dict) -> None:
    response = no_index_client.get("/api/health")
    assert response.status_code == 200
    body = response.json
    assert (body["status"], body["index"], body["generation"]) == ("ok", False, None)
    assert "manage.py reindex" in body["message"]
    assert_schema(spec, "Health", body)


def test_bad_parameters_are_reported_before_the_index_is_needed(
    no_index_client: FlaskClient,
) -> None:
    assert_error(no_index_client.get("/api/search?q=x&k=0"), 400, "bad_request", "k")


def test_unknown_api_paths_are_json_404(client: FlaskClient) -> None:
    for path in ("/api", "/api/", "/api/nope", "/api/search/extra", "/api/articles/"):
        assert_error(client.get(path), 404, "not_found")


def test_wrong_method_is_a_json_405_with_allow(client: FlaskClient) -> None:
    for path in ("/api/search", "/api/health", "/api/articles/x"):
        response = client.post(path, data="x")
        assert_error(response, 405, "method_not_allowed")
        assert "GET" in response.headers["Allow"]
    assert client.delete("/api/stats").status_code == 405


def test_unexpected_error_is_a_500_without_details(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:  # stands in for a Searcher with a bug
        def search(self, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError("secret internals")

    client = create_app(searcher=Broken()).test_client()  # type: ignore[arg-type]
    with caplog.at_level("ERROR"):
        response = client.get("/api/search?q=x")
    assert_error(response, 500, "internal_server_error")
    text = response.get_data(as_text=True)
    assert "secret" not in text and "Traceback" not in text
    assert "secret internals" in caplog.text  # but the log has it


def test_a_huge_url_is_refused_before_the_model(client: FlaskClient, searcher: Searcher) -> None:
    asked = len(searcher.encoder.queries)  # type: ignore[attr-defined]
    response = client.get("/api/search?q=" + "a" * (MAX_URL_BYTES + 1))
    assert_error(response, 414, "request_uri_too_long")
    huge = client.get("/api/search?q=" + "a" * 10_000_000)
    assert huge.status_code == 414
    assert len(searcher.encoder.queries) == asked  # type: ignore[attr-defined]


def test_the_longest_valid_query_fits_the_url_limit(client: FlaskClient) -> None:
    longest = "😀" * 1000  # 4 UTF-8 bytes each, 12 percent-encoded
    response = client.get("/api/search", query_string={"q": longest, "k": 100, "offset": 1000})
    assert response.status_code == 200


def test_security_headers_on_every_kind_of_response(client: FlaskClient) -> None:
    for path in ("/api/search?q=x", "/api/search", "/api/nope", "/api/openapi.json"):
        response = client.get(path)
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, (path, name)
    assert "script-src 'self';" in SECURITY_HEADERS["Content-Security-Policy"]


# --- the lazily built searcher ---------------------------------------------------------------


def test_searcher_is_built_once_on_first_use(
    tmp_path: Path, searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[Settings] = []

    def open_searcher(settings: Settings) -> Searcher:
        built.append(settings)
        return searcher

    monkeypatch.setattr(Searcher, "open", staticmethod(open_searcher))
    settings = Settings(index_dir=tmp_path / "index")
    client = create_app(settings).test_client()
    assert built == []  # creating the app loads nothing
    indexed: list[bool] = []

    def get_health() -> None:
        indexed.append(client.get("/api/health").json["index"])

    threads = [threading.Thread(target=get_health) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert indexed == [True] * 8
    assert built == [settings]


# --- OpenAPI ----------------------------------------------------------------------------------


def test_openapi_document_is_valid(spec: dict) -> None:
    validate(spec)
    assert spec["openapi"].startswith("3.1")


def test_openapi_describes_every_api_route(app: Flask, spec: dict) -> None:
    routes = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
    }
    assert routes == set(spec["paths"])


def test_openapi_search_parameters_match_the_validation(spec: dict) -> None:
    params = {p["name"]: p for p in spec["paths"]["/api/search"]["get"]["parameters"]}
    assert set(params) == set(SearchRequest.model_fields)
    assert set(params) >= {"q", "k", "offset", "mode", "fusion", "alpha", "date_from", "date_to"}
    assert params["q"]["required"] and params["q"]["schema"]["maxLength"] == 1000
    assert (params["k"]["schema"]["minimum"], params["k"]["schema"]["maximum"]) == (1, 100)
    assert params["offset"]["schema"]["maximum"] == 1000
    assert params["mode"]["schema"]["enum"] == ["hybrid", "bm25", "semantic"]
    assert params["date_from"]["schema"]["format"] == "date"
    responses = spec["paths"]["/api/search"]["get"]["responses"]
    assert {"200", "400", "405", "414", "500", "503"} <= set(responses)
