"""eval/build_gimp.py: page parsing, alignment, queries and splits on tiny hand-written HTML.

No package is downloaded: the pages here imitate the DocBook HTML of Debian's GIMP manual.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval import build_gimp as bg

NAV = """<div class="navheader"><table><tr><th>11.14. {title}</th></tr>
<tr><td><a href="prev.html">Prev</a></td></tr></table></div>"""
FOOTER = """<div class="navfooter"><table><tr><td><a href="up.html">Up</a></td></tr></table>
<a class="reportbug" href="https://example.org">Report a documentation error</a></div>"""


def page_html(title: str, body: str) -> str:
    """A help page with navigation around body, the way DocBook writes one."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<html><head><title>11.14. {title}</title>'
        f'<meta charset="utf-8" /></head><body>{NAV.format(title=title)}'
        f'<div class="sect2"><div class="titlepage"><h3 class="title"><a id="x"></a>'
        f"11.14. {title}</h3></div>{body}</div>{FOOTER}</body></html>"
    )


RU_BODY = """
<div class="toc"><p>Содержание этой главы и его пункты</p></div>
<div class="figure"><p class="title"><strong>Рисунок 17.234. Пример применения фильтра</strong></p>
<div class="caption"><p>Исходное изображение до применения этого фильтра</p></div></div>
<p>Этот фильтр делает изображение похожим
   на живопись маслом, <em>как будто</em> вы используете кисть.</p>
<div class="sect3"><div class="titlepage"><h4 class="title">11.14.3. Параметры</h4></div>
<dl><dt><span class="term">Размер маски кисти для эффекта</span></dt>
<dd><p>Устанавливает размер маски кисти, используемой для создания эффекта 12 раз.</p></dd></dl>
<ul><li>Пункт списка без абзаца внутри него<ul>
<li><p>Вложенный пункт списка с абзацем внутри.</p></li></ul></li></ul>
<p>Этот фильтр делает изображение похожим на живопись маслом, как будто вы используете кисть.</p>
<p>Untranslated paragraph that stays in English in the Russian manual.</p>
<pre>(define (script-fu-test) (gimp-message "код программы"))</pre>
</div>"""

EN_BODY = """
<div class="toc"><p>Table of contents of this chapter and its entries</p></div>
<div class="figure"><p class="title"><strong>Figure 17.234. Filter example</strong></p>
<div class="caption"><p>Original image before this filter is applied</p></div></div>
<p>This filter makes the image look like an oil painting, as if you used a large brush.</p>
<div class="sect3"><div class="titlepage"><h4 class="title">11.14.3. Options</h4></div>
<dl><dt><span class="term">Mask size for the brush effect</span></dt>
<dd><p>Sets the size of the brush mask used to create the oil painting effect 12 times.</p>
</dd></dl>
<ul><li>A list item without any paragraph inside it<ul>
<li><p>A nested list item with a paragraph inside.</p></li></ul></li></ul>
<p>This filter makes the image look like an oil painting, as if you used a large brush.</p>
<p>Untranslated paragraph that stays in English in the Russian manual.</p>
<pre>(define (script-fu-test) (gimp-message "program code"))</pre>
</div>"""


@pytest.fixture
def ru_page() -> bg.Page:
    return bg.parse_page("plug-in-oilify", page_html("Масляная краска", RU_BODY))


@pytest.fixture
def en_page() -> bg.Page:
    return bg.parse_page("plug-in-oilify", page_html("Oilify", EN_BODY))


def test_page_title_and_headings_lose_section_numbers(ru_page: bg.Page) -> None:
    assert ru_page.title == "Масляная краска"
    assert ru_page.headings == ["Масляная краска", "Параметры"]


def test_paragraphs_skip_navigation_toc_titles_captions_terms_and_code(ru_page: bg.Page) -> None:
    oil = "Этот фильтр делает изображение похожим на живопись маслом, как будто вы используете"
    texts = [block.text for block in ru_page.blocks]
    assert texts == [
        f"{oil} кисть.",  # hard-wrapped lines joined, inline markup dropped
        "Устанавливает размер маски кисти, используемой для создания эффекта 12 раз.",
        "Пункт списка без абзаца внутри него",
        "Вложенный пункт списка с абзацем внутри.",
        f"{oil} кисть.",
        "Untranslated paragraph that stays in English in the Russian manual.",
    ]


