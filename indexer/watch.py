"""`manage.py reindex --watch`: poll the source folder and reindex when its files change.

Each poll lists the article files and stats them (their identities, as the build's record
holds them: indexer/file_record.py), which costs no reading; when anything differs from
the poll before the last reindex (a file new, changed, removed, refused or no longer
refused), an incremental reindex runs, which in turn reads only the files that changed.
The snapshot is taken before the reindex, so a file that changes during one is seen by the
next poll. Listing 100,000 files takes a second or two here, so polls of a folder that
large are spaced by four times their listing rather than by the interval alone.

One line is printed a reindex. A reindex that fails (an unreadable corpus, a full disk)
prints its error and the watch goes on, waiting for the next change; one that finds
another reindex of the index running is retried at the next poll. Ctrl+C stops the watch
(KeyboardInterrupt reaches the caller: the command exits with 130).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import ReindexRunning, SearchError
from indexer.corpus import scan_corpus
from indexer.file_record import FileIdentity, path_keys

if TYPE_CHECKING:  # indexer.build loads numpy, FAISS and the rest
    from indexer.build import BuildReport

DEFAULT_INTERVAL = 2.0  # seconds between two polls
# A folder so large that listing it takes a while is polled less often: at least this many
# times the listing's time apart, so that the watch takes at most a fifth of a core.
POLL_SPACING = 4


@dataclass(frozen=True)
class Snapshot:
    """The article files of a source folder and their identities, and the files refused."""

    files: dict[str, FileIdentity | None]
    refused: frozenset[str]

    @classmethod
    def of(cls, source: Path, follow_symlinks: bool = False) -> Snapshot:
        """The folder as it is now (OSError when it cannot be listed)."""
        found = scan_corpus(source, follow_symlinks)
        keys = path_keys(found.files, source)
        files = {key: FileIdentity.of(p) for key, p in zip(keys, found.files, strict=True)}
        refused = frozenset(path_keys([p for p, _ in found.refused], source))
        return cls(files, refused)

    def changes(self, before: Snapshot) -> str:
        """What changed since `before`, in words: files new, changed and removed."""
        new = self.files.keys() - before.files.keys()
        gone = before.files.keys() - self.files.keys()
        changed = sum(self.files[k] != before.files[k] for k in self.files.keys() & before.files)
        return f"{len(new)} new, {changed} changed, {len(gone)} removed file(s)"


def watch(
    source: Path,
    reindex: Callable[[bool], BuildReport],
    say: Callable[[str], None],
    interval: float = DEFAULT_INTERVAL,
    follow_symlinks: bool = False,
    current: Callable[[], bool] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Reindex `source` now (unless `current` says the index is up to date), then each
    time its files change, polling every `interval` seconds; never returns (Ctrl+C
    stops it). `reindex(first)` runs one reindex; `say` prints a line."""
    _loop(source, reindex, say, interval, follow_symlinks, current, sleep)


def _loop(
    source: Path,
    reindex: Callable[[bool], BuildReport],
    say: Callable[[str], None],
    interval: float,
    follow_symlinks: bool,
    current: Callable[[], bool] | None,
    sleep: Callable[[float], None],
) -> None:
    """The watch's polls, forever (watch)."""
    before: Snapshot | None = None
    trouble = ""  # the last poll's problem, said once
    while True:
        started = time.monotonic()
        try:
            now = Snapshot.of(source, follow_symlinks)
        except OSError as exc:
            if str(exc) != trouble:
                say(f"{_clock()} cannot list {source}: {exc}")
            trouble = str(exc)
            sleep(interval)
            continue
        trouble = ""
        if before is None and current is not None and current():
            say(f"{_clock()} index is up to date with {source}; watching")
            before = now
        listing = time.monotonic() - started
        if now != before and _reindex_once(reindex, now, before, say):
            before = now
        sleep(max(interval, listing * POLL_SPACING))


def _reindex_once(
    reindex: Callable[[bool], BuildReport],
    now: Snapshot,
    before: Snapshot | None,
    say: Callable[[str], None],
) -> bool:
    """Run one reindex and say how it went; False when it should be tried again at the
    next poll (another reindex holds the lock)."""
    what = f"{len(now.files)} file(s)" if before is None else now.changes(before)
    try:
        report = reindex(before is None)
    except ReindexRunning as exc:
        say(f"{_clock()} {what}: {exc}; trying again")
        return False
    except Exception as exc:  # the watch goes on; the index stays as it was
        why = str(exc) if isinstance(exc, SearchError) else f"{type(exc).__name__}: {exc}"
        say(f"{_clock()} {what}: reindex failed: {' '.join(why.split())}")
        return True
    say(f"{_clock()} {what}: {summary(report)}")
    return True


def summary(report: BuildReport) -> str:
    """One reindex in a line: articles indexed anew and deleted, files read, seconds."""
    merged = f", {report.merged} merged" if report.merged else ""
    return (
        f"{report.changed} article(s) indexed, {report.removed} deleted; "
        f"{report.files_read} file(s) read, {report.files_unchanged} unchanged; "
        f"{report.articles} articles in {report.segments} segment(s){merged}; "
        f"{report.seconds:.1f} s"
    )


def _clock() -> str:
    """The time of day, to start a line with."""
    return time.strftime("%H:%M:%S")
