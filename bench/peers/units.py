"""The units every peer indexes: the paragraphs poisk indexes, read from the store of a poisk
index of the corpus, written as JSONL of {id, article_id, text, title}.

poisk splits articles into paragraphs within its model's token window (indexer/split.py);
handing the peers the same paragraphs, with the same ids, is what lets one judge score them
all against the same labels.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from index.format import load_index


@dataclass(frozen=True)
class Unit:
    """One paragraph: what the harness's judge reads of a hit (id, article_id, text)."""

    id: str
    article_id: str
    text: str
    title: str = ""


def read_units(index_dir: Path) -> list[Unit]:
    """The live paragraphs of the current build of a poisk index (every segment), in row
    order, with their article's title."""
    index = load_index(index_dir)
    try:
        store = index.store
        paragraphs = store.paragraphs(range(store.count("paragraphs")))
        articles = store.articles(p.article_id for p in paragraphs.values())
        return [
            Unit(p.id, p.article_id, p.text, articles[p.article_id].title)
            for _, p in sorted(paragraphs.items())
        ]
    finally:
        index.close()


def write_units(units: list[Unit], path: Path) -> None:
    """The units as JSONL, one {id, article_id, text, title} a line."""
    lines = (json.dumps(unit.__dict__, ensure_ascii=False) for unit in units)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