def test_same_source_gives_same_paths_in_both_languages(ru_page, en_page) -> None:
    assert bg.same_structure(en_page, ru_page)
    assert len({block.path for block in ru_page.blocks}) == len(ru_page.blocks)


def test_corpus_blocks_keep_russian_once(ru_page: bg.Page) -> None:
    texts = [block.text for block in bg.corpus_blocks(ru_page)]
    assert len(texts) == 4  # the repeat and the English paragraph are gone
    assert texts[0].startswith("Этот фильтр") and all(bg.is_russian(t) for t in texts)


def test_corpus_blocks_leave_out_paragraphs_poisk_would_cut(ru_page: bg.Page) -> None:
    long = bg.Block("/p[9]", "Очень длинный абзац текста. " * 200)
    ru_page.blocks.append(long)
    assert long not in bg.corpus_blocks(ru_page)


def test_article_record_is_one_line_per_paragraph(ru_page: bg.Page) -> None:
    blocks = bg.corpus_blocks(ru_page)
    record = bg.article_record(ru_page, blocks)
    assert record["id"] == "plug-in-oilify" and ":" not in record["id"]
    assert record["date"] is None and record["url"] is None
    assert record["text"].split("\n\n") == [block.text for block in blocks]


def test_align_pairs_translations_at_the_same_path(ru_page, en_page) -> None:
    blocks = bg.corpus_blocks(ru_page)
    pairs = bg.align(en_page, ru_page, blocks)
    assert [(en[:25], n) for en, n in pairs] == [
        ("This filter makes the ima", 0),
        ("Sets the size of the brus", 1),
        ("A list item without any p", 2),
        ("A nested list item with a", 3),
    ]  # the repeated and the untranslated paragraph are not in blocks


def test_align_refuses_pages_whose_structure_differs(ru_page, en_page) -> None:
    en_page.blocks.insert(0, bg.Block("/p[0]", "A paragraph only the English manual has."))
    assert bg.align(en_page, ru_page, bg.corpus_blocks(ru_page)) == []


SETS = "Sets the size of the brush mask used"


@pytest.mark.parametrize(
    ("en", "ru", "ok"),
    [
        (f"{SETS} for 12 strokes.", "Задаёт размер маски кисти для 12 мазков.", True),
        (f"{SETS} for 12 strokes.", "Задаёт размер маски кисти для 15 мазков.", False),
        (f"{SETS} right now.", f"{SETS} right now.", False),  # untranslated
        ("Sets the size of the brush mask.", "Задаёт размер маски кисти.", False),  # short
        (f"{SETS} for all the strokes here.", "Задаёт.", False),  # lengths too far apart
    ],
)
def test_confident_pair(en: str, ru: str, ok: bool) -> None:
    assert bg.confident_pair(en, ru) is ok


def test_split_is_stable_by_article_and_both_splits_occur() -> None:
    names = [f"page-{i}" for i in range(200)]
    splits = [bg.split_of(name) for name in names]
    assert splits == [bg.split_of(name) for name in names]
    assert 60 < splits.count("tune") < 140
    assert set(splits) == {"tune", "test"}


def test_paragraph_queries_take_their_page_split_and_drop_repeated_texts() -> None:
    pairs = [
        ("a", "These options are described in Section 2, Common Features.", 0, "Эти параметры"),
        ("b", "These options are described in Section 2, Common Features.", 3, "Эти параметры"),
        ("c", "The filter makes the image look like an oil painting.", 2, "Фильтр делает"),
    ]
    queries = bg.paragraph_queries(pairs)
    assert [q["relevant"] for q in queries] == [["c:2"]]
    assert queries[0]["split"] == bg.split_of("c") and queries[0]["lang"] == "en"
    corpus = ["Эти параметры", "Эти параметры", "Фильтр делает", "Фильтр делает"]
    assert bg.paragraph_queries(pairs[2:], corpus) == []  # "Фильтр делает" is on 2 pages
    assert bg.paragraph_queries(pairs[2:], corpus[2:3]) == queries


