"""An incremental reindex reads only new and changed files (indexer/changed.py): the
articles of unchanged files are taken from the build unread, and the index still answers
exactly as `reindex --full` of the same files, with the same skips and notes."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

import indexer.changed as changed
import indexer.file_record as file_record
from index.manifest import Manifest
from indexer.build import BuildReport, is_current, reindex, source_fingerprint
from indexer.file_record import RECORD_NAME
from tests.fakes import FakeEncoder
from tests.growing import Corpus, assert_same_as_full


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files the reindexes read, in order; files count as settled at
    once (the window for files written just before a reindex has its own test)."""
    seen: list[str] = []
    real = changed.read_entries

    def counted(path: Path, root: Path):  # type: ignore[no-untyped-def]
        seen.append(path.relative_to(root).as_posix())
        return real(path, root)

    monkeypatch.setattr(changed, "read_entries", counted)
    monkeypatch.setattr(file_record, "SETTLE_NS", 0)
    return seen


def step(corpus: Corpus, index_dir: Path, cache: Path, reads: list[str]) -> BuildReport:
    """An incremental reindex of the corpus; `reads` then holds the files it read."""
    reads.clear()
    return reindex(corpus.folder, index_dir, FakeEncoder(), cache)


def assert_full_equivalent(corpus: Corpus, index_dir: Path, cache: Path, tmp: Path) -> None:
    """Answers, counts, skips and source fingerprint as `reindex --full` has them."""
    assert_same_as_full(corpus, index_dir, cache, tmp)
    ours = Manifest.read(index_dir.resolve())
    rebuilt = max(
        (p for p in tmp.glob("full*") if p.name[4:].isdigit()), key=lambda p: int(p.name[4:])
    )
    full = Manifest.read(rebuilt.resolve())
    assert ours.counts == full.counts
    assert ours.source.fingerprint == full.source.fingerprint == source_fingerprint(corpus.folder)


def test_only_new_and_changed_files_are_read(tmp_path: Path, reads: list[str]) -> None:
    corpus = Corpus(tmp_path / "corpus")
    index_dir, cache = tmp_path / "index", tmp_path / "cache"
    a, b, c = corpus.add_file(20), corpus.add_file(20), corpus.add_file(20)
    step(corpus, index_dir, cache, reads)
    assert sorted(reads) == [a, b, c]

    report = step(corpus, index_dir, cache, reads)  # nothing changed
    assert (reads, report.files_read, report.files_unchanged) == ([], 0, 3)

    os.utime(corpus.folder / b)  # touched, content the same: read, nothing re-indexed
    encoder = FakeEncoder()
    report = reindex(corpus.folder, index_dir, encoder, cache)
    assert (reads, report.changed, report.removed, encoder.passages) == ([b], 0, 0, [])
    assert_full_equivalent(corpus, index_dir, cache, tmp_path)

    d = corpus.add_file(5)
    report = step(corpus, index_dir, cache, reads)
    assert (reads, report.files_unchanged, report.segments) == ([d], 3, 2)
    assert_full_equivalent(corpus, index_dir, cache, tmp_path)

    corpus.edit(a, 2)
    report = step(corpus, index_dir, cache, reads)
    assert (reads, report.files_unchanged) == ([a], 3)
    assert_full_equivalent(corpus, index_dir, cache, tmp_path)

    (corpus.folder / c).unlink()
    del corpus.files[c]
    report = step(corpus, index_dir, cache, reads)
    assert (reads, report.files_read, report.files_unchanged) == ([], 0, 3)
    assert_full_equivalent(corpus, index_dir, cache, tmp_path)


def test_skips_notes_and_duplicates_stay_as_a_full_read_has_them(
    tmp_path: Path, reads: list[str]
) -> None:
    corpus = Corpus(tmp_path / "corpus")
    index_dir, cache = tmp_path / "index", tmp_path / "cache"
    a, b = corpus.add_file(10), corpus.add_file(10)
    corpus.files[b][4]["id"] = corpus.files[a][3]["id"]  # a later duplicate: skipped
    corpus.write(b)
    with (corpus.folder / b).open("a", encoding="utf-8") as file:
        file.write("not json\n")
    (corpus.folder / "ctl.txt").write_text("Заголовок\x07 статьи\n\nТекст\x01 статьи.\n")
    first = step(corpus, index_dir, cache, reads)
    assert [s.reason for s in first.skipped if "duplicate" in s.reason]

    corpus.add_file(3)  # b and ctl.txt unread: their skips and notes come from the record
    report = step(corpus, index_dir, cache, reads)
    assert (report.skipped, report.notes) == (first.skipped, first.notes)
    assert reads == ["f002.jsonl"]

    corpus.remove(a, 3)  # b's duplicate is now the first of its id: b is read after all
    report = step(corpus, index_dir, cache, reads)
    assert sorted(reads) == [a, b]
    assert not [s for s in report.skipped if "duplicate" in s.reason]
    assert_full_equivalent(corpus, index_dir, cache, tmp_path)
    full = reindex(corpus.folder, tmp_path / "again", FakeEncoder(), cache, full=True)
    assert (report.skipped, report.notes) == (full.skipped, full.notes)


