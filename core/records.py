"""Domain records shared by every layer: an article as read, and its paragraphs.

The search answer (hits, results) is part of the search contract: search/contract.py."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Article:
    """One news article as read from the corpus, before it is split."""

    id: str
    title: str
    body: str
    date: str | None = None  # ISO YYYY-MM-DD
    url: str | None = None
    rubric: str | None = None
    source: str = ""  # file the article came from, relative to the corpus folder
    outlet: str | None = None  # who published it (a .jsonl line's "source" field)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form of the article."""
        return asdict(self)


@dataclass(frozen=True)
class Paragraph:
    """A retrievable unit: one paragraph (or a sentence-bounded cut of a long one)."""

    id: str  # "<article-id>:<n>"
    article_id: str
    n: int  # 0-based position inside the article
    text: str

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form of the paragraph."""
        return asdict(self)
