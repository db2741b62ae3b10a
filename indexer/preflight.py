"""What can go wrong with a reindex before any model is loaded, checked first.

Loading the models takes 6-15 s; a missing or empty source folder, an index folder that
cannot be written or a reindex already running are known in milliseconds, and a user
should hear about them at once (`manage.py reindex` calls check() before loading).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from core.errors import CorpusError
from index.swap import builds_dir, not_writable, reindex_lock
from indexer.corpus import scan_corpus


def check(source: Path, index_dir: Path, follow_symlinks: bool = False) -> None:
    """Raise CorpusError or IndexNotWritable (one-line messages) for a reindex that cannot
    succeed whatever the models do; SearchError when another reindex of `index_dir` runs."""

    if not source.is_dir():
        raise CorpusError(f"source folder {source} does not exist or is not a folder")
    found = scan_corpus(source, follow_symlinks)
    if not found.files:
        refused = (
            f" ({len(found.refused)} found but not readable as files)" if found.refused else ""
        )
        raise CorpusError(f"no article files (.txt, .md, .jsonl) in {source}{refused}")
    for folder in (index_dir.parent, builds_dir(index_dir)):
        ensure_writable(folder)
    with reindex_lock(index_dir):
        pass


def ensure_writable(folder: Path) -> None:
    """Create `folder` if needed and make sure a file can be written in it (a test file is
    created and removed): IndexNotWritable says why not, naming the folder."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".poisk-write-test-", dir=folder)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise not_writable(folder, exc) from exc
