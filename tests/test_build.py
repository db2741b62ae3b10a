"""Reindexing: the seeds come out right, the cache saves work, swaps are atomic."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.errors import CorpusError, IndexCorrupt, IndexMismatch, IndexNotFound
from index.format import VECTORS_NAME, BuildWriter, load_index
from index.manifest import Expected, Manifest, ModelRecord, SourceRecord
from index.swap import builds_dir
from indexer.build import is_current, reindex
from search.contract import SearchRequest
from search.service import Searcher
from tests.conftest import ROOT, SEEDS
from tests.fakes import FakeEncoder

AZ, PERU = "000_f267e610140cff85", "001_37d38f48706849c8"


def build(source: Path, tmp_path: Path, encoder: FakeEncoder, **kw):
    return reindex(source, tmp_path / "index", encoder, tmp_path / "cache", **kw)


def test_seeds_give_13_and_8_body_paragraphs_without_the_feed(tmp_path, fake_encoder):
    report = build(SEEDS, tmp_path, fake_encoder)
    assert (report.articles, report.paragraphs, report.skipped) == (2, 21, [])
    index = load_index(tmp_path / "index")
    store = index.store
    assert len(store.article_paragraphs(AZ)) == 13
    assert len(store.article_paragraphs(PERU)) == 8
    assert store.article(AZ).date == "2025-09-08"
    assert store.article(PERU).date == "2025-09-04"
    bodies = store.article(AZ).body + store.article(PERU).body
    for feed_word in ("Лукойл", "Эпштейн", "Последние новости", "Лента новостей"):
        assert feed_word not in bodies
    assert index.lexical.search(["лукойл"], 10) == []


def test_manifest_records_what_built_the_index(tmp_path, fake_encoder):
    build(SEEDS, tmp_path, fake_encoder)
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text())
    assert manifest["format_version"] == 4
    assert manifest["model"] == {
        "name": "fake",
        "fingerprint": fake_encoder.fingerprint,
        "dtype": "float32",
        "dimension": 32,
    }
    assert manifest["counts"] == {"articles": 2, "paragraphs": 21, "skipped": 0}
    assert manifest["bm25"]["k1"] == 1.5 and manifest["bm25"]["b"] == 0.75
    assert manifest["vectors"] == {
        "kind": "flat",
        "count": 21,
        "passage": "paragraph",
        "title_weight": 0.2,
    }
    assert manifest["source"]["path"] == str(SEEDS)
    assert manifest["analyzer"]["version"] == 2


def test_second_reindex_encodes_nothing(tmp_path, fake_encoder):
    build(SEEDS, tmp_path, fake_encoder)
    # 21 paragraphs and the Peru article's title; the other article's title is its first
    # paragraph, whose vector the cache already holds by then
    assert len(fake_encoder.passages) == 22
    again = FakeEncoder()
    report = build(SEEDS, tmp_path, again)
    assert again.passages == []
    assert (report.encoded, report.cached) == (0, 21)


def test_a_changed_paragraph_is_the_only_one_re_encoded(tmp_path, seeds_copy, fake_encoder):
    build(seeds_copy, tmp_path, fake_encoder)
    article = seeds_copy / f"{PERU}.txt"
    text = article.read_text(encoding="utf-8")
    old = "Делегацию Перу на консультациях возглавил"
    article.write_text(text.replace(old, "Делегацию Перу в Лиме возглавил"), encoding="utf-8")
    again = FakeEncoder()
    report = build(seeds_copy, tmp_path, again)
    assert len(again.passages) == 1
    assert again.passages[0].startswith("Делегацию Перу в Лиме возглавил")
    assert (report.encoded, report.cached) == (1, 20)


def test_full_reindex_re_encodes_everything(tmp_path, fake_encoder):
    build(SEEDS, tmp_path, fake_encoder)
    again = FakeEncoder()
    assert build(SEEDS, tmp_path, again, full=True).encoded == 21
    assert len(again.passages) == 21 + 2  # and both titles


def test_an_index_from_another_model_is_refused(tmp_path, fake_encoder):
    build(SEEDS, tmp_path, fake_encoder)
    other = FakeEncoder(name="other-model")
    manifest = load_index(tmp_path / "index").manifest
    with pytest.raises(IndexMismatch, match="other-model.*manage.py reindex"):
        manifest.check(Expected.serving(other))
    manifest.check(Expected.serving(fake_encoder))


def test_staleness_follows_the_files_the_model_and_its_dtype(tmp_path, seeds_copy, fake_encoder):
    index_dir = tmp_path / "index"
    assert not is_current(index_dir, seeds_copy, "fake", "float32")
    build(seeds_copy, tmp_path, fake_encoder)
    assert is_current(index_dir, seeds_copy, "fake", "float32")
    assert not is_current(index_dir, seeds_copy, "another-model", "float32")
    assert not is_current(index_dir, seeds_copy, "fake", "bfloat16")
    (seeds_copy / "new.txt").write_text("Новая статья о порте.", encoding="utf-8")
    assert not is_current(index_dir, seeds_copy, "fake", "float32")


def edit_manifest(index_dir: Path, change) -> None:
    """Change the current build's manifest.json in place (`change` edits the dict)."""
    path = index_dir.resolve() / "manifest.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


