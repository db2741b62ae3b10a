"""Build the external English/Russian evaluation set from Debian's GIMP user manual.

Debian ships the GIMP 2.10 manual as HTML in both languages (``gimp-help-en``,
``gimp-help-ru``): the same file names, generated from one DocBook source, so a page's
paragraphs sit at the same element paths in both languages. From them this builds:

* ``corpus/gimp-ru.jsonl``: one poisk article a Russian help page, its Russian body
  paragraphs one a line, separated by blank lines (ids are the file names, no ':');
* ``queries.jsonl``: English paragraphs whose answer is their Russian counterpart
  (``en-paragraph``), and Russian and English page titles, section headings and index
  terms whose answer is the page (``ru-page``, ``en-page``), each labelled with a
  ``split`` (``tune`` / ``test``) by a hash of the page id, so a page sits in one split;
* ``build.json``: the package versions and the counts.

The packages are fetched with ``apt-get download`` and unpacked with ``dpkg-deb -x``,
never installed. Run from the repository root::

    .venv/bin/python -m eval.build_gimp --out eval/gimp

The manual is under the GNU FDL; see eval/gimp/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from index.format import load_index
from indexer.corpus import read_file
from indexer.split import estimate_tokens, split_article

PACKAGES = {"en": "gimp-help-en", "ru": "gimp-help-ru"}
HELP_DIR = Path("usr/share/gimp/2.0/help")
CORPUS_FILE = "corpus/gimp-ru.jsonl"
QUERIES_FILE = "queries.jsonl"
SEED = 4  # fixed seed for the deterministic caps
CAPS = {"en-paragraph": 600, "ru-page": 300, "en-page": 300}
MIN_CORPUS_WORDS = 4  # shorter blocks are captions and labels ("Исходное изображение")
MIN_QUERY_WORDS = 8  # an English paragraph query needs this many words
MAX_QUERY_CHARS = 1000  # poisk refuses longer queries (search.service)
LENGTH_RATIO = (0.6, 2.0)  # confident pair: Russian / English characters within this range
MAX_PARAGRAPH_TOKENS = 500  # poisk cuts longer paragraphs (indexer.split); keep them whole
# Pages that are not prose about GIMP: the title page, the index, the licence, the
# legal notice and the bibliography.
SKIP_PAGES = re.compile(r"^(gimp-help-index|index|gfdl-.*|legal|bibliography)$")

_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[A-Za-z]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_SECTION_NUMBER = re.compile(r"^(?:(?:Глава|Chapter|Часть|Part|Приложение|Appendix)\s+)?"
                             r"(?:[A-Z]|[IVXLC]+|\d+)(?:\.\d+)*\.\s+")  # fmt: skip
_VOID = frozenset({"area", "base", "br", "col", "hr", "img", "input", "link", "meta", "wbr"})
_BLOCKS = frozenset({"p", "div", "ul", "ol", "dl", "table", "pre", "blockquote", "h1", "h2",
                     "h3", "h4", "h5", "h6", "dt", "dd", "li", "tr", "td", "th"})  # fmt: skip
_TEXT_CONTAINERS = frozenset({"p", "li", "dd"})  # blocks whose own text is a paragraph
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_SKIP_TAGS = frozenset({"head", "script", "style", "pre", "dt"})
_SKIP_CLASSES = frozenset(
    {"navheader", "navfooter", "toc", "index", "footnotes", "caption", "reportbug"}
)


# --- parsing one page -----------------------------------------------------------------


@dataclass
class Block:
    """A paragraph-like block of a page: its element path and whitespace-collapsed text."""

    path: str
    text: str


@dataclass
class Page:
    """One help page: its title, section headings and body blocks in document order."""

    name: str
    title: str = ""
    headings: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)


@dataclass
class _Frame:
    """An open element: its tag, classes, path, and the counts of its children by tag."""

    tag: str
    classes: frozenset[str]
    path: str
    skip: bool
    children: Counter[str] = field(default_factory=Counter)
    text: list[str] | None = None  # collected text, for paragraph containers and headings
    emitted: int = 0  # blocks emitted so far (an <li>'s text around a nested list)


def clean(text: str) -> str:
    """Collapse whitespace; the manual's HTML is hard-wrapped and indented."""
    return " ".join(text.split())


def strip_number(heading: str) -> str:
    """Drop a section number ("11.14.3. Параметры" -> "Параметры")."""
    return _SECTION_NUMBER.sub("", clean(heading), count=1)


