"""The evaluation harness: judging, metrics, query files; and the seeds set's floor."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from eval.harness import (
    CachedQueryEncoder,
    Config,
    evaluate,
    format_table,
    judge,
    load_queries,
    metrics,
    query_language,
)
from search.contract import Hit
from search.service import Searcher
from tests.conftest import ROOT

SEEDS_QUERIES = ROOT / "eval" / "seeds.jsonl"


def hit(pid: str, text: str = "") -> Hit:
    return Hit(
        rank=1, id=pid, article_id=pid.split(":")[0], title="", date=None, url=None,
        text=text, snippet=text, score=0.0, bm25=None, semantic=None,
    )  # fmt: skip


def test_judge_counts_each_relevant_item_once():
    hits = [hit("a:0"), hit("b:1", "порт Чанкай"), hit("b:2", "ещё порт"), hit("c:0")]
    assert judge(hits, ["b:2"]) == [3]
    assert judge(hits, ["b"]) == [2]  # an article id: its first paragraph counts
    assert judge(hits, [{"contains": "ПОРТ"}]) == [2]
    assert judge(hits, ["c:0", "a:0", "z:9"]) == [1, 4]


def test_metrics_of_ranks():
    m = metrics([2], 1)
    assert (m["hit@1"], m["hit@10"], m["mrr@10"], m["recall@100"]) == (0.0, 1.0, 0.5, 1.0)
    assert m["ndcg@10"] == pytest.approx(1 / math.log2(3))
    assert metrics([], 2) == dict.fromkeys(m, 0.0)
    two = metrics([1, 12], 2)
    assert two["ndcg@10"] == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert two["recall@100"] == 1.0 and two["mrr@10"] == 1.0


def test_query_language_by_script():
    assert query_language("порт Chancay") == "ru"
    assert query_language("Chancay port 2025") == "en"


def test_load_queries_filters_by_split_and_reports_bad_lines(tmp_path: Path):
    good = {"query": "порт", "relevant": ["a:0"], "split": "test"}
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps(good) + "\n\n" + json.dumps({**good, "split": "tune"}) + "\n")
    assert [q.split for q in load_queries(path)] == ["test", "tune"]
    assert [q.lang for q in load_queries(path, "test")] == ["ru"]
    path.write_text(json.dumps(good) + "\n{broken\n")
    with pytest.raises(ValueError, match=r"q.jsonl:2"):
        load_queries(path)
    path.write_text(json.dumps({"query": "x", "relevant": []}) + "\n")
    with pytest.raises(ValueError, match="no relevant"):
        load_queries(path)


def test_the_seeds_set_is_half_english_half_russian_and_points_at_real_paragraphs():
    queries = load_queries(SEEDS_QUERIES)
    assert len(queries) >= 40
    assert sum(q.lang == "en" for q in queries) == sum(q.lang == "ru" for q in queries)
    assert all(query_language(q.text) == q.lang for q in queries)


def test_evaluate_with_the_fake_encoder_reports_every_config_and_language(tmp_path):
    from indexer.build import reindex
    from tests.conftest import SEEDS
    from tests.fakes import FakeEncoder

    encoder = FakeEncoder()
    reindex(SEEDS, tmp_path / "index", encoder, tmp_path / "cache")
    cached = CachedQueryEncoder(encoder)
    searcher = Searcher(tmp_path / "index", cached)
    queries = load_queries(SEEDS_QUERIES)
    configs = [Config("bm25", "bm25"), Config("hybrid", "hybrid")]
    report = evaluate(searcher, queries, configs)
    assert set(report.scores) == {"bm25", "hybrid"}
    assert set(report.scores["bm25"]) == {"all", "en", "ru"}
    assert report.scores["bm25"]["ru"]["hit@10"] > report.scores["bm25"]["en"]["hit@10"]
    assert len(encoder.queries) == len({q.text for q in queries})  # encoded once each
    assert "| bm25 | ru | 25 |" in format_table(report)


class StubSearcher:
    """Answers every query with the same two hits, "a:0" then "b:0"."""

    dense = "both"
    sentences = False  # as evaluation searches (eval/harness.py: _with_dense)

    def search(self, request: object) -> object:
        return type("Found", (), {"results": [hit("a:0"), hit("b:0")]})()


def test_evaluate_by_kind_averages_each_kind_and_names_the_column() -> None:
    from eval.harness import Query

    queries = [Query("x", ("a:0",), "en", "en-sentence"), Query("y", ("b:0",), "en", "en-sentence"),
               Query("z", ("b",), "ru", "ru-keywords"), Query("w", ("a:0",), "ru")]  # fmt: skip
    report = evaluate(StubSearcher(), queries, [Config("bm25", "bm25")], by="kind")  # type: ignore[arg-type]
    mrr = {kind: values["mrr@10"] for kind, values in report.scores["bm25"].items()}
    assert mrr == {"all": 0.75, "-": 1.0, "en-sentence": 0.75, "ru-keywords": 0.5}
    assert report.counts == {"all": 4, "-": 1, "en-sentence": 2, "ru-keywords": 1}
    table = format_table(report)
    assert "| config | kind | n |" in table and "| bm25 | en-sentence | 2 | 0.500 |" in table
    with pytest.raises(ValueError, match="by must be"):
        evaluate(StubSearcher(), queries, [], by="split")  # type: ignore[arg-type]


@pytest.mark.model
def test_hybrid_finds_the_answer_in_the_top_3_for_90_percent_of_seed_queries(real_searcher):
    queries = load_queries(SEEDS_QUERIES)
    report = evaluate(real_searcher, queries, [Config("hybrid", "hybrid")])
    firsts = report.first_relevant["hybrid"]
    misses = [q.text for q, r in zip(queries, firsts) if not r or r > 3]
    assert len(misses) <= 0.1 * len(queries), misses


def test_worst_lists_the_lowest_ranked_queries_first():
    from eval.harness import Query, Report, worst

    queries = [Query("a", ("x",), "en"), Query("b", ("y",), "en"), Query("c", ("z",), "ru")]
    report = Report(first_relevant={"h": [1, None, 4]}, top_hit={"h": ["x:0 A", "q:1 B", "w:2 C"]})
    lines = worst(report, queries, "h", n=2).splitlines()[2:]
    assert [line.split(" | ")[0] for line in lines] == ["| b", "| c"]
    assert "> 100" in lines[0] and "q:1 B" in lines[0]
