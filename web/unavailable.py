"""What the public is told when the index or the model is unavailable.

The domain errors' messages are written for the operator: they name files and folders on
the server ("no index at /srv/poisk/var/index"). A page or an API answer says what is wrong
and what fixes it, in words that give nothing of the server away; the full message goes to
the server's log, where the operator looks.
"""

from __future__ import annotations

from flask import current_app

from search.errors import IndexCorrupt, IndexMismatch, IndexNotFound, SearchError

REINDEX = "run `python manage.py reindex` to build it"
MESSAGES: tuple[tuple[type[SearchError], str], ...] = (
    (IndexNotFound, f"the search index has not been built yet; {REINDEX}"),
    (IndexMismatch, f"the search index was built for another model or version; {REINDEX}"),
    (IndexCorrupt, f"the search index is damaged or incomplete; {REINDEX}"),
)
OTHER = "the search service is unavailable (the embedding model could not be loaded)"


def public_message(exc: SearchError) -> str:
    """A one-line message for the public about `exc`, with no server path in it; the
    operator's message is logged."""
    current_app.logger.warning("service unavailable: %s", exc)
    return next((text for kind, text in MESSAGES if isinstance(exc, kind)), OTHER)