class PageParser(HTMLParser):
    """Collects a DocBook HTML page's title, headings and body paragraphs.

    A paragraph is the text of a <p>, or the text of an <li>/<dd> outside its nested
    blocks. Navigation, tables of contents, figure and table titles, captions, term
    labels (<dt>), footnotes, code listings and the index are skipped. Each block's
    path names its ancestors by tag, class and position among same-tag siblings;
    DocBook writes the same structure for every language, so equal paths mean the
    same paragraph.
    """

    def __init__(self, name: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page(name)
        self._stack: list[_Frame] = [_Frame("#root", frozenset(), "", False)]
        self._title: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Open a frame; a block start closes the text run of the enclosing container."""
        if tag == "title":
            self._title = []
        if tag in _VOID:
            return
        parent = self._stack[-1]
        if tag in _BLOCKS:
            self._flush(parent)
        classes = frozenset((dict(attrs).get("class") or "").split())
        parent.children[tag] += 1
        label = ".".join([tag, *sorted(classes)])
        path = f"{parent.path}/{label}[{parent.children[tag]}]".removeprefix("/html[1]/body[1]")
        skip = parent.skip or _skipped(tag, classes)
        frame = _Frame(tag, classes, path, skip)
        if not skip and (tag in _TEXT_CONTAINERS or tag in _HEADINGS):
            frame.text = []
        self._stack.append(frame)

    def handle_endtag(self, tag: str) -> None:
        """Close frames up to the matching tag (tolerating unclosed inner elements)."""
        if tag == "title" and self._title is not None:
            self.page.title = strip_number("".join(self._title))
            self._title = None
        if not any(frame.tag == tag for frame in self._stack[1:]):
            return
        while self._stack[-1].tag != tag:
            self._flush(self._stack.pop())
        self._flush(self._stack.pop())

    def handle_data(self, data: str) -> None:
        """Add text to the title, or to the innermost collecting frame."""
        if self._title is not None:
            self._title.append(data)
        for frame in reversed(self._stack):
            if frame.text is not None:
                frame.text.append(data)
                return
            if frame.tag in _BLOCKS or frame.skip:
                return

    def _flush(self, frame: _Frame) -> None:
        """Emit a container's text gathered so far as a block (before a nested block)."""
        if frame.text is None:
            return
        text = clean("".join(frame.text))
        frame.text = []
        if not text:
            return
        if frame.tag in _HEADINGS:
            self.page.headings.append(strip_number(text))
        else:
            suffix = f"~{frame.emitted}" if frame.emitted else ""
            self.page.blocks.append(Block(frame.path + suffix, text))
        frame.emitted += 1


def _skipped(tag: str, classes: frozenset[str]) -> bool:
    """Elements whose whole subtree is not body text."""
    if tag in _SKIP_TAGS or classes & _SKIP_CLASSES:
        return True
    if tag == "p" and "title" in classes:  # "Рисунок 17.234. ..." figure/table titles
        return True
    return any(name.startswith("list-of-") for name in classes)


def parse_page(name: str, html: str) -> Page:
    """Parse one help page's HTML into a Page."""
    parser = PageParser(name)
    parser.feed(html)
    parser.close()
    return parser.page


class IndexParser(HTMLParser):
    """Reads the manual's index page into (term, linked page names) entries.

    A sub-entry ("Анимация" > "Воспроизведение") becomes "Анимация Воспроизведение";
    a link's target page is its file name without ".html" and anchor.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.entries: list[tuple[str, list[str]]] = []
        self._depth = 0  # nesting of <dl>: 1 for main entries, 2 for sub-entries
        self._parent = ""
        self._term: list[str] | None = None
        self._links: list[str] = []
        self._in_link = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Track <dl> depth, start a term at <dt>, record a link's target page."""
        if tag == "dl":
            self._depth += 1
        elif tag == "dt":
            self._term, self._links = [], []
        elif tag == "a" and self._term is not None:
            href = dict(attrs).get("href") or ""
            self._links.append(href.split("#")[0].removesuffix(".html"))
            self._in_link = True

    def handle_endtag(self, tag: str) -> None:
        """Finish a term at </dt>; leave a nesting level at </dl>."""
        if tag == "dl":
            self._depth -= 1
        elif tag == "a":
            self._in_link = False
        elif tag == "dt" and self._term is not None:
            self._finish_term()

    def handle_data(self, data: str) -> None:
        """Term text is the text of a <dt> outside its links."""
        if self._term is not None and not self._in_link:
            self._term.append(data)

    def _finish_term(self) -> None:
        term = clean("".join(self._term or [])).rstrip(", ").strip()
        self._term = None
        if self._depth <= 1:
            self._parent = term
        elif self._parent:
            term = f"{self._parent} {term}"
        if term and self._links:
            self.entries.append((term, [link for link in self._links if link]))


def parse_index(html: str) -> list[tuple[str, list[str]]]:
    """Index entries of the manual's index page: (term, [page name, ...])."""
    parser = IndexParser()
    parser.feed(html)
    parser.close()
    return parser.entries


# --- text tests -------------------------------------------------------------------------


def words(text: str) -> int:
    """Number of whitespace-separated words."""
    return len(text.split())


def is_russian(text: str) -> bool:
    """At least half of the letters are Cyrillic (untranslated paragraphs stay English)."""
    cyrillic = len(_CYRILLIC.findall(text))
    return cyrillic > 0 and cyrillic >= len(_LATIN.findall(text))


def is_english(text: str) -> bool:
    """Latin letters and no Cyrillic."""
    return bool(_LATIN.search(text)) and not _CYRILLIC.search(text)


def numbers(text: str) -> list[str]:
    """The numbers in a text, sorted, decimal commas as points: a translation keeps them."""
    return sorted(number.replace(",", ".") for number in _NUMBER.findall(text))


def split_of(article_id: str) -> str:
    """'tune' or 'test', from a hash of the page id: stable, and one split per page."""
    digest = hashlib.sha256(f"gimp-help:{article_id}".encode()).digest()
    return "tune" if digest[0] % 2 == 0 else "test"


# --- corpus -----------------------------------------------------------------------------


def corpus_blocks(page: Page, max_tokens: int = MAX_PARAGRAPH_TOKENS) -> list[Block]:
    """The Russian page's paragraphs as poisk will number them.

    Kept: Russian text of at least MIN_CORPUS_WORDS words, within poisk's window (so
    poisk never cuts it and numbers stay put), and only the first of repeated texts
    (poisk keeps only the first too, so the numbering here is poisk's).
    """
    kept: list[Block] = []
    seen: set[str] = set()
    for block in page.blocks:
        text = block.text
        if text in seen or words(text) < MIN_CORPUS_WORDS or not is_russian(text):
            continue
        if estimate_tokens(text) > max_tokens:
            continue
        seen.add(text)
        kept.append(block)
    return kept


def article_record(page: Page, blocks: list[Block]) -> dict[str, object]:
    """One poisk .jsonl article: paragraphs one a line, separated by blank lines."""
    return {
        "id": page.name,
        "title": page.title,
        "date": None,
        "url": None,
        "text": "\n\n".join(block.text for block in blocks),
    }


# --- queries ----------------------------------------------------------------------------


def query(text: str, lang: str, kind: str, source: str, relevant: list[str], page: str) -> dict:
    """A labelled query; its split is its page's (page: the id that decides the split)."""
    return {"query": text, "lang": lang, "kind": kind, "source": source,
            "split": split_of(page), "relevant": relevant}  # fmt: skip


def confident_pair(en: str, ru: str) -> bool:
    """Whether an English and a Russian block at the same path look like a translation."""
    if words(en) < MIN_QUERY_WORDS or len(en) > MAX_QUERY_CHARS or en == ru:
        return False
    if not is_english(en) or not is_russian(ru):
        return False
    low, high = LENGTH_RATIO
    return low <= len(ru) / len(en) <= high and numbers(en) == numbers(ru)


def same_structure(en: Page, ru: Page) -> bool:
    """Whether both languages' pages have the same sequence of block paths."""
    return [block.path for block in en.blocks] == [block.path for block in ru.blocks]


def align(en: Page, ru: Page, ru_blocks: list[Block]) -> list[tuple[str, int]]:
    """(English text, Russian paragraph number) for confident same-path pairs.

    ru_blocks are the Russian page's corpus paragraphs (a paragraph's number is its
    index there). Only pages with the same structure in both languages count: the
    DocBook source is shared, so a different one means an out-of-date translation.
    """
    if not same_structure(en, ru):
        return []
    by_path = {block.path: n for n, block in enumerate(ru_blocks)}
    pairs = []
    for block in en.blocks:
        n = by_path.get(block.path)
        if n is not None and confident_pair(block.text, ru_blocks[n].text):
            pairs.append((block.text, n))
    return pairs


def paragraph_queries(
    pairs: Iterable[tuple[str, str, int, str]], corpus: Iterable[str] = ()
) -> list[dict[str, object]]:
    """en-paragraph queries from (page, English, Russian number, Russian) pairs.

    A text found on more than one page ("These options are described in Section 2")
    has no single answer, so pairs whose English text repeats, or whose Russian text
    repeats among the pairs or in the corpus (all Russian paragraphs), are dropped.
    """
    pairs = list(pairs)
    en_count = Counter(en for _, en, _, _ in pairs)
    ru_count = Counter(ru for _, _, _, ru in pairs)
    ru_count.update({ru: count - 1 for ru, count in Counter(corpus).items() if ru in ru_count})
    return [
        query(en, "en", "en-paragraph", "paragraph", [f"{page}:{n}"], page)
        for page, en, n, ru in pairs
        if en_count[en] == 1 and ru_count[ru] == 1
    ]


def page_terms(page: Page) -> list[tuple[str, str]]:
    """(source, text) page-level candidates: the title, then distinct section headings."""
    terms = [("title", page.title)] if page.title else []
    seen = {page.title.casefold()}
    for heading in page.headings:
        if heading.casefold() not in seen:
            seen.add(heading.casefold())
            terms.append(("heading", heading))
    return terms


def page_queries(
    lang: str, terms: Iterable[tuple[str, str, list[str]]], pages: set[str]
) -> list[dict[str, object]]:
    """ru-page / en-page queries from (source, text, [page, ...]) candidates.

    The same text (any case) from several places is one query answered by any of its
    pages. Dropped: texts not in the query's language, without 3 letters, answered by
    more than 3 pages ("Параметры" heads half the filters), or whose pages fall in both
    splits (a page's queries must all sit in its split).
    """
    found: dict[str, tuple[str, str, list[str]]] = {}
    for source, text, targets in terms:
        key = text.casefold()
        source, text, known = found.get(key, (source, text, []))
        known.extend(t for t in targets if t in pages and t not in known)
        found[key] = (source, text, known)
    in_language = is_russian if lang == "ru" else is_english
    queries = []
    for source, text, targets in found.values():
        letters = sum(char.isalpha() for char in text)
        if not targets or len(targets) > 3 or letters < 3 or not in_language(text):
            continue
        if len({split_of(target) for target in targets}) == 1:
            queries.append(query(text, lang, f"{lang}-page", source, targets, targets[0]))
    return queries


def cap(queries: list[dict[str, object]], limit: int) -> list[dict[str, object]]:
    """At most limit queries, a seeded sample in the original order."""
    if len(queries) <= limit:
        return queries
    chosen = set(random.Random(SEED).sample(range(len(queries)), limit))
    return [q for i, q in enumerate(queries) if i in chosen]


# --- packages -----------------------------------------------------------------------------


def fetch(package: str, cache: Path) -> Path:
    """The package's .deb in cache, downloaded with `apt-get download` when missing."""
    cache.mkdir(parents=True, exist_ok=True)
    debs = sorted(cache.glob(f"{package}_*.deb"))
    if not debs:
        subprocess.run(["apt-get", "download", "-o", "APT::Sandbox::User=root", package],
                       cwd=cache, check=True)  # fmt: skip
        debs = sorted(cache.glob(f"{package}_*.deb"))
    if not debs:
        raise FileNotFoundError(f"apt-get download {package} left no .deb in {cache}")
    return debs[-1]


def deb_version(deb: Path) -> str:
    """The Version field of a .deb."""
    result = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"],
                            check=True, capture_output=True, text=True)  # fmt: skip
    return result.stdout.strip()


