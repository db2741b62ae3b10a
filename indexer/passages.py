"""The text each paragraph is encoded from: the paragraph alone, or with its article's context.

A paragraph is what poisk returns and what BM25 indexes; the dense vector may be computed
from more than the paragraph, so that "it", "the filter" or a bare list of options carry
what they are about. Kinds (recorded in the manifest, `vectors.passage`):

- ``paragraph``: the paragraph's text alone;
- ``title``: the article's title, a blank line, the paragraph;
- ``context``: ``title``, and a paragraph shorter than :data:`SHORT_TOKENS` tokens also
  gets the next paragraph of its article after it (a short paragraph alone says little).

The model truncates a passage at its window, so context never displaces more than the
paragraph's tail beyond it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from core.records import Article, Paragraph
from encoders.base import unit_rows
from index.titles import article_rows

PASSAGE_KINDS = ("paragraph", "title", "context")
DEFAULT_PASSAGE = "paragraph"
TITLE_WEIGHT = 0.2  # chosen on the GIMP tuning split (README, "Beyond the reference engines")
SHORT_TOKENS = 24


def passage_texts(
    articles: Sequence[Article],
    paragraphs: Sequence[Paragraph],
    kind: str,
    count_tokens: Callable[[str], int],
) -> list[str]:
    """The text to encode for each paragraph, in the paragraphs' order."""
    if kind not in PASSAGE_KINDS:
        raise ValueError(f"passage kind must be one of {', '.join(PASSAGE_KINDS)}, not {kind!r}")
    if kind == "paragraph":
        return [p.text for p in paragraphs]
    titles = dict(zip((a.id for a in articles), article_titles(articles), strict=True))
    texts = []
    for i, p in enumerate(paragraphs):
        text = p.text
        following = paragraphs[i + 1] if i + 1 < len(paragraphs) else None
        if (
            kind == "context"
            and following is not None
            and following.article_id == p.article_id
            and count_tokens(text) < SHORT_TOKENS
        ):
            text = f"{text}\n\n{following.text}"
        title = titles.get(p.article_id, "")
        texts.append(f"{title}\n\n{text}" if title and title != p.text.strip() else text)
    return texts


def article_titles(articles: Sequence[Article]) -> list[str]:
    """Each article's title, stripped ("" when it has none)."""
    return [a.title.strip() for a in articles]


def mix_titles(
    vectors: np.ndarray,
    paragraphs: Sequence[Paragraph],
    articles: Sequence[Article],
    title_vectors: np.ndarray,
    weight: float,
    chunk: int = 65_536,
) -> None:
    """Add `weight` x its article's title vector to each paragraph vector and re-normalise,
    in place. A query's score becomes about paragraph similarity + weight x title
    similarity: paragraphs of an article whose title answers the query move up, and
    a paragraph still outranks its neighbours on its own text. Titleless articles'
    title vectors are zero rows. Chunked: a million rows at once would copy 1.5 GB."""
    owners = article_rows(paragraphs, articles)
    for start in range(0, len(paragraphs), chunk):
        block = vectors[start : start + chunk]
        block += weight * title_vectors[owners[start : start + chunk]]
        unit_rows(block)
