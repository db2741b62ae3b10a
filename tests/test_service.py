"""The Searcher: legs, fusion, pagination, filters, hot reload, refusal of bad indexes."""

from __future__ import annotations

import json
from datetime import date

import pytest

from core.errors import IndexCorrupt, IndexMismatch, IndexNotFound
from index.format import VECTORS_NAME
from indexer.build import reindex
from search.contract import InvalidParameter, SearchRequest
from search.fusion import REF_RANK
from search.service import Searcher
from tests.conftest import SEEDS
from tests.fakes import FakeEncoder

AZ, PERU = "000_f267e610140cff85", "001_37d38f48706849c8"
CHANCAY, STIPENDS = f"{AZ}:7", f"{AZ}:5"


@pytest.fixture(scope="module")
def searcher(tmp_path_factory) -> Searcher:
    tmp = tmp_path_factory.mktemp("svc")
    encoder = FakeEncoder()
    reindex(SEEDS, tmp / "index", encoder, tmp / "cache")
    return Searcher(tmp / "index", encoder)


def ids(result) -> list[str]:
    return [h.id for h in result.results]


def test_hybrid_hits_carry_both_legs(searcher):
    result = searcher.search(SearchRequest(q="порт Чанкай"))
    top = result.results[0]
    assert top.id == CHANCAY and top.rank == 1
    assert top.bm25.rank == 1 and top.semantic is not None
    # coverage fusion: BM25's first hit is the only one holding both query words, in the
    # corpus's script, so 0.3 x min-max semantic + 0.7 x min-max BM25 x coverage^4 (1)
    scores = [
        h.score
        for h in searcher.search(SearchRequest(q="порт Чанкай", mode="semantic", k=100)).results
    ]
    low, high = min(scores), max(scores)
    semantic = (top.semantic.score - low) / (high - low)
    assert result.alpha == 0.3
    assert top.score == pytest.approx(0.3 * semantic + 0.7 * 1.0)
    rrf = searcher.search(SearchRequest(q="порт Чанкай", fusion="coverage-rrf")).results[0]
    assert rrf.id == CHANCAY and rrf.bm25.rank == 1
    assert rrf.score == pytest.approx(1 / 61 + 1 / (60 + rrf.semantic.rank))
    missed = [h for h in result.results if h.bm25 is None]
    assert missed, "paragraphs found only by the dense leg have bm25 = None"


def test_bm25_mode_returns_only_matching_paragraphs(searcher):
    result = searcher.search(SearchRequest(q="Чанкай", mode="bm25"))
    assert ids(result) == [CHANCAY]
    assert result.total == 1 and result.results[0].semantic is None


def test_semantic_mode_ranks_every_paragraph(searcher):
    result = searcher.search(SearchRequest(q="Чанкай", mode="semantic", k=100))
    assert result.total == 21 and len(result.results) == 21
    assert all(h.bm25 is None for h in result.results)


def test_convex_fusion_reports_its_alpha(searcher):
    assert searcher.search(SearchRequest(q="порт", fusion="convex")).alpha == 0.5
    assert searcher.search(SearchRequest(q="порт", fusion="convex", alpha=0.2)).alpha == 0.2
    assert searcher.search(SearchRequest(q="порт", alpha=0.2)).alpha == 0.2  # the default, coverage
    assert (
        searcher.search(SearchRequest(q="порт", fusion="rrf", alpha=0.2)).alpha is None
    )  # no weight


def test_pages_continue_each_other_without_overlap_or_gap(searcher):
    whole = ids(searcher.search(SearchRequest(q="Азербайджан Перу", k=15)))
    pages = [
        ids(searcher.search(SearchRequest(q="Азербайджан Перу", k=5, offset=o))) for o in (0, 5, 10)
    ]
    assert pages[0] + pages[1] + pages[2] == whole
    assert (
        searcher.search(SearchRequest(q="Азербайджан Перу", k=5, offset=10)).results[0].rank == 11
    )