def unpack(deb: Path, lang: str, cache: Path) -> Path:
    """The manual's HTML folder for lang, unpacked with `dpkg-deb -x` (once per .deb)."""
    dest = cache / deb.stem
    help_dir = dest / HELP_DIR / lang
    if not help_dir.is_dir():
        subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], check=True)
    if not help_dir.is_dir():
        raise FileNotFoundError(f"{deb.name} has no {HELP_DIR / lang}")
    return help_dir


def read_pages(help_dir: Path) -> dict[str, Page]:
    """Every content page of one language's manual, by file name without '.html'."""
    pages = {}
    for path in sorted(help_dir.glob("*.html")):
        if not SKIP_PAGES.match(path.stem):
            pages[path.stem] = parse_page(path.stem, path.read_text(encoding="utf-8"))
    return pages


def read_index(help_dir: Path) -> list[tuple[str, str, list[str]]]:
    """The manual's index as (source, term, [page, ...]) candidates."""
    html = (help_dir / "gimp-help-index.html").read_text(encoding="utf-8")
    return [("index", term, targets) for term, targets in parse_index(html)]


# --- building -----------------------------------------------------------------------------


@dataclass
class Built:
    """The corpus articles, their paragraphs and the labelled queries."""

    articles: list[dict[str, object]]
    paragraphs: dict[str, list[str]]  # article id -> paragraph texts, in order
    queries: list[dict[str, object]]


