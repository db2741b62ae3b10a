"""A reindex to be killed, and the means to kill it and to check what it left behind.

`run()` is the child: the real reindex code, reporting each phase as it enters it
(reading, encoding, writing, swapping), with a fake, slow encoder and each step stretched
by a few milliseconds so that a random moment lands inside it. `kill_reindex_during()`
starts one and sends SIGKILL at a chosen moment; tests/test_crash_safety.py and
bench/reliability.py use it. Children fork from a forkserver that has the code imported,
so a kill costs a fraction of a second.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from search.contract import SearchRequest

if TYPE_CHECKING:
    from search.service import Searcher

PHASES = ("reading", "encoding", "writing", "swapping")
STEP_SECONDS = 0.004  # how long each step of a phase is stretched by
ENCODE_SECONDS = 0.03  # per chunk of 64 paragraphs
# How long after a phase starts a kill may come (each phase lasts at least this long).
WINDOWS = {"reading": 0.07, "encoding": 0.12, "writing": 0.04, "swapping": 0.03}


def run(
    source: Path, index_dir: Path, cache_dir: Path, conn: Connection, full: bool = True
) -> None:
    """reindex --full of `source` (or, not `full`, an incremental one that may merge
    segments), sending (phase, step) to `conn` as it goes."""
    import index.format as index
    import index.swap as swap
    import indexer.build as build
    from tests.fakes import FakeEncoder

    def say(phase: str, step: str) -> None:
        conn.send((phase, step))

    class SlowEncoder(FakeEncoder):
        def encode_passages(self, texts):  # type: ignore[no-untyped-def]
            say("encoding", f"{len(texts)} passages")
            time.sleep(ENCODE_SECONDS)
            return super().encode_passages(texts)

    @contextmanager
    def progress(label: str, total: int) -> Iterator[Callable[[int], None]]:
        phase = {"reading": "reading", "encoding": "encoding", "titles": "encoding",
                 "indexing": "writing"}[label]  # fmt: skip
        say(phase, "start")

        def advance(n: int) -> None:
            time.sleep(STEP_SECONDS)
            say(phase, f"+{n}")

        yield advance

    def stretched(phase: str, name: str, function: Callable) -> Callable:
        def wrapper(*args: object, **kwargs: object) -> object:
            say(phase, name)
            time.sleep(STEP_SECONDS)
            result = function(*args, **kwargs)
            time.sleep(STEP_SECONDS)
            return result

        return wrapper

    index.fsync_tree = stretched("writing", "fsync", index.fsync_tree)
    index.link_segment = stretched("writing", "link segment", index.link_segment)
    index.swap_in = stretched("swapping", "swap_in", index.swap_in)
    swap._fsync_dir = stretched("swapping", "fsync dir", swap._fsync_dir)
    swap.prune_builds = stretched("swapping", "prune", swap.prune_builds)
    os.replace = stretched("swapping", "rename link", os.replace)
    build.reindex(source, index_dir, SlowEncoder(), cache_dir, full=full, progress=progress)
    say("done", "")


@dataclass(frozen=True)
class Kill:
    """One killed child: what it was told, where it had got to, how it ended."""

    phase: str
    delay: float
    last: tuple[str, str]  # the last (phase, step) the child reported
    exitcode: int | None
    seen: tuple[str, ...] = ()  # phases the child reported, in order

    @property
    def killed(self) -> bool:
        return self.exitcode == -signal.SIGKILL


def make_corpus(folder: Path, files: int = 20, articles: int = 15) -> Path:
    """A corpus of `files` .jsonl files with distinct paragraphs (five encoder chunks)."""
    folder.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        lines = [
            json.dumps(
                {
                    "id": f"f{f}-a{a}",
                    "title": f"Статья {f}-{a}",
                    "date": f"2025-09-{1 + (f + a) % 28:02d}",
                    "text": f"Порт номер {f} принимает суда {a}.\n\nAbzats {f} {a} о торговле.",
                },
                ensure_ascii=False,
            )
            for a in range(articles)
        ]
        (folder / f"part-{f:02d}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def forkserver() -> multiprocessing.context.BaseContext:
    """A multiprocessing context whose children fork from a process with reindex imported."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.crash_child", "indexer.build", "search.service"])
    return context


