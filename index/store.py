"""The paragraph store: articles and paragraphs in one SQLite file inside the index.

Paragraph `row` numbers are the document numbers of the BM25 and FAISS indexes, so a hit
from either leg is one primary-key lookup away from its text and article.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import NoReturn

from core.errors import REINDEX_HINT, IndexCorrupt
from core.records import Article, Paragraph

SCHEMA = """
CREATE TABLE articles (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, date TEXT, url TEXT, rubric TEXT,
    source TEXT NOT NULL, outlet TEXT,
    reprint_of TEXT  -- the canonical article of its reprints (indexer/reprints.py); else NULL
);
CREATE INDEX articles_reprint ON articles(reprint_of);
CREATE TABLE paragraphs (
    row INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
    article_id TEXT NOT NULL REFERENCES articles(id), n INTEGER NOT NULL, text TEXT NOT NULL
);
CREATE INDEX paragraphs_article ON paragraphs(article_id, n);
"""

_ARTICLE_COLUMNS = "id, title, date, url, rubric, source"
# The columns the readers below use, checked when a store is opened.
_COLUMNS = {
    "articles": {"id", "title", "date", "url", "rubric", "source"},
    "paragraphs": {"row", "id", "article_id", "n", "text"},
}


def write_store(
    path: Path,
    articles: Iterable[Article],
    paragraphs: Sequence[Paragraph],
    reprints: Mapping[str, str] | None = None,
) -> None:
    """Create the store at `path`; paragraph i gets row i. `reprints` gives each reprinted
    article's group (its canonical article's id: indexer/reprints.py)."""
    groups = reprints or {}
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA)
        db.executemany(
            f"INSERT INTO articles ({_ARTICLE_COLUMNS}, outlet, reprint_of) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (a.id, a.title, a.date, a.url, a.rubric, a.source, a.outlet, groups.get(a.id))
                for a in articles
            ),
        )
        db.executemany(
            "INSERT INTO paragraphs (row, id, article_id, n, text) VALUES (?, ?, ?, ?, ?)",
            ((i, p.id, p.article_id, p.n, p.text) for i, p in enumerate(paragraphs)),
        )
    db.close()


class Store:
    """Read-only access to a store written by write_store().

    The file comes from disk and may be damaged: whatever SQLite or the checks below find
    wrong with it is IndexCorrupt (a 503 with the reason), never another exception.
    """

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise IndexCorrupt(f"paragraph store {path} is missing")
        # Read-only, shared by the web server's threads; the lock keeps their statements
        # from interleaving on the one connection.
        self.path = path
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        try:
            self._check_layout()
        except Exception:
            self._db.close()
            raise

    def _check_layout(self) -> None:
        """The tables and columns the readers use, and paragraph rows numbered 0..n-1.

        Cheap (no scan of the texts), so a store of any size opens quickly.
        """
        for table, expected in _COLUMNS.items():
            found = {row[1] for row in self._rows(f"PRAGMA table_info({table})")}
            if not expected <= found:
                self._damaged(f"lacks {table} columns {sorted(expected - found)}")
        count, low, high = self._rows("SELECT count(*), min(row), max(row) FROM paragraphs")[0]
        if count and (low, high) != (0, count - 1):
            self._damaged(f"numbers its {count} paragraphs from {low} to {high}")

    def _damaged(self, what: str) -> NoReturn:
        raise IndexCorrupt(f"paragraph store {self.path} {what}; {REINDEX_HINT}")

    def close(self) -> None:
        """Release the database file."""
        self._db.close()

    def __del__(self) -> None:
        """Close the file as soon as the last reader lets go of this store.

        A sqlite3 connection is only freed by the cyclic garbage collector, which may not
        run for a long while: a server would hold every swapped-out build's store open
        (and a pruned build's disk space) until it did.
        """
        db = getattr(self, "_db", None)
        if db is not None:
            db.close()

    def _rows(self, query: str, params: Sequence[object] = ()) -> list[tuple]:
        """All rows of one statement; SQLite's complaints about the file are IndexCorrupt."""
        with self._lock:
            try:
                return self._db.execute(query, params).fetchall()
            except sqlite3.DatabaseError as exc:  # malformed pages, text that is not UTF-8, ...
                self._damaged(f"is unreadable ({exc})")

    def count(self, table: str) -> int:
        """Rows in 'articles' or 'paragraphs'."""
        if table not in ("articles", "paragraphs"):
            raise ValueError(table)
        return self._rows(f"SELECT count(*) FROM {table}")[0][0]

    def article_ids(self) -> list[str]:
        """Every article's id, in the order they were written (their title rows)."""
        return [a for (a,) in self._rows("SELECT id FROM articles ORDER BY rowid")]

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

    def rows_matching(
        self,
        date_from: str | None = None,
        date_to: str | None = None,
        outlet: str | None = None,
        rubric: str | None = None,
    ) -> list[int]:
        """Paragraph rows of articles dated within [date_from, date_to] (ISO) and of this
        outlet and rubric (whole values, any case: Unicode case folding, as SQL's lower()
        folds ASCII only); None sets no condition."""
        where, params = ["1"], []
        if date_from or date_to:
            where.append(
                "a.date IS NOT NULL AND a.date BETWEEN coalesce(?, a.date) AND coalesce(?, a.date)"
            )
            params += [date_from, date_to]
        for column, value in (("outlet", outlet), ("rubric", rubric)):
            if value is not None:
                where.append(f"poisk_fold(a.{column}) = ?")
                params.append(fold(value))
        self._register_fold()
        query = (
            f"SELECT p.row FROM paragraphs p JOIN ({self._article_select()}) a "
            f"ON a.id = p.article_id WHERE {' AND '.join(where)} ORDER BY p.row"
        )
        return [r for (r,) in self._rows(query, params)]

    def _article_columns(self) -> str:
        """The article columns the readers take, in Article's order; a store written before
        articles had an outlet reads as one without outlets."""
        if not hasattr(self, "_has_outlet"):
            found = {row[1] for row in self._rows("PRAGMA table_info(articles)")}
            self._has_outlet = "outlet" in found
        return f"{_ARTICLE_COLUMNS}, {'outlet' if self._has_outlet else 'NULL AS outlet'}"

    def _article_select(self) -> str:
        """A SELECT of every article with the columns of _article_columns()."""
        return f"SELECT {self._article_columns()} FROM articles"

    def _register_fold(self) -> None:
        """Make fold() callable from SQL, as poisk_fold, on this store's connection."""
        if not getattr(self, "_fold_registered", False):
            with self._lock:
                self._db.create_function("poisk_fold", 1, fold, deterministic=True)
            self._fold_registered = True

    def paragraphs(self, rows: Sequence[int]) -> dict[int, Paragraph]:
        """Paragraphs by row number; every row must exist.

        The rows come from the BM25 and vector files of the same build, so a row the store
        lacks, or a paragraph that is not text, means the build is damaged.
        """
        marks = ",".join("?" * len(rows))
        query = f"SELECT row, id, article_id, n, text FROM paragraphs WHERE row IN ({marks})"
        found = {r: Paragraph(i, a, n, t) for r, i, a, n, t in self._rows(query, rows)}
        missing = set(rows) - found.keys()
        if missing:
            self._damaged(f"lacks paragraph rows {sorted(missing)[:5]} the other files point at")
        if not all(_is_paragraph(p) for p in found.values()):
            self._damaged("holds a paragraph whose fields are not text")
        return found

    def article(
        self, article_id: str, paragraphs: Sequence[Paragraph] | None = None
    ) -> Article | None:
        """An article with its body rebuilt from its paragraphs, or None.

        A caller that has already read the article's paragraphs passes them in.
        """
        columns = self._article_columns()
        found = self._rows(f"SELECT {columns} FROM articles WHERE id = ?", (article_id,))
        if not found:
            return None
        aid, title, date, url, rubric, source, outlet = found[0]
        if paragraphs is None:
            paragraphs = self.article_paragraphs(article_id)
        body = "\n\n".join(p.text for p in paragraphs)
        article = Article(aid, title, body, date, url, rubric, source, outlet)
        if not _is_article(article):
            self._damaged("holds an article whose fields are not text")
        return article

    def articles(self, article_ids: Iterable[str]) -> dict[str, Article]:
        """Article metadata (body left empty) by id; every id must exist.

        The ids come from paragraphs of this store: one without its article means the
        store is damaged.
        """
        ids = list(set(article_ids))
        marks = ",".join("?" * len(ids))
        query = f"SELECT {self._article_columns()} FROM articles WHERE id IN ({marks})"
        found = {
            r[0]: Article(r[0], r[1], "", r[2], r[3], r[4], r[5], r[6])
            for r in self._rows(query, ids)
        }
        if len(found) != len(ids):
            self._damaged("has paragraphs whose article is missing")
        if not all(_is_article(a) for a in found.values()):
            self._damaged("holds an article whose fields are not text")
        return found

    def reprint_groups(self, article_ids: Iterable[str]) -> dict[str, str]:
        """The reprint group (canonical article id) of each of `article_ids` that has one; none
        from a store written before reprints were recorded."""
        ids = list(set(article_ids))
        if not ids or not self._has_column("reprint_of"):
            return {}
        marks = ",".join("?" * len(ids))
        query = (
            f"SELECT id, reprint_of FROM articles WHERE id IN ({marks}) AND reprint_of IS NOT NULL"
        )
        return {str(i): str(group) for i, group in self._rows(query, ids)}

    def reprint_members(self, groups: Iterable[str]) -> dict[str, list[Article]]:
        """Each reprint group's articles (metadata, body empty), oldest first."""
        wanted = list(set(groups))
        if not wanted or not self._has_column("reprint_of"):
            return {}
        marks = ",".join("?" * len(wanted))
        query = (
            f"SELECT {self._article_columns()}, reprint_of FROM articles "
            f"WHERE reprint_of IN ({marks}) ORDER BY date IS NULL, date, id"
        )
        members: dict[str, list[Article]] = {}
        for *r, group in self._rows(query, wanted):
            members.setdefault(group, []).append(Article(r[0], r[1], "", *r[2:6], r[6]))
        return members

    def _has_column(self, column: str) -> bool:
        """Whether the articles table has `column` (a store from before it was added lacks
        it); the table's columns are read once."""
        if not hasattr(self, "_article_table"):
            self._article_table = {row[1] for row in self._rows("PRAGMA table_info(articles)")}
        return column in self._article_table

    def article_paragraphs(self, article_id: str) -> list[Paragraph]:
        """An article's paragraphs in order."""
        query = "SELECT id, article_id, n, text FROM paragraphs WHERE article_id = ? ORDER BY n"
        paragraphs = [Paragraph(*r) for r in self._rows(query, (article_id,))]
        if not all(_is_paragraph(p) for p in paragraphs):
            self._damaged("holds a paragraph whose fields are not text")
        return paragraphs


def fold(value: object) -> str | None:
    """A metadata value as filters compare it: white space collapsed, case folded."""
    return " ".join(value.split()).casefold() if isinstance(value, str) else None


def _is_paragraph(p: Paragraph) -> bool:
    """Whether a paragraph read back has the types write_store() gave it."""
    return (
        isinstance(p.id, str)
        and isinstance(p.article_id, str)
        and isinstance(p.n, int)
        and isinstance(p.text, str)
    )


def _is_article(a: Article) -> bool:
    """Whether an article read back has the types write_store() gave it."""
    optional = (a.date, a.url, a.rubric, a.outlet)
    return (
        isinstance(a.id, str)
        and isinstance(a.title, str)
        and isinstance(a.source, str)
        and all(v is None or isinstance(v, str) for v in optional)
    )
