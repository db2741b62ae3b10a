"""Sentence boundaries in Russian/English text, as spans of the text as written.

Shared by the indexer, which cuts over-long paragraphs between sentences
(indexer/split.py), and the search, which marks the sentence of a paragraph nearest a
query in another language (search/sentences.py).
"""

from __future__ import annotations

import re

# Lower-cased words that end with a dot without ending a sentence ("в 2019 г. Москва").
ABBREVIATIONS = frozenset(
    {
        *("г", "гг", "т.е", "т.д", "т.п", "т.к", "др", "пр", "им", "ул", "д", "см", "стр"),
        *("рис", "млн", "млрд", "тыс", "руб", "коп", "долл", "проф", "акад", "доц", "ген"),
        *("mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "e.g", "i.e"),
    }
)

# Sentence-final punctuation, optional closing quotes/brackets, then whitespace.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'»”’)\]]*\s+")
_OPENERS = "\"'«„“‘([-–—"


def _is_abbreviation(before: str) -> bool:
    """Whether the word ending right before a single '.' is an abbreviation or initial."""
    word = before.rsplit(maxsplit=1)[-1].lstrip(_OPENERS) if before.strip() else ""
    if len(word) == 1 and word.isupper():  # an initial: "А. С. Пушкин"
        return True
    return word.lower() in ABBREVIATIONS


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`, white space around it left out.

    A boundary is '.', '!', '?' or '…' (plus closing quotes) followed by whitespace and an
    upper-case letter, digit, opening quote or dash; a lone '.' after an abbreviation
    ("г.", "т.е.", "Mr.") or an initial ("А. С.") is not a boundary.
    """
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        nxt = text[match.end() : match.end() + 1]
        if not nxt or not (nxt.isupper() or nxt.isdigit() or nxt in _OPENERS):
            continue
        punct = match.group().rstrip()
        if punct.rstrip("\"'»”’)]") == "." and _is_abbreviation(text[start : match.start()]):
            continue
        spans.append(_trimmed(text, start, match.end()))
        start = match.end()
    if text[start:].strip():
        spans.append(_trimmed(text, start, len(text)))
    return [span for span in spans if span[0] < span[1]]


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    """The span without white space at either end."""
    piece = text[start:end]
    return start + len(piece) - len(piece.lstrip()), end - len(piece) + len(piece.rstrip())
