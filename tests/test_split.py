"""Splitting articles into paragraphs and long paragraphs into sentence-bounded pieces."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.records import Article
from indexer.corpus import read_corpus
from indexer.split import estimate_tokens, split_article, split_sentences

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def _article(body: str, article_id: str = "a") -> Article:
    return Article(id=article_id, title="t", body=body)


def _words(text: str) -> int:
    return len(text.split())


def _normalised(text: str) -> str:
    return " ".join(text.split())


def test_hard_wrapped_lines_are_joined_with_one_space() -> None:
    paragraphs = split_article(_article("Первая строка\n  и   вторая.\n\n\n\nДругой абзац.\n"))
    assert [p.text for p in paragraphs] == ["Первая строка и вторая.", "Другой абзац."]


def test_ids_are_stable_and_consecutive() -> None:
    paragraphs = split_article(_article("Раз.\n\n   \n\nДва.\n\nТри.", article_id="news/7"))
    assert [(p.id, p.article_id, p.n) for p in paragraphs] == [
        ("news/7:0", "news/7", 0),
        ("news/7:1", "news/7", 1),
        ("news/7:2", "news/7", 2),
    ]


def test_repeated_paragraph_is_kept_once() -> None:
    body = "Подпишитесь на канал.\n\nНовость.\n\nПодпишитесь  на\nканал.\n\nподпишитесь на канал."
    texts = [p.text for p in split_article(_article(body))]
    assert texts == ["Подпишитесь на канал.", "Новость.", "подпишитесь на канал."]


def test_long_paragraph_is_cut_at_sentence_boundaries() -> None:
    body = "Один два три. Четыре пять. Шесть семь восемь девять. Десять одиннадцать!"
    pieces = [p.text for p in split_article(_article(body), count_tokens=_words, max_tokens=5)]
    assert pieces == [
        "Один два три. Четыре пять.",
        "Шесть семь восемь девять.",
        "Десять одиннадцать!",
    ]


def test_too_long_sentence_is_cut_at_words() -> None:
    body = "Короткое. Очень длинное предложение из многих слов без единой точки внутри."
    pieces = [p.text for p in split_article(_article(body), count_tokens=_words, max_tokens=4)]
    assert pieces == [
        "Короткое.",
        "Очень длинное предложение из",
        "многих слов без единой",
        "точки внутри.",
    ]
    assert all(_words(piece) <= 4 for piece in pieces)


def test_nothing_is_lost_when_seeds_are_cut_small() -> None:
    for article in read_corpus(SEEDS).articles:
        paragraphs = split_article(article, count_tokens=_words, max_tokens=12)
        assert all(_words(p.text) <= 12 for p in paragraphs)
        assert " ".join(p.text for p in paragraphs) == _normalised(article.body)


def test_default_estimate_keeps_pieces_within_limit() -> None:
    sentence = "Азербайджан и Перу провели первый раунд межмидовских политконсультаций. "
    body = sentence * 60
    paragraphs = split_article(_article(body), max_tokens=100)
    assert len(paragraphs) > 1
    assert all(estimate_tokens(p.text) <= 100 for p in paragraphs)
    assert " ".join(p.text for p in paragraphs) == _normalised(body)


def test_estimate_is_conservative_for_russian() -> None:
    words = "Замминистра подчеркнул важность укрепления сотрудничества"
    assert estimate_tokens(words) >= 2 * _words(words)
    assert estimate_tokens("Да, нет.") == 7  # 2 words x 2.5 rounded up, plus 2 marks


def test_max_tokens_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        split_article(_article("Текст."), max_tokens=0)


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("Раз. Два! Три? Четыре… Пять", ["Раз.", "Два!", "Три?", "Четыре…", "Пять"]),
        ("Было в 2019 г. Москва ждала. Итог.", ["Было в 2019 г. Москва ждала.", "Итог."]),
        ("Это т.е. Вот. Конец.", ["Это т.е. Вот.", "Конец."]),
        ("Поэт А. С. Пушкин родился. Да.", ["Поэт А. С. Пушкин родился.", "Да."]),
        ("Mr. Smith left. He did.", ["Mr. Smith left.", "He did."]),
        ('Он сказал: "Нет." "Да", – ответили.', ['Он сказал: "Нет."', '"Да", – ответили.']),
        ("Счёт 2:1. 15 голов. «Ура». – Да.", ["Счёт 2:1.", "15 голов.", "«Ура».", "– Да."]),
        ("версия 2.0 вышла. ещё строчные.", ["версия 2.0 вышла. ещё строчные."]),
    ],
)
def test_split_sentences(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences
