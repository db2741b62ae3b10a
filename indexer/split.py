"""Split an article's body into retrievable paragraphs.

A paragraph is a blank-line separated block of the body, with hard-wrapped lines joined.
Paragraphs longer than the embedder's window are cut at sentence boundaries (and, for a
single over-long sentence, at word boundaries) so that no text is silently truncated
by the embedding model. Cutting only ever happens at whitespace, so joining the
paragraphs' texts with spaces gives back the body, whitespace aside.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from core.records import Article, Paragraph
from index.sentences import sentence_spans

_BLANK_LINE = re.compile(r"\n\s*\n")
_WORD_OR_PUNCT = re.compile(r"\w+|[^\w\s]")

# multilingual-e5's SentencePiece vocabulary splits a Russian word into ~1.5-2.5 pieces;
# the upper end keeps the estimate conservative (pieces come out shorter, never longer).
PIECES_PER_WORD = 2.5


def estimate_tokens(text: str) -> int:
    """Conservative subword-token estimate: 2.5 tokens a word, 1 a punctuation mark."""
    units = _WORD_OR_PUNCT.findall(text)
    words = sum(1 for unit in units if unit[0].isalnum() or unit[0] == "_")
    return math.ceil(words * PIECES_PER_WORD) + (len(units) - words)


def split_sentences(text: str) -> list[str]:
    """Split Russian/English text into sentences, whitespace-normalised.

    A boundary is '.', '!', '?' or '…' (plus closing quotes) followed by whitespace and an
    upper-case letter, digit, opening quote or dash; a lone '.' after an abbreviation
    ("г.", "т.е.", "Mr.") or an initial ("А. С.") is not a boundary.
    """
    return [" ".join(text[start:end].split()) for start, end in sentence_spans(text)]


def _pack(units: list[str], count: Callable[[str], int], max_tokens: int) -> list[str]:
    """Greedily join consecutive units with spaces into pieces within max_tokens.

    A unit that alone exceeds the limit becomes a piece of its own.
    """
    pieces: list[str] = []
    current = ""
    for unit in units:
        candidate = f"{current} {unit}" if current else unit
        if current and count(candidate) > max_tokens:
            pieces.append(current)
            current = unit
        else:
            current = candidate
    if current:
        pieces.append(current)
    return pieces


def _fit_paragraph(text: str, count: Callable[[str], int], max_tokens: int) -> list[str]:
    """Cut a whitespace-normalised paragraph into pieces of at most max_tokens tokens.

    Whole sentences are packed first; a sentence over the limit is cut between words.
    A single word over the limit is kept whole (there is no boundary to cut at).
    """
    if count(text) <= max_tokens:
        return [text]
    units: list[str] = []
    for sentence in split_sentences(text):
        if count(sentence) <= max_tokens:
            units.append(sentence)
        else:
            units.extend(_pack(sentence.split(), count, max_tokens))
    return _pack(units, count, max_tokens)


def split_article(
    article: Article,
    count_tokens: Callable[[str], int] | None = None,
    max_tokens: int = 500,
) -> list[Paragraph]:
    """Split an article's body into Paragraphs with stable ids "<article-id>:<n>".

    count_tokens defaults to estimate_tokens. A paragraph repeated in the same article
    (same text, whitespace aside) is kept once, at its first position.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be positive, got {max_tokens}")
    count = count_tokens or estimate_tokens
    seen: set[str] = set()
    paragraphs: list[Paragraph] = []
    for block in _BLANK_LINE.split(article.body):
        text = " ".join(block.split())
        if not text or text in seen:
            continue
        seen.add(text)
        for piece in _fit_paragraph(text, count, max_tokens):
            n = len(paragraphs)
            paragraphs.append(Paragraph(f"{article.id}:{n}", article.id, n, piece))
    return paragraphs
