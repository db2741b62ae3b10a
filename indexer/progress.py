"""How a reindex reports progress: `progress(label, total)` opens a bar and yields a
callable that advances it by n steps (the CLI's bars: cli/output.py; `silent` shows none)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

Progress = Callable[[str, int], AbstractContextManager[Callable[[int], None]]]


def silent(label: str, total: int) -> AbstractContextManager[Callable[[int], None]]:
    """A progress reporter that shows nothing."""
    return nullcontext(lambda n: None)
