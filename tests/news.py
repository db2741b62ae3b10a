"""A small news corpus for the archive features: dates (one article undated), outlets and
rubrics (jsonl `source`/`rubric`), articles with several matching paragraphs, a paragraph in
English, and words and links too long for a phone's width."""

from __future__ import annotations

import json
from pathlib import Path

LONG_URL = "https://example.org/" + "very-long-path-segment-" * 6 + "end"
LONG_WORD = "Тихоокеанскийпортовыйкомплекс" * 3

NEWS = [
    {
        "id": "tass-port",
        "title": "Порт Чанкай принял первые суда",
        "date": "2025-09-01",
        "source": "ТАСС",
        "rubric": "Экономика",
        "text": "Порт Чанкай в Перу принял первые контейнерные суда.\n\n"
        "Строительство порта обошлось в три миллиарда долларов.\n\n"
        "Новый порт сократит путь грузов из Перу в Азию на десять дней.\n\n"
        "Погода в регионе остаётся тёплой.",
    },
    {
        "id": "ifx-port",
        "title": "Перу и Китай обсудили порт",
        "date": "2025-09-10",
        "source": "Интерфакс",
        "rubric": "Политика",
        "text": "Министры Перу и Китая обсудили развитие порта Чанкай.\n\n"
        "Стороны договорились расширить порт к 2030 году.",
    },
    {
        "id": "undated-port",
        "title": "Порт без даты",
        "source": "ТАСС",
        "rubric": "ЭКОНОМИКА",
        "text": "Заметка о порте Чанкай без даты публикации.",
    },
    {
        "id": "bilingual-port",
        "title": "Порт Чанкай / Port of Chancay",
        "date": "2025-08-20",
        "text": "Порт Чанкай стал крупнейшим на тихоокеанском побережье.\n\n"
        "The port of Chancay is the largest on the Pacific coast of South America.\n\n"
        f"Подробности: {LONG_URL} и {LONG_WORD} рядом с портом.",
    },
]


# Articles that do not mention the port, so that its word stays rare enough for BM25.
OTHER = [
    {
        "id": f"weather-{n}",
        "title": f"Погода, выпуск {n}",
        "date": f"2025-07-{n + 10:02d}",
        "source": "Погода.ру",
        "text": "Синоптики обещают дожди и ветер.\n\nТемпература опустится до десяти градусов.",
    }
    for n in range(6)
]


def write_news_corpus(folder: Path) -> Path:
    """The corpus as one .jsonl file in `folder` (created); returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(article, ensure_ascii=False) for article in NEWS + OTHER]
    (folder / "news.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder
