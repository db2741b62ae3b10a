"""The sentence a cross-lingual hit matched on: why an English query found a Russian paragraph.

Word highlights mark nothing when the query and the paragraph are written in different
scripts, so for such a hit the sentence of the paragraph nearest the query in meaning is
marked instead. The sentences (index/sentences.py) of the page's cross-script hits are
encoded at query time, all in one batch, by the cross-lingual model when the index has one
(USE: made for meaning across languages), else by the primary model; the nearest by cosine
is marked. A paragraph of one sentence is not marked: marking all of it says nothing.

A sentence's vector does not depend on the query, and the pages of head queries (and of
queries about the same story) show the same paragraphs again, so sentence vectors are kept
in an LRU per model and process (SentenceVectors): a page seen before costs one query
vector and a dot product. Cost: docs/news-search.md, "Why a paragraph in another language
matched".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from core.config import Settings
from core.lru import CacheStats
from encoders.query_cache import VectorCache
from index.sentences import sentence_spans
from index.text import script

if TYPE_CHECKING:
    from encoders.base import Encoder

Span = tuple[int, int]
# Sentences whose vectors a process keeps per model (POISK_SENTENCE_CACHE): 16,384 by
# default, 2 KB a USE vector, so 32 MB at most.
DEFAULT_SENTENCES = Settings.sentence_cache


class SentenceVectors:
    """Sentence vectors by one encoder, through an LRU of sentence -> vector.

    Misses are encoded together in one passage batch, each distinct sentence once. A vector
    from the cache equals the one the encoder gave when it was stored.
    """

    def __init__(self, encoder: Encoder, capacity: int = DEFAULT_SENTENCES) -> None:
        self.encoder = encoder
        self.cache = VectorCache(capacity)

    def encode(self, sentences: Sequence[str]) -> np.ndarray:
        """(n, dimension) unit vectors of `sentences`, cached or encoded in one batch."""
        found = {text: self.cache.get(text) for text in dict.fromkeys(sentences)}
        missing = [text for text, vector in found.items() if vector is None]
        if missing:
            fresh = self.encoder.encode_passages(missing)
            for text, vector in zip(missing, fresh, strict=True):
                found[text] = self.cache.put(text, vector)
        return np.array([found[text] for text in sentences], dtype=np.float32)

    def stats(self) -> CacheStats:
        """Lookups answered from the cache, lookups that encoded, entries held, room."""
        return self.cache.stats()


def across_scripts(query: str, text: str) -> bool:
    """Whether `query` and `text` are written in different scripts (both having letters)."""
    written, asked = script(text), script(query)
    return written is not None and asked is not None and written != asked


def nearest_sentences(
    vectors: SentenceVectors, query: str, texts: Sequence[str]
) -> list[Span | None]:
    """For each of `texts`, the span of its sentence nearest `query` in meaning by the
    encoder of `vectors`, or None for a text of fewer than two sentences. One query vector,
    and one passage batch for the sentences not cached."""
    spans = [sentence_spans(text) for text in texts]
    spans = [found if len(found) > 1 else [] for found in spans]
    sentences = [text[s:e] for text, found in zip(texts, spans, strict=True) for s, e in found]
    if not sentences:
        return [None] * len(texts)
    asked = vectors.encoder.encode_queries([query])[0]
    similarity = vectors.encode(sentences) @ asked
    nearest: list[Span | None] = []
    start = 0
    for found in spans:
        scores = similarity[start : start + len(found)]
        nearest.append(found[int(np.argmax(scores))] if found else None)
        start += len(found)
    return nearest
