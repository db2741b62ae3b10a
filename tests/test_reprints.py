"""Reprints: one wire story published by several outlets with small edits is one grouped
result that says where else it was published. Detection (indexer/reprints.py) on edited
copies of a story; the grouping through the API, the page and the CLI on the fake encoder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from core.config import Settings
from core.records import Article
from index.format import load_index
from indexer.reprints import reprint_groups
from manage import cli
from tests.corpora import api_client
from tests.fakes import fake_cli_context
from tests.test_pages import page

STORY = (
    "Порт Чанкай на побережье Перу принял первое контейнерное судно из Шанхая. "
    "Строительство порта обошлось китайской компании COSCO в три с половиной миллиарда "
    "долларов. По словам министра транспорта, новый терминал сократит путь грузов из Южной "
    "Америки в Азию на десять дней и создаст несколько тысяч рабочих мест в регионе. "
    "Первая очередь порта рассчитана на миллион контейнеров в год."
)
OTHER = (
    "Синоптики обещают в Москве на выходных дожди и сильный ветер, температура днём "
    "опустится до десяти градусов, а ночью местами возможны заморозки на почве. В понедельник "
    "погода улучшится, но солнечных дней до конца месяца будет немного, говорится в прогнозе "
    "метеорологов, опубликованном в пятницу."
)
# The wire story, and two outlets' reprints: a lead-in and a cut; a reworded sentence.
REPRINTS = [
    {"id": "tass-chancay", "title": "Порт Чанкай принял первое судно", "date": "2025-09-02",
     "source": "ТАСС", "text": STORY},
    {"id": "ria-chancay", "title": "В Перу открылся порт Чанкай", "date": "2025-09-01",
     "source": "РИА Новости", "text": "Как сообщает ТАСС, " + STORY.rsplit(" Первая", 1)[0]},
    {"id": "ifx-chancay", "title": "Чанкай принял судно", "date": "2025-09-03",
     "source": "Интерфакс", "text": STORY.replace("несколько тысяч", "тысячи")},
    {"id": "weather", "title": "Погода", "date": "2025-09-01", "source": "ТАСС", "text": OTHER},
    {"id": "short-a", "title": "Коротко", "text": "Порт Чанкай принял судно."},
    {"id": "short-b", "title": "Коротко", "text": "Порт Чанкай принял судно."},
]  # fmt: skip


def _articles() -> list[Article]:
    return [Article(a["id"], a["title"], a["text"], a.get("date")) for a in REPRINTS]


def write_reprints(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(a, ensure_ascii=False) for a in REPRINTS]
    (folder / "wire.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_reprints(tmp_path_factory.mktemp("wire") / "corpus")


@pytest.fixture(scope="module")
def client(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> FlaskClient:
    return api_client(tmp_path_factory.mktemp("idx"), corpus)


def search(client: FlaskClient, **params: object) -> list[dict]:
    query = {"q": "порт Чанкай судно", "k": 100, "mode": "bm25", **params}
    response = client.get("/api/search", query_string=query)
    assert response.status_code == 200, response.json
    return response.json["results"]


def test_edited_reprints_are_one_group_under_the_earliest() -> None:
    groups = reprint_groups(_articles())
    assert groups == {a: "ria-chancay" for a in ("tass-chancay", "ria-chancay", "ifx-chancay")}


def test_short_notes_and_other_stories_are_not_reprints() -> None:
    groups = reprint_groups(_articles())
    assert not {"weather", "short-a", "short-b"} & groups.keys()


def test_the_store_records_each_article_s_group(client, corpus, tmp_path) -> None:
    from indexer.build import reindex
    from tests.fakes import FakeEncoder

    reindex(corpus, tmp_path / "index", FakeEncoder(), tmp_path / "cache")
    store = load_index(tmp_path / "index").store
    assert store.reprint_groups(["tass-chancay", "weather"]) == {"tass-chancay": "ria-chancay"}
    members = store.reprint_members(["ria-chancay"])["ria-chancay"]
    assert [a.id for a in members] == ["ria-chancay", "tass-chancay", "ifx-chancay"]
    reindex(corpus, tmp_path / "index", FakeEncoder(), tmp_path / "cache", reprints=False)
    assert load_index(tmp_path / "index").store.reprint_groups(["tass-chancay"]) == {}


def test_grouped_results_list_the_story_once_with_also_in(client) -> None:
    hits = search(client, group="article")
    story = [h for h in hits if h["article_id"].endswith("-chancay")]
    (hit,) = story
    assert {a["outlet"] for a in hit["also_in"]} | {hit["outlet"]} == {
        "ТАСС",
        "РИА Новости",
        "Интерфакс",
    }
    assert hit["article_id"] not in {a["article_id"] for a in hit["also_in"]}
    assert all("also_in" not in h for h in hits if h is not hit)


def test_the_total_counts_a_story_once(client) -> None:
    response = client.get(
        "/api/search",
        query_string={"q": "порт Чанкай судно", "mode": "bm25", "group": "article"},
    )
    assert response.json["total"] == len(response.json["results"])


def test_ungrouped_results_keep_every_reprint(client) -> None:
    hits = search(client)
    assert {h["article_id"] for h in hits} >= {"tass-chancay", "ria-chancay", "ifx-chancay"}
    assert all("also_in" not in h for h in hits)


def test_the_page_links_the_other_outlets(client) -> None:
    html, doc = page(client, "/?q=порт+Чанкай+судно&mode=bm25")
    assert "Also in" in html
    assert len(doc.find("p", class_="also-in")) == 1
    assert html.count("/articles/") >= 3


def test_the_cli_says_also_in_and_reindex_can_skip_reprints(corpus: Path, tmp_path: Path):
    settings = Settings(index_dir=tmp_path / "index", source_dir=corpus, cache_dir=tmp_path / "c")
    obj = fake_cli_context(settings)
    assert CliRunner().invoke(cli, ["reindex"], obj=obj).exit_code == 0
    args = ["search", "порт Чанкай судно", "--mode", "bm25", "--group", "article"]
    assert "also in: " in CliRunner().invoke(cli, args, obj=obj).output
    assert CliRunner().invoke(cli, ["reindex", "--no-reprints"], obj=obj).exit_code == 0
    assert "also in: " not in CliRunner().invoke(cli, args, obj=obj).output
