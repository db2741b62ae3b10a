"""`manage.py cache prune`: remove the cached vectors that no index build on disk uses.

The embedding cache only grows: every corpus and every edit of a paragraph adds vectors
(688 MB after a few corpora). Each reindex records in the cache which vectors its build is
made of (indexer.cache, tables `builds` and `uses`), for each model. Pruning keeps the
vectors used by a recorded build that is still on disk (the current build of each index and
the one kept before it) and removes every other vector, then compacts the file.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import SearchError
from index.manifest import MANIFEST_NAME
from indexer.cache import SCHEMA

CACHE_NAME = "embeddings.sqlite"
_UNUSED = """
    FROM embeddings AS e WHERE NOT EXISTS (
        SELECT 1 FROM uses AS u JOIN builds AS b ON b.id = u.build
        WHERE b.model = e.model AND u.text_sha256 = e.text_sha256
    )
"""


@dataclass
class PruneReport:
    """What a prune kept and removed."""

    path: Path
    builds: list[str] = field(default_factory=list)  # build folders whose vectors were kept
    forgotten: list[str] = field(default_factory=list)  # recorded builds no longer on disk
    kept: int = 0  # vectors kept
    removed: int = 0  # vectors removed (or that would be, in a dry run)
    bytes_before: int = 0
    bytes_after: int = 0


def prune_cache(cache_dir: Path, dry_run: bool = False) -> PruneReport:
    """Remove the vectors of `cache_dir`'s embedding cache that no build on disk uses.

    Refuses (SearchError) when no recorded build is on disk: an index built before builds
    were recorded would lose every vector. `dry_run` counts and removes nothing.
    """
    path = cache_dir / CACHE_NAME
    if not path.is_file():
        raise SearchError(f"no embedding cache at {path}; nothing to prune")
    report = PruneReport(path, bytes_before=_size(path))
    db = sqlite3.connect(path)
    try:
        db.executescript(SCHEMA)  # a cache from before builds were recorded has no tables
        live, gone = _builds(db)
        if not live:
            raise SearchError(
                f"no index build recorded in {path} is on disk (reindex first); nothing removed"
            )
        report.builds = sorted({p for _, p in live})
        report.forgotten = sorted({p for _, p in gone})
        with db:
            _forget(db, [i for i, _ in gone])
            (report.removed,) = db.execute("SELECT count(*)" + _UNUSED).fetchone()
            (total,) = db.execute("SELECT count(*) FROM embeddings").fetchone()
            report.kept = total - report.removed
            if dry_run:
                db.rollback()
            else:
                db.execute("DELETE" + _UNUSED)
        if not dry_run:
            db.execute("VACUUM")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    report.bytes_after = _size(path)
    return report


def _builds(db: sqlite3.Connection) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """Recorded (id, build path) rows: those whose build is complete on disk, the others."""
    live, gone = [], []
    for build_id, path in db.execute("SELECT id, path FROM builds ORDER BY path"):
        (live if (Path(path) / MANIFEST_NAME).is_file() else gone).append((build_id, path))
    return live, gone


def _forget(db: sqlite3.Connection, build_ids: list[int]) -> None:
    """Drop the records of builds that are gone (removed by a later reindex, or never done)."""
    db.executemany("DELETE FROM uses WHERE build = ?", ((i,) for i in build_ids))
    db.executemany("DELETE FROM builds WHERE id = ?", ((i,) for i in build_ids))


def _size(path: Path) -> int:
    """Bytes of the cache on disk: the database and its write-ahead log."""
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
