"""What can go wrong with a reindex before any model is loaded, checked first.

Loading the models takes 6-15 s; a missing or empty source folder, an index folder that
cannot be written or a reindex already running are known in milliseconds, and a user
should hear about them at once (`manage.py reindex` calls check() before loading).
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from indexer.corpus import scan_corpus
from search.errors import CorpusError, SearchError


class IndexNotWritable(SearchError):
    """The index (or its lock, or its builds) cannot be written where it is configured."""


def check(source: Path, index_dir: Path, follow_symlinks: bool = False) -> None:
    """Raise CorpusError or IndexNotWritable (one-line messages) for a reindex that cannot
    succeed whatever the models do; SearchError when another reindex of `index_dir` runs."""
    from indexer.build import builds_dir, reindex_lock  # build imports this module

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


def not_writable(folder: Path, exc: OSError) -> IndexNotWritable:
    """The error for an OSError met writing the index in `folder`."""
    why = exc.strerror or str(exc)
    hint = {
        errno.EROFS: "it is on a read-only file system",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.ENOSPC: "the disk is full",
    }.get(exc.errno or 0, why)
    return IndexNotWritable(
        f"cannot write the index in {folder}: {hint}; choose another place with --index "
        "or $POISK_INDEX"
    )
