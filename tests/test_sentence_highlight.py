"""The cross-lingual highlight: a hit in another script than its query marks the sentence
nearest the query in meaning. The plumbing runs on the fake encoder over the small news
corpus; which sentence is nearest runs on the real models over the seeds."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from flask.testing import FlaskClient

from index.sentences import sentence_spans
from search.contract import SearchRequest
from search.sentences import (
    DEFAULT_SENTENCES,
    SentenceVectors,
    across_scripts,
    nearest_sentences,
)
from search.snippets import sentence_snippet
from tests.corpora import build_searcher
from tests.fakes import FakeEncoder
from tests.news import write_news_corpus
from tests.test_pages import page
from web import create_app

STIPENDS = "000_f267e610140cff85:5"
STIPENDS_SENTENCE = "Азербайджан активно развивает образовательную дипломатию"


# The news corpus, and paragraphs of several sentences in either language.
SENTENCES = [
    {
        "id": "port-sentences",
        "title": "Порт Чанкай",
        "text": "Погода в Лиме была тёплой. Порт Чанкай принял первые суда из Китая. "
        "Министры обсудили торговлю.",
    },
    {
        "id": "english-sentences",
        "title": "Chancay",
        "text": "The weather was warm. The port of Chancay received its first ships.",
    },
]


def _sentence_searcher(tmp_path, **options):
    """A searcher (fake encoder) over the news corpus and the SENTENCES articles."""
    from search.service import Searcher

    corpus = write_news_corpus(tmp_path / "corpus")
    lines = [json.dumps(article, ensure_ascii=False) for article in SENTENCES]
    (corpus / "sentences.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    built = build_searcher(tmp_path, corpus)
    return Searcher(built.index_dir, FakeEncoder(), **options)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> FlaskClient:
    return create_app(searcher=_sentence_searcher(tmp_path_factory.mktemp("news"))).test_client()


def hits(client: FlaskClient, q: str, **params: object) -> list[dict]:
    response = client.get("/api/search", query_string={"q": q, "k": 100, **params})
    assert response.status_code == 200, response.json
    return response.json["results"]


def test_sentence_spans_are_the_sentences_as_written() -> None:
    text = "Порт открыт в 2024 г. Москвой.  Он большой!\nThe end"
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "Порт открыт в 2024 г. Москвой.",
        "Он большой!",
        "The end",
    ]


def test_across_scripts_compares_the_query_and_the_paragraph() -> None:
    assert across_scripts("port of Chancay", "Порт Чанкай открыт.")
    assert not across_scripts("порт", "Порт Чанкай открыт.")
    assert not across_scripts("2030", "Порт Чанкай открыт.")  # a query without letters


def test_nearest_sentences_encodes_one_batch_and_skips_single_sentences() -> None:
    encoder = FakeEncoder()
    texts = ["Дожди и ветер. Порт Чанкай открыт.", "Один абзац без точки"]
    spans = nearest_sentences(SentenceVectors(encoder, 0), "порт Чанкай", texts)
    assert spans[1] is None and texts[0][slice(*spans[0])] == "Порт Чанкай открыт."
    assert encoder.passages == ["Дожди и ветер.", "Порт Чанкай открыт."]


def test_a_sentence_snippet_marks_the_sentence_and_escapes_the_rest() -> None:
    text = "<b>Первое</b> предложение. Второе & последнее."
    html = sentence_snippet(text, (text.index("Второе"), len(text)))
    assert html == "&lt;b&gt;Первое&lt;/b&gt; предложение. <mark>Второе &amp; последнее.</mark>"
    long = "Начало. " * 80 + "Нужное предложение здесь." + " Конец." * 80
    start = long.index("Нужное")
    html = sentence_snippet(long, (start, start + len("Нужное предложение здесь.")))
    assert "<mark>Нужное предложение здесь.</mark>" in html and html.startswith("…")


def test_a_hit_in_another_script_carries_its_marked_sentence(client) -> None:
    found = {h["id"]: h for h in hits(client, "the port of Chancay", mode="semantic")}
    russian = [h for h in found.values() if across_scripts("port", h["text"])]
    marked = [h for h in russian if "sentence" in h]
    assert marked, "a Russian paragraph of several sentences is marked"
    for hit in marked:
        assert hit["sentence"] in hit["text"]
        assert f"<mark>{hit['sentence']}</mark>" in hit["snippet"]
    english = [h for h in found.values() if not across_scripts("port", h["text"])]
    assert english and all("sentence" not in h for h in english)


def test_a_same_script_query_keeps_word_highlights(client) -> None:
    for hit in hits(client, "порт Чанкай", mode="hybrid"):
        if not across_scripts("порт", hit["text"]):
            assert "sentence" not in hit
    (first, *_) = hits(client, "порт Чанкай", mode="bm25")
    assert "<mark>Чанкай</mark>" in first["snippet"]


def test_the_page_says_which_sentence_matched(client) -> None:
    html, doc = page(client, "/?q=the+port+of+Chancay&mode=semantic&group=none")
    assert doc.find("p", class_="snippet sentence")
    assert "Closest in meaning" in html


def test_the_openapi_document_describes_the_sentence(client) -> None:
    spec = client.get("/api/openapi.json").json
    hit = spec["components"]["schemas"]["Hit"]["properties"]
    assert "sentence" in hit and "another script" in str(hit["sentence"])


@pytest.mark.model
def test_stipends_for_nam_students_marks_the_sentence_about_stipends(real_searcher) -> None:
    request = SearchRequest(q="stipends for NAM students", mode="hybrid")
    started = time.perf_counter()
    result = real_searcher.search(request)
    took = time.perf_counter() - started
    (hit,) = [h for h in result.results if h.id == STIPENDS]
    assert hit.sentence is not None and hit.sentence.startswith(STIPENDS_SENTENCE)
    assert hit.snippet.startswith(f"<mark>{STIPENDS_SENTENCE}")
    assert took < 5, took


@pytest.mark.model
def test_the_primary_model_marks_it_too(real_searcher) -> None:
    """Without a cross-lingual model the primary model picks the sentence: e5 is
    multilingual too."""
    text = _stipends_text(real_searcher)
    primary = SentenceVectors(real_searcher.encoder)
    (span,) = nearest_sentences(primary, "stipends for NAM students", [text])
    assert span is not None and text[slice(*span)].startswith(STIPENDS_SENTENCE)


def _stipends_text(searcher) -> str:
    """The stipends paragraph's text, from the searcher's store."""
    article_id, n = STIPENDS.rsplit(":", 1)
    return searcher.current().store.article_paragraphs(article_id)[int(n)].text


def test_a_searcher_for_evaluation_marks_no_sentence(tmp_path) -> None:
    from search.service import Searcher

    marking = _sentence_searcher(tmp_path)
    request = SearchRequest(q="the port of Chancay", mode="semantic", k=100)
    assert any(h.sentence for h in marking.search(request).results)
    plain = Searcher(marking.index_dir, marking.encoder, sentences=False)
    assert not any(h.sentence for h in plain.search(request).results)


def test_sentence_vectors_encode_each_sentence_once_and_keep_it() -> None:
    encoder = FakeEncoder()
    vectors = SentenceVectors(encoder, 3)
    first = vectors.encode(["Один.", "Два.", "Один."])
    assert encoder.passages == ["Один.", "Два."]  # one batch, a repeated sentence once
    again = vectors.encode(["Два.", "Один."])
    assert encoder.passages == ["Один.", "Два."]  # both from the cache
    assert np.array_equal(again, first[[1, 0]])
    vectors.encode(["Три.", "Четыре."])  # holds 3: "Два." was the least recently used
    assert encoder.passages[2:] == ["Три.", "Четыре."]
    vectors.encode(["Два."])
    assert encoder.passages[4:] == ["Два."]
    assert vectors.stats().size == 3 and vectors.stats().capacity == 3


def test_a_page_seen_before_marks_the_same_sentences_without_encoding(tmp_path) -> None:
    request = SearchRequest(q="the port of Chancay", mode="semantic", k=100)
    for capacity in (DEFAULT_SENTENCES, 0):
        searcher = _sentence_searcher(tmp_path / str(capacity), sentence_cache=capacity)
        encoder = searcher.encoder
        first = searcher.search(request).results
        encoded = list(encoder.passages)
        assert encoded and any(h.sentence for h in first)
        assert searcher.search(request).results == first  # the same marks either way
        stats = searcher.sentence_cache_stats()
        if capacity:
            assert encoder.passages == encoded  # the second page encoded no sentence
            assert stats.hits == stats.size == len(set(encoded)) and stats.misses == stats.size
        else:
            assert encoder.passages == encoded * 2 and stats.size == 0


def test_stats_report_the_sentence_cache(tmp_path) -> None:
    client = create_app(searcher=_sentence_searcher(tmp_path)).test_client()
    assert client.get("/api/stats").json["sentence_cache"] == {
        "hits": 0,
        "misses": 0,
        "size": 0,
        "capacity": DEFAULT_SENTENCES,
    }
    hits(client, "the port of Chancay", mode="semantic")
    first = client.get("/api/stats").json["sentence_cache"]
    assert first["hits"] == 0 and first["misses"] == first["size"] > 0
    hits(client, "the port of Chancay", mode="semantic")
    second = client.get("/api/stats").json["sentence_cache"]
    assert second == first | {"hits": first["misses"]}
