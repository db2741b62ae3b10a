"""Fusing rankings into one: pure functions over (doc, score) lists.

A ranking is a list of (doc, score) pairs, best first. Every fusion is deterministic
(equal inputs, equal output, whatever order the pairs come in) and, when one leg returns
nothing, leaves the other leg's order as it was.

Score-aware fusions normalise each ranking by its first REF_RANK hits only. A leg fetches
more hits for a deeper page, so a normalisation over all it fetched would change every
score with the page asked for: page 2 would repeat some of page 1 and skip others. Fixed
by the first REF_RANK, a paragraph's fused score is the same at any depth; below that
the order is each paragraph's best rank in any leg, which does not depend on depth either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

Ranking = Sequence[tuple[int, float]]

RRF_K = 60
# Normalisations read each ranking's first 100 hits; every leg fetches at least that many.
REF_RANK = 100

# The fusions the Searcher offers. The first is the default: chosen on the GIMP tuning split,
# checked on its test split (README, "Retrieval quality").
FUSIONS = ("coverage", "coverage-rrf", "rrf", "convex")
DEFAULT_FUSION = FUSIONS[0]
DEFAULT_ALPHAS = {"coverage": 0.7, "convex": 0.5}  # semantic weight; fusions with a weight
DEFAULT_ALPHA = DEFAULT_ALPHAS[DEFAULT_FUSION]
# The coverage fusion's semantic weight when BM25's first hit holds the whole query and at
# most FEW_HOLDERS of its first REF_RANK hits do, the query written in the corpus's script:
# the query names what it wants, and BM25 has found the few places that hold it. Chosen on
# the tuning splits of the GIMP manual and the news set together (docs/quality.md).
TRUSTED_ALPHA = 0.3
FEW_HOLDERS = 5
FULL_COVERAGE = 0.999  # a hit "holds the query": float sums of IDF shares stop short of 1
TITLE_BOOST = 0.3  # weight of the title's standardised similarity in the semantic leg


def _sorted(
    scores: Mapping[int, float], rankings: Sequence[Ranking] = ()
) -> list[tuple[int, float]]:
    """Best score first; equal scores by the best rank any of `rankings` gives the doc,
    then by ascending doc number."""
    best: dict[int, int] = {}
    for ranking in rankings:
        for rank, (doc, _) in enumerate(ranking):
            best[doc] = min(best.get(doc, rank), rank)
    return sorted(scores.items(), key=lambda item: (-item[1], best.get(item[0], 0), item[0]))


def _canonical(ranking: Ranking) -> list[tuple[int, float]]:
    """The ranking best first, ties by doc number (as the legs give it)."""
    return sorted(ranking, key=lambda item: (-item[1], item[0]))


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


def coverage_alpha(lexical: Ranking, coverage: Mapping[int, float], same_script: bool) -> float:
    """The coverage fusion's semantic weight for one query: TRUSTED_ALPHA when BM25's own
    evidence holds (its first hit holds every query word the index knows, at most
    FEW_HOLDERS of its first REF_RANK hits do, and the query is in the corpus's script),
    else the default. `coverage` is each BM25 hit's share of the query's IDF mass."""
    top = _canonical(lexical)[:REF_RANK]
    if not same_script or not top or coverage.get(top[0][0], 0.0) < FULL_COVERAGE:
        return DEFAULT_ALPHAS["coverage"]
    holders = sum(1 for doc, _ in top if coverage.get(doc, 0.0) >= FULL_COVERAGE)
    return TRUSTED_ALPHA if holders <= FEW_HOLDERS else DEFAULT_ALPHAS["coverage"]


def min_max(ranking: Ranking, ref: int = REF_RANK) -> dict[int, float]:
    """The first `ref` hits' scores scaled to 0..1 between the best and the `ref`-th
    (the last, in a shorter list); a list of equal scores maps to 1. Hits past `ref`
    are left out: they count 0, like a miss."""
    top = _canonical(ranking)[:ref]
    if not top:
        return {}
    high, low = top[0][1], top[-1][1]
    if high == low:
        return {doc: 1.0 for doc, _ in top}
    return {doc: (s - low) / (high - low) for doc, s in top}


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
    lexical, semantic = _canonical(lexical), _canonical(semantic)
    lex, sem = min_max(lexical), min_max(semantic)
    if weights is not None:
        lex = {doc: s * weights.get(doc, 0.0) for doc, s in lex.items()}
    docs = {doc for doc, _ in lexical} | {doc for doc, _ in semantic}
    return _sorted(
        {doc: alpha * sem.get(doc, 0.0) + (1 - alpha) * lex.get(doc, 0.0) for doc in docs},
        (lexical, semantic),
    )


@dataclass(frozen=True)
class Standard:
    """A ranking's scores as z-scores against its first REF_RANK hits: how many standard
    deviations above their mean. Two models' cosines live on different scales (e5's
    crowd near 0.85, USE's spread from 0 to 0.8); z-scores put them on one, and a model
    whose best hit does not stand out from the rest has less say than one whose does."""

    mean: float
    std: float
    scores: dict[int, float]  # the first REF_RANK hits
    floor: float  # the REF_RANK-th hit's z-score: what a doc further down or missing counts

    @classmethod
    def of(cls, ranking: Ranking, ref: int = REF_RANK) -> Standard:
        """The standard of `ranking`'s first `ref` hits (an empty one: all zero)."""
        top = _canonical(ranking)[:ref]
        values = np.array([s for _, s in top], dtype=np.float64)
        mean = float(values.mean()) if top else 0.0
        std = float(values.std()) if top else 0.0
        std = std if std > 0 else 1.0
        scores = {doc: (s - mean) / std for doc, s in top}
        return cls(mean, std, scores, (top[-1][1] - mean) / std if top else 0.0)

    def z(self, score: float) -> float:
        """Any score of this model on this ranking's scale."""
        return (score - self.mean) / self.std


@dataclass(frozen=True)
class DenseLeg:
    """One model's ranking, its share of the semantic leg, and the similarity of each
    ranked doc's article title to the query (empty: no title boost)."""

    ranking: Ranking
    share: float
    titles: Mapping[int, float]


def semantic(legs: Sequence[DenseLeg], title_boost: float = TITLE_BOOST) -> list[tuple[int, float]]:
    """The models' rankings as one: sum of share x z-score, plus `title_boost` x the
    title's share-weighted z-score where that is positive.

    The title's similarity is read on the same scale as the paragraphs': a short query
    that names an article's subject matches its title better than any paragraph and lifts
    the article's paragraphs; a long one matches paragraphs better than titles and is left
    as it was. Docs beyond every model's first REF_RANK get no boost (their score is the
    floors' sum), so that the score never depends on how deep the models searched.
    """
    rankings = [_canonical(leg.ranking) for leg in legs]
    standards = [Standard.of(ranking) for ranking in rankings]
    pairs = list(zip(legs, standards, strict=True))
    floors = sum(leg.share * st.floor for leg, st in pairs)
    fused = dict.fromkeys((d for ranking in rankings for d, _ in ranking), floors)
    for doc in {d for st in standards for d in st.scores}:
        title = sum(leg.share * st.z(leg.titles[doc]) for leg, st in pairs if doc in leg.titles)
        fused[doc] = sum(leg.share * st.scores.get(doc, st.floor) for leg, st in pairs) + (
            title_boost * max(title, 0.0)
        )
    return _sorted(fused, rankings)
