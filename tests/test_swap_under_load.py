"""Swapping builds under load: clients query without pause while reindex runs twice.

No request may fail, the article added before the second reindex must be found once its
build is swapped in (though the server keeps the answers of repeated requests), and the
builds swapped out must be let go: the server keeps no file of them open or mapped
(checked in /proc of the real server process), and in-process the old LoadedIndex object
is gone as soon as no request holds it.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import time
import urllib.parse
import weakref
from collections.abc import Callable
from pathlib import Path

from indexer.build import reindex
from search.contract import SearchRequest
from search.service import Searcher
from tests.conftest import SEEDS
from tests.fakes import FakeEncoder
from tests.live import Load, get, open_files_of, serving
from web import create_app

NEW_WORD = "Антарктида"
NEW_ARTICLE = f"# Пингвины\n\n{NEW_WORD} и пингвины: новая статья.\n"
QUERIES = [
    "/api/search?" + urllib.parse.urlencode({"q": q, "mode": m})
    for q in ("порт Чанкай", "stipends for students", NEW_WORD)
    for m in ("hybrid", "bm25", "semantic")
] + ["/api/stats", "/?q=%D0%BF%D0%BE%D1%80%D1%82", "/articles/000_f267e610140cff85"]


def swap_twice(source: Path, index_dir: Path, cache: Path, found: Callable[[], bool]) -> float:
    """Reindex, add an article, reindex again; seconds until `found()` sees the new one."""
    time.sleep(0.3)
    reindex(source, index_dir, FakeEncoder(), cache)
    time.sleep(0.3)
    (source / "002_penguins.md").write_text(NEW_ARTICLE, encoding="utf-8")
    reindex(source, index_dir, FakeEncoder(), cache)
    swapped = time.monotonic()
    while not found() and time.monotonic() - swapped < 10:
        time.sleep(0.01)
    waited = time.monotonic() - swapped
    time.sleep(0.3)  # and keep the load on the new build for a moment
    return waited


def test_a_live_server_under_load_fails_no_request_across_two_swaps(tmp_path: Path) -> None:
    source = Path(shutil.copytree(SEEDS, tmp_path / "corpus"))
    index_dir, cache = tmp_path / "index", tmp_path / "cache"
    first = reindex(source, index_dir, FakeEncoder(), cache).build
    assert first is not None
    with serving(index_dir, "--threads", "4") as server:

        def send(target: str) -> tuple[int, bytes]:
            answer = get(server.port, target, timeout=10)
            return answer.status, answer.body

        def found() -> bool:
            query = urllib.parse.urlencode({"q": NEW_WORD, "mode": "bm25"})  # a word match
            status, body = send("/api/search?" + query)
            hits = json.loads(body)["results"] if status == 200 else []
            return any(hit["article_id"] == "002_penguins" for hit in hits)

        assert not found()
        with Load(send, QUERIES) as load:
            waited = swap_twice(source, index_dir, cache, found)
        assert load.failed == []
        # every client sent every target during the swaps (a count, not a speed: a busy
        # machine sends fewer in the same time)
        assert load.sent >= load.threads * (len(QUERIES) + 1), load.sent
        assert waited < 2, "the new article was not found after the swap"
        query = urllib.parse.urlencode({"q": NEW_WORD, "mode": "bm25"})
        assert json.loads(send("/api/search?" + query)[1])["results"][0]["article_id"] == (
            "002_penguins"
        )
        for seen in load.generations:  # each client saw builds only ever move forward
            assert seen == sorted(seen) and len(seen) >= 2, load.generations
        # the server kept answers (POISK_RESULT_CACHE's default) all along, and none of an
        # old build was served once the new one was in (the article found above)
        kept = json.loads(send("/api/stats")[1])["result_cache"]
        assert kept["hits"] > 0 and kept["capacity"] == 1024, kept
        current = index_dir.resolve()
        old_builds = [b for b in (tmp_path / "index.builds").iterdir() if b != current]
        assert not first.exists()  # pruned: only the current build and the one before remain
        for build in [first, *old_builds]:
            assert open_files_of(server.process.pid, build) == []
        assert open_files_of(server.process.pid, current) != []  # the check does see files


def test_the_old_index_object_is_freed_as_soon_as_no_request_holds_it(tmp_path: Path) -> None:
    source = Path(shutil.copytree(SEEDS, tmp_path / "corpus"))
    index_dir, cache = tmp_path / "index", tmp_path / "cache"
    reindex(source, index_dir, FakeEncoder(), cache)
    searcher = Searcher(index_dir, FakeEncoder())
    client = create_app(searcher=searcher).test_client()
    old = weakref.ref(searcher.current())

    def send(target: str) -> tuple[int, bytes]:
        response = client.get(target)
        return response.status_code, response.get_data()

    def found() -> bool:
        return searcher.search(SearchRequest(q=NEW_WORD, mode="bm25")).total > 0

    with Load(send, QUERIES) as load:
        swap_twice(source, index_dir, cache, found)
    assert load.failed == [] and load.sent >= 100
    assert old() is None  # reference counting alone: no gc.collect() needed
    assert searcher.current().manifest.counts.articles == 3


def test_a_swapped_out_build_keeps_no_file_open_even_without_gc(tmp_path: Path) -> None:
    """A sqlite3 connection waits for the cyclic collector; the store closes it itself."""
    encoder = FakeEncoder()
    first = reindex(SEEDS, tmp_path / "index", encoder, tmp_path / "cache").build
    assert first is not None
    searcher = Searcher(tmp_path / "index", encoder)
    gc.disable()
    try:
        searcher.search(SearchRequest(q="порт"))
        searcher.article("000_f267e610140cff85")
        assert open_files_of(os.getpid(), first) != []
        reindex(SEEDS, tmp_path / "index", encoder, tmp_path / "cache")
        searcher.search(SearchRequest(q="порт"))  # moves to the new build, dropping the old one
        assert open_files_of(os.getpid(), first) == []
    finally:
        gc.enable()