def test_date_filters_apply_to_both_legs(searcher):
    later = searcher.search(SearchRequest(q="Перу Азербайджан", k=100, date_from=date(2025, 9, 5)))
    assert {h.article_id for h in later.results} == {AZ} and later.total == 13
    earlier = searcher.search(SearchRequest(q="Перу Азербайджан", k=100, date_to=date(2025, 9, 5)))
    assert {h.article_id for h in earlier.results} == {PERU}
    bm25 = searcher.search(SearchRequest(q="Чанкай", mode="bm25", date_to=date(2025, 9, 5)))
    assert bm25.results == []


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"q": "  "}, "q"),
        ({"q": "x" * 1001}, "q"),
        ({"q": "порт \ud800"}, "q"),
        ({"k": 0}, "k"),
        ({"k": 101}, "k"),
        ({"offset": -1}, "offset"),
        ({"offset": 1001}, "offset"),
        ({"mode": "fuzzy"}, "mode"),
        ({"fusion": "max"}, "fusion"),
        ({"alpha": 1.5}, "alpha"),
        ({"date_from": date(2025, 9, 9), "date_to": date(2025, 9, 1)}, "date_from"),
    ],
)
def test_bad_parameters_name_themselves(searcher, kwargs, param):
    kwargs = {"q": "порт", **kwargs}
    with pytest.raises(InvalidParameter) as info:
        searcher.search(SearchRequest(**kwargs))
    assert info.value.param == param


def test_a_new_build_is_picked_up_and_the_old_one_keeps_serving(tmp_path, seeds_copy):
    encoder = FakeEncoder()
    reindex(seeds_copy, tmp_path / "index", encoder, tmp_path / "cache")
    searcher = Searcher(tmp_path / "index", encoder)
    old = searcher.current()
    assert searcher.search(SearchRequest(q="Антарктида", mode="bm25")).results == []
    (seeds_copy / "002_new.txt").write_text("Антарктида и пингвины.\n", encoding="utf-8")
    reindex(seeds_copy, tmp_path / "index", encoder, tmp_path / "cache")
    assert ids(searcher.search(SearchRequest(q="Антарктида", mode="bm25"))) == ["002_new:0"]
    assert searcher.current() is not old
    assert old.store.count("paragraphs") == 21  # a request still holding it finishes


def test_no_index_then_an_index_appears(tmp_path):
    encoder = FakeEncoder()
    searcher = Searcher(tmp_path / "index", encoder)
    with pytest.raises(IndexNotFound, match="manage.py reindex"):
        searcher.search(SearchRequest(q="порт"))
    reindex(SEEDS, tmp_path / "index", encoder, tmp_path / "cache")
    assert searcher.search(SearchRequest(q="порт")).total > 0


def test_an_index_from_another_model_is_refused(tmp_path):
    reindex(SEEDS, tmp_path / "index", FakeEncoder(name="a"), tmp_path / "cache")
    with pytest.raises(IndexMismatch, match="manage.py reindex"):
        Searcher(tmp_path / "index", FakeEncoder(name="b")).search(SearchRequest(q="порт"))


def test_a_corrupt_build_is_an_error_every_time_not_a_crash(tmp_path):
    encoder = FakeEncoder()
    report = reindex(SEEDS, tmp_path / "index", encoder, tmp_path / "cache")
    (report.build / report.build.name / VECTORS_NAME).write_bytes(b"not a faiss index")
    searcher = Searcher(tmp_path / "index", encoder)
    for _ in range(2):
        with pytest.raises(IndexCorrupt):
            searcher.search(SearchRequest(q="порт"))


def test_article_and_stats(searcher):
    page = searcher.article(PERU)
    assert page.article.date == "2025-09-04" and len(page.paragraphs) == 8
    assert searcher.article("nope") is None
    stats = searcher.stats()
    assert (stats.articles, stats.paragraphs, stats.vectors) == (2, 21, "flat")


@pytest.mark.model
def test_russian_keywords_rank_the_chancay_paragraph_first(real_searcher):
    assert ids(real_searcher.search(SearchRequest(q="порт Чанкай")))[0] == CHANCAY