def kill_reindex_during(
    context: multiprocessing.context.BaseContext,
    phase: str,
    delay: float,
    source: Path,
    index_dir: Path,
    cache_dir: Path,
    full: bool = True,
) -> Kill:
    """Start a reindex in a child and SIGKILL it `delay` seconds into `phase`."""
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=run, args=(source, index_dir, cache_dir, send, full))
    child.start()
    send.close()
    messages: list[tuple[str, str]] = [("", "")]
    deadline = time.monotonic() + 60
    while messages[-1][0] not in (phase, "done") and time.monotonic() < deadline:
        if receive.poll(0.5):
            try:
                messages.append(receive.recv())
            except EOFError:
                break
    time.sleep(delay)
    if messages[-1][0] != "done" and child.pid is not None:
        os.kill(child.pid, signal.SIGKILL)
    child.join(30)
    while receive.poll(0):
        try:
            messages.append(receive.recv())
        except EOFError:
            break
    receive.close()
    seen = tuple(dict.fromkeys(p for p, _ in messages[1:]))
    return Kill(phase, delay, messages[-1], child.exitcode, seen)


def expected_vectors(source: Path) -> dict[bytes, np.ndarray]:
    """What the cache may hold for this corpus: the fake encoder's vector of each paragraph
    and of each article title."""
    from indexer.build import _split
    from indexer.cache import text_key
    from indexer.corpus import read_corpus
    from indexer.passages import article_titles
    from tests.fakes import FakeEncoder

    encoder = FakeEncoder()
    articles = read_corpus(source).articles
    texts = [p.text for p in _split(articles, encoder)] + article_titles(articles)
    return {text_key(t): v for t, v in zip(texts, encoder.encode_passages(texts))}


def cache_problems(path: Path, expected: dict[bytes, np.ndarray]) -> list[str]:
    """Anything wrong with the embedding cache: integrity, journal mode, vector contents."""
    with sqlite3.connect(path) as db:
        problems = [row[0] for row in db.execute("PRAGMA integrity_check") if row[0] != "ok"]
        if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            problems.append("not in WAL mode")
        for key, blob in db.execute("SELECT text_sha256, vector FROM embeddings"):
            vector = np.frombuffer(blob, dtype=np.float32)
            if key not in expected or vector.shape != expected[key].shape:
                problems.append(f"{key.hex()[:12]}: {len(blob)} bytes, unknown or cut short")
            elif not np.array_equal(vector, expected[key]):
                problems.append(f"{key.hex()[:12]}: wrong vector")
    db.close()
    return problems


def problems_after_kill(
    kill: Kill,
    before: str,
    server: Searcher,
    source: Path,
    index_dir: Path,
    cache_dir: Path,
    expected: dict[bytes, np.ndarray],
) -> list[str]:
    """What a kill broke, checked as a running server and the next reindex would meet it.

    `before` is the generation served before the kill, `server` a Searcher that has been
    serving it, `expected` the vectors the cache may hold (see expected_vectors()).
    """
    from index.manifest import Manifest
    from indexer.build import reindex
    from search.service import Searcher
    from tests.fakes import FakeEncoder

    problems = []
    try:
        now = Manifest.read(index_dir.resolve()).generation
        if now != before and kill.last[0] not in ("swapping", "done"):
            problems.append(f"the index moved to {now} before the swap")
        if (
            server.search(SearchRequest(q="порт")).total == 0
            or server.current().manifest.generation != now
        ):
            problems.append("the running searcher lost the index")
        if Searcher(index_dir, FakeEncoder()).search(SearchRequest(q="порт")).total == 0:
            problems.append("a restarted searcher finds nothing")
    except Exception as exc:  # any failure to answer is what this looks for
        problems.append(f"searching failed: {exc!r}")
    problems += cache_problems(cache_dir / "embeddings.sqlite", expected)
    try:
        report = reindex(source, index_dir, FakeEncoder(), cache_dir)
        if report.build is None or server.current().path != report.build:
            problems.append("the next reindex was not swapped in")
    except Exception as exc:
        problems.append(f"the next reindex failed: {exc!r}")
    return problems
