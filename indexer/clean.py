"""Cleaning an article's text into a body and the metadata the text itself carries.

Real newsroom exports are messy, so text is cleaned with general rules, never per file:
a leading ``date: YYYY-MM-DD`` field is metadata (so is a Markdown file's front matter and
``# Heading``); a scraped page's header (stray short lines, the headline and its repeat, a
rubric, date and time lines) is lifted into metadata; a site's feed or related-stories
section (from a marker line such as "Последние новости" or "Read more") is cut off.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

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


@dataclass
class Parsed:
    """Text cleaned into a body plus whatever metadata the text itself carried."""

    body: str
    title: str | None = None
    date: str | None = None
    url: str | None = None
    rubric: str | None = None


# --- small text helpers -------------------------------------------------------------


def parse_date(value: object) -> str | None:
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


def _paragraphs(lines: list[str]) -> str:
    """Join lines into a body whose paragraphs are separated by exactly one blank line."""
    blocks = _BLANK_LINE.split("\n".join(line.strip() for line in lines))
    return "\n\n".join(block.strip() for block in blocks if block.strip())


def normalise_newlines(text: str) -> str:
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
        and not (parse_date(text) or _is_time_line(text))
    )


def _strip_header(lines: list[str]) -> tuple[list[str], Parsed]:
    """Lift a scraped page header (headline, rubric, date/time lines) out of the lines.

    The headline is a header line of 2+ words repeated later in the header; the body
    starts after the last header item found, and short lines before it (site debris)
    are dropped. Without any header item the lines are returned unchanged.
    """
    zone = _header_zone(lines)
    text = {i: lines[i].strip() for i in zone}
    meta = [i for i in zone if parse_date(text[i]) or _is_time_line(text[i])]
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
        return lines, Parsed(body="")
    if headline is None:  # an unrepeated headline: the longest leftover line of 3+ words
        rest = [text[i] for i in zone if i <= end and i not in meta and i != rubric_at]
        headline = max((t for t in rest if len(t.split()) >= 3), key=len, default=None)
    date = next((parse_date(text[i]) for i in meta if parse_date(text[i])), None)
    rubric = None if rubric_at is None else text[rubric_at]
    return lines[end + 1 :], Parsed(body="", title=headline, date=date, rubric=rubric)


def parse_text(text: str, markdown: bool = False) -> Parsed:
    """Clean an article's raw text (newlines already normalised) into body and metadata."""
    fields: dict[str, str] = {}
    if markdown:
        text, fields = _front_matter(text)
    date = parse_date(fields.get("date"))
    if leading := _LEADING_DATE.match(text):
        date = date or parse_date(leading.group(1))
        text = text[leading.end() :]
    lines = text.split("\n")
    title = fields.get("title") or None
    if markdown:
        heading, lines = _markdown_heading(lines)
        title = title or heading
    lines, header = _strip_header(_cut_feed(lines))
    return Parsed(
        body=_paragraphs(lines),
        title=title or header.title,
        date=date or header.date,
        url=fields.get("url") or None,
        rubric=fields.get("rubric") or header.rubric,
    )