MALFORMED = {
    "vectors.count": lambda d: d["vectors"].update(count="21"),
    "model.dimension": lambda d: d["model"].update(dimension=True),
    "counts.paragraphs": lambda d: d["counts"].update(paragraphs=-1),
    "vectors.passage": lambda d: d["vectors"].pop("passage"),
    "model.dtype": lambda d: d["model"].pop("dtype"),
    "bm25.k1": lambda d: d["bm25"].update(k1="1.5"),
    "vectors.kind": lambda d: d["vectors"].update(kind="ivf"),
    "source.extra": lambda d: d["source"].update(extra="x"),
    "generation": lambda d: d.update(generation=7),
}


@pytest.mark.parametrize("field", MALFORMED)
def test_a_manifest_field_of_a_wrong_type_is_refused_by_name(tmp_path, fake_encoder, field):
    build(SEEDS, tmp_path, fake_encoder)
    edit_manifest(tmp_path / "index", MALFORMED[field])
    with pytest.raises(IndexCorrupt, match=rf"malformed: {field}: .*manage.py reindex"):
        load_index(tmp_path / "index")


def test_an_index_of_another_format_is_refused_with_the_reindex_hint(tmp_path, fake_encoder):
    build(SEEDS, tmp_path, fake_encoder)
    edit_manifest(tmp_path / "index", lambda d: d.update(format_version=2))
    with pytest.raises(IndexMismatch, match="index format 2 .* reads format 4; .*reindex"):
        load_index(tmp_path / "index")
    assert not is_current(tmp_path / "index", SEEDS, "fake", "float32")


def test_a_manifest_reads_back_as_written(tmp_path, fake_encoder):
    build(SEEDS, tmp_path, fake_encoder)
    manifest = load_index(tmp_path / "index").manifest
    assert Manifest.read((tmp_path / "index").resolve()) == manifest
    assert manifest.model.dtype == "float32" and manifest.cross_model is None


# Builds a server with the fake model refuses: `reindex --if-stale` must rebuild them
# (a cross-lingual model: tests/test_crosslingual.py).
REFUSED = {
    "another model": lambda d: d["model"].update(name="other"),
    "another analyzer": lambda d: d["analyzer"].update(version=0),
    "other BM25 parameters": lambda d: d["bm25"].update(k1=1.2),
}


@pytest.mark.parametrize("edit", REFUSED.values(), ids=REFUSED.keys())
def test_a_build_the_searcher_refuses_is_never_current(tmp_path, fake_encoder, edit):
    build(SEEDS, tmp_path, fake_encoder)
    index_dir = tmp_path / "index"
    assert is_current(index_dir, SEEDS, "fake", "float32")
    Searcher(index_dir, FakeEncoder()).search(SearchRequest(q="порт"))
    edit_manifest(index_dir, edit)
    with pytest.raises(IndexMismatch, match="manage.py reindex"):
        Searcher(index_dir, FakeEncoder()).search(SearchRequest(q="порт"))
    assert not is_current(index_dir, SEEDS, "fake", "float32")