def build(en_dir: Path, ru_dir: Path) -> Built:
    """Corpus and queries from the two unpacked manuals."""
    en_pages, ru_pages = read_pages(en_dir), read_pages(ru_dir)
    articles, paragraphs, pairs = [], {}, []
    for name, ru in ru_pages.items():
        blocks = corpus_blocks(ru)
        if not blocks:
            continue
        articles.append(article_record(ru, blocks))
        paragraphs[name] = [block.text for block in blocks]
        if name in en_pages:
            for en, n in align(en_pages[name], ru, blocks):
                pairs.append((name, en, n, blocks[n].text))
    corpus = (text for texts in paragraphs.values() for text in texts)
    queries = cap(paragraph_queries(pairs, corpus), CAPS["en-paragraph"])
    for lang, pages, help_dir in (("ru", ru_pages, ru_dir), ("en", en_pages, en_dir)):
        terms = [(s, t, [name]) for name, page in pages.items() for s, t in page_terms(page)]
        found = page_queries(lang, terms + read_index(help_dir), set(paragraphs))
        queries += cap(found, CAPS[f"{lang}-page"])
    return Built(articles, paragraphs, queries)


def check_with_poisk(corpus: Path, paragraphs: dict[str, list[str]]) -> None:
    """Read the written corpus with poisk's own reader and splitter; ids must agree.

    Poisk cleans .jsonl text (page headers, feed markers) and cuts long paragraphs;
    a paragraph number in queries.jsonl is only right if none of that changed a page.
    """
    articles, skipped = read_file(corpus, corpus.parent)
    if skipped:
        raise ValueError(f"poisk skipped lines of {corpus}: {skipped[:3]}")
    got = {article.id: [p.text for p in split_article(article)] for article in articles}
    wrong = [name for name, texts in paragraphs.items() if got.get(name) != texts]
    if wrong or len(got) != len(paragraphs):
        raise ValueError(f"poisk splits {len(wrong)} pages differently, e.g. {wrong[:5]}")