@pytest.mark.model
def test_english_question_finds_the_stipends_paragraph_in_the_top_3(real_searcher):
    result = real_searcher.search(SearchRequest(q="stipends for NAM students"))
    assert STIPENDS in ids(result)[:3]


@pytest.mark.model
def test_lukoil_is_not_found_in_the_news_feed(real_searcher):
    result = real_searcher.search(SearchRequest(q="Лукойл", k=100))
    assert all(h.bm25 is None for h in result.results)
    assert not any("Лукойл" in h.text or "Эпштейн" in h.text for h in result.results)


def test_grouping_by_article_keeps_the_best_paragraph_of_each_article(searcher):
    full = searcher.search(SearchRequest(q="Азербайджан Перу порт", k=100))
    collapsed = searcher.search(SearchRequest(q="Азербайджан Перу порт", k=100, group="article"))
    firsts = {}
    for hit in full.results:
        firsts.setdefault(hit.article_id, hit.id)
    assert ids(collapsed) == list(firsts.values())  # in the same order
    assert collapsed.total == len(firsts) == 2
    assert [h.rank for h in collapsed.results] == [1, 2]


def test_pages_continue_each_other_over_a_corpus_deeper_than_the_normalisation(tmp_path):
    """Each page fetches 10x its end from every leg; page 2 must still continue page 1
    and a deep page the pages before it, over more paragraphs than fusion.REF_RANK."""
    import json
    import random

    rnd = random.Random(7)
    words = ["порт", "суда", "груз", "море", "торговля", "путь", "связи", "Перу", "Баку"]
    words += ["ООН", "климат", "туризм"]
    lines = [
        json.dumps(
            {
                "id": f"a{a}",
                "title": " ".join(rnd.sample(words, 2)),
                "text": "\n\n".join(" ".join(rnd.choices(words, k=8)) + "." for _ in range(6)),
            },
            ensure_ascii=False,
        )
        for a in range(50)
    ]
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "news.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    primary, cross = FakeEncoder(), FakeEncoder(name="fake-cross", dimension=24)
    reindex(
        tmp_path / "corpus", tmp_path / "index", primary, tmp_path / "cache", cross_encoder=cross
    )
    searcher = Searcher(tmp_path / "index", primary, cross)
    assert searcher.stats().paragraphs == 300 > 2 * REF_RANK
    for query, mode in (("порт груз", "hybrid"), ("ships to the port", "semantic")):
        whole = ids(searcher.search(SearchRequest(q=query, k=100, mode=mode, offset=100)))
        pages = [
            ids(searcher.search(SearchRequest(q=query, k=10, mode=mode, offset=o)))
            for o in range(0, 200, 10)
        ]
        joined = [hit for page in pages for hit in page]
        assert joined[:100] == ids(searcher.search(SearchRequest(q=query, k=100, mode=mode)))
        assert joined[100:] == whole


def test_a_query_naming_an_article_title_finds_its_paragraphs(tmp_path):
    """Built without title mixing, the paragraphs know nothing of their title: only the
    title boost can bring the fog article up for the query "туман"."""
    import json

    articles = [
        {
            "id": "fog",
            "title": "Туман",
            "text": "Видимость упала до ста метров.\n\nРейсы задержаны.",
        },
        {"id": "port", "title": "Порт", "text": "Порт принял суда.\n\nСклад закрыт вечером."},
        {"id": "rain", "title": "Дождь", "text": "Ливень залил улицы.\n\nМетро работает."},
    ]
    (tmp_path / "corpus").mkdir()
    lines = "\n".join(json.dumps(a, ensure_ascii=False) for a in articles)
    (tmp_path / "corpus" / "news.jsonl").write_text(lines + "\n", encoding="utf-8")
    encoder = FakeEncoder()
    reindex(tmp_path / "corpus", tmp_path / "index", encoder, tmp_path / "cache", title_weight=0)
    searcher = Searcher(tmp_path / "index", encoder)
    top = searcher.search(SearchRequest(q="туман", mode="semantic")).results[:2]
    assert [h.article_id for h in top] == ["fog", "fog"]
    alone = Searcher(searcher.index_dir, searcher.encoder, dense="primary")
    assert {h.score for h in alone.search(SearchRequest(q="туман", mode="semantic")).results} == {
        0.0
    }  # the paragraphs alone know nothing of it: every one ties at 0


