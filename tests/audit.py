"""Record what the process does through Python's audit hooks (PEP 578) while a test runs.

`recording()` yields the list of (event, first argument) pairs raised inside it for the
events asked for: "open" shows every file opened, "pickle.find_class" every global an
unpickler looked up (what a malicious pickle needs to run code). Audit hooks cannot be
removed, so one hook is installed once and does nothing outside a recording.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_lock = threading.Lock()
_recordings: list[tuple[frozenset[str], list[tuple[str, Any]]]] = []
_installed = False


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not _recordings:
        return
    for events, seen in list(_recordings):
        if event in events:
            seen.append((event, args[0] if args else None))


@contextmanager
def recording(*events: str) -> Iterator[list[tuple[str, Any]]]:
    """The audit events named, with their first argument, raised in any thread meanwhile."""
    global _installed
    with _lock:
        if not _installed:
            sys.addaudithook(_hook)
            _installed = True
    entry: tuple[frozenset[str], list[tuple[str, Any]]] = (frozenset(events), [])
    _recordings.append(entry)
    try:
        yield entry[1]
    finally:
        _recordings.remove(entry)