INDEX_HTML = """<div class="index"><div class="indexdiv"><h3>А</h3><dl>
<dt>8 бит, 16 бит, <a class="indexterm" href="gimp-file-new.html#idm1">Параметры</a></dt>
<dt>Анимация</dt><dd><dl>
<dt>Воспроизведение, <a class="indexterm" href="plug-in-animationplay.html">Воспр.</a></dt>
</dl></dd>
<dt>Аэрограф, <a class="indexterm" href="gimp-tool-airbrush.html">А</a>,
<a class="indexterm" href="glossary.html">Глоссарий</a></dt>
</dl></div></div>"""


def test_index_entries_with_sub_entries_and_targets() -> None:
    assert bg.parse_index(INDEX_HTML) == [
        ("8 бит, 16 бит", ["gimp-file-new"]),
        ("Анимация Воспроизведение", ["plug-in-animationplay"]),
        ("Аэрограф", ["gimp-tool-airbrush", "glossary"]),
    ]


def test_page_queries_merge_same_text_and_drop_ambiguous_or_foreign() -> None:
    pages = {f"p{i}" for i in range(6)} | {"gimp-tool-airbrush"}
    terms = [
        ("title", "Аэрограф", ["gimp-tool-airbrush"]),
        ("index", "аэрограф", ["gimp-tool-airbrush", "missing-page"]),
        *[("heading", "Параметры", [f"p{i}"]) for i in range(5)],  # heads 5 pages
        ("title", "3D Transform", ["p5"]),  # untranslated: not a Russian query
        ("title", "Ок", ["p5"]),  # too short
    ]
    queries = bg.page_queries("ru", terms, pages)
    assert [(q["query"], q["relevant"], q["kind"]) for q in queries] == [
        ("Аэрограф", ["gimp-tool-airbrush"], "ru-page")
    ]


def test_page_queries_never_straddle_splits() -> None:
    tune = next(f"t{i}" for i in range(100) if bg.split_of(f"t{i}") == "tune")
    test = next(f"t{i}" for i in range(100) if bg.split_of(f"t{i}") == "test")
    terms = [("index", "Alpha channel", [tune, test]), ("index", "Airbrush tool", [tune])]
    queries = bg.page_queries("en", terms, {tune, test})
    assert [(q["query"], q["split"]) for q in queries] == [("Airbrush tool", "tune")]


def test_cap_is_a_deterministic_ordered_sample() -> None:
    rows = [{"i": i} for i in range(50)]
    assert bg.cap(rows, 100) is rows
    sample = bg.cap(rows, 10)
    assert sample == bg.cap(rows, 10) and len(sample) == 10
    assert sample == sorted(sample, key=lambda row: row["i"])


def test_written_corpus_splits_the_same_in_poisk(tmp_path: Path, ru_page: bg.Page) -> None:
    blocks = bg.corpus_blocks(ru_page)
    corpus = tmp_path / "gimp-ru.jsonl"
    bg.write_jsonl(corpus, [bg.article_record(ru_page, blocks)])
    bg.check_with_poisk(corpus, {ru_page.name: [block.text for block in blocks]})
    with pytest.raises(ValueError, match="differently"):
        bg.check_with_poisk(corpus, {ru_page.name: [block.text for block in blocks[1:]]})


def test_check_index_lists_unknown_ids(tmp_path: Path) -> None:
    from indexer.build import reindex
    from tests.fakes import FakeEncoder

    (tmp_path / "corpus").mkdir()
    bg.write_jsonl(tmp_path / "corpus" / "a.jsonl", [{"id": "a", "title": "А", "text": "текст"}])
    reindex(tmp_path / "corpus", tmp_path / "index", FakeEncoder(), tmp_path / "cache")
    rows = [{"query": "q", "relevant": ["a:0", "a:1", "a", "b", {"contains": "x"}]}]
    bg.write_jsonl(tmp_path / "queries.jsonl", rows)
    assert bg.check_index(tmp_path / "index", tmp_path / "queries.jsonl") == ["a:1", "b"]
    assert json.loads((tmp_path / "queries.jsonl").read_text("utf-8"))["query"] == "q"
