"""`manage.py reindex --watch` (indexer/watch.py): a reindex when the source folder's files
change, none while they do not; a failing reindex is reported and the watch goes on; a
reindex already running is waited for; Ctrl+C exits with 130."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from core.errors import CorpusError, ReindexRunning, SearchError
from index.swap import reindex_lock
from indexer.build import BuildReport
from indexer.file_record import path_keys
from indexer.watch import Changes, watch
from search.contract import SearchRequest
from search.service import Searcher
from tests.conftest import ROOT
from tests.fakes import FakeEncoder

TEXT = "Порт {word} открыт для судов из Китая, сообщает агентство.\n\nСуда {word} приходят.\n"


def article(folder: Path, name: str, word: str) -> None:
    """An article file whose text holds `word`."""
    (folder / name).write_text(TEXT.format(word=word), encoding="utf-8")


class Polls:
    """A `sleep` for watch(): runs the next change to the folder at each poll, then stops
    the watch with KeyboardInterrupt."""

    def __init__(self, *changes: Callable[[], None]) -> None:
        self.changes = list(changes)

    def __call__(self, seconds: float) -> None:
        if not self.changes:
            raise KeyboardInterrupt
        self.changes.pop(0)()


def test_the_watch_reindexes_when_files_change_and_only_then(tmp_path: Path) -> None:
    article(tmp_path, "a.txt", "альфа")
    calls: list[bool] = []
    lines: list[str] = []

    def reindex(first: bool) -> BuildReport:
        calls.append(first)
        if len(calls) == 3:
            raise CorpusError("no readable articles")
        return BuildReport(articles=1, files_read=1)

    polls = Polls(
        lambda: None,  # nothing changed: no reindex
        lambda: article(tmp_path, "b.txt", "бета"),
        lambda: (tmp_path / "a.txt").unlink(),  # this reindex fails: reported, watch goes on
        lambda: None,  # nothing changed since the failed one: not tried again
        lambda: article(tmp_path, "a.txt", "гамма"),
    )
    with pytest.raises(KeyboardInterrupt):
        watch(tmp_path, reindex, lines.append, sleep=polls, events=False)
    assert calls == [True, False, False, False]
    assert "1 new, 0 changed, 0 removed file(s)" in lines[1]
    assert "reindex failed: no readable articles" in lines[2]
    assert "1 new" in lines[3] and len(lines) == 4


def test_a_reindex_already_running_is_tried_again_at_the_next_poll(tmp_path: Path) -> None:
    article(tmp_path, "a.txt", "альфа")
    calls: list[bool] = []
    lines: list[str] = []

    def reindex(first: bool) -> BuildReport:
        calls.append(first)
        if len(calls) == 1:
            raise ReindexRunning("another reindex of var/index is running")
        return BuildReport()

    with pytest.raises(KeyboardInterrupt):
        polls = Polls(lambda: None, lambda: None)
        watch(tmp_path, reindex, lines.append, sleep=polls, events=False)
    assert calls == [True, True]
    assert "trying again" in lines[0]


def test_an_index_up_to_date_is_not_reindexed_at_start(tmp_path: Path) -> None:
    article(tmp_path, "a.txt", "альфа")
    calls: list[bool] = []
    with pytest.raises(KeyboardInterrupt):
        polls = Polls(lambda: None)
        watch(tmp_path, calls.append, print, current=lambda: True, sleep=polls, events=False)
    assert calls == []


# --- the real command -----------------------------------------------------------------


class Watcher:
    """`manage.py reindex --watch` in a child process, its output collected line by line."""

    def __init__(self, source: Path, index_dir: Path, cache: Path, interval: float = 0.2) -> None:
        self.index_dir = index_dir
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.watch_child", "--source", str(source),
             "--index", str(index_dir), "--interval", str(interval)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), "POISK_CACHE": str(cache)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def until(self, done: Callable[[], bool], what: str, timeout: float = 60) -> None:
        """Wait until `done()`; fail, showing the output, after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not done():
            assert self.process.poll() is None, "\n".join(self.lines)
            assert time.monotonic() < deadline, f"no {what}:\n" + "\n".join(self.lines)
            time.sleep(0.1)

    def finds(self, word: str) -> bool:
        """Whether the index, as a fresh Searcher opens it, finds `word`."""
        try:
            searcher = Searcher(self.index_dir, FakeEncoder())
            return bool(searcher.search(SearchRequest(q=word, mode="bm25")).results)
        except SearchError:  # no index yet
            return False

    def said(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def close(self) -> None:
        """Kill the watch if it still runs (a test that failed before its Ctrl+C)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def test_reindex_watch_indexes_files_as_they_land_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    source, index_dir = tmp_path / "src", tmp_path / "index"
    source.mkdir()
    article(source, "a.txt", "альфа")
    watcher = Watcher(source, index_dir, tmp_path / "cache")
    try:
        watcher.until(lambda: watcher.finds("альфа"), "first index")

        with reindex_lock(index_dir):  # another reindex runs: the watch waits for it
            article(source, "b.txt", "бета")
            watcher.until(lambda: watcher.said("trying again"), "wait for the lock")
        watcher.until(lambda: watcher.finds("бета"), "new article indexed")
        assert watcher.said("1 new, 0 changed, 0 removed file(s): 1 article(s) indexed")

        for name in ("a.txt", "b.txt"):  # nothing left to index: reported, watch goes on
            (source / name).unlink()
        (source / "empty.txt").write_text("")
        watcher.until(lambda: watcher.said("reindex failed"), "failed reindex")
        assert watcher.finds("бета")  # the index is as it was

        article(source, "c.txt", "гамма")
        watcher.until(lambda: watcher.finds("гамма"), "indexing after a failure")
        assert not watcher.finds("альфа")
        watcher.process.send_signal(signal.SIGINT)
        watcher.process.wait(timeout=30)
    finally:
        watcher.close()
    assert watcher.process.returncode == 130, "\n".join(watcher.lines)
    assert not watcher.said("Traceback")


def test_file_events_wake_the_watch_long_before_its_next_poll(tmp_path: Path) -> None:
    # the real command, polling once an hour: only the file system's events (inotify)
    # can make it index a file in a folder made after it started
    source, index_dir = tmp_path / "src", tmp_path / "index"
    source.mkdir()
    article(source, "a.txt", "альфа")
    watcher = Watcher(source, index_dir, tmp_path / "cache", interval=3600)
    try:
        watcher.until(lambda: watcher.finds("альфа"), "first index")
        assert watcher.said("by its file events (and a listing every 3600 s)")
        (source / "2026" / "12").mkdir(parents=True)
        article(source / "2026" / "12", "b.txt", "бета")
        watcher.until(lambda: watcher.finds("бета"), "new article indexed", timeout=30)
        (source / "a.txt").unlink()
        watcher.until(lambda: not watcher.finds("альфа"), "removed article gone", timeout=30)
        watcher.process.send_signal(signal.SIGINT)
        watcher.process.wait(timeout=30)
    finally:
        watcher.close()
    assert watcher.process.returncode == 130, "\n".join(watcher.lines)


def test_without_file_events_the_watch_polls_at_the_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # where the file system gives no events (here: the inotify watch limit), polls
    def no_events(source: Path) -> None:
        raise OSError(28, "inotify watch limit reached")

    monkeypatch.setattr("indexer.watch.Changes", no_events)
    article(tmp_path, "a.txt", "альфа")
    lines: list[str] = []
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        watch(tmp_path, lambda first: BuildReport(), lines.append, 2.0, sleep=sleep)
    assert "by a poll every 2 s (no file events: [Errno 28] inotify watch limit" in lines[0]
    assert waits == [2.0]


def test_an_event_ends_a_wait_but_not_before_a_slow_folder_s_spacing(tmp_path: Path) -> None:
    changes = Changes(tmp_path)
    try:
        started = time.monotonic()
        changes.wait(0.3)  # nothing changed: the whole wait
        assert time.monotonic() - started >= 0.3
        article(tmp_path, "a.txt", "альфа")
        started = time.monotonic()
        changes.wait(60)
        quick = time.monotonic() - started
        article(tmp_path, "b.txt", "бета")
        started = time.monotonic()
        changes.wait(60, spacing=1.5)  # as after listing a folder that took 0.375 s
        spaced = time.monotonic() - started
    finally:
        changes.close()
    assert quick < 30 and 1.5 <= spaced < 30


def test_a_folder_slow_to_list_is_polled_less_often(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    article(tmp_path, "a.txt", "альфа")
    ticks = iter(range(0, 1000, 3))  # each listing takes 3 s on this clock
    monkeypatch.setattr("indexer.watch.time.monotonic", lambda: float(next(ticks)))
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        watch(tmp_path, lambda first: BuildReport(), print, 2.0, sleep=sleep, events=False)
    assert waits == [12.0, 12.0]  # four times the listing, not the 2 s interval


def test_record_keys_cut_by_string_match_pathlib(tmp_path: Path) -> None:
    odd = os.fsdecode(b"\xff-latin1.txt")  # a name that is not UTF-8
    for root in (tmp_path, Path("."), Path("/")):
        paths = [root / "a.txt", root / "sub" / "b.md", root / odd]
        relative = [p.relative_to(root).as_posix() for p in paths]
        assert relative[:2] == ["a.txt", "sub/b.md"]
        hexed = "\0" + os.fsencode(relative[2]).hex()
        assert path_keys(paths, root) == [*relative[:2], hexed]
    assert path_keys([tmp_path / odd], tmp_path)[0].startswith("\0")
