"""Snippets: the paragraph's best window, query words marked, everything HTML-escaped.

Words are matched by stem, through the same analysis as the index, so a query for
"стипендии" marks "стипендий". The output is safe to put into a page as it is: every
piece of text is escaped and the only markup is <mark>.
"""

from __future__ import annotations

import re
from functools import lru_cache
from html import escape

from index.text import analyze

MAX_CHARS = 320  # a snippet longer than this is cut to the window with the most matches
CONTEXT_CHARS = 60  # text kept before the first match of the window
ELLIPSIS = "…"

_WORD = re.compile(r"[^\W_]+")
# Words whose terms are kept: a page's words are mostly words seen on earlier pages, and
# analysing each word of ten paragraphs again was a third of a cached hybrid request.
WORD_CACHE = 65536


@lru_cache(maxsize=WORD_CACHE)
def _word_terms(word: str) -> frozenset[str]:
    """The index terms of one word as written (analyze)."""
    return frozenset(analyze(word))


@lru_cache(maxsize=1024)
def _query_terms(query: str) -> frozenset[str]:
    """The terms of a query, analysed once for the ten snippets of its page."""
    return frozenset(analyze(query))


def _matches(text: str, terms: frozenset[str]) -> list[tuple[int, int]]:
    """(start, end) of the words of `text` whose stem is one of `terms`."""
    if not terms:
        return []
    marked = {w for w in set(_WORD.findall(text)) if not terms.isdisjoint(_word_terms(w))}
    if not marked:  # each distinct word looked up once; spans only where there are marks
        return []
    return [m.span() for m in _WORD.finditer(text) if m.group() in marked]


def _window(text: str, matches: list[tuple[int, int]], max_chars: int) -> tuple[int, int]:
    """The span of at most max_chars, on word boundaries, holding the most matches."""
    if len(text) <= max_chars:
        return 0, len(text)
    best_start, best_count = 0, 0
    for start, _ in matches:
        start = max(0, start - CONTEXT_CHARS)
        count = sum(1 for s, e in matches if s >= start and e <= start + max_chars)
        if count > best_count:
            best_start, best_count = start, count
    return _snap(text, best_start, best_start + max_chars)


def _snap(text: str, start: int, end: int) -> tuple[int, int]:
    """Move a span's ends inward to word boundaries."""
    if start > 0:
        word = _WORD.search(text, start)
        start = word.start() if word else start
    if end < len(text):
        cut = text.rfind(" ", start, end)
        end = cut if cut > start else end
    return start, end


def snippet(text: str, query: str, max_chars: int = MAX_CHARS) -> str:
    """HTML for `text`: query words in <mark>, cut to its best window when long."""
    matches = _matches(text, _query_terms(query))
    start, end = _window(text, matches, max_chars)
    parts = [ELLIPSIS] if start > 0 else []
    position = start
    for s, e in matches:
        if s < start or e > end:
            continue
        parts += [escape(text[position:s]), "<mark>", escape(text[s:e]), "</mark>"]
        position = e
    parts.append(escape(text[position:end]))
    if end < len(text):
        parts.append(ELLIPSIS)
    return "".join(parts)


def sentence_snippet(text: str, span: tuple[int, int], max_chars: int = MAX_CHARS) -> str:
    """HTML for `text` with the sentence at `span` in <mark> (search/sentences.py: a hit in
    another script than its query), cut to a window that starts with it when long."""
    start, end = _window(text, [span], max_chars)
    s, e = max(span[0], start), min(span[1], end)
    parts = [ELLIPSIS] if start > 0 else []
    parts += [escape(text[start:s]), "<mark>", escape(text[s:e]), "</mark>", escape(text[e:end])]
    if end < len(text):
        parts.append(ELLIPSIS)
    return "".join(parts)


def highlight(text: str, query: str) -> str:
    """HTML for the whole of `text` with the query's words in <mark> (the article page)."""
    return snippet(text, query, max_chars=len(text))
