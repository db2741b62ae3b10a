"""How much of one file the indexer reads, and what it drops from the text before the models.

A corpus is whatever a user points `reindex` at: a Markdown note with an inline image (one
2 MB "word" of base64), a 50 MB log without spaces, a book. The models' cost grows with their
input (the cross-lingual model's memory with the square of a text's length), so every file is
read up to a cap and every over-long run of non-space characters is dropped before any model
sees it. What was cut is reported in the reindex summary, never done silently.
"""

from __future__ import annotations

import re

# An article is indexed up to this many characters (a long news article has 50,000; a whole
# novel about 3 million). The rest is cut at a line or a space and reported.
MAX_ARTICLE_CHARS = 1_000_000
# Bytes read from a .txt/.md file: enough for MAX_ARTICLE_CHARS characters in any encoding
# (4 bytes a character at most), so a bigger file is never read whole.
MAX_FILE_BYTES = 4 * MAX_ARTICLE_CHARS
# A .jsonl line (one article) longer than this is skipped unread: JSON escapes ("\u0436" is
# 6 bytes for 1 character) make a line longer than its text.
MAX_LINE_BYTES = 8 * MAX_ARTICLE_CHARS
# A run of non-space characters longer than this is no word but data: base64 (a data: URI),
# a hash, a minified script. Long URLs (a few hundred characters) still pass.
MAX_WORD_CHARS = 256

_LONG_RUN = re.compile(rf"(?<!\S)\S{{{MAX_WORD_CHARS + 1},}}")  # from a run's start: linear
# A line of 60+ base64 characters only (a MIME-wrapped attachment): data, not text.
_BASE64_LINE = re.compile(r"^[ \t]*[A-Za-z0-9+/]{60,}={0,2}[ \t]*$", re.MULTILINE)


def drop_data_runs(text: str) -> tuple[str, int]:
    """`text` without over-long runs of non-space characters and base64 lines, and how many
    were dropped. Each dropped run leaves a space, so the words around it stay apart."""
    text, runs = _LONG_RUN.subn(" ", text)
    text, lines = _BASE64_LINE.subn("", text)
    return text, runs + lines


def cut_text(text: str, limit: int = MAX_ARTICLE_CHARS) -> str:
    """The first `limit` characters of `text`, ending at its last line break or space within
    them (not in the middle of a word) when there is one."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    for sep in ("\n", " "):
        end = head.rfind(sep)
        if end > limit // 2:
            return head[:end]
    return head


def size_words(n: int) -> str:
    """A byte count for a message: "812 bytes", "2.0 MB"."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"
