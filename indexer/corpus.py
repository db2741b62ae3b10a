"""Read a folder of news articles into Article records.

Supported files (found recursively, read in sorted order):

* ``.txt`` / ``.md`` -- one article each; the id is the relative path without suffix.
* ``.jsonl`` -- one article a line with keys ``id``, ``title``, ``date``, ``url``, ``text``,
  and optionally ``rubric`` and ``source`` (the outlet that published it).

Real newsroom exports are messy, so text is cleaned with general rules, never per file:
a leading ``date: YYYY-MM-DD`` field is metadata; a scraped page's header (stray short
lines, the headline and its repeat, a rubric, date and time lines) is lifted into
metadata; a site's feed or related-stories section (from a marker line such as
"Последние новости" or "Read more") is cut off. A file or line that cannot be read is
reported as ``Skipped`` and the rest of the corpus is still read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

from core.records import Article
from indexer.decode import NotText, control_problem, decode, strip_controls, wide_bom
from indexer.files import NotRegular, Scan, display_name, open_regular, read_head, scan
from indexer.limits import (
    MAX_ARTICLE_CHARS,
    MAX_FILE_BYTES,
    MAX_LINE_BYTES,
    MAX_WORD_CHARS,
    cut_text,
    drop_data_runs,
    size_words,
)
from indexer.split import split_sentences

TEXT_SUFFIXES = frozenset({".txt", ".md"})
JSONL_SUFFIX = ".jsonl"
BOM = b"\xef\xbb\xbf"
MAX_TITLE_CHARS = 200
MAX_ID_CHARS = 200  # a longer id keeps its start and gets a hash of the whole
MAX_URL_CHARS = 2048
MAX_RUBRIC_CHARS = 100
HEADER_ZONE_LINES = 8  # a scraped header is at most this many leading short lines

# A line that is only one of these (any case, optional ':') starts a site's feed or
# related-stories section: everything from it on is not the article.
FEED_MARKERS = frozenset(
    {
        *("последние новости", "лента новостей", "читайте также", "другие новости"),
        *("новости по теме", "смотрите также", "еще новости", "ещё новости"),
        *("latest news", "related news", "related articles", "read more", "more news"),
        "see also",
    }
)

_NOMINATIVE = ("январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август",
               "сентябрь", "октябрь", "ноябрь", "декабрь")  # fmt: skip
_GENITIVE = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
             "сентября", "октября", "ноября", "декабря")  # fmt: skip
MONTHS = {name: n for names in (_NOMINATIVE, _GENITIVE) for n, name in enumerate(names, 1)}

_DATE = (
    r"(?:(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"
    r"|(?P<d2>\d{1,2})\.(?P<m2>\d{1,2})\.(?P<y2>\d{4})"
    r"|(?P<d3>\d{1,2})\s+(?P<mon>[а-яё]+),?\s+(?P<y3>\d{4})(?:\s*г\.|\s+года)?)"
)
_TIME = r"\d{1,2}:\d{2}(?::\d{2})?"
_BULLET = r"(?:[•·*\-–—]\s*)?"
_DATE_LINE = re.compile(rf"{_BULLET}{_DATE}(?:[,\s]+(?:в\s+)?{_TIME})?", re.IGNORECASE)
_TIME_LINE = re.compile(rf"{_BULLET}{_TIME}")
_ISO_DATETIME = re.compile(r"(\d{4}-\d{2}-\d{2})[T ]\S*")
_LEADING_DATE = re.compile(
    r"\A[ \t]*date(?:[ \t]*:[ \t]*|[ \t]+)(\d{4}-\d{2}-\d{2})(?:[T ]\d{2}:\d{2}\S*)?[ \t]*",
    re.IGNORECASE,
)
_SENTENCE_PUNCT = re.compile(r"[.!?…,:;\"«»“”]")
_BLANK_LINE = re.compile(r"\n\s*\n")
_SURROGATE = re.compile("[\ud800-\udfff]")  # only a JSON \u escape can produce one
_WORD_CHAR = re.compile(r"[^\W_]")  # a letter or a digit: what BM25 can index

_Entries = list[tuple[Article, int | None]]  # articles with their .jsonl line (None: text file)


@dataclass(frozen=True)
class Skipped:
    """A file or a line that could not be read, and why."""

    source: str  # path relative to the corpus root
    line: int | None  # 1-based line for .jsonl problems, else None
    reason: str


class Note(Skipped):
    """A file or a line that was read, but not as it was: cut at the size limit, read in a
    detected encoding, stripped of data runs or control characters, renamed. `reason` says
    what was done."""


@dataclass
class CorpusReport:
    """Everything read from a corpus folder, everything that was not, and what was changed."""

    articles: list[Article] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)


@dataclass
class _Parsed:
    """Text cleaned into a body plus whatever metadata the text itself carried."""

    body: str
    title: str | None = None
    date: str | None = None
    url: str | None = None
    rubric: str | None = None


# --- small text helpers -------------------------------------------------------------


def _parse_date(value: object) -> str | None:
    """Normalise an ISO, dotted or Russian date ("4 сентября 2025") to YYYY-MM-DD."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if iso := _ISO_DATETIME.fullmatch(text):
        text = iso.group(1)
    match = _DATE_LINE.fullmatch(text)
    if not match:
        return None
    g = match.groupdict()
    year, day = g["y"] or g["y2"] or g["y3"], g["d"] or g["d2"] or g["d3"]
    month = MONTHS.get(g["mon"].lower()) if g["mon"] else int(g["m"] or g["m2"])
    try:
        return dt.date(int(year), month or 0, int(day)).isoformat()
    except ValueError:
        return None