def write_jsonl(path: Path, rows: Iterable[dict[str, object]]) -> None:
    """UTF-8 JSONL, one object a line, written atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)


def counts(built: Built) -> dict[str, object]:
    """Articles, paragraphs, and queries per kind and split."""
    per_kind: dict[str, Counter[str]] = {}
    for q in built.queries:
        per_kind.setdefault(str(q["kind"]), Counter())[str(q["split"])] += 1
    return {
        "articles": len(built.articles),
        "paragraphs": sum(len(texts) for texts in built.paragraphs.values()),
        "queries": {kind: dict(sorted(c.items())) for kind, c in sorted(per_kind.items())},
    }


def iter_relevant_ids(queries: Iterable[dict[str, object]]) -> Iterator[tuple[str, str]]:
    """('paragraph' | 'article', id) for every id-like relevant item."""
    for q in queries:
        for item in q["relevant"]:  # type: ignore[union-attr]
            if isinstance(item, str):
                yield ("paragraph" if ":" in item else "article", item)


def check_index(index_dir: Path, queries_file: Path) -> list[str]:
    """Relevant ids of queries_file that the built index at index_dir does not have."""
    queries = [json.loads(line) for line in queries_file.read_text("utf-8").splitlines()]
    index = load_index(index_dir)
    try:
        found = index.store.paragraphs(range(index.store.count("paragraphs"))).values()
        paragraphs = {p.id for p in found}
        articles = {p.article_id for p in found}
    finally:
        index.close()
    known = {"paragraph": paragraphs, "article": articles}
    return sorted({i for kind, i in iter_relevant_ids(queries) if i not in known[kind]})


# --- README and command line -------------------------------------------------------------

README = """\
# GIMP manual: an external English/Russian evaluation set

