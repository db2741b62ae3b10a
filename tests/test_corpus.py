"""Reading a corpus folder: the two real seeds, and made-up corpora for the edge cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.records import Article
from indexer.corpus import Skipped, list_files, read_corpus, read_file

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
FEED_TEXT = ("Лукойл", "Эпштейн", "Последние новости", "Лента новостей", "21:04")


def _paragraphs(article: Article) -> list[str]:
    return article.body.split("\n\n")


def _write(root: Path, name: str, content: str | bytes) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _by_id(root: Path) -> dict[str, Article]:
    return {a.id: a for a in read_corpus(root).articles}


# --- the seeds ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seeds() -> dict[str, Article]:
    report = read_corpus(SEEDS)
    assert report.skipped == []
    return {a.id: a for a in report.articles}


def test_seed_ids_and_sources_come_from_file_names(seeds: dict[str, Article]) -> None:
    assert list(seeds) == ["000_f267e610140cff85", "001_37d38f48706849c8"]
    assert seeds["000_f267e610140cff85"].source == "000_f267e610140cff85.txt"


def test_leading_date_field_is_metadata_and_rest_of_line_is_text(
    seeds: dict[str, Article],
) -> None:
    article = seeds["000_f267e610140cff85"]
    assert article.date == "2025-09-08"
    paragraphs = _paragraphs(article)
    assert len(paragraphs) == 13
    assert paragraphs[0].startswith("Азербайджан заинтересован в возобновлении")
    assert "date" not in article.body and "2025-09-08" not in article.body


def test_title_without_headline_is_first_sentence(seeds: dict[str, Article]) -> None:
    article = seeds["000_f267e610140cff85"]
    assert article.title == _paragraphs(article)[0]  # the first paragraph is one sentence
    assert article.title.endswith("возможности для сотрудничества.")


def test_scraped_header_gives_title_date_and_rubric(seeds: dict[str, Article]) -> None:
    article = seeds["001_37d38f48706849c8"]
    assert article.title == "Азербайджан и Перу провели первый раунд межмидовских политконсультаций"
    assert article.date == "2025-09-04"
    assert article.rubric == "Внешняя политика"


def test_scraped_body_is_the_article_only(seeds: dict[str, Article]) -> None:
    article = seeds["001_37d38f48706849c8"]
    paragraphs = _paragraphs(article)
    assert len(paragraphs) == 8
    assert paragraphs[0].startswith("Азербайджан и Перу провели в Лиме")
    assert paragraphs[-1].endswith("для защиты своего наследия.")
    assert "Elvis" not in article.body
    assert "межмидовских политконсультаций" not in article.body  # the headline
    assert "Внешняя политика" not in article.body and "09:32" not in article.body


def test_site_feed_is_in_no_body(seeds: dict[str, Article]) -> None:
    for article in seeds.values():
        for text in FEED_TEXT:
            assert text not in article.body, (article.id, text)


# --- files and folders -------------------------------------------------------------------


def test_list_files_is_recursive_sorted_and_ignores_other_files(tmp_path: Path) -> None:
    for name in ["b.txt", "a/z.md", "a/c.jsonl", "notes.csv", "img.png", ".hidden/x.txt"]:
        _write(tmp_path, name, "Текст.")
    names = [p.relative_to(tmp_path).as_posix() for p in list_files(tmp_path)]
    assert names == ["a/c.jsonl", "a/z.md", "b.txt"]


def test_missing_or_file_root_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_corpus(tmp_path / "nope")
    with pytest.raises(NotADirectoryError, match="not a folder"):
        read_corpus(_write(tmp_path, "a.txt", "Текст."))


def test_nested_file_id_is_relative_posix_path_without_suffix(tmp_path: Path) -> None:
    _write(tmp_path, "a/b.txt", "Первый абзац.")
    _write(tmp_path, "a/c d:e.txt", "Второй абзац.")
    assert sorted(_by_id(tmp_path)) == ["a/b", "a/c_d_e"]


def test_non_utf8_file_is_skipped_with_its_name_and_others_read(tmp_path: Path) -> None:
    _write(tmp_path, "bad.txt", "Строка.\nЕщё".encode() + "ё".encode("cp1251"))
    _write(tmp_path, "good.txt", "Хороший текст.")
    report = read_corpus(tmp_path)
    assert [a.id for a in report.articles] == ["good"]
    [skipped] = report.skipped
    assert skipped.source == "bad.txt" and skipped.line is None
    assert "UTF-8" in skipped.reason and "byte 20" in skipped.reason and "line 2" in skipped.reason


def test_empty_and_whitespace_only_files_are_skipped(tmp_path: Path) -> None:
    _write(tmp_path, "empty.txt", "")
    _write(tmp_path, "blank.md", " \n\t\n")
    _write(tmp_path, "empty.jsonl", "\n")
    report = read_corpus(tmp_path)
    assert report.articles == []
    assert {(s.source, s.reason) for s in report.skipped} == {
        ("blank.md", "empty file"),
        ("empty.jsonl", "empty file"),
        ("empty.txt", "empty file"),
    }


def test_bom_and_crlf_are_tolerated(tmp_path: Path) -> None:
    raw = "date: 2025-01-02\r\nПервая строка\r\nтого же абзаца.\r\n\r\nВторой абзац.\r\n"
    _write(tmp_path, "win.txt", b"\xef\xbb\xbf" + raw.encode())
    [article] = read_corpus(tmp_path).articles
    assert article.date == "2025-01-02"
    assert article.body == "Первая строка\nтого же абзаца.\n\nВторой абзац."
    assert "\r" not in article.body and "\ufeff" not in article.body + article.title


def test_duplicate_ids_keep_first_and_report_later(tmp_path: Path) -> None:
    _write(tmp_path, "a/x.txt", "Из текстового файла.")
    lines = [{"id": "a/x", "text": "Из jsonl."}, {"id": "k", "text": "Раз."}]
    lines.append({"id": "k", "text": "Два."})
    _write(tmp_path, "a.jsonl", "\n".join(json.dumps(line) for line in lines))
    report = read_corpus(tmp_path)
    assert [(a.id, a.body) for a in report.articles] == [("a/x", "Из jsonl."), ("k", "Раз.")]
    assert [(s.source, s.line) for s in report.skipped] == [("a.jsonl", 3), ("a/x.txt", None)]
    assert "a.jsonl line 2" in report.skipped[0].reason
    assert "a.jsonl line 1" in report.skipped[1].reason


def test_read_file_reads_one_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "sub/one.txt", "Один абзац.")
    articles, skipped = read_file(path, tmp_path)
    assert [a.id for a in articles] == ["sub/one"] and skipped == []


def test_on_file_is_called_for_every_file(tmp_path: Path) -> None:
    _write(tmp_path, "a.txt", "Текст.")
    _write(tmp_path, "b.txt", "")
    seen: list[str] = []
    read_corpus(tmp_path, on_file=lambda path: seen.append(path.name))
    assert seen == ["a.txt", "b.txt"]


# --- jsonl -----------------------------------------------------------------------------------


def test_jsonl_bad_lines_are_reported_with_line_numbers(tmp_path: Path) -> None:
    good = {"id": 7, "title": "Заголовок", "date": "2025-09-04", "url": "http://x", "text": "Т."}
    lines = [json.dumps(good, ensure_ascii=False), '{"id": "b", "text": ', "[1, 2]"]
    lines += ['{"id": "d", "title": "Без текста"}', "", '{"id": "e", "text": "  "}']
    _write(tmp_path, "feed.jsonl", "\n".join(lines))
    report = read_corpus(tmp_path)
    [article] = report.articles
    assert (article.id, article.title, article.date, article.url) == (
        "7", "Заголовок", "2025-09-04", "http://x"
    )  # fmt: skip
    assert [(s.source, s.line) for s in report.skipped] == [
        ("feed.jsonl", 2), ("feed.jsonl", 3), ("feed.jsonl", 4), ("feed.jsonl", 6)
    ]  # fmt: skip
    assert "invalid JSON" in report.skipped[0].reason
    assert report.skipped[1].reason == "not a JSON object"
    assert "text" in report.skipped[2].reason


def test_jsonl_non_utf8_line_is_skipped_alone(tmp_path: Path) -> None:
    data = b'{"id": "a", "text": "\xff"}\n' + '{"id": "b", "text": "Да."}'.encode()
    _write(tmp_path, "mixed.jsonl", data)
    report = read_corpus(tmp_path)
    assert [a.id for a in report.articles] == ["b"]
    assert report.skipped == [Skipped("mixed.jsonl", 1, "not valid UTF-8 at byte 21")]


def test_jsonl_ids_are_strings_without_colons_or_generated(tmp_path: Path) -> None:
    lines = [{"id": " a:b c ", "text": "Раз."}, {"text": "Два."}, {"id": "", "text": "Три."}]
    _write(tmp_path, "dir/f.jsonl", "\n".join(json.dumps(line) for line in lines))
    assert list(_by_id(tmp_path)) == ["a_b_c", "dir/f-2", "dir/f-3"]


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("2025-09-04", "2025-09-04"),
        ("2025-09-04T09:32:00+03:00", "2025-09-04"),
        ("04.09.2025", "2025-09-04"),
        ("4 сентября 2025", "2025-09-04"),
        ("04 Сентября, 2025 г.", "2025-09-04"),
        ("1 май 2024", "2024-05-01"),
        ("вчера", None),
        ("2025-02-30", None),
        (20250904, None),
    ],
)
def test_jsonl_date_is_normalised_or_none(tmp_path: Path, raw: object, iso: str | None) -> None:
    _write(tmp_path, "d.jsonl", json.dumps({"id": "x", "date": raw, "text": "Текст."}))
    [article] = read_corpus(tmp_path).articles
    assert article.date == iso


def test_jsonl_title_defaults_to_first_sentence(tmp_path: Path) -> None:
    text = "Первое предложение здесь. Второе предложение.\n\nДругой абзац."
    _write(tmp_path, "t.jsonl", json.dumps({"id": "t", "text": text}))
    [article] = read_corpus(tmp_path).articles
    assert article.title == "Первое предложение здесь."
    assert article.body == text


# --- cleaning rules ----------------------------------------------------------------------


def test_markdown_front_matter_and_heading(tmp_path: Path) -> None:
    text = "---\ndate: 2024-03-01\nurl: https://example.org/a\n---\n\n# Большой заголовок\n\nТекст."
    _write(tmp_path, "post.md", text)
    [article] = read_corpus(tmp_path).articles
    assert (article.title, article.date, article.url) == (
        "Большой заголовок", "2024-03-01", "https://example.org/a"
    )  # fmt: skip
    assert article.body == "Текст."


def test_markdown_front_matter_title_wins_and_rule_is_not_front_matter(tmp_path: Path) -> None:
    _write(tmp_path, "a.md", '---\ntitle: "Из шапки"\n---\n# Заголовок\nТекст.')
    _write(tmp_path, "b.md", "---\nПросто текст.\n---\nЕщё.")
    articles = _by_id(tmp_path)
    assert articles["a"].title == "Из шапки" and articles["a"].body == "Текст."
    assert articles["b"].body == "---\nПросто текст.\n---\nЕщё."


@pytest.mark.parametrize("marker", ["Читайте также", "READ MORE:", "  Related news  "])
def test_feed_marker_cuts_the_rest(tmp_path: Path, marker: str) -> None:
    _write(tmp_path, "a.txt", f"Статья.\n\n{marker}\n\nЧужая новость.")
    [article] = read_corpus(tmp_path).articles
    assert article.body == "Статья."


def test_unrepeated_headline_above_date_line_is_title(tmp_path: Path) -> None:
    text = "Меню\n\nПравительство утвердило новый бюджет\n• 4.09.2025, 10:15\n\nБюджет принят."
    _write(tmp_path, "a.txt", text)
    [article] = read_corpus(tmp_path).articles
    assert article.title == "Правительство утвердило новый бюджет"
    assert (article.date, article.body) == ("2025-09-04", "Бюджет принят.")


def test_plain_text_without_header_is_kept_whole(tmp_path: Path) -> None:
    text = "Короткая строка\n\nВторой абзац без точки\n\nТретий."
    _write(tmp_path, "a.txt", text)
    [article] = read_corpus(tmp_path).articles
    assert article.body == text and article.date is None and article.rubric is None


def test_long_first_sentence_title_is_capped(tmp_path: Path) -> None:
    _write(tmp_path, "a.txt", "слово " * 100)
    [article] = read_corpus(tmp_path).articles
    assert 0 < len(article.title) <= 201 and article.title.endswith("…")
