"""BM25 via bm25s, checked against Lucene's formula over rank_bm25's corpus statistics."""

import math

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from index.lexical import K1, B, LexicalIndex, Postings, lucene_idf, top
from index.text import analyze

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
    "Баку Перу Азия",
]
# "порт" is in 3 of 12 documents; the common word below in 7 of 8, where Robertson's IDF is 0.
COMMON = ["Баку и порт", "Баку и Перу", "Баку", "Баку и Азия", "Баку", "Баку", "Баку", "Лима"]


@pytest.fixture(scope="module")
def index():
    return LexicalIndex.build([analyze(d) for d in DOCS])


class LuceneReference:
    """Lucene's BM25, written out from its formula; rank_bm25 counts the corpus."""

    def __init__(self, documents: list[list[str]]) -> None:
        self.corpus = BM25Okapi(documents, k1=K1, b=B)

    def idf(self, term: str) -> float:
        n = sum(term in freqs for freqs in self.corpus.doc_freqs)
        return math.log(1 + (self.corpus.corpus_size - n + 0.5) / (n + 0.5))

    def get_scores(self, terms: list[str]) -> np.ndarray:
        c = self.corpus
        norm = K1 * (1 - B + B * np.asarray(c.doc_len) / c.avgdl)
        scores = np.zeros(c.corpus_size)
        for term in terms:
            tf = np.array([freqs.get(term, 0) for freqs in c.doc_freqs])
            scores += self.idf(term) * tf / (tf + norm)
        return scores


@pytest.fixture(scope="module")
def reference():
    return LuceneReference([analyze(d) for d in DOCS])


@pytest.mark.parametrize("query", QUERIES)
def test_same_scores_as_lucene_formula(index, reference, query):
    terms = analyze(query)
    np.testing.assert_allclose(index.scores(terms), reference.get_scores(terms), rtol=1e-5)


@pytest.mark.parametrize("query", QUERIES)
def test_same_top10_order_as_the_reference(index, reference, query):
    terms = analyze(query)
    theirs = reference.get_scores(terms)
    ref_top = [int(i) for i in np.lexsort((np.arange(len(DOCS)), -theirs)) if theirs[i] > 0][:10]
    assert [doc for doc, _ in index.search(terms, 10)] == ref_top


def test_a_word_in_most_documents_still_scores():
    index = LexicalIndex.build([analyze(d) for d in COMMON])
    reference = LuceneReference([analyze(d) for d in COMMON])
    terms = analyze("Баку")
    assert len(index.search(terms, 10)) == 7
    np.testing.assert_allclose(index.scores(terms), reference.get_scores(terms), rtol=1e-5)
    top = [doc for doc, _ in index.search(analyze("Баку порт"), 10)]
    assert top[0] == 0 and len(top) == 7


def test_coverage_weighs_terms_by_the_scores_idf(index, reference):
    for term in analyze("порт Баку Азия Лукойл"):
        assert lucene_idf(sum(term in f for f in reference.corpus.doc_freqs), len(DOCS)) == (
            pytest.approx(reference.idf(term))
        )


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


def test_holders_over_segments_with_deletes_count_only_live_documents():
    # DOCS split in three segments; the second's first paragraph and the third's last
    # are deleted (row -1), the rest numbered 0..9 globally, out of order across segments.
    analysed = [analyze(d) for d in DOCS]
    chunks = [analysed[0:4], analysed[4:8], analysed[8:12]]
    rows = [np.array([9, 0, 5, 1]), np.array([-1, 2, 8, 3]), np.array([4, 6, 7, -1])]
    segments = [(Postings.build(c), r) for c, r in zip(chunks, rows)]
    index = LexicalIndex.over(segments, join_below=0)
    joined = LexicalIndex.over(segments)  # the three small segments searched as one part
    assert (len(index.parts), len(joined.parts)) == (3, 1)
    live = {int(row): doc for row, doc in zip(np.concatenate(rows), analysed) if row >= 0}
    groups = [["порт"], ["баку", "азия"], ["лукойл"]]
    wanted = [0, 3, 5, 9, 7]
    for (count, held), group in zip(index.holders(groups, wanted), groups):
        holding = sorted(row for row, doc in live.items() if set(group) & set(doc))
        assert count == len(holding)
        assert held.tolist() == [row in holding for row in wanted]
        if len(group) == 1:
            assert index.holding(group[0]).tolist() == holding
    assert index.size == 10
    assert joined.holders(groups, wanted)[0][0] == index.holders(groups, wanted)[0][0]
    for query in [*QUERIES, "порт стипендии Перу Баку"]:
        terms = analyze(query)
        assert joined.search(terms, 10) == index.search(terms, 10)
        assert np.array_equal(joined.scores(terms), index.scores(terms))
        assert joined.coverage(terms, wanted).tolist() == index.coverage(terms, wanted).tolist()


