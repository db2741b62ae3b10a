"""Domain errors. They carry a one-line message fit for a user; the CLI and the web
layer turn them into an exit code or a JSON error at the edge."""

from __future__ import annotations

REINDEX_HINT = "run `python manage.py reindex` to build it"


class SearchError(Exception):
    """Base class of every error poisk reports to a user."""


class IndexNotFound(SearchError):
    """No index at the configured place."""


class IndexMismatch(SearchError):
    """The index was built with another format, model or text analysis."""


class IndexCorrupt(SearchError):
    """An index file is missing, truncated or unreadable."""


class IndexNotWritable(SearchError):
    """The index (or its lock, or its builds) cannot be written where it is configured."""


class ReindexRunning(SearchError):
    """Another reindex of the same index holds its lock."""


class CorpusError(SearchError):
    """The source folder cannot be read at all."""


class ModelError(SearchError):
    """The embedding model cannot be loaded."""


class ShardUnavailable(SearchError):
    """No replica of one shard of a sharded index answers: its results would be missing."""