def _is_time_line(line: str) -> bool:
    return _TIME_LINE.fullmatch(line.strip()) is not None


def _is_feed_marker(line: str) -> bool:
    return " ".join(line.strip().rstrip(":").split()).casefold() in FEED_MARKERS


def _safe_id(raw: str) -> str:
    """Paragraph ids are "<article-id>:<n>", so ':' (and whitespace) become '_'; control
    characters go, and an id over MAX_ID_CHARS keeps its start and a hash of the whole."""
    safe = re.sub(r"[:\s]", "_", strip_controls(raw)[0].strip())
    if len(safe) <= MAX_ID_CHARS:
        return safe
    digest = hashlib.sha256(safe.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{safe[: MAX_ID_CHARS - 17]}-{digest}"


def _paragraphs(lines: list[str]) -> str:
    """Join lines into a body whose paragraphs are separated by exactly one blank line."""
    blocks = _BLANK_LINE.split("\n".join(line.strip() for line in lines))
    return "\n\n".join(block.strip() for block in blocks if block.strip())


def _first_sentence(body: str) -> str:
    """Fallback title: the body's first sentence, cut to MAX_TITLE_CHARS at a word."""
    return _short_title(split_sentences(body.split("\n\n", 1)[0])[0])


def _short_title(title: str) -> str:
    """A title cut to MAX_TITLE_CHARS at a word (a title is encoded by every model)."""
    if len(title) <= MAX_TITLE_CHARS:
        return title
    cut = title[:MAX_TITLE_CHARS].rsplit(" ", 1)[0] or title[:MAX_TITLE_CHARS]
    return cut.rstrip(" ,;:-–—") + "…"


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


# --- cleaning a text into body + metadata ---------------------------------------------


def _front_matter(text: str) -> tuple[str, dict[str, str]]:
    """Split off a leading '---' block of 'key: value' lines (simple YAML front matter)."""
    lines = text.split("\n")
    if lines[0].strip() != "---":
        return text, {}
    end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), 0)
    inner = [line for line in lines[1:end] if line.strip()]
    if not end or not all(re.match(r"\s*[\w-]+\s*:", line) for line in inner):
        return text, {}  # a horizontal rule or a real YAML structure: leave the text alone
    meta = {}
    for line in inner:
        key, _, value = line.partition(":")
        meta[key.strip().lower()] = value.strip().strip("\"'")
    return "\n".join(lines[end + 1 :]), meta