def test_an_article_moving_between_files_answers_as_a_full_rebuild(
    tmp_path: Path, reads: list[str]
) -> None:
    corpus = Corpus(tmp_path / "corpus")
    index_dir, cache = tmp_path / "index", tmp_path / "cache"
    a, b = corpus.add_file(10), corpus.add_file(10)
    step(corpus, index_dir, cache, reads)
    moved = corpus.files[b].pop(5)  # from the later file to the earlier one, unchanged
    corpus.files[a].insert(0, moved)
    corpus.write(a), corpus.write(b)
    step(corpus, index_dir, cache, reads)
    assert_full_equivalent(corpus, index_dir, cache, tmp_path)

    corpus.files[a].pop(0)  # into a new file, which sorts last
    corpus.write(a)
    corpus.files["g.jsonl"] = [moved]
    corpus.write("g.jsonl")
    step(corpus, index_dir, cache, reads)
    assert sorted(reads) == [a, "g.jsonl"]
    assert_full_equivalent(corpus, index_dir, cache, tmp_path)


def test_merges_read_the_unchanged_files_they_move(tmp_path: Path, reads: list[str]) -> None:
    corpus = Corpus(tmp_path / "corpus", seed=5)
    index_dir, cache = tmp_path / "index", tmp_path / "cache"
    corpus.add_file(30)
    step(corpus, index_dir, cache, reads)
    merged = 0
    for _ in range(11):
        new = corpus.add_file(2)
        report = step(corpus, index_dir, cache, reads)
        merged += report.merged
        assert new in reads and len(reads) == report.files_read
    assert merged  # the policy moved articles of files not otherwise read
    assert_full_equivalent(corpus, index_dir, cache, tmp_path)


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],
        lambda text: "[]",
        lambda text: text.replace('"version":1', '"version":2'),
        lambda text: text.replace('"reader":"', '"reader":"0'),
        lambda text: text.replace('"a1"', '"a99999"'),  # ids the build does not hold
        lambda text: text.replace('"a2",2,true', '"a2",2,false'),
    ],
)
def test_a_damaged_record_reads_every_file(tmp_path: Path, reads: list[str], damage) -> None:
    corpus = Corpus(tmp_path / "corpus")
    index_dir, cache = tmp_path / "index", tmp_path / "cache"
    corpus.add_file(10), corpus.add_file(10)
    step(corpus, index_dir, cache, reads)
    record = index_dir.resolve() / RECORD_NAME
    text = record.read_text(encoding="utf-8")
    assert damage(text) != text
    record.write_text(damage(text), encoding="utf-8")
    corpus.add_file(2)
    report = step(corpus, index_dir, cache, reads)
    assert (report.files_read, report.files_unchanged) == (3, 0)
    assert_full_equivalent(corpus, index_dir, cache, tmp_path)


def test_full_reads_every_file_and_records_them(tmp_path: Path, reads: list[str]) -> None:
    corpus = Corpus(tmp_path / "corpus")
    index_dir, cache = tmp_path / "index", tmp_path / "cache"
    corpus.add_file(5), corpus.add_file(5)
    step(corpus, index_dir, cache, reads)
    reads.clear()
    report = reindex(corpus.folder, index_dir, FakeEncoder(), cache, full=True)
    assert (len(reads), report.files_read) == (2, 2)
    assert step(corpus, index_dir, cache, reads).files_unchanged == 2


def test_a_file_written_as_it_is_read_is_read_again_next_time(
    tmp_path: Path, reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(file_record, "SETTLE_NS", 10**12)  # every file is "just written"
    corpus = Corpus(tmp_path / "corpus")
    index_dir, cache = tmp_path / "index", tmp_path / "cache"
    name = corpus.add_file(5)
    step(corpus, index_dir, cache, reads)
    record = json.loads((index_dir.resolve() / RECORD_NAME).read_text(encoding="utf-8"))
    assert [f["settled"] for f in record["files"]] == [False]
    step(corpus, index_dir, cache, reads)
    assert reads == [name]


def test_is_current_reads_only_changed_files(tmp_path: Path, reads: list[str]) -> None:
    corpus = Corpus(tmp_path / "corpus")
    index_dir, cache = tmp_path / "index", tmp_path / "cache"
    name = corpus.add_file(5)
    reindex(corpus.folder, index_dir, FakeEncoder(), cache)
    current = lambda: is_current(index_dir, corpus.folder, "fake", "float32")  # noqa: E731
    assert current()
    time.sleep(0.01)
    os.utime(corpus.folder / name)
    assert current()  # touched, same content: the same fingerprint
    corpus.edit(name, 0)
    assert not current()


def test_a_file_name_that_is_not_utf8_is_recorded_and_skipped_unread(
    tmp_path: Path, reads: list[str]
) -> None:
    corpus = Corpus(tmp_path / "corpus")
    index_dir, cache = tmp_path / "index", tmp_path / "cache"
    corpus.add_file(5)
    name = os.fsdecode(b"caf\xe9.txt")
    (corpus.folder / name).write_text("Кафе открыто.\n\nНовое меню кафе.\n", encoding="utf-8")
    first = step(corpus, index_dir, cache, reads)
    assert name in [os.fsdecode(os.fsencode(r)) for r in reads]
    report = step(corpus, index_dir, cache, reads)
    assert (reads, report.files_unchanged, report.notes) == ([], 2, first.notes)
