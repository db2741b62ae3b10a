"""Any corpus in, never a crash: hostile files, names, encodings and sizes at indexing time.

Small generated inputs and the fake encoder; the memory a real 2 MB token or 50 MB article
costs with the real models is measured by bench/hostile.py (docs/corpus.md).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

import indexer.corpus as corpus
from core.errors import CorpusError
from encoders.bounds import MAX_PASSAGE_CHARS, MAX_USE_TOKENS, clip_ids
from index.format import builds_dir, load_index
from indexer import limits
from indexer.build import reindex, source_fingerprint
from indexer.corpus import Note, read_corpus
from tests.fakes import FakeEncoder

RU = (
    "Порт Чанкай открыт для судов из Китая, сообщает агентство. Делегацию Перу на "
    "консультациях возглавил министр иностранных дел, он рассказал о планах на год.\n"
)
EN = "The port of Chancay opened for ships from China, the agency reports today.\n"


def _write(root: Path, name: str | bytes, content: bytes | str) -> Path:
    path = Path(os.fsdecode(os.path.join(os.fsencode(root), os.fsencode(name))))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def _reasons(report) -> dict[str, str]:
    return {s.source: s.reason for s in report.skipped}


def _notes(report) -> dict[str, str]:
    return {n.source: n.reason for n in report.notes}


def _build(source: Path, tmp_path: Path, encoder: FakeEncoder | None = None, **kw):
    encoder = encoder or FakeEncoder()
    return reindex(source, tmp_path / "index", encoder, tmp_path / "cache", **kw)


# --- 1. unbounded model input ---------------------------------------------------------


def test_an_inline_image_is_dropped_and_no_model_input_is_unbounded(tmp_path: Path) -> None:
    source = tmp_path / "src"
    image = "![](data:image/png;base64," + "iVBORw0KGgo" * 20_000 + ")"  # one 220 KB token
    _write(source, "note.md", f"# Заметка о порте\n\n{RU}\n{image}\n\nПосле картинки.\n")
    encoder = FakeEncoder()
    report = _build(source, tmp_path, encoder)
    assert report.articles == 1 and report.skipped == []
    assert "dropped 1 run(s) of over 256 characters" in _notes(report)["note.md"]
    assert "base64" not in load_index(tmp_path / "index").store.article("note").body
    assert max(map(len, encoder.passages)) < 1000


def test_an_image_does_not_push_the_text_after_it_over_the_limit(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("indexer.article.MAX_ARTICLE_CHARS", 2_000)
    _write(tmp_path, "a.md", f"{RU}\n![](data:image/png;base64,{'A' * 50_000})\n\nКонец заметки.")
    [article] = (report := read_corpus(tmp_path)).articles
    assert article.body.endswith("Конец заметки.")
    assert "only the first" not in _notes(report)["a.md"]


def test_a_file_of_one_token_is_skipped_saying_why(tmp_path: Path) -> None:
    source = tmp_path / "src"
    _write(source, "blob.txt", "x" * 300_000)
    _write(source, "ok.txt", RU)
    report = read_corpus(source)
    assert [a.id for a in report.articles] == ["ok"]
    assert "no article text left after dropping 1 run" in _reasons(report)["blob.txt"]


def test_an_article_over_the_limit_is_cut_at_a_line_and_reported(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("indexer.article.MAX_ARTICLE_CHARS", 2_000)
    monkeypatch.setattr("indexer.corpus.MAX_FILE_BYTES", 8_000)
    source = tmp_path / "src"
    _write(source, "big.txt", RU * 200)  # about 30 KB
    [article] = (report := read_corpus(source)).articles
    assert 1_000 < len(article.body) <= 2_000 and article.body.endswith(".")
    note = _notes(report)["big.txt"]
    assert "only the first" in note and "KB indexed" in note and "2,000" in note


def test_a_big_file_is_read_only_up_to_the_cap(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("indexer.article.MAX_ARTICLE_CHARS", 1_000)
    monkeypatch.setattr("indexer.corpus.MAX_FILE_BYTES", 4_000)
    path = _write(tmp_path, "big.txt", RU * 10_000)  # 2.6 MB
    read: list[int] = []
    original = corpus.read_head

    def read_head(path: Path, limit: int) -> tuple[bytes, int]:
        data, size = original(path, limit)
        read.append(len(data))
        return data, size

    monkeypatch.setattr(corpus, "read_head", read_head)
    [article] = read_corpus(path.parent).articles
    assert read == [4_000] and len(article.body) <= 1_000


def test_a_long_text_read_whole_says_how_long_it_was(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("indexer.article.MAX_ARTICLE_CHARS", 2_000)
    _write(tmp_path, "a.jsonl", json.dumps({"id": "a", "text": RU * 100}, ensure_ascii=False))
    report = read_corpus(tmp_path)
    assert f"of {len(RU) * 100:,} characters indexed" in _notes(report)["a.jsonl"]


def test_a_jsonl_line_over_the_limit_is_skipped_unread_and_the_rest_read(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr("indexer.jsonl.MAX_LINE_BYTES", 1_000)
    lines = ['{"id": "a", "text": "' + "слово " * 1_000 + '"}', '{"id": "b", "text": "Да."}']
    _write(tmp_path, "feed.jsonl", "\n".join(lines))
    report = read_corpus(tmp_path)
    assert [a.id for a in report.articles] == ["b"]
    [skipped] = report.skipped
    assert skipped.line == 1 and "line longer than 1.0 KB" in skipped.reason


def test_jsonl_titles_and_ids_are_bounded(tmp_path: Path) -> None:
    line = {"id": "i" * 5_000, "title": "Очень " * 5_000, "text": RU, "url": "u" * 9_000}
    _write(tmp_path, "feed.jsonl", json.dumps(line, ensure_ascii=False))
    [article] = read_corpus(tmp_path).articles
    assert len(article.id) <= 200 and len(article.title) <= 201 and article.url is None


def test_the_encoders_see_no_text_over_the_passage_bound(tmp_path: Path) -> None:
    source = tmp_path / "src"
    words = " ".join(f"слово{i}" for i in range(10_000))  # one paragraph, no sentence end
    _write(source, "long.txt", words)
    encoder = FakeEncoder(max_tokens=100_000)  # a model with a huge window: only the bound
    _build(source, tmp_path, encoder)
    assert max(map(len, encoder.passages)) <= MAX_PASSAGE_CHARS


def test_use_token_ids_are_cut_keeping_the_end_id() -> None:
    ids = list(range(MAX_USE_TOKENS + 500))
    assert clip_ids(ids) == [*range(MAX_USE_TOKENS - 1), ids[-1]]
    assert clip_ids([1, 5, 2]) == [1, 5, 2]


def test_drop_data_runs_and_cut_text() -> None:
    text, n = limits.drop_data_runs("a " + "b" * 300 + " c\n" + "QUJD" * 20 + "\nd")
    assert (text.split(), n) == (["a", "c", "d"], 2)
    assert limits.cut_text("aaaa bbbb\ncccc dddd", 14) == "aaaa bbbb"
    assert limits.cut_text("x" * 20, 10) == "x" * 10


# --- 2. file names that are not UTF-8 --------------------------------------------------


@pytest.mark.skipif(sys.platform != "linux", reason="needs a file system of raw byte names")
def test_a_file_name_that_is_not_utf8_is_indexed_under_an_escaped_id(tmp_path: Path) -> None:
    source = tmp_path / "src"
    _write(source, b"caf\xe9.txt", RU)
    _write(source, "ok.txt", EN)
    report = _build(source, tmp_path)
    assert report.articles == 2 and report.skipped == []
    assert "indexed as 'caf\\\\xe9'" in _notes(report)["caf\\xe9.txt"]
    store = load_index(tmp_path / "index").store
    assert store.article("caf\\xe9").source == "caf\\xe9.txt"
    source_fingerprint(source)  # names as bytes: no UnicodeEncodeError


# --- 3. no words -----------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"!!! ??? ... ---\n\n***", b"\x00" * 500, b"\x01\x02\x03"])
def test_a_corpus_without_words_fails_clearly_and_leaves_nothing(tmp_path, content) -> None:
    source = tmp_path / "src"
    _write(source, "a.txt", content)
    _write(source, "b.md", "— … ¡¿ «» !!!")
    with pytest.raises(CorpusError, match="no readable articles") as error:
        _build(source, tmp_path)
    assert "a.txt" in str(error.value)
    assert not (tmp_path / "index").exists()
    assert not builds_dir(tmp_path / "index").exists() or not any(
        builds_dir(tmp_path / "index").iterdir()
    )


def test_stop_words_only_fail_before_anything_is_written(tmp_path: Path) -> None:
    source = tmp_path / "src"
    _write(source, "a.txt", "и в на the of and")
    with pytest.raises(CorpusError, match="no words to index"):
        _build(source, tmp_path)
    assert not builds_dir(tmp_path / "index").exists()


def test_a_failure_while_writing_removes_the_build(tmp_path, monkeypatch) -> None:
    source = tmp_path / "src"
    _write(source, "a.txt", RU)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("index.format.write_store", full_disk)
    with pytest.raises(Exception, match="the disk is full"):
        _build(source, tmp_path)
    assert list(builds_dir(tmp_path / "index").iterdir()) == []


# --- 4. encodings ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ((RU * 3).encode("utf-16"), "utf-16"),
        ((RU * 3).encode("utf-32"), "utf-32"),
        ((RU * 3).encode("cp1251"), "cp1251"),
        ((RU * 3).encode("koi8_r"), "koi8_r"),
        ((EN * 3).encode("utf-16-be"), "utf_16_be"),
        ((RU * 3).encode("utf-16-le"), "utf_16_le"),
    ],
)
def test_unambiguous_encodings_are_read(tmp_path: Path, data: bytes, encoding: str) -> None:
    _write(tmp_path, "a.txt", data)
    report = read_corpus(tmp_path)
    [article] = report.articles
    assert article.body.startswith(("Порт Чанкай открыт", "The port of Chancay"))
    assert "\x00" not in article.body + article.title
    if encoding not in ("utf-16", "utf-32"):  # a byte order mark is no guess
        assert _notes(report)["a.txt"] == f"not UTF-8: read as {encoding} (detected)"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("Привет, мир".encode("cp1251"), "too short to tell"),
        (("Café crème brûlée, naïve façade, déjà vu. " * 3).encode("cp1252"), "other letters"),
        (bytes(range(256)) * 8, "binary"),
        (b"\x00" * 1_000, "control characters"),
        ("Текст\x00\x01\x02\x03".encode() * 10, "control characters"),
    ],
)
def test_what_cannot_be_read_for_sure_is_skipped_with_the_reason(tmp_path, data, reason) -> None:
    _write(tmp_path, "a.txt", data)
    report = read_corpus(tmp_path)
    assert report.articles == []
    assert reason in _reasons(report)["a.txt"]


def test_stray_control_characters_are_removed_and_reported(tmp_path: Path) -> None:
    _write(tmp_path, "a.txt", RU.replace("Китая", "Ки\x00тая\x1b") * 3)
    _write(tmp_path, "b.jsonl", '{"id": "j", "title": "Т\\u0000", "text": "Текст\\u0007 тут."}')
    report = read_corpus(tmp_path)
    bodies = "".join(a.body + a.title + a.id for a in report.articles)
    assert "Китая" in bodies and not any(c in bodies for c in "\x00\x1b\x07")
    assert "control character(s) removed" in _notes(report)["a.txt"]


def test_a_utf16_jsonl_is_skipped_as_json_lines_must_be_utf8(tmp_path: Path) -> None:
    _write(tmp_path, "a.jsonl", '{"id": "a", "text": "Текст."}\n'.encode("utf-16"))
    report = read_corpus(tmp_path)
    assert report.articles == [] and "JSON Lines must be UTF-8" in _reasons(report)["a.jsonl"]


# --- 5. links, FIFOs, following --------------------------------------------------------


def test_broken_links_fifos_and_outside_links_are_listed_not_read(tmp_path: Path) -> None:
    source, outside = tmp_path / "src", tmp_path / "secret"
    _write(source, "ok.txt", RU)
    _write(outside, "passwd.txt", "Секретный текст за пределами корпуса.")
    (source / "broken.txt").symlink_to(tmp_path / "nowhere.txt")
    (source / "out.txt").symlink_to(outside / "passwd.txt")
    (source / "inside.md").symlink_to(source / "ok.txt")
    (source / "dir").symlink_to(outside)
    os.mkfifo(source / "pipe.txt")
    report = read_corpus(source)
    assert sorted(a.id for a in report.articles) == ["inside", "ok"]
    reasons = _reasons(report)
    assert "broken link" in reasons["broken.txt"]
    assert "outside the source folder" in reasons["out.txt"]
    assert "--follow-symlinks" in reasons["out.txt"]
    assert "FIFO" in reasons["pipe.txt"]
    assert "link to a folder" in reasons["dir"]


def test_follow_symlinks_reads_what_links_lead_to(tmp_path: Path) -> None:
    source, outside = tmp_path / "src", tmp_path / "elsewhere"
    _write(source, "ok.txt", RU)
    _write(outside, "a.txt", EN)
    (source / "out.txt").symlink_to(outside / "a.txt")
    (source / "dir").symlink_to(outside)
    (outside / "loop").symlink_to(outside)
    report = read_corpus(source, follow_symlinks=True)
    assert sorted(a.id for a in report.articles) == ["dir/a", "ok", "out"]
    report = _build(source, tmp_path, follow_symlinks=True)
    assert report.articles == 3


def test_notes_are_not_counted_as_skipped(tmp_path: Path) -> None:
    _write(tmp_path, "a.txt", (RU * 3).encode("cp1251"))
    report = _build(tmp_path, tmp_path / "out")
    assert report.skipped == [] and [type(n) for n in report.notes] == [Note]
