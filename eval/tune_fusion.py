"""Compare fusion rules on a labelled query set, from one run of each leg per query.

Run: .venv/bin/python -m eval.tune_fusion --queries eval/gimp/queries.jsonl --split tune \
         --index var/gimp-index

Each query's BM25 leg and both dense rankings (the model's and the cross-lingual model's)
are fetched once (depth 100, as the Searcher does for a first page) and every rule is
applied to the same rankings, so a sweep costs one encoding per query and model. Three
sweeps: the cross-lingual model's share of the semantic leg (`dense-S-O`: S for a query in
the corpus's script, O for one in another), the title boost (`title-B`), and the fusion of
BM25 with that semantic leg. The
figures are MRR@10 per query kind and language; the chosen rule is then confirmed with
`manage.py evaluate`, which runs the real Searcher.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from core.config import Settings
from encoders.crosslingual import load_cross_encoder
from encoders.encoder import load_encoder
from eval.harness import judge, load_queries
from index.format import LoadedIndex
from index.store import Store
from index.text import analyze
from search import fusion
from search.service import CROSS_WEIGHTS, MIN_DEPTH, Searcher

Ranking = list[tuple[int, float]]


class Legs(NamedTuple):
    """One query's BM25 ranking, each BM25 hit's query coverage, and the two models' legs
    as the Searcher makes them (rankings, title similarities); whether the query is in the
    corpus's main script."""

    lexical: Ranking
    coverage: dict[int, float]
    models: list[fusion.DenseLeg]
    same_script: bool

    def dense(
        self,
        same: float = CROSS_WEIGHTS["same"],
        other: float = CROSS_WEIGHTS["other"],
        boost: float = fusion.TITLE_BOOST,
    ) -> Ranking:
        """The semantic leg with the cross model's share by the query's script."""
        share = same if self.same_script else other
        primary, cross = self.models
        legs = [replace(primary, share=1 - share), replace(cross, share=share)]
        return fusion.semantic(legs, boost)

    def min_max_pair(self) -> Ranking:
        """The two models min-max normalised and mixed by the same shares, without the
        title boost (the semantic leg before z-scores)."""
        share = CROSS_WEIGHTS["same" if self.same_script else "other"]
        return fusion.convex(self.models[0].ranking, self.models[1].ranking, share)

    def weights(self, power: int = 4) -> dict[int, float]:
        """BM25 hit weights: coverage ** power."""
        return {d: c**power for d, c in self.coverage.items()}


Rule = Callable[[Legs], Ranking]


def rules() -> dict[str, Rule]:
    """The rules compared: each ranking alone; the cross model's share of the semantic leg;
    the title boost; z-scores against min-max; plain and coverage-weighted RRF,
    coverage-weighted and plain convex over sweeps of the semantic weight."""
    table: dict[str, Rule] = {
        "bm25": lambda legs: legs.lexical,
        "primary": lambda legs: legs.models[0].ranking,
        "cross": lambda legs: legs.models[1].ranking,
        "semantic": lambda legs: legs.dense(),
    }
    for same, other in ((0.5, 0.5), (0.3, 0.5), (0.3, 0.6), (0.3, 0.7), (0.2, 0.6), (0.4, 0.6)):
        table[f"dense-{same}-{other}"] = lambda legs, s=same, o=other: fusion.convex(
            legs.lexical, legs.dense(s, o), 0.8, legs.weights()
        )
    table["min-max-pair"] = lambda legs: fusion.convex(  # the pair min-max'd, no titles
        legs.lexical, legs.min_max_pair(), 0.8, legs.weights()
    )
    for boost in (0.0, 0.1, 0.2, 0.3, 0.5):
        table[f"title-{boost}"] = lambda legs, b=boost: fusion.convex(
            legs.lexical, legs.dense(boost=b), 0.8, legs.weights()
        )
    table["rrf"] = lambda legs: fusion.rrf([legs.lexical, legs.dense()])
    for p in (2, 4):
        table[f"coverage^{p}"] = lambda legs, p=p: fusion.rrf(
            [legs.lexical, legs.dense()], weights=[legs.weights(p), None]
        )
    for a in (0.5, 0.7, 0.8, 0.9):  # convex, BM25's normalised scores x coverage^4
        table[f"coverage-convex-{a}"] = lambda legs, a=a: fusion.convex(
            legs.lexical, legs.dense(), a, legs.weights()
        )
    for a in (0.5, 0.7, 0.9):
        table[f"convex-{a}"] = lambda legs, a=a: fusion.convex(legs.lexical, legs.dense(), a)
    return table


def legs_of(searcher: Searcher, index: LoadedIndex, text: str) -> Legs:
    """Every ranking at the first page's depth, and each BM25 hit's query coverage."""
    if index.cross is None or searcher.cross is None:
        raise SystemExit("the index has no cross-lingual vectors: reindex with the default")
    terms = analyze(text)
    lexical = index.lexical.search(terms, MIN_DEPTH)
    docs = [d for d, _ in lexical]
    coverage = dict(zip(docs, index.lexical.coverage(terms, docs).tolist()))
    models = searcher.dense_legs(index, text, MIN_DEPTH)
    return Legs(lexical, coverage, models, index.in_main_script(text))


def hits_for(store: Store, ranking: list[tuple[int, float]]) -> list:
    """Minimal hits (id, article id, text) for judging the top 10."""
    rows = [d for d, _ in ranking[:10]]
    paragraphs = store.paragraphs(rows)
    return [_Hit(paragraphs[r].id, paragraphs[r].article_id, paragraphs[r].text) for r in rows]


class _Hit:
    def __init__(self, pid: str, article_id: str, text: str) -> None:
        self.id, self.article_id, self.text = pid, article_id, text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--split")
    parser.add_argument("--index", type=Path, required=True)
    args = parser.parse_args()
    settings = Settings.from_env()
    encoder = load_encoder(settings.model, settings.cache_dir, settings.dtype)
    searcher = Searcher(args.index, encoder, load_cross_encoder(settings.cross_model))
    index = searcher.current()
    table = rules()
    sums: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for q in load_queries(args.queries, args.split):
        legs = legs_of(searcher, index, q.text)
        for group in ((q.kind, q.lang), ("all", q.lang)):
            counts[group] += 1
            for name, rule in table.items():
                ranks = judge(hits_for(index.store, rule(legs)), q.relevant)
                sums[group][name] += 1 / ranks[0] if ranks else 0.0
    names = list(table)
    print("| kind | lang | n | " + " | ".join(names) + " |")
    print("|---|---|---|" + "---|" * len(names))
    for group in sorted(counts):
        cells = " | ".join(f"{sums[group][n] / counts[group]:.3f}" for n in names)
        print(f"| {group[0]} | {group[1]} | {counts[group]} | {cells} |")


if __name__ == "__main__":
    main()
