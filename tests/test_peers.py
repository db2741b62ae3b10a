"""The peers bench's driver side, without any peer's virtual environment: a worker run on a
fake engine, its output judged with the evaluation harness and tabled, and the units read
from a poisk index."""

import json
import sys
from pathlib import Path

import pytest

from bench.peers import worker
from bench.peers.judging import format_tables, mrr_by_kind, peer_row
from bench.peers.units import Unit, read_units, write_units
from eval.harness import Query
from indexer.build import reindex
from tests.conftest import SEEDS
from tests.fakes import FakeEncoder

UNITS = {
    "a:0": Unit("a:0", "a", "Порт Чанкай открыт", "Порт"),
    "a:1": Unit("a:1", "a", "Грузы идут через порт", "Порт"),
    "b:0": Unit("b:0", "b", "Climate conference in Baku", ""),
}
QUERIES = [
    Query("порт", ("a:1",), "ru", "ru-keywords"),  # a paragraph id
    Query("Baku", ("b",), "en", "en-keywords"),  # an article id
    Query("Чанкай", ({"contains": "чанкай"},), "ru", "ru-keywords"),  # a substring
]


def test_mrr_per_kind_judges_ids_articles_and_substrings() -> None:
    ranked = [["a:0", "a:1"], ["b:0"], ["made-up", "b:0", "a:1", "a:0"]]
    mrr = mrr_by_kind(ranked, QUERIES, UNITS)
    assert mrr == pytest.approx({"all": (0.5 + 1 + 0.25) / 3, "en-keywords": 1.0,
                                 "ru-keywords": (0.5 + 0.25) / 2})  # fmt: skip


def test_a_missing_ranking_is_an_error() -> None:
    with pytest.raises(ValueError, match="2 rankings for 3 queries"):
        mrr_by_kind([[], []], QUERIES, UNITS)


def fake_build(model: str, units: list, job: dict) -> worker.Search:
    """An engine that ranks the units whose text holds the query first, then the rest."""
    job["info"]["model"] = model

    def search(query: str, k: int) -> list[str]:
        held = [u["id"] for u in units if query.casefold() in worker.unit_text(u).casefold()]
        return (held + [u["id"] for u in units if u["id"] not in held])[:k]

    return search


def test_a_worker_result_is_judged_and_tabled(tmp_path: Path, monkeypatch) -> None:
    write_units(list(UNITS.values()), tmp_path / "units.jsonl")
    job = {"units": str(tmp_path / "units.jsonl"), "queries": [q.text for q in QUERIES],
           "depth": 100, "clients": [1, 4], "seconds": 0.05}  # fmt: skip
    (tmp_path / "job.json").write_text(json.dumps(job), encoding="utf-8")
    argv = ["fake_run", str(tmp_path / "job.json"), str(tmp_path / "result.json")]
    monkeypatch.setattr(sys, "argv", argv)
    worker.run_worker("fake", "1.0", lambda job: "e5", fake_build)
    result = json.loads((tmp_path / "result.json").read_text(encoding="utf-8"))
    assert result["ranked"][1] == ["b:0", "a:0", "a:1"]
    assert result["info"] == {"model": "e5"} and result["rps"]["4"] > 0
    row = peer_row(result, QUERIES, UNITS)
    assert row.mrr["all"] == pytest.approx((1 / 2 + 1 + 1) / 3)  # "порт" also holds a:0
    table = format_tables("toy", [row])
    assert "| fake 1.0 | 0.833 | 1.000 | 0.750 |" in table
    assert table.splitlines()[-1].startswith("| fake | ")


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert worker.percentile(values, 50) == 50 and worker.percentile(values, 95) == 95
    assert worker.percentile([7.0], 95) == 7.0


def test_units_are_the_paragraphs_of_the_poisk_store(tmp_path: Path) -> None:
    reindex(SEEDS, tmp_path / "index", FakeEncoder(), tmp_path / "cache")
    units = read_units(tmp_path / "index")
    assert units and all(u.id.startswith(f"{u.article_id}:") for u in units)
    write_units(units, tmp_path / "units.jsonl")
    back = worker.read_units(tmp_path / "units.jsonl")
    assert [u["id"] for u in back] == [u.id for u in units] and back[0]["title"] == units[0].title