def test_the_count_is_the_same_on_every_page(tmp_path):
    """total reads each leg's first MIN_DEPTH hits, which every page fetches; a leg with
    that many may hold more, so the count is then a lower bound ("gte")."""
    words = ["порт", "груз", "Перу", "Баку", "студенты", "посольство", "торговля", "флот"]
    lines = [
        json.dumps({"id": f"a{a}", "title": f"статья {a}", "text": "\n\n".join(
            " ".join(words[(a + i + j) % len(words)] for j in range(5)) + "."
            for i in range(3))}, ensure_ascii=False)
        for a in range(120)
    ]  # fmt: skip
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "news.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    encoder = FakeEncoder()
    reindex(tmp_path / "corpus", tmp_path / "index", encoder, tmp_path / "cache")
    searcher = Searcher(tmp_path / "index", encoder)
    for mode in ("hybrid", "bm25", "semantic"):
        pages = [searcher.search(SearchRequest(q="порт груз", mode=mode, offset=o)) for o in
                 (0, 100, 300)]  # fmt: skip
        assert len({(p.total, p.total_relation) for p in pages}) == 1, mode
        assert pages[0].total_relation == "gte" and pages[0].total >= 100
    common = searcher.search(SearchRequest(q="порт", mode="bm25"))
    assert (common.total, common.total_relation) == (100, "gte")  # in 225 paragraphs
    grouped = searcher.search(SearchRequest(q="порт", group="article", offset=50))
    assert grouped.total == searcher.search(SearchRequest(q="порт", group="article")).total
    assert grouped.total <= 120


def test_a_small_result_is_counted_exactly(searcher):
    result = searcher.search(SearchRequest(q="Чанкай", mode="bm25"))
    assert (result.total, result.total_relation) == (1, "eq")
    assert searcher.search(SearchRequest(q="порт", mode="semantic")).total_relation == "eq"


def test_a_kept_answer_is_the_searched_one_until_a_new_build(tmp_path, seeds_copy):
    encoder = FakeEncoder()
    reindex(seeds_copy, tmp_path / "index", encoder, tmp_path / "cache")
    searcher = Searcher(tmp_path / "index", encoder, result_cache=2)
    request = SearchRequest(q="порт Чанкай")
    first = searcher.search(request)
    encoded = len(encoder.queries)
    again = searcher.search(request)
    assert len(encoder.queries) == encoded  # answered without a search
    assert again.model_dump(exclude={"took_ms"}) == first.model_dump(exclude={"took_ms"})
    assert ids(searcher.search(SearchRequest(q="порт Чанкай", k=3))) == ids(first)[:3]
    stats = searcher.result_cache_stats()
    assert (stats.hits, stats.misses, stats.size, stats.capacity) == (1, 2, 2, 2)
    # a new build is a new key: its answer, not the kept one
    (seeds_copy / "002_new.txt").write_text("Порт Чанкай: новый терминал.\n", encoding="utf-8")
    reindex(seeds_copy, tmp_path / "index", encoder, tmp_path / "cache")
    assert "002_new:0" in ids(searcher.search(request))
    assert searcher.result_cache_stats().hits == 1


def test_in_process_searchers_keep_no_answers_by_default(searcher):
    before = searcher.result_cache_stats()
    searcher.search(SearchRequest(q="порт"))
    searcher.search(SearchRequest(q="порт"))
    after = searcher.result_cache_stats()
    assert (after.hits, after.size, after.capacity) == (0, 0, 0)
    assert after.misses == before.misses + 2