def test_is_current_and_the_searcher_ask_the_same_check(tmp_path, fake_encoder):
    """Both ask Manifest.mismatch(); the server does not mind the passage settings (any
    passage vectors can be searched), a reindex rebuilds when they are not today's."""
    build(SEEDS, tmp_path, fake_encoder, passage="title", title_weight=0.0)
    index_dir = tmp_path / "index"
    manifest = load_index(index_dir).manifest
    assert manifest.mismatch(Expected.serving(fake_encoder)) is None
    Searcher(index_dir, FakeEncoder()).search(SearchRequest(q="порт"))
    assert not is_current(index_dir, SEEDS, "fake", "float32")
    build(SEEDS, tmp_path, fake_encoder)
    assert is_current(index_dir, SEEDS, "fake", "float32")


def test_a_build_lacking_a_part_gets_no_manifest(tmp_path):
    writer = BuildWriter(tmp_path / "index")
    source = SourceRecord(path=str(SEEDS), fingerprint="0" * 64)
    with pytest.raises(ValueError, match="bm25"):
        writer.manifest(ModelRecord.of(FakeEncoder()), None, source, "paragraph", 0.2)
    assert not (writer.path / "manifest.json").exists()


def test_rebuilds_swap_the_link_and_keep_two_builds(tmp_path, fake_encoder):
    first = build(SEEDS, tmp_path, fake_encoder).build
    second = build(SEEDS, tmp_path, fake_encoder).build
    third = build(SEEDS, tmp_path, fake_encoder).build
    assert (tmp_path / "index").resolve() == third
    assert sorted(builds_dir(tmp_path / "index").iterdir()) == [second, third]
    assert not first.exists()


def test_no_index_and_empty_source_are_clear_errors(tmp_path, fake_encoder):
    with pytest.raises(IndexNotFound, match="manage.py reindex"):
        load_index(tmp_path / "index")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="no readable articles"):
        build(tmp_path / "empty", tmp_path, fake_encoder)
    with pytest.raises(CorpusError, match="does not exist"):
        build(tmp_path / "missing", tmp_path, fake_encoder)


def test_a_truncated_vector_file_is_reported_not_crashed_on(tmp_path, fake_encoder):
    build(SEEDS, tmp_path, fake_encoder)
    current = (tmp_path / "index").resolve()
    vectors = current / current.name / VECTORS_NAME  # its one segment, named as the build
    vectors.write_bytes(vectors.read_bytes()[:100])
    with pytest.raises(IndexCorrupt):
        load_index(tmp_path / "index")


def test_a_reindex_killed_halfway_leaves_the_old_index_loadable(tmp_path, fake_encoder):
    build(SEEDS, tmp_path, fake_encoder)
    before = load_index(tmp_path / "index").manifest.generation
    marker = tmp_path / "encoding-started"
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.reindex_child",
            str(SEEDS),
            str(tmp_path / "index"),
            str(tmp_path / "cache"),
            str(marker),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    deadline = time.monotonic() + 60
    while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.exists(), "the child reindex never started encoding"
    child.send_signal(signal.SIGKILL)
    child.wait()
    index = load_index(tmp_path / "index")
    assert index.manifest.generation == before
    assert index.store.count("paragraphs") == 21
    assert build(SEEDS, tmp_path, FakeEncoder()).paragraphs == 21  # lock died with the child


@pytest.mark.model
@pytest.mark.parametrize(
    ("query", "within", "expected_start"),
    [
        ("Chancay port", 1, "Логистика и транспорт"),
        ("stipends for NAM students", 3, "Азербайджан активно развивает образовательную"),
    ],
)
def test_english_queries_find_russian_paragraphs_with_the_real_model(
    query, within, expected_start, real_encoder, tmp_path_factory
):
    index_dir = tmp_path_factory.getbasetemp() / "real-index"
    if not index_dir.exists():
        reindex(SEEDS, index_dir, real_encoder, tmp_path_factory.getbasetemp() / "real-cache")
    index = load_index(index_dir)
    index.manifest.check(Expected.serving(real_encoder))
    hits = index.vectors.search(real_encoder.encode_queries([query])[0], within)
    texts = index.store.paragraphs([row for row, _ in hits])
    assert any(texts[row].text.startswith(expected_start) for row, _ in hits)
