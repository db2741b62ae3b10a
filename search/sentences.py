"""The sentence a cross-lingual hit matched on: why an English query found a Russian paragraph.

Word highlights mark nothing when the query and the paragraph are written in different
scripts, so for such a hit the sentence of the paragraph nearest the query in meaning is
marked instead. The sentences (index/sentences.py) of the page's cross-script hits are
encoded at query time, all in one batch, by the cross-lingual model when the index has one
(USE: made for meaning across languages), else by the primary model; the nearest by cosine
is marked. A paragraph of one sentence is not marked: marking all of it says nothing.
Cost: docs/news-search.md, "Why a paragraph in another language matched".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from index.sentences import sentence_spans
from index.text import script

if TYPE_CHECKING:
    from encoders.base import Encoder

Span = tuple[int, int]


def across_scripts(query: str, text: str) -> bool:
    """Whether `query` and `text` are written in different scripts (both having letters)."""
    written, asked = script(text), script(query)
    return written is not None and asked is not None and written != asked


def nearest_sentences(encoder: Encoder, query: str, texts: Sequence[str]) -> list[Span | None]:
    """For each of `texts`, the span of its sentence nearest `query` in meaning by `encoder`,
    or None for a text of fewer than two sentences. One query and one passage batch."""
    spans = [sentence_spans(text) for text in texts]
    spans = [found if len(found) > 1 else [] for found in spans]
    sentences = [text[s:e] for text, found in zip(texts, spans, strict=True) for s, e in found]
    if not sentences:
        return [None] * len(texts)
    asked = encoder.encode_queries([query])[0]
    similarity = encoder.encode_passages(sentences) @ asked
    nearest: list[Span | None] = []
    start = 0
    for found in spans:
        scores = similarity[start : start + len(found)]
        nearest.append(found[int(np.argmax(scores))] if found else None)
        start += len(found)
    return nearest
