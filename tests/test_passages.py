"""indexer/passages.py: the text each paragraph's vector is computed from."""

from __future__ import annotations

import pytest

from core.records import Article, Paragraph
from indexer.build import reindex
from indexer.passages import SHORT_TOKENS, mix_titles, passage_texts
from tests.conftest import SEEDS
from tests.fakes import FakeEncoder


def words(n: int, word: str = "слово") -> str:
    return " ".join([word] * n)


ARTICLES = [Article("a", "Порт Чанкай", "…"), Article("b", "", "…")]
PARAGRAPHS = [
    Paragraph("a:0", "a", 0, "Коротко."),
    Paragraph("a:1", "a", 1, words(SHORT_TOKENS)),
    Paragraph("a:2", "a", 2, "Последний."),  # short, but the article's last
    Paragraph("b:0", "b", 0, "Без заголовка."),
]


def count(text: str) -> int:
    return len(text.split())


def test_paragraph_kind_is_the_text_alone() -> None:
    assert passage_texts(ARTICLES, PARAGRAPHS, "paragraph", count) == [p.text for p in PARAGRAPHS]


def test_title_kind_puts_the_article_title_first() -> None:
    texts = passage_texts(ARTICLES, PARAGRAPHS, "title", count)
    assert texts[:3] == [f"Порт Чанкай\n\n{p.text}" for p in PARAGRAPHS[:3]]
    assert texts[3] == "Без заголовка."  # no title, nothing added


def test_context_kind_extends_short_paragraphs_within_their_article() -> None:
    texts = passage_texts(ARTICLES, PARAGRAPHS, "context", count)
    assert texts[0] == f"Порт Чанкай\n\nКоротко.\n\n{PARAGRAPHS[1].text}"
    assert texts[1] == f"Порт Чанкай\n\n{PARAGRAPHS[1].text}"  # long enough alone
    assert texts[2] == "Порт Чанкай\n\nПоследний."  # never borrows from article b
    assert texts[3] == "Без заголовка."


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="paragraph, title, context"):
        passage_texts(ARTICLES, PARAGRAPHS, "neighbours", count)


def test_reindex_encodes_the_chosen_passages_and_records_the_kind(tmp_path) -> None:
    encoder = FakeEncoder()
    reindex(SEEDS, tmp_path / "index", encoder, tmp_path / "cache", passage="title", title_weight=0)
    titled = [text for text in encoder.passages if "\n\n" in text]
    # one seed article has no headline: its title is its first paragraph, not repeated
    assert len(titled) == 20
    # the 21 passages, and the headline's own vector for the title boost (the other
    # article's title is its first paragraph, encoded once)
    assert len(encoder.passages) == 22
    manifest = (tmp_path / "index" / "manifest.json").read_text()
    assert '"passage": "title"' in manifest


def test_title_vectors_are_mixed_in_by_weight() -> None:
    import numpy as np

    articles = [Article("a", "A", "…"), Article("b", "", "…")]
    paragraphs = [Paragraph("a:0", "a", 0, "x"), Paragraph("b:0", "b", 0, "y")]
    vectors = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    titles = np.array([[0.0, 1.0], [0.0, 0.0]], dtype=np.float32)  # b has no title
    mix_titles(vectors, paragraphs, articles, titles, 0.5, chunk=1)
    expected = np.array([1.0, 0.5]) / np.linalg.norm([1.0, 0.5])
    assert np.allclose(vectors[0], expected)  # a's score = paragraph + 0.5 x title, normalised
    assert np.allclose(vectors[1], [0.0, 1.0])  # untouched


def test_title_weight_changes_only_the_vectors(tmp_path) -> None:
    from index.format import load_index

    for weight in (0.0, 0.2):
        reindex(SEEDS, tmp_path / f"i{weight}", FakeEncoder(), tmp_path / "c", title_weight=weight)
    plain, mixed = (load_index(tmp_path / f"i{w}") for w in (0.0, 0.2))
    assert plain.manifest.vectors.title_weight == 0.0
    assert mixed.manifest.vectors.title_weight == 0.2
    assert plain.store.count("paragraphs") == mixed.store.count("paragraphs") == 21
    query = FakeEncoder().encode_queries(["Азербайджан и Перу провели"])[0]
    assert plain.vectors.search(query, 21) != mixed.vectors.search(query, 21)
