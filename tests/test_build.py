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

from indexer.build import is_current, reindex
from search.errors import CorpusError, IndexCorrupt, IndexMismatch, IndexNotFound
from search.index import VECTORS_NAME, builds_dir, load_index
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
    assert manifest["format_version"] == 2
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
        manifest.check(other.name, other.fingerprint, other.dimension)
    manifest.check(fake_encoder.name, fake_encoder.fingerprint, fake_encoder.dimension)


def test_staleness_follows_the_files_the_model_and_its_dtype(tmp_path, seeds_copy, fake_encoder):
    index_dir = tmp_path / "index"
    assert not is_current(index_dir, seeds_copy, "fake", "float32")
    build(seeds_copy, tmp_path, fake_encoder)
    assert is_current(index_dir, seeds_copy, "fake", "float32")
    assert not is_current(index_dir, seeds_copy, "another-model", "float32")
    assert not is_current(index_dir, seeds_copy, "fake", "bfloat16")
    (seeds_copy / "new.txt").write_text("Новая статья о порте.", encoding="utf-8")
    assert not is_current(index_dir, seeds_copy, "fake", "float32")


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
    vectors = tmp_path / "index" / VECTORS_NAME
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
    index.manifest.check(real_encoder.name, real_encoder.fingerprint, real_encoder.dimension)
    hits = index.vectors.search(real_encoder.encode_queries([query])[0], within)
    texts = index.store.paragraphs([row for row, _ in hits])
    assert any(texts[row].text.startswith(expected_start) for row, _ in hits)
