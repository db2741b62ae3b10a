"""Segments: an index grown by incremental reindexes (adds, edits, removals, merges) answers
exactly as a full rebuild of the same corpus: the same ids in the same order, scores
within 1e-6, in every mode, for 200 queries (small corpora: exact, flat vectors)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.format import load_index
from index.segments import MAX_SEGMENTS, plan_merge, tier
from indexer.build import reindex
from search.service import Searcher
from tests.fakes import FakeEncoder
from tests.growing import Corpus, assert_same_as_full, segments_of


def test_adds_edits_and_removals_answer_as_a_full_rebuild(tmp_path: Path) -> None:
    corpus = Corpus(tmp_path / "corpus")
    index_dir, cache = tmp_path / "index", tmp_path / "cache"
    first = corpus.add_file(40)
    reindex(corpus.folder, index_dir, FakeEncoder(), cache)
    corpus.add_file(15)
    encoder = FakeEncoder()
    report = reindex(corpus.folder, index_dir, encoder, cache)
    assert report.segments == 2
    assert len(encoder.passages) < 15 * 4 + 15  # only the new articles' texts and titles
    assert_same_as_full(corpus, index_dir, cache, tmp_path)

    edited = corpus.edit(first, 3)
    removed = corpus.remove(first, 10)
    corpus.add_file(5)
    reindex(corpus.folder, index_dir, FakeEncoder(), cache)
    assert segments_of(index_dir) == 3
    assert_same_as_full(corpus, index_dir, cache, tmp_path)

    searcher = Searcher(index_dir, FakeEncoder())
    assert searcher.article(removed) is None
    new_text = corpus.files[first][3]["text"].split("\n\n")
    page = searcher.article(edited)
    assert page is not None and [p.text for p in page.paragraphs] == new_text
    assert searcher.stats().paragraphs == sum(
        len(a["text"].split("\n\n")) for f in corpus.files.values() for a in f
    )


def test_many_small_reindexes_merge_and_still_answer_as_a_full_rebuild(tmp_path: Path) -> None:
    corpus = Corpus(tmp_path / "corpus", seed=3)
    index_dir, cache = tmp_path / "index", tmp_path / "cache"
    first = corpus.add_file(30)
    reindex(corpus.folder, index_dir, FakeEncoder(), cache)
    counts = []
    for step in range(12):
        corpus.add_file(2)
        if step % 4 == 3:
            corpus.remove(first, 0)
        reindex(corpus.folder, index_dir, FakeEncoder(), cache)
        counts.append(segments_of(index_dir))
    assert max(counts) <= MAX_SEGMENTS and counts[-1] < max(counts)  # merged on the way
    assert_same_as_full(corpus, index_dir, cache, tmp_path)


def test_an_unchanged_corpus_writes_no_new_segment_and_full_makes_one(tmp_path: Path) -> None:
    corpus = Corpus(tmp_path / "corpus")
    corpus.add_file(10)
    index_dir, cache = tmp_path / "index", tmp_path / "cache"
    reindex(corpus.folder, index_dir, FakeEncoder(), cache)
    corpus.add_file(3)
    reindex(corpus.folder, index_dir, FakeEncoder(), cache)
    encoder = FakeEncoder()
    report = reindex(corpus.folder, index_dir, encoder, cache)
    assert (report.segments, encoder.passages) == (2, [])
    reindex(corpus.folder, index_dir, FakeEncoder(), cache, full=True)
    assert segments_of(index_dir) == 1


def test_another_model_rebuilds_in_full(tmp_path: Path) -> None:
    corpus = Corpus(tmp_path / "corpus")
    corpus.add_file(10)
    index_dir, cache = tmp_path / "index", tmp_path / "cache"
    reindex(corpus.folder, index_dir, FakeEncoder(), cache)
    corpus.add_file(3)
    reindex(corpus.folder, index_dir, FakeEncoder(name="other"), cache)
    assert segments_of(index_dir) == 1
    assert load_index(index_dir).manifest.model.name == "other"


@pytest.mark.parametrize(
    ("live", "new", "merged"),
    [
        ({"big": 100_000}, 5, set()),
        ({f"s{i}": 10 for i in range(9)} | {"big": 100_000}, 5, {f"s{i}" for i in range(9)}),
        ({f"s{i}": 5000 * (i + 1) for i in range(10)}, 5, {"s0"}),
    ],
)
def test_the_merge_policy_keeps_at_most_ten_segments(
    live: dict[str, int], new: int, merged: set[str]
) -> None:
    assert plan_merge(live, live, new) == merged
    assert len(live) - len(merged) + 1 <= MAX_SEGMENTS


def test_a_mostly_deleted_segment_is_rewritten() -> None:
    assert plan_merge({"a": 40, "b": 10_000}, {"a": 100, "b": 10_000}, 5) == {"a"}
    assert tier(999) == 0 and tier(1000) == 1 and tier(10_000) == 2


def test_digests_and_cache_keys_ending_in_a_zero_byte_are_read_whole(tmp_path: Path) -> None:
    from core.records import Article
    from index.segments import (
        Placement,
        article_digest,
        live_keys,
        load_digests,
        save_digests,
        save_keys,
    )

    articles = [Article(id=f"a{n}", title="t", body="b") for n in range(2000)]
    ending = [a for a in articles if article_digest(a)[-1] == 0][:2]
    assert ending  # one sha256 in 256 ends in a NUL byte
    save_digests(tmp_path, ending)
    digests = load_digests(tmp_path, len(ending))
    assert [d.tobytes() for d in digests] == [article_digest(a) for a in ending]
    keys = [article_digest(a) for a in ending]
    save_keys(tmp_path, keys, [b"", keys[0]])
    placement = Placement(np.arange(2, dtype=np.int64), np.array([False, True]))
    assert live_keys(tmp_path, placement) == [*keys, keys[0]]
