"""A sharded index (index/shard.py, index/sharded.py) answers exactly what one process over
the whole build answers: same ids, order and scores in every mode, with every feature that
reads the index (grouping, date sort, filters, phrases, exclusions, OR, article pages);
here with every shard in this process (the Ray Serve tests: tests/test_ray_serve.py)."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest

from core.errors import IndexMismatch
from index.format import LoadedIndex, load_build
from index.manifest import MANIFEST_NAME
from index.sharded import ShardsHere, load_sharded
from index.swap import current_build
from indexer.build import reindex
from search.contract import SearchRequest
from search.service import Searcher
from tests.fakes import FakeEncoder
from tests.growing import MODES, Corpus

SHARDS = 3


def sharded_corpus(tmp_path: Path) -> tuple[Corpus, Path]:
    """A corpus built into a sharded index in three reindexes (adds, an edit, a removal)."""
    corpus = Corpus(tmp_path / "corpus")
    index_dir, cache = tmp_path / "index", tmp_path / "cache"
    first = corpus.add_file(40)
    reindex(corpus.folder, index_dir, FakeEncoder(), cache, shards=SHARDS)
    corpus.add_file(15)
    reindex(corpus.folder, index_dir, FakeEncoder(), cache)
    corpus.edit(first, 3)
    corpus.remove(first, 10)
    corpus.add_file(5)
    reindex(corpus.folder, index_dir, FakeEncoder(), cache)
    return corpus, index_dir


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Corpus, Path]:
    return sharded_corpus(tmp_path_factory.mktemp("sharded"))


def searchers(index_dir: Path) -> tuple[Searcher, Searcher]:
    """One process over the whole build, and a front over its shards."""
    shards = ShardsHere(index_dir, SHARDS)
    return Searcher(index_dir, FakeEncoder()), Searcher(
        index_dir, FakeEncoder(), loader=partial(load_sharded, shards=shards)
    )


def answer(searcher: Searcher, **request: object) -> dict:
    """The whole result but its timing."""
    result = searcher.search(SearchRequest(**request)).model_dump()
    result.pop("took_ms")
    return result


def test_every_query_answers_as_one_process(built: tuple[Corpus, Path]) -> None:
    corpus, index_dir = built
    one, sharded = searchers(index_dir)
    manifest = json.loads((current_build(index_dir) / MANIFEST_NAME).read_text())
    assert {s["shard"] for s in manifest["segments"]} == set(range(SHARDS))
    found = 0
    for query in corpus.queries():
        for mode in MODES:
            ours = answer(sharded, q=query, mode=mode, k=20)
            assert ours == answer(one, q=query, mode=mode, k=20), (query, mode)
            found += bool(ours["results"])
    assert found > 300


@pytest.mark.parametrize(
    "options",
    [
        {"group": "article"},
        {"sort": "date"},
        {"offset": 10},
        {"fusion": "rrf"},
        {"fusion": "coverage-rrf"},
        {"fusion": "convex", "alpha": 0.4},
    ],
)
def test_grouping_sorting_paging_and_fusions_answer_as_one_process(
    built: tuple[Corpus, Path], options: dict
) -> None:
    corpus, index_dir = built
    one, sharded = searchers(index_dir)
    for query in corpus.queries(40):
        for mode in MODES:
            expected = answer(one, q=query, mode=mode, k=10, **options)
            assert answer(sharded, q=query, mode=mode, k=10, **options) == expected


def test_query_syntax_and_article_pages_answer_as_one_process(
    built: tuple[Corpus, Path],
) -> None:
    corpus, index_dir = built
    one, sharded = searchers(index_dir)
    words = corpus.queries(30)
    queries = [f'"{q}"' for q in words[:10]]
    queries += [f"{a.split()[0]} -{b.split()[0]}" for a, b in zip(words[10:20], words[20:])]
    queries += [f"{a.split()[0]} OR {b.split()[0]}" for a, b in zip(words[:10], words[10:20])]
    for query in queries:
        assert answer(sharded, q=query, k=10) == answer(one, q=query, k=10), query
    for article_id in ("a1", "a4", "a17", "a58", "nothing"):
        assert sharded.article(article_id) == one.article(article_id)
    assert sharded.stats() == one.stats()


def test_a_shard_holds_only_its_segments_but_scores_with_the_whole_index(
    built: tuple[Corpus, Path],
) -> None:
    _, index_dir = built
    whole = load_build(current_build(index_dir))
    parts = [load_build(current_build(index_dir), shard) for shard in range(SHARDS)]
    owned = [part.store.rows.own(range(whole.store.rows.size)) for part in parts]
    assert sorted(row for rows in owned for row in rows.tolist()) == list(
        range(whole.store.rows.size)
    )  # every paragraph in exactly one shard
    assert all(part.lexical.size == whole.lexical.size for part in parts)  # the global N

    def held(index: LoadedIndex) -> int:  # documents in the postings it loaded
        return sum(part.postings.size for part in index.lexical.parts)

    assert all(held(part) < held(whole) for part in parts)


def test_serving_another_shard_count_is_refused(built: tuple[Corpus, Path]) -> None:
    _, index_dir = built
    front = Searcher(
        index_dir, FakeEncoder(), loader=partial(load_sharded, shards=ShardsHere(index_dir, 2))
    )
    with pytest.raises(IndexMismatch, match="3 shard"):
        front.search(SearchRequest(q="кали"))
