"""Shards: a build split by `reindex --shards N` (each segment one shard's articles, merges
within a shard) answers exactly as an unsharded full rebuild of the same corpus, grows
incrementally shard by shard, and is rebuilt in full when the shard count changes."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.config import Settings
from index.format import STORE_NAME, BuildWriter, load_index
from index.manifest import Manifest
from index.segments import shard_of
from index.store import Store
from indexer.build import is_current, reindex
from manage import cli
from search.service import Searcher
from tests.fakes import FakeEncoder
from tests.growing import Corpus, assert_same_as_full
from tests.test_reprints import REPRINTS, write_reprints


def assert_in_their_shards(index_dir: Path) -> Manifest:
    """Every segment's articles (deleted ones too) hash to the segment's shard; returns
    the build's manifest."""
    build = index_dir.resolve()
    manifest = Manifest.read(build)
    for record in manifest.segments:
        store = Store(build / record.name / STORE_NAME)
        try:
            shards = {shard_of(aid, manifest.shards) for aid in store.article_ids()}
        finally:
            store.close()
        assert shards == {record.shard}, record.name
    return manifest


def shards_of(manifest: Manifest) -> list[int]:
    """Each segment's shard, in manifest order."""
    return [record.shard for record in manifest.segments]


def test_an_article_shard_is_a_stable_hash_of_its_id() -> None:
    assert [shard_of(f"a{i}", 3) for i in (1, 2, 7)] == [0, 1, 2]  # the same in every run
    assert {shard_of(f"a{i}", 1) for i in range(50)} == {0}
    assert {shard_of(f"a{i}", 4) for i in range(200)} == {0, 1, 2, 3}


def test_a_build_writes_one_new_segment_a_shard_of_its_own(tmp_path: Path) -> None:
    writer = BuildWriter(tmp_path / "index", "gen", shards=3)
    writer.begin(2)
    writer.store([], [])
    assert writer.segment == writer.path / "gen-2"
    with pytest.raises(ValueError, match="shard 2 already"):
        writer.begin(2)
    with pytest.raises(ValueError, match="3 shard"):
        writer.begin(3)


def test_a_sharded_full_build_answers_as_an_unsharded_one(tmp_path: Path) -> None:
    corpus = Corpus(tmp_path / "corpus")
    corpus.add_file(40)
    corpus.add_file(20)
    index_dir, cache = tmp_path / "index", tmp_path / "cache"
    report = reindex(corpus.folder, index_dir, FakeEncoder(), cache, full=True, shards=3)
    assert (report.shards, report.segments) == (3, 3)
    manifest = assert_in_their_shards(index_dir)
    assert manifest.shards == 3 and shards_of(manifest) == [0, 1, 2]
    assert Searcher(index_dir, FakeEncoder()).stats().shards == 3
    assert_same_as_full(corpus, index_dir, cache, tmp_path)


def test_reprints_are_grouped_across_shards_as_in_one_build(tmp_path: Path) -> None:
    corpus = write_reprints(tmp_path / "wire")
    ids = [a["id"] for a in REPRINTS]
    groups = []
    for shards in (1, 3):
        index_dir = tmp_path / f"index{shards}"
        reindex(corpus, index_dir, FakeEncoder(), tmp_path / "cache", shards=shards)
        groups.append(load_index(index_dir).store.reprint_groups(ids))
    assert len({shard_of(aid, 3) for aid in groups[0]}) > 1  # the group spans shards
    assert groups[0] == groups[1] and set(groups[0].values()) == {"ria-chancay"}


def test_incremental_reindexes_stay_in_their_shards_and_answer_as_a_full_rebuild(
    tmp_path: Path,
) -> None:
    corpus = Corpus(tmp_path / "corpus", seed=5)
    index_dir, cache = tmp_path / "index", tmp_path / "cache"
    first = corpus.add_file(40)
    reindex(corpus.folder, index_dir, FakeEncoder(), cache, shards=3)
    corpus.add_file(12)
    encoder = FakeEncoder()
    report = reindex(corpus.folder, index_dir, encoder, cache)  # keeps the three shards
    assert report.shards == 3 and report.segments > 3
    assert len(encoder.passages) < 12 * 4 + 12  # only the new articles' texts and titles
    assert_in_their_shards(index_dir)
    assert_same_as_full(corpus, index_dir, cache, tmp_path)

    edited = [corpus.edit(first, i) for i in (2, 5, 9)]
    removed = [corpus.remove(first, i) for i in (20, 10)]
    corpus.add_file(6)
    reindex(corpus.folder, index_dir, FakeEncoder(), cache, shards=3)
    manifest = assert_in_their_shards(index_dir)
    assert manifest.shards == 3
    assert_same_as_full(corpus, index_dir, cache, tmp_path)
    searcher = Searcher(index_dir, FakeEncoder())
    assert all(searcher.article(aid) is None for aid in removed)
    assert all(searcher.article(aid) is not None for aid in edited)