def _markdown_heading(lines: list[str]) -> tuple[str | None, list[str]]:
    """Take a leading '# Heading' line as the title and remove it from the lines."""
    for i, line in enumerate(lines):
        if line.strip():
            if line.startswith("# ") and line[2:].strip():
                return line[2:].strip(), lines[:i] + lines[i + 1 :]
            break
    return None, lines


def _cut_feed(lines: list[str]) -> list[str]:
    """Drop everything from the first feed/related-section marker line on."""
    for i, line in enumerate(lines):
        if _is_feed_marker(line):
            return lines[:i]
    return lines


def _looks_like_prose(text: str) -> bool:
    """A body sentence rather than a header item: long, or several words ending in '.'."""
    ends_sentence = text.rstrip("\"'»”’)").endswith((".", "!", "?", "…"))
    return len(text) > 300 or (ends_sentence and len(text.split()) >= 8)


def _header_zone(lines: list[str]) -> list[int]:
    """Indices of the leading non-blank, non-prose lines that may form a page header."""
    zone: list[int] = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        if len(zone) == HEADER_ZONE_LINES or _looks_like_prose(line.strip()):
            break
        zone.append(i)
    return zone


def _is_rubric(text: str, headline: str | None) -> bool:
    """A label of at most 3 words without sentence punctuation, e.g. "Внешняя политика"."""
    return (
        bool(text)
        and text != headline
        and len(text) <= 30
        and len(text.split()) <= 3
        and not _SENTENCE_PUNCT.search(text)
        and not (_parse_date(text) or _is_time_line(text))
    )


def _strip_header(lines: list[str]) -> tuple[list[str], _Parsed]:
    """Lift a scraped page header (headline, rubric, date/time lines) out of the lines.

    The headline is a header line of 2+ words repeated later in the header; the body
    starts after the last header item found, and short lines before it (site debris)
    are dropped. Without any header item the lines are returned unchanged.
    """
    zone = _header_zone(lines)
    text = {i: lines[i].strip() for i in zone}
    meta = [i for i in zone if _parse_date(text[i]) or _is_time_line(text[i])]
    headline, last_repeat = None, -1
    for i in zone:
        repeats = [j for j in zone if j > i and text[j] == text[i]]
        if repeats and i not in meta and len(text[i].split()) >= 2:  # not "---" or "Меню"
            headline, last_repeat = text[i], repeats[-1]
            break
    rubric_at = None
    if meta:  # a rubric sits directly above the first or below the last date/time line
        near = [i for i in (meta[0] - 1, meta[-1] + 1) if i in text]
        rubric_at = next((i for i in near if _is_rubric(text[i], headline)), None)
    end = max([last_repeat, *meta, -1 if rubric_at is None else rubric_at])
    if end < 0:
        return lines, _Parsed(body="")
    if headline is None:  # an unrepeated headline: the longest leftover line of 3+ words
        rest = [text[i] for i in zone if i <= end and i not in meta and i != rubric_at]
        headline = max((t for t in rest if len(t.split()) >= 3), key=len, default=None)
    date = next((_parse_date(text[i]) for i in meta if _parse_date(text[i])), None)
    rubric = None if rubric_at is None else text[rubric_at]
    return lines[end + 1 :], _Parsed(body="", title=headline, date=date, rubric=rubric)


