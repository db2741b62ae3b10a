"""Corpora and searchers the web tests share."""

from __future__ import annotations

import json
from pathlib import Path

from flask.testing import FlaskClient

from indexer.build import reindex
from search.service import Searcher
from tests.conftest import SEEDS
from tests.fakes import FakeEncoder
from web import create_app

# Markup planted in a corpus: it must come back as text, never as tags.
EVIL = [
    {
        "id": "evil",
        "title": "<script>alert('title')</script> Заголовок",
        "date": "2025-09-01",
        "url": "javascript:alert(3)",
        "rubric": "<b>рубрика</b>",
        "text": "Порт <script>alert(1)</script> Чанкай принимает суда.\n\n"
        "Второй абзац <img src=x onerror=alert(2)> про порт.",
    },
    {"id": "linked", "title": "Ссылка", "url": "https://example.org/a?b=1&c=2", "text": "Порт."},
]


def build_searcher(tmp: Path, source: Path = SEEDS) -> Searcher:
    """A real Searcher over an index of `source` built with the fake encoder."""
    encoder = FakeEncoder()
    reindex(source, tmp / "index", encoder, tmp / "cache")
    return Searcher(tmp / "index", encoder)


def api_client(tmp: Path, source: Path = SEEDS) -> FlaskClient:
    """A test client of the web app over an index of `source` (build_searcher)."""
    return create_app(searcher=build_searcher(tmp, source)).test_client()


def write_evil_corpus(folder: Path) -> Path:
    """A corpus with markup in every field, and an article in a nested folder."""
    (folder / "news" / "2025").mkdir(parents=True)
    lines = [json.dumps(article, ensure_ascii=False) for article in EVIL]
    (folder / "evil.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    nested = "# Вложенная статья\n\nПорт во вложенной статье.\n\nЕщё абзац.\n"
    (folder / "news" / "2025" / "nested.md").write_text(nested, encoding="utf-8")
    return folder
