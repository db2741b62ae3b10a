"""The units every peer indexes: the paragraphs poisk indexes, read from the store of a poisk
index of the corpus, written as JSONL of {id, article_id, text, title}.

poisk splits articles into paragraphs within its model's token window (indexer/split.py);
handing the peers the same paragraphs, with the same ids, is what lets one judge score them
all against the same labels.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from index.swap import current_build


@dataclass(frozen=True)
class Unit:
    """One paragraph: what the harness's judge reads of a hit (id, article_id, text)."""

    id: str
    article_id: str
    text: str
    title: str = ""


def read_units(index_dir: Path) -> list[Unit]:
    """The paragraphs of the current build of a poisk index, in row order, with their
    article's title."""
    store = current_build(index_dir) / "store.sqlite"
    with closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as db:
        rows = db.execute(
            "SELECT p.id, p.article_id, p.text, a.title FROM paragraphs p "
            "JOIN articles a ON a.id = p.article_id ORDER BY p.row"
        ).fetchall()
    return [Unit(*row) for row in rows]


def write_units(units: list[Unit], path: Path) -> None:
    """The units as JSONL, one {id, article_id, text, title} a line."""
    lines = (json.dumps(unit.__dict__, ensure_ascii=False) for unit in units)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