def _parse_text(text: str, markdown: bool = False) -> _Parsed:
    """Clean an article's raw text (newlines already normalised) into body and metadata."""
    fields: dict[str, str] = {}
    if markdown:
        text, fields = _front_matter(text)
    date = _parse_date(fields.get("date"))
    if leading := _LEADING_DATE.match(text):
        date = date or _parse_date(leading.group(1))
        text = text[leading.end() :]
    lines = text.split("\n")
    title = fields.get("title") or None
    if markdown:
        heading, lines = _markdown_heading(lines)
        title = title or heading
    lines, header = _strip_header(_cut_feed(lines))
    return _Parsed(
        body=_paragraphs(lines),
        title=title or header.title,
        date=date or header.date,
        url=fields.get("url") or None,
        rubric=fields.get("rubric") or header.rubric,
    )


# --- reading files ----------------------------------------------------------------------


def _make_article(parsed: _Parsed, article_id: str, source: str) -> Article:
    """An Article from a parsed text; metadata is cut to sizes any page and model can take."""
    url = parsed.url if parsed.url and len(parsed.url) <= MAX_URL_CHARS else None
    return Article(
        id=article_id,
        title=_short_title(parsed.title) if parsed.title else _first_sentence(parsed.body),
        body=parsed.body,
        date=parsed.date,
        url=url,
        rubric=parsed.rubric[:MAX_RUBRIC_CHARS] if parsed.rubric else None,
        source=source,
    )


def _dropped_words(n: int) -> str:
    """How a summary names `n` dropped runs of data."""
    return f"{n} run(s) of over {MAX_WORD_CHARS} characters without a space (base64 or other data)"


def _nothing_to_index(parsed: _Parsed) -> str | None:
    """Why a parsed text gives no article, or None when it does."""
    if not parsed.body:
        return "no article text left after removing metadata"
    if not _WORD_CHAR.search(parsed.body):
        return "no words: only punctuation, symbols or spaces"
    return None


def _cleaned(text: str, source: str, line: int | None, size: int) -> tuple[str, list[Skipped]]:
    """`text` without control characters and runs of data, cut to MAX_ARTICLE_CHARS, with a
    Note for each change; or "" and the Skipped saying why nothing is left. `size` is the
    file's size in bytes when only its head was read (0: `text` is all of it)."""
    text, controls = strip_controls(text)
    if problem := control_problem(text, controls):
        return "", [Skipped(source, line, problem)]
    text, dropped = drop_data_runs(text)  # before the cut: an image must not push text out
    if dropped and not text.strip():
        head = f" (only the first {size_words(MAX_FILE_BYTES)} of {size_words(size)} read)"
        why = f"no article text left after dropping {_dropped_words(dropped)}"
        return "", [Skipped(source, line, why + (head if size else ""))]
    notes: list[Skipped] = []
    if controls:
        notes.append(Note(source, line, f"{controls:,} control character(s) removed"))
    if dropped:
        notes.append(Note(source, line, f"dropped {_dropped_words(dropped)}"))
    if size or len(text) > MAX_ARTICLE_CHARS:
        whole = size_words(size) if size else f"{len(text):,} characters"
        text = cut_text(text, min(len(text), MAX_ARTICLE_CHARS))
        cut = f"only the first {len(text):,} characters of {whole} indexed"
        notes.append(Note(source, line, f"{cut} (the limit is {MAX_ARTICLE_CHARS:,})"))
    return text, notes


def _read_text_file(path: Path, rel: Path) -> tuple[_Entries, list[Skipped]]:
    """One article from a .txt/.md file, of which at most MAX_FILE_BYTES are read."""
    source, escaped = display_name(rel)
    data, size = read_head(path, MAX_FILE_BYTES)
    complete = size <= len(data)
    try:
        decoded = decode(data, complete)
    except NotText as error:
        return [], [Skipped(source, None, str(error))]
    del data  # the text is all that is needed from here on
    text, notes = _cleaned(decoded.text, source, None, 0 if complete else size)
    if not text.strip():
        problems = [n for n in notes if not isinstance(n, Note)]
        return [], problems or [Skipped(source, None, "empty file")]
    parsed = _parse_text(_normalise_newlines(text), markdown=rel.suffix.lower() == ".md")
    if reason := _nothing_to_index(parsed):
        return [], [Skipped(source, None, reason)]
    article_id = _safe_id(display_name(rel.with_suffix(""))[0])
    if decoded.detected:
        notes.append(Note(source, None, f"not UTF-8: read as {decoded.encoding} (detected)"))
    if escaped:
        notes.append(Note(source, None, f"file name is not UTF-8: indexed as {article_id!r}"))
    return [(_make_article(parsed, article_id, source), None)], notes


