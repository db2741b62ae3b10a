"""One Article from a cleaned text, and the reports of what was not read or not as it was.

The text of an article file or of a .jsonl line is freed of control characters and runs of
data and cut to MAX_ARTICLE_CHARS (`sanitise`); its id, title, url and rubric are cut to
sizes any page and model can take (`make_article`). `Skipped` says why a file or a line gave
no article; `Note` says what was changed in one that did.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from core.records import Article
from indexer.clean import Parsed
from indexer.decode import control_problem, strip_controls
from indexer.limits import (
    MAX_ARTICLE_CHARS,
    MAX_FILE_BYTES,
    MAX_WORD_CHARS,
    cut_text,
    drop_data_runs,
    size_words,
)
from indexer.split import split_sentences

MAX_TITLE_CHARS = 200
MAX_ID_CHARS = 200  # a longer id keeps its start and gets a hash of the whole
MAX_URL_CHARS = 2048
MAX_RUBRIC_CHARS = 100
_WORD_CHAR = re.compile(r"[^\W_]")  # a letter or a digit: what BM25 can index

Entries = list[tuple[Article, int | None]]  # articles with their .jsonl line (None: text file)


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


def safe_id(raw: str) -> str:
    """Paragraph ids are "<article-id>:<n>", so ':' (and whitespace) become '_'; control
    characters go, and an id over MAX_ID_CHARS keeps its start and a hash of the whole."""
    safe = re.sub(r"[:\s]", "_", strip_controls(raw)[0].strip())
    if len(safe) <= MAX_ID_CHARS:
        return safe
    digest = hashlib.sha256(safe.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{safe[: MAX_ID_CHARS - 17]}-{digest}"


def _first_sentence(body: str) -> str:
    """Fallback title: the body's first sentence, cut to MAX_TITLE_CHARS at a word."""
    return _short_title(split_sentences(body.split("\n\n", 1)[0])[0])


def _short_title(title: str) -> str:
    """A title cut to MAX_TITLE_CHARS at a word (a title is encoded by every model)."""
    if len(title) <= MAX_TITLE_CHARS:
        return title
    cut = title[:MAX_TITLE_CHARS].rsplit(" ", 1)[0] or title[:MAX_TITLE_CHARS]
    return cut.rstrip(" ,;:-–—") + "…"


def make_article(parsed: Parsed, article_id: str, source: str) -> Article:
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


def nothing_to_index(parsed: Parsed) -> str | None:
    """Why a parsed text gives no article, or None when it does."""
    if not parsed.body:
        return "no article text left after removing metadata"
    if not _WORD_CHAR.search(parsed.body):
        return "no words: only punctuation, symbols or spaces"
    return None


def sanitise(text: str, source: str, line: int | None, size: int) -> tuple[str, list[Skipped]]:
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