def test_segments_numbered_in_order_score_and_hold_as_one_build(index):
    # Segments with no deletes, their rows following on (a fresh build's), are read without
    # row or deletion look-ups (Part.first); they must answer exactly as one segment does.
    analysed = [analyze(d) for d in DOCS]
    bounds = [(0, 4), (4, 9), (9, 12)]
    parts = [(Postings.build(analysed[a:b]), np.arange(a, b)) for a, b in bounds]
    split = LexicalIndex.over(parts, join_below=0)
    assert [part.first for part in split.parts] == [0, 4, 9]
    # joined in memory: all three (rows following on: read as one), or the two smaller
    # (4 and 3 documents, rows 0-3 and 9-11: read through their rows)
    every = LexicalIndex.over(parts, join_below=6)
    assert [(part.first, part.postings.size) for part in every.parts] == [(0, 12)]
    some = LexicalIndex.over(parts, join_below=5)
    assert [(part.first, part.postings.size) for part in some.parts] == [(4, 5), (None, 7)]
    for query in [*QUERIES, "порт стипендии Перу Баку"]:
        terms = analyze(query)
        for joined in (every, some):
            assert joined.search(terms, 5) == index.search(terms, 5)
            assert np.array_equal(joined.scores(terms), index.scores(terms))
            assert joined.holding("порт").tolist() == [0, 1, 9]
    for query in [*QUERIES, "порт стипендии Перу Баку"]:
        terms = analyze(query)
        assert split.search(terms, 5) == index.search(terms, 5)
        allowed = np.array([0, 1, 3, 9, 11])
        assert split.search(terms, 3, allowed) == index.search(terms, 3, allowed)
        assert np.array_equal(split.scores(terms), index.scores(terms))
    groups = [["порт"], ["баку", "азия"], ["лукойл"]]
    wanted = list(range(12))
    for (count, held), (one_count, one_held) in zip(
        split.holders(groups, wanted), index.holders(groups, wanted)
    ):
        assert count == one_count and held.tolist() == one_held.tolist()
    assert split.holding("порт").tolist() == [0, 1, 9]


def test_top_over_the_scored_documents_equals_top_over_all():
    rng = np.random.default_rng(7)
    scores = np.zeros(1000, dtype=np.float32)
    scored = np.sort(rng.choice(1000, 300, replace=False))
    scores[scored] = rng.integers(1, 20, 300).astype(np.float32)  # many ties at the cut
    allowed = np.sort(rng.choice(1000, 500, replace=False))
    every = np.arange(len(scores))
    for k in (1, 10, 100, 400):
        assert top(scores, scored, k) == top(scores, every, k)
        assert top(scores, scored, k, allowed) == top(scores, every, k, allowed)


def test_main_script_counts_word_occurrences_by_script():
    docs = [analyze(t) for t in ("порт Чанкай открыт", "порт Баку", "GIMP port")]
    assert LexicalIndex.build(docs).main_script() == "cyrillic"
    assert LexicalIndex.build([analyze("GIMP crop tool"), analyze("порт")]).main_script() == "latin"
    assert LexicalIndex.build([analyze("2025 100")]).main_script() is None
