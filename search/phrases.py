"""What a parsed query requires of a paragraph: its phrases (and their OR alternatives), and
none of its excluded words (search/syntax.py says what each means).

The index keeps no word positions, so a phrase is checked the way its words were indexed:
the paragraphs holding all of its terms (the BM25 postings) are the candidates, and the
analysed text of each (index.text.analyze, from the store) must hold the terms side by side.
Candidates past PHRASE_POOL are cut to those BM25 scores best for the phrase's words, so a
phrase of common words costs a bounded number of re-analysed paragraphs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import reduce

import numpy as np

from index.format import LoadedIndex
from index.rows import common, distinct, members
from index.text import analyze
from search.syntax import ParsedQuery, Part, adjacent

# Paragraphs re-analysed a phrase at most: ~0.1-0.2 ms each (docs/news-search.md, "Query syntax").
PHRASE_POOL = 1000

Ranking = list[tuple[int, float]]


def required_rows(
    index: LoadedIndex, parsed: ParsedQuery, allowed: np.ndarray | None
) -> np.ndarray | None:
    """The rows of `allowed` (None: every row) that satisfy each required group of `parsed`,
    for the legs to search among before their cut; `allowed` itself when nothing is required."""
    rows = allowed
    for group in parsed.required:
        found = [_matching(index, part, rows) for part in group]
        rows = distinct(found)
    return rows


def without_excluded(index: LoadedIndex, parsed: ParsedQuery, ranking: Ranking) -> Ranking:
    """`ranking` without the paragraphs that hold an excluded term. After the legs rather than
    before them: an exclusion drops few of the many rows, which the legs' depth (10x the page)
    covers, and FAISS would otherwise be handed nearly every row to allow."""
    if not parsed.excluded or not ranking:
        return ranking
    dropped = _any_of(index, parsed.excluded)
    keep = ~members(np.fromiter((doc for doc, _ in ranking), np.int64), dropped)
    return [item for item, kept in zip(ranking, keep.tolist(), strict=True) if kept]


def _matching(index: LoadedIndex, part: Part, rows: np.ndarray | None) -> np.ndarray:
    """The rows (among `rows`) holding a word's terms, or a phrase's side by side."""
    found = _all_of(index, part.terms)
    if rows is not None:
        found = common(found, rows)
    if not part.phrase or len(part.terms) < 2 or found.size == 0:
        return found
    if found.size > PHRASE_POOL:
        scores = index.lexical.scores_of(part.terms, found)
        found = np.sort(found[np.argsort(-scores, kind="stable")[:PHRASE_POOL]])
    texts = index.store.paragraphs(found.tolist())
    kept = [row for row in found.tolist() if adjacent(analyze(texts[row].text), part.terms)]
    return np.asarray(kept, dtype=np.int64)


def _all_of(index: LoadedIndex, terms: Sequence[str]) -> np.ndarray:
    """The rows holding every one of `terms` (none for no terms)."""
    postings = [index.lexical.holding(term) for term in dict.fromkeys(terms)]
    if not postings:
        return np.zeros(0, dtype=np.int64)
    return reduce(common, postings)


def _any_of(index: LoadedIndex, terms: Iterable[str]) -> np.ndarray:
    """The rows holding any of `terms`."""
    return distinct([index.lexical.holding(term) for term in terms])
