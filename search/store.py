"""The paragraph store: articles and paragraphs in one SQLite file inside the index.

Paragraph `row` numbers are the document numbers of the BM25 and FAISS indexes, so a hit
from either leg is one primary-key lookup away from its text and article.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from search.errors import IndexCorrupt
from search.models import Article, Paragraph

SCHEMA = """
CREATE TABLE articles (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, date TEXT, url TEXT, rubric TEXT,
    source TEXT NOT NULL
);
CREATE TABLE paragraphs (
    row INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
    article_id TEXT NOT NULL REFERENCES articles(id), n INTEGER NOT NULL, text TEXT NOT NULL
);
CREATE INDEX paragraphs_article ON paragraphs(article_id, n);
"""

_ARTICLE_COLUMNS = "id, title, date, url, rubric, source"


def write_store(path: Path, articles: Iterable[Article], paragraphs: Sequence[Paragraph]) -> None:
    """Create the store at `path`; paragraph i gets row i."""
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA)
        db.executemany(
            f"INSERT INTO articles ({_ARTICLE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            ((a.id, a.title, a.date, a.url, a.rubric, a.source) for a in articles),
        )
        db.executemany(
            "INSERT INTO paragraphs (row, id, article_id, n, text) VALUES (?, ?, ?, ?, ?)",
            ((i, p.id, p.article_id, p.n, p.text) for i, p in enumerate(paragraphs)),
        )
    db.close()


class Store:
    """Read-only access to a store written by write_store()."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise IndexCorrupt(f"paragraph store {path} is missing")
        # Read-only, shared by the web server's threads; the lock keeps their statements
        # from interleaving on the one connection.
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        try:
            self._db.execute("SELECT count(*) FROM paragraphs").fetchone()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise IndexCorrupt(f"paragraph store {path} is unreadable: {exc}") from exc

    def close(self) -> None:
        """Release the database file."""
        self._db.close()

    def _rows(self, query: str, params: Sequence[object] = ()) -> list[tuple]:
        """All rows of one statement."""
        with self._lock:
            return self._db.execute(query, params).fetchall()

    def count(self, table: str) -> int:
        """Rows in 'articles' or 'paragraphs'."""
        if table not in ("articles", "paragraphs"):
            raise ValueError(table)
        return self._rows(f"SELECT count(*) FROM {table}")[0][0]

    def rows_between(self, date_from: str | None, date_to: str | None) -> list[int]:
        """Paragraph rows of articles dated within [date_from, date_to] (ISO; None: open)."""
        return [
            r
            for (r,) in self._rows(
                "SELECT p.row FROM paragraphs p JOIN articles a ON a.id = p.article_id "
                "WHERE a.date IS NOT NULL AND a.date >= coalesce(?, a.date) "
                "AND a.date <= coalesce(?, a.date) ORDER BY p.row",
                (date_from, date_to),
            )
        ]

    def paragraphs(self, rows: Sequence[int]) -> dict[int, Paragraph]:
        """Paragraphs by row number (rows that do not exist are left out)."""
        marks = ",".join("?" * len(rows))
        query = f"SELECT row, id, article_id, n, text FROM paragraphs WHERE row IN ({marks})"
        return {r: Paragraph(i, a, n, t) for r, i, a, n, t in self._rows(query, rows)}

    def article(self, article_id: str) -> Article | None:
        """An article with its body rebuilt from its paragraphs, or None."""
        found = self._rows(f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id = ?", (article_id,))
        if not found:
            return None
        row = found[0]
        body = "\n\n".join(p.text for p in self.article_paragraphs(article_id))
        aid, title, date, url, rubric, source = row
        return Article(aid, title, body, date, url, rubric, source)

    def articles(self, article_ids: Iterable[str]) -> dict[str, Article]:
        """Article metadata (body left empty) by id."""
        ids = list(set(article_ids))
        marks = ",".join("?" * len(ids))
        query = f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id IN ({marks})"
        return {
            r[0]: Article(r[0], r[1], "", r[2], r[3], r[4], r[5]) for r in self._rows(query, ids)
        }

    def article_paragraphs(self, article_id: str) -> list[Paragraph]:
        """An article's paragraphs in order."""
        query = "SELECT id, article_id, n, text FROM paragraphs WHERE article_id = ? ORDER BY n"
        return [Paragraph(*r) for r in self._rows(query, (article_id,))]