def _string_field(obj: dict, key: str, limit: int = MAX_URL_CHARS) -> str | None:
    """A non-blank string field, whitespace-collapsed and without control characters, or
    None (also for one longer than `limit`)."""
    value = obj.get(key)
    if not isinstance(value, str) or len(value) > limit:
        return None
    return " ".join(strip_controls(value)[0].split()) or None


def _article_from_json(
    obj: dict, fallback_id: str, source: str, line: int
) -> tuple[Article | None, list[Skipped]]:
    """An Article from one decoded .jsonl object and the notes on it, or None and why not."""
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        return None, [Skipped(source, line, "missing or empty 'text'")]
    text, notes = _cleaned(text, source, line, 0)
    if not text:
        return None, notes
    parsed = _parse_text(_normalise_newlines(text))
    if reason := _nothing_to_index(parsed):
        return None, [Skipped(source, line, reason)]
    raw_id = obj.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)) or not str(raw_id).strip():
        raw_id = fallback_id
    parsed.title = _string_field(obj, "title", MAX_ARTICLE_CHARS) or parsed.title
    parsed.url = _string_field(obj, "url") or parsed.url
    parsed.rubric = _string_field(obj, "rubric") or parsed.rubric
    parsed.date = _parse_date(obj.get("date")) or parsed.date
    article = _make_article(parsed, _safe_id(str(raw_id)), source)
    return replace(article, outlet=_string_field(obj, "source")), notes  # the outlet, not the file