Built from Debian's GIMP user manual by `eval/build_gimp.py`; nothing here is edited by
hand. Rebuild (downloads the two packages with `apt-get download` into `--cache`, unpacks
them with `dpkg-deb -x`, installs nothing):

```sh
.venv/bin/python -m eval.build_gimp --out eval/gimp
.venv/bin/python manage.py reindex --source eval/gimp/corpus --index var/gimp-index
.venv/bin/python -m eval.build_gimp --out eval/gimp --check-index var/gimp-index
.venv/bin/python manage.py evaluate --queries eval/gimp/queries.jsonl --index var/gimp-index \\
    --split tune
```

The first line takes about 20 s after the download (2 × 50 MB, kept in the cache); the
reindex encodes every paragraph once (2–3 min on 2 cores). The built files (about 2.2 MB)
are git-ignored: only this README is committed.

Source: {packages}.
The manual is © 2002-2023 The GIMP Documentation Team, under the
GNU Free Documentation License 1.2 or later, with no Invariant Sections (its legal
notice, `index.html`); the built files are derived from it and fall under the same
licence, which is one more reason they are rebuilt rather than committed.

- `corpus/gimp-ru.jsonl`: {articles} Russian help pages, one article each (id = file name
  without `.html`), {paragraphs} paragraphs: Russian `<p>` and list/definition texts of
  at least {min_words} words, once per page; untranslated (English) paragraphs, captions,
  navigation, tables of contents and the index, GFDL, legal and bibliography pages left out.
- `queries.jsonl`: `{{"query", "lang", "kind", "source", "split", "relevant"}}`:
  - `en-paragraph`: an English paragraph (≥ {min_query} words); the answer is the Russian
    paragraph at the same place (same element path, on pages whose structure is the same
    in both languages; same numbers; length ratio {ratio}; repeated texts left out).
  - `ru-page` / `en-page`: a page title, section heading or index term in that language
    (`source`); the answer is the page (any of up to 3 pages for an index term).
  - `split`: `tune` or `test` by a hash of the page, so a page's queries share a split.
    Tune on `tune` only; `test` is held out.

| kind | tune | test |
|---|---|---|
{rows}
"""


def render_readme(built: Built, versions: dict[str, str]) -> str:
    """eval/gimp/README.md: sources, licence, the command, counts."""
    summary = counts(built)
    queries: dict[str, dict[str, int]] = summary["queries"]  # type: ignore[assignment]
    rows = "\n".join(
        f"| {kind} | {c.get('tune', 0)} | {c.get('test', 0)} |" for kind, c in queries.items()
    )
    packages = ", ".join(f"`{PACKAGES[lang]}` {version}" for lang, version in versions.items())
    return README.format(packages=packages, articles=summary["articles"],
                         paragraphs=summary["paragraphs"], min_words=MIN_CORPUS_WORDS,
                         min_query=MIN_QUERY_WORDS, ratio="{}–{}".format(*LENGTH_RATIO),
                         rows=rows)  # fmt: skip


def run(out: Path, cache: Path) -> dict[str, object]:
    """Fetch, unpack, build, check with poisk's splitter, write; returns the counts."""
    debs = {lang: fetch(package, cache) for lang, package in PACKAGES.items()}
    dirs = {lang: unpack(deb, lang, cache) for lang, deb in debs.items()}
    built = build(dirs["en"], dirs["ru"])
    corpus = out / CORPUS_FILE
    write_jsonl(corpus, built.articles)
    check_with_poisk(corpus, built.paragraphs)
    write_jsonl(out / QUERIES_FILE, built.queries)
    versions = {lang: deb_version(deb) for lang, deb in debs.items()}
    (out / "README.md").write_text(render_readme(built, versions), encoding="utf-8")
    return counts(built)


def main(argv: list[str] | None = None) -> int:
    """Command line: build into --out, or with --check-index check ids against an index."""
    parser = argparse.ArgumentParser(
        prog="python -m eval.build_gimp",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=Path("eval/gimp"))
    parser.add_argument("--cache", type=Path, default=Path("var/cache/gimp-help"))
    parser.add_argument("--check-index", type=Path, metavar="INDEX",
                        help="only check that every relevant id is in this index")  # fmt: skip
    args = parser.parse_args(argv)
    if args.check_index:
        missing = check_index(args.check_index, args.out / QUERIES_FILE)
        print(f"{len(missing)} relevant ids missing from {args.check_index}", *missing[:20])
        return 1 if missing else 0
    print(json.dumps(run(args.out, args.cache), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
