"""BM25 via bm25s, checked against rank_bm25's BM25Okapi as the reference."""

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from index.lexical import K1, LexicalIndex
from index.text import analyze

# 12 short documents: every query term below occurs in fewer than half of them, where
# BM25Okapi and Robertson's idf agree (rank_bm25 floors negative idf differently).
DOCS = [
    "Перуанский порт Чанкай стал узлом торговли с Азией",
    "Бакинский порт крупнейший на Каспии",
    "Азербайджан предлагает 100 стипендий студентам из стран ДН",
    "Стипендии для студентов из Перу в азербайджанских вузах",
    "Климатические конференции ООН COP29 прошли в Баку",
    "Посольство Перу в Баку проработало два года",
    "Торговля и инвестиции между странами растут",
    "Туризм, безопасность, культура и спорт",
    "Министры иностранных дел провели консультации в Лиме",
    "Порт порт порт: повтор слова влияет на вес",
    "Редкие металлы и энергетика как сферы сотрудничества",
    "Средний коридор связывает Азию и Европу",
]
QUERIES = [
    "порт Чанкай",
    "стипендии студентам",
    "посольство Баку",
    "торговля Азия",
    "Каспий порт",
    "COP29 конференции",
]


@pytest.fixture(scope="module")
def index():
    return LexicalIndex.build([analyze(d) for d in DOCS])


@pytest.fixture(scope="module")
def reference():
    return BM25Okapi([analyze(d) for d in DOCS], k1=K1, b=0.75)


@pytest.mark.parametrize("query", QUERIES)
def test_same_scores_as_rank_bm25_up_to_k1_plus_1(index, reference, query):
    terms = analyze(query)
    ours = index.scores(terms)
    theirs = reference.get_scores(terms)
    np.testing.assert_allclose(ours * (K1 + 1), theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("query", QUERIES)
def test_same_top10_order_as_rank_bm25(index, reference, query):
    terms = analyze(query)
    theirs = reference.get_scores(terms)
    ref_top = [int(i) for i in np.lexsort((np.arange(len(DOCS)), -theirs)) if theirs[i] > 0][:10]
    assert [doc for doc, _ in index.search(terms, 10)] == ref_top


def test_only_positive_scores_return(index):
    hits = index.search(analyze("порт"), 100)
    assert {doc for doc, _ in hits} == {0, 1, 9}
    assert all(score > 0 for _, score in hits)


def test_unknown_and_empty_queries_return_nothing(index):
    assert index.search(analyze("Лукойл"), 10) == []
    assert index.search([], 10) == []


def test_k_cuts_and_keeps_best_first(index):
    hits = index.search(analyze("порт стипендии Перу"), 2)
    assert len(hits) == 2
    assert hits[0][1] >= hits[1][1]


def test_save_and_load_round_trip(index, tmp_path):
    index.save(tmp_path / "bm25")
    loaded = LexicalIndex.load(tmp_path / "bm25")
    terms = analyze("порт Чанкай")
    assert loaded.search(terms, 5) == index.search(terms, 5)
    assert not list((tmp_path / "bm25").glob("*.pkl"))


def test_coverage_is_the_share_of_query_idf_a_document_holds(index):
    docs = [0, 1, 9]  # "Перуанский порт Чанкай ...", "Бакинский порт ...", "Порт порт порт ..."
    full, partial, _ = index.coverage(analyze("порт Чанкай"), docs)
    assert full == pytest.approx(1.0)
    assert 0 < partial < 0.5  # "порт" is in 3 of 12 documents, "Чанкай" in one
    assert index.coverage(analyze("Лукойл порт"), docs)[0] < 0.5  # unknown terms weigh most
    assert index.coverage([], docs).tolist() == [0.0, 0.0, 0.0]


def test_main_script_counts_word_occurrences_by_script():
    docs = [analyze(t) for t in ("порт Чанкай открыт", "порт Баку", "GIMP port")]
    assert LexicalIndex.build(docs).main_script() == "cyrillic"
    assert LexicalIndex.build([analyze("GIMP crop tool"), analyze("порт")]).main_script() == "latin"
    assert LexicalIndex.build([analyze("2025 100")]).main_script() is None