def test_merges_never_mix_shards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("index.segments.MAX_SEGMENTS", 2)  # a shard of more: merged
    corpus = Corpus(tmp_path / "corpus", seed=9)
    index_dir, cache = tmp_path / "index", tmp_path / "cache"
    first = corpus.add_file(30)
    reindex(corpus.folder, index_dir, FakeEncoder(), cache, shards=3)
    merged = 0
    for step in range(6):
        corpus.add_file(4)
        if step % 2:
            corpus.remove(first, 0)
        merged += reindex(corpus.folder, index_dir, FakeEncoder(), cache).merged
        manifest = assert_in_their_shards(index_dir)
        assert all(shards_of(manifest).count(shard) <= 2 for shard in range(3))
    assert merged > 0
    assert_same_as_full(corpus, index_dir, cache, tmp_path)


def test_another_shard_count_rebuilds_in_full(tmp_path: Path) -> None:
    corpus = Corpus(tmp_path / "corpus")
    corpus.add_file(30)
    index_dir, cache = tmp_path / "index", tmp_path / "cache"
    reindex(corpus.folder, index_dir, FakeEncoder(), cache, shards=3)
    corpus.add_file(5)
    reindex(corpus.folder, index_dir, FakeEncoder(), cache)
    assert len(Manifest.read(index_dir.resolve()).segments) > 3
    assert is_current(index_dir, corpus.folder, "fake", "float32", shards=3)
    assert not is_current(index_dir, corpus.folder, "fake", "float32", shards=2)

    report = reindex(corpus.folder, index_dir, FakeEncoder(), cache, shards=2)
    assert (report.shards, report.segments, report.encoded) == (2, 2, 0)  # from the cache
    assert shards_of(assert_in_their_shards(index_dir)) == [0, 1]

    report = reindex(corpus.folder, index_dir, FakeEncoder(), cache, shards=1)
    manifest = Manifest.read(index_dir.resolve())
    assert (report.shards, manifest.shards, shards_of(manifest)) == (1, 1, [0])
    assert manifest.segments[0].name == manifest.generation  # one shard: as before shards
    assert_same_as_full(corpus, index_dir, cache, tmp_path)
    with pytest.raises(ValueError, match="one shard or more"):
        reindex(corpus.folder, index_dir, FakeEncoder(), cache, shards=0)


def test_the_cli_flag_and_its_validation(tmp_path: Path) -> None:
    corpus = Corpus(tmp_path / "corpus")
    corpus.add_file(20)
    settings = Settings(
        index_dir=tmp_path / "index",
        source_dir=corpus.folder,
        cache_dir=tmp_path / "cache",
        dtype="float32",
        cross_model="none",
    )
    obj = {
        "settings": settings,
        "load_encoder": lambda name, cache_dir, dtype: FakeEncoder(name=name),
        "load_cross_encoder": lambda name: None,
    }

    def run(*args: str):
        return CliRunner().invoke(cli, ["reindex", *args], obj=dict(obj))

    refused = run("--shards", "0")
    assert refused.exit_code == 2 and "Invalid value for '--shards'" in refused.output
    result = run("--shards", "2")
    assert result.exit_code == 0, result.output
    assert "segments 2 in 2 shards" in result.output
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text())
    assert manifest["shards"] == 2
    assert "up to date" in run("--if-stale").output
    assert "up to date" in run("--if-stale", "--shards", "2").output
    assert "segments 3 in 3 shards" in run("--if-stale", "--shards", "3").output
    assert load_index(tmp_path / "index").manifest.shards == 3
    obj["settings"] = replace(settings, shards=1)  # as POISK_SHARDS=1 sets it
    result = run()
    assert result.exit_code == 0 and "segments 1\n" in result.output
    assert load_index(tmp_path / "index").manifest.shards == 1


def test_poisk_shards_sets_the_default_count() -> None:
    assert Settings.from_env({}).shards is None  # the current index's count
    assert Settings.from_env({"POISK_SHARDS": "4"}).shards == 4
    with pytest.raises(ValueError, match="POISK_SHARDS must be 1 or more"):
        Settings.from_env({"POISK_SHARDS": "0"})
