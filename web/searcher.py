"""The app's one Searcher, built on first use (as flaskr's db.py opens its database)."""

from __future__ import annotations

import threading

from flask import current_app

from core.config import Settings
from search.service import Searcher


class LazySearcher:
    """The app's Searcher, built on first use so that the model loads once per process."""

    def __init__(self, settings: Settings, searcher: Searcher | None = None) -> None:
        self._settings = settings
        self._searcher = searcher
        self._lock = threading.Lock()

    def get(self) -> Searcher:
        """The Searcher; the first call loads the model (seconds), concurrent ones wait."""
        if self._searcher is None:
            with self._lock:
                if self._searcher is None:  # a failed load is not kept: the next call retries
                    self._searcher = Searcher.open(self._settings)
        return self._searcher


def get_searcher() -> Searcher:
    """The Searcher of the app handling the current request."""
    return current_app.extensions["poisk"].get()
