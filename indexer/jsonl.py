"""Reading a ``.jsonl`` file: one article a line, read as a stream.

Each line is a JSON object with keys ``id``, ``title``, ``date``, ``url``, ``text``, and
optionally ``rubric`` and ``source`` (the outlet that published it). A bad line is reported
as ``Skipped`` and the other lines are still read. JSON Lines are UTF-8 (a UTF-8 byte order
mark is tolerated).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

from core.records import Article
from indexer.article import (
    MAX_URL_CHARS,
    Entries,
    Skipped,
    make_article,
    nothing_to_index,
    safe_id,
    sanitise,
)
from indexer.clean import normalise_newlines, parse_date, parse_text
from indexer.decode import strip_controls, wide_bom
from indexer.files import display_name, open_regular
from indexer.limits import MAX_ARTICLE_CHARS, MAX_LINE_BYTES, size_words

BOM = b"\xef\xbb\xbf"
_SURROGATE = re.compile("[\ud800-\udfff]")  # only a JSON \u escape can produce one


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
    text, notes = sanitise(text, source, line, 0)
    if not text:
        return None, notes
    parsed = parse_text(normalise_newlines(text))
    if reason := nothing_to_index(parsed):
        return None, [Skipped(source, line, reason)]
    raw_id = obj.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)) or not str(raw_id).strip():
        raw_id = fallback_id
    parsed.title = _string_field(obj, "title", MAX_ARTICLE_CHARS) or parsed.title
    parsed.url = _string_field(obj, "url") or parsed.url
    parsed.rubric = _string_field(obj, "rubric") or parsed.rubric
    parsed.date = parse_date(obj.get("date")) or parsed.date
    article = make_article(parsed, safe_id(str(raw_id)), source)
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


def read_jsonl(path: Path, rel: Path) -> tuple[Entries, list[Skipped]]:
    """One article a line, read as a stream; a bad line is reported and the others are
    still read. JSON Lines are UTF-8 (a UTF-8 byte order mark is tolerated)."""
    source, stem = display_name(rel)[0], display_name(rel.with_suffix(""))[0]
    entries: Entries = []
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
