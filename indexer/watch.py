"""`manage.py reindex --watch`: reindex the source folder whenever its files change.

The file system tells when anything under the folder changes (inotify on Linux, through
watchdog), so an idle watch costs nothing, however large the archive; it then lists the
article files and stats them (their identities, as the build's record holds them:
indexer/file_record.py), which costs no reading, and when anything differs from the
listing before the last reindex (a file new, changed, removed, refused or no longer
refused), an incremental reindex runs, which in turn reads only the files that changed.
The listing is taken before the reindex, so a file that changes during one is seen next.

Events are not the only trigger: a network file system reports no change made on another
machine, and inotify does not follow a symlinked folder, so the watch also lists the
folder every SAFETY_POLL seconds (or the interval, if longer). Where there are no events
(another system, the inotify watch limit reached) it polls every `interval` seconds, as
it did before events. Listing 100,000 files takes a second or two here, so a folder that
large is listed at most every four listings' time, after events too.

One line is printed a reindex. A reindex that fails (an unreadable corpus, a full disk)
prints its error and the watch goes on, waiting for the next change; one that finds
another reindex of the index running is retried after the interval. Ctrl+C stops the
watch (KeyboardInterrupt reaches the caller: the command exits with 130).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from watchdog.events import (
    EVENT_TYPE_CLOSED_NO_WRITE,
    EVENT_TYPE_OPENED,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from core.errors import ReindexRunning, SearchError
from indexer.corpus import scan_corpus
from indexer.file_record import FileIdentity, path_keys

if TYPE_CHECKING:  # indexer.build loads numpy, FAISS and the rest
    from indexer.build import BuildReport

DEFAULT_INTERVAL = 2.0  # seconds between two polls where the file system gives no events
# A folder so large that listing it takes a while is polled less often: at least this many
# times the listing's time apart, so that the watch takes at most a fifth of a core.
POLL_SPACING = 4
SAFETY_POLL = 60.0  # seconds: with events, a listing this often all the same
SETTLE = 0.2  # seconds after an event for the rest of a burst of writes, before the listing
# Events that change nothing: a file opened, or closed unwritten (a reindex reading it).
IDLE_EVENTS = frozenset({EVENT_TYPE_OPENED, EVENT_TYPE_CLOSED_NO_WRITE})
STOP = "Ctrl+C stops"


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


class Changes:
    """The file system's events under a folder (watchdog: inotify on Linux), as a wait
    that ends as soon as anything there changes."""

    def __init__(self, source: Path) -> None:
        """Start watching `source` and its subfolders; OSError when the file system cannot
        (no such folder, the inotify watch limit reached)."""
        self._changed = threading.Event()
        self._observer = Observer()
        self._observer.schedule(_Handler(self._changed), str(source), recursive=True)
        self._observer.start()

    def wait(self, seconds: float, spacing: float = 0.0) -> None:
        """Return when something changed since the last wait, or after `seconds`. After a
        change, SETTLE seconds later (a burst of writes is one listing), and not before
        `spacing` seconds from the call (a folder slow to list is listed that far apart)."""
        started = time.monotonic()
        if self._changed.wait(seconds):
            time.sleep(max(SETTLE, spacing - (time.monotonic() - started)))
        self._changed.clear()  # a change from now on ends the next wait

    def close(self) -> None:
        """Stop watching."""
        # watchdog logs an error for an event that lands while it stops: no error of ours
        logging.getLogger("watchdog.observers.inotify").setLevel(logging.CRITICAL)
        self._observer.stop()
        self._observer.join()


class _Handler(FileSystemEventHandler):
    """Sets an event on every change under the folder (IDLE_EVENTS aside)."""

    def __init__(self, changed: threading.Event) -> None:
        self.changed = changed

    def on_any_event(self, event: FileSystemEvent) -> None:
        """A file or folder created, written, moved, deleted or its attributes changed."""
        if event.event_type not in IDLE_EVENTS:
            self.changed.set()


def watch(
    source: Path,
    reindex: Callable[[bool], BuildReport],
    say: Callable[[str], None],
    interval: float = DEFAULT_INTERVAL,
    follow_symlinks: bool = False,
    current: Callable[[], bool] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    events: bool = True,
) -> None:
    """Reindex `source` now (unless `current` says the index is up to date), then each
    time its files change, as the file system's events tell or, without `events` or
    where there are none, as polls every `interval` seconds find; never returns (Ctrl+C
    stops it). `reindex(first)` runs one reindex; `say` prints a line."""
    changes = _events(source, say, interval) if events else None
    try:
        _loop(source, reindex, say, interval, follow_symlinks, current, sleep, changes)
    finally:
        if changes is not None:
            changes.close()


def _loop(
    source: Path,
    reindex: Callable[[bool], BuildReport],
    say: Callable[[str], None],
    interval: float,
    follow_symlinks: bool,
    current: Callable[[], bool] | None,
    sleep: Callable[[float], None],
    changes: Changes | None,
) -> None:
    """The watch's listings, forever (watch)."""
    before: Snapshot | None = None
    trouble = ""  # the last listing's problem, said once
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
        listing = time.monotonic() - started
        if before is None and current is not None and current():
            say(f"{_clock()} index is up to date with {source}; watching")
            before = now
        if now != before:
            if not _reindex_once(reindex, now, before, say):
                sleep(interval)  # another reindex holds the lock: try again soon
                continue
            before = now
        _pause(changes, interval, listing, sleep)


def _events(source: Path, say: Callable[[str], None], interval: float) -> Changes | None:
    """The watcher of `source`'s events, None where the file system gives none; says which."""
    try:
        found = Changes(source)
    except OSError as exc:
        say(f"watching {source} by a poll every {interval:g} s (no file events: {exc}); {STOP}")
        return None
    every = max(interval, SAFETY_POLL)
    say(f"watching {source} by its file events (and a listing every {every:g} s); {STOP}")
    return found


def _pause(
    changes: Changes | None, interval: float, listing: float, sleep: Callable[[float], None]
) -> None:
    """Wait for the next listing: the next event (or the safety poll), else the interval;
    for a folder slow to list, at least POLL_SPACING listings' time either way."""
    slow = listing * POLL_SPACING
    if changes is None:
        sleep(max(interval, slow))
    else:
        changes.wait(max(interval, SAFETY_POLL, slow), slow)


def _reindex_once(
    reindex: Callable[[bool], BuildReport],
    now: Snapshot,
    before: Snapshot | None,
    say: Callable[[str], None],
) -> bool:
    """Run one reindex and say how it went; False when it should be tried again soon
    (another reindex holds the lock)."""
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