def _json_object(raw: bytes, start: int, source: str, line: int) -> dict | Skipped | None:
    """One .jsonl line (without its newline) as a JSON object, a Skipped saying why it is
    none, or None for a blank line. `start` is the line's byte offset in the file."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return Skipped(source, line, f"not valid UTF-8 at byte {start + error.start}")
    if not text.strip():
        return None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as error:
        return Skipped(source, line, f"invalid JSON: {error.msg} (column {error.colno})")
    except RecursionError:
        return Skipped(source, line, "invalid JSON: nested too deeply")
    if not isinstance(obj, dict):
        return Skipped(source, line, "not a JSON object")
    if any(isinstance(v, str) and _SURROGATE.search(v) for v in obj.values()):
        # "\ud800" is valid JSON but no character: it cannot be hashed, stored or encoded.
        return Skipped(source, line, "a \\u escape that is not a character")
    return obj


def _lines(file: BinaryIO) -> Iterator[tuple[int, int, bytes | None]]:
    """(number, byte offset, line without its newline) for each line of a file read as a
    stream; the line is None when it is longer than MAX_LINE_BYTES (it is skipped unread)."""
    offset = 0
    for number in itertools.count(1):
        raw = file.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        start, offset = offset, offset + len(raw)
        if len(raw) <= MAX_LINE_BYTES:
            yield number, start, raw.removesuffix(b"\n")
            continue
        while raw and not raw.endswith(b"\n"):
            raw = file.readline(1 << 20)
            offset += len(raw)
        yield number, start, None


def _read_jsonl(path: Path, rel: Path) -> tuple[_Entries, list[Skipped]]:
    """One article a line, read as a stream; a bad line is reported and the others are
    still read. JSON Lines are UTF-8 (a UTF-8 byte order mark is tolerated)."""
    source, stem = display_name(rel)[0], display_name(rel.with_suffix(""))[0]
    entries: _Entries = []
    skipped: list[Skipped] = []
    with open_regular(path) as file:
        if name := wide_bom(file.peek(4)[:4]):
            reason = f"starts with a {name} byte order mark, but JSON Lines must be UTF-8"
            return [], [Skipped(source, None, reason)]
        for number, start, raw in _lines(file):
            if raw is None:
                reason = f"line longer than {size_words(MAX_LINE_BYTES)}: not read"
                skipped.append(Skipped(source, number, reason))
                continue
            bom = len(BOM) if start == 0 and raw.startswith(BOM) else 0
            obj = _json_object(raw[bom:], start + bom, source, number)
            if isinstance(obj, dict):
                article, notes = _article_from_json(obj, f"{stem}-{number}", source, number)
                skipped.extend(notes)
                if article is not None:
                    entries.append((article, number))
            elif obj is not None:
                skipped.append(obj)
    if not entries and not skipped:
        skipped.append(Skipped(source, None, "empty file"))
    return entries, skipped


def _read_entries(path: Path, root: Path) -> tuple[_Entries, list[Skipped]]:
    """Articles from one file, and what was skipped or changed (Note) in it."""
    rel = path.relative_to(root)
    try:
        if rel.suffix.lower() == JSONL_SUFFIX:
            return _read_jsonl(path, rel)
        return _read_text_file(path, rel)
    except NotRegular as error:
        return [], [Skipped(display_name(rel)[0], None, str(error))]
    except OSError as error:
        reason = f"cannot read: {error.strerror or error}"
        return [], [Skipped(display_name(rel)[0], None, reason)]


# --- public API ---------------------------------------------------------------------------


def scan_corpus(root: Path, follow_symlinks: bool = False) -> Scan:
    """The article files under root (see list_files), and those found but refused (broken
    links, FIFOs, links out of the folder) with their reason."""
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"corpus folder does not exist: {root}")
    if not root.is_dir():
        raise NotADirectoryError(f"corpus path is not a folder: {root}")
    return scan(root, follow_symlinks)


def list_files(root: Path, follow_symlinks: bool = False) -> list[Path]:
    """Article files under root (recursively), sorted by relative POSIX path.

    Only .txt, .md and .jsonl files count; hidden files and folders (".git",
    editor backups) are ignored; so are links leading out of root (indexer.files).
    """
    return scan_corpus(root, follow_symlinks).files


def read_file(path: Path, root: Path) -> tuple[list[Article], list[Skipped]]:
    """Read one corpus file (path under root) into articles and skip reports.

    Duplicate ids are not checked here; read_corpus does that across files.
    """
    entries, skipped = _read_entries(Path(path), Path(root))
    return [article for article, _ in entries], [s for s in skipped if not isinstance(s, Note)]


def read_corpus(
    root: Path, on_file: Callable[[Path], None] | None = None, follow_symlinks: bool = False
) -> CorpusReport:
    """Read every article file under root; on_file(path) is called after each file.

    Of articles sharing an id the first (in file order) is kept; each later one is
    reported as Skipped, naming where the first came from. Files found but not readable
    as files (broken links, FIFOs, links out of root) are reported as Skipped first.
    """
    root = Path(root)
    report = CorpusReport()
    found = scan_corpus(root, follow_symlinks)
    for path, reason in found.refused:
        report.skipped.append(Skipped(display_name(path.relative_to(root))[0], None, reason))
    first: dict[str, str] = {}
    for path in found.files:
        entries, skipped = _read_entries(path, root)
        report.notes.extend(s for s in skipped if isinstance(s, Note))
        report.skipped.extend(s for s in skipped if not isinstance(s, Note))
        for article, line in entries:
            where = article.source if line is None else f"{article.source} line {line}"
            if article.id in first:
                reason = f"duplicate article id {article.id!r}, first read from {first[article.id]}"
                report.skipped.append(Skipped(article.source, line, reason))
            else:
                first[article.id] = where
                report.articles.append(article)
        if on_file is not None:
            on_file(path)
    return report
