"""The search contract: one request definition read by the API, the page, the CLI and the
OpenAPI document, so each parameter behaves and is refused the same way everywhere."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from werkzeug.datastructures import MultiDict

from core.config import Settings
from manage import cli
from search.contract import InvalidParameter, SearchRequest
from tests.conftest import SEEDS
from tests.corpora import api_client
from tests.fakes import fake_cli_context
from web.openapi import search_parameters

BAD = [
    ({"k": "0"}, "k", "k must be an integer from 1 to 100"),
    ({"k": "１０"}, "k", "k must be an integer from 1 to 100"),  # full-width digits
    ({"offset": "1001"}, "offset", "offset must be an integer from 0 to 1000"),
    ({"mode": "fuzzy"}, "mode", "mode must be one of hybrid, bm25, semantic"),
    ({"alpha": "nan"}, "alpha", "alpha must be a number from 0 to 1"),
    ({"date_to": "2025-02-30"}, "date_to", "date_to must be a date as YYYY-MM-DD"),
    ({"group": "site"}, "group", "group must be one of none, article"),
    (
        {"date_from": "2025-09-09", "date_to": "2025-09-01"},
        "date_from",
        "date_from must not be after date_to",
    ),
]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    return api_client(tmp_path_factory.mktemp("contract"))


@pytest.mark.parametrize(("values", "param", "message"), BAD)
def test_a_bad_value_is_refused_alike_by_the_api_and_the_request(values, param, message, client):
    answer = client.get("/api/search", query_string={"q": "порт", **values})
    assert answer.status_code == 400
    assert answer.json["error"] == {"code": "bad_request", "message": message, "param": param}
    with pytest.raises(InvalidParameter) as refused:
        SearchRequest.from_query(MultiDict({"q": "порт", **values}))
    assert (refused.value.param, str(refused.value)) == (param, message)


@pytest.mark.parametrize(("values", "param", "message"), BAD)
def test_a_bad_value_is_refused_alike_by_the_cli(values, param, message, tmp_path: Path):
    settings = Settings(index_dir=tmp_path / "index", source_dir=SEEDS, cache_dir=tmp_path / "c")
    obj = fake_cli_context(settings)
    args = [f"--{name.replace('_', '-')}={value}" for name, value in values.items()]
    result = CliRunner().invoke(cli, ["search", "порт", *args], obj=obj)
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {message}"


def test_every_request_field_is_an_api_parameter_and_a_cli_option() -> None:
    fields = set(SearchRequest.model_fields)
    assert {p["name"] for p in search_parameters()} == fields
    options = {p.name for p in cli.commands["search"].params}
    assert fields - {"q"} <= options


def test_the_request_trims_the_query_after_checking_its_length() -> None:
    assert SearchRequest(q="\u3000 порт \ufeff").q == "порт"
    with pytest.raises(InvalidParameter, match="at most 1000"):
        SearchRequest(q=" " * 1001)
    with pytest.raises(InvalidParameter, match="must not be empty"):
        SearchRequest(q="\u2028")


def test_cli_options_reach_the_search(tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path / "index", source_dir=SEEDS, cache_dir=tmp_path / "c")
    obj = fake_cli_context(settings)
    assert CliRunner().invoke(cli, ["reindex"], obj=obj).exit_code == 0
    grouped = CliRunner().invoke(
        cli, ["search", "Перу", "--json", "--group", "article", "--k", "100"], obj=obj
    )
    articles = [hit["article_id"] for hit in json.loads(grouped.output)["results"]]
    assert len(articles) == len(set(articles)) == 2
    dated = CliRunner().invoke(
        cli, ["search", "Перу", "--json", "--date-to", "2025-09-05"], obj=obj
    )
    dates = {hit["date"] for hit in json.loads(dated.output)["results"]}
    assert dates and all(date.fromisoformat(d) <= date(2025, 9, 5) for d in dates)


def test_group_by_article_through_the_api(client) -> None:
    body = client.get("/api/search?q=Перу&k=100&group=article").json
    articles = [hit["article_id"] for hit in body["results"]]
    assert len(articles) == len(set(articles)) == body["total"] == 2
