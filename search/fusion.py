"""Fusing the two legs' rankings into one: pure functions over (doc, score) lists.

A ranking is a list of (doc, score) pairs, best first. Both fusions break ties by doc
number, so the same inputs always give the same order, whatever order the legs come in.
When one leg returns nothing, both leave the other leg's order as it was.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

Ranking = Sequence[tuple[int, float]]

RRF_K = 60

# The fusions the Searcher offers. The first is the default: chosen on the GIMP tuning split,
# checked on its test split (README, "Retrieval quality").
FUSIONS = ("coverage", "coverage-rrf", "rrf", "convex")
DEFAULT_FUSION = FUSIONS[0]
DEFAULT_ALPHAS = {"coverage": 0.8, "convex": 0.5}  # semantic weight; fusions with a weight
DEFAULT_ALPHA = DEFAULT_ALPHAS[DEFAULT_FUSION]


def _sorted(scores: Mapping[int, float]) -> list[tuple[int, float]]:
    """Best score first; equal scores by ascending doc number."""
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def rrf(
    rankings: Sequence[Ranking],
    k: int = RRF_K,
    weights: Sequence[Mapping[int, float] | None] | None = None,
) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: a doc scores the sum of w / (k + rank), ranks from 1.

    `weights` gives, per ranking, a weight for each of its docs (None: all 1); a doc
    missing from its ranking's mapping weighs 0 there.
    """
    fused: dict[int, float] = {}
    for i, ranking in enumerate(rankings):
        weight = weights[i] if weights is not None else None
        for rank, (doc, _) in enumerate(ranking, start=1):
            w = 1.0 if weight is None else weight.get(doc, 0.0)
            fused[doc] = fused.get(doc, 0.0) + w / (k + rank)
    return _sorted(fused)


def min_max(ranking: Ranking) -> dict[int, float]:
    """Scores scaled to 0..1 within the list; a list of equal scores maps to 1."""
    if not ranking:
        return {}
    scores = [s for _, s in ranking]
    low, high = min(scores), max(scores)
    if high == low:
        return {doc: 1.0 for doc, _ in ranking}
    return {doc: (s - low) / (high - low) for doc, s in ranking}


def convex(
    lexical: Ranking,
    semantic: Ranking,
    alpha: float,
    weights: Mapping[int, float] | None = None,
) -> list[tuple[int, float]]:
    """alpha * semantic + (1 - alpha) * lexical, each min-max normalised; a miss counts 0.

    `weights` multiplies each lexical doc's normalised score (None: all 1; a doc missing
    from the mapping weighs 0).
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be within 0..1, not {alpha}")
    lex, sem = min_max(lexical), min_max(semantic)
    if weights is not None:
        lex = {doc: s * weights.get(doc, 0.0) for doc, s in lex.items()}
    return _sorted(
        {doc: alpha * sem.get(doc, 0.0) + (1 - alpha) * lex.get(doc, 0.0) for doc in lex | sem}
    )
