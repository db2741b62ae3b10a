"""Compare fusion rules on a labelled query set, from one run of each leg per query.

Run: .venv/bin/python -m eval.tune_fusion --queries eval/gimp/queries.jsonl --split tune \
         --index var/gimp-index

Each query's BM25 and semantic legs are fetched once (depth 100, as the Searcher does for
a first page) and every fusion rule is applied to the same legs, so a sweep costs one
query encoding per query. The figures are MRR@10 per query kind and language; the chosen
rule is then confirmed with `manage.py evaluate`, which runs the real Searcher.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from search import fusion
from search.config import Settings
from search.encoder import load_encoder
from search.evaluation import judge, load_queries
from search.index import LoadedIndex
from search.service import MIN_DEPTH, Searcher
from search.store import Store
from search.text import analyze

Legs = tuple[list[tuple[int, float]], list[tuple[int, float]], dict[int, float]]
Rule = Callable[[Legs], list[tuple[int, float]]]


def rules() -> dict[str, Rule]:
    """The fusion rules compared: plain and coverage-weighted RRF, coverage-weighted and
    plain convex over sweeps of the semantic weight."""
    table: dict[str, Rule] = {
        "bm25": lambda legs: legs[0],
        "semantic": lambda legs: legs[1],
        "rrf": lambda legs: fusion.rrf(legs[:2]),
    }
    for p in (2, 3, 4, 6):
        table[f"coverage^{p}"] = lambda legs, p=p: fusion.rrf(
            legs[:2], weights=[{d: c**p for d, c in legs[2].items()}, None]
        )
    for a in (0.5, 0.7, 0.8, 0.9):  # convex, BM25's normalised scores x coverage^4
        table[f"coverage-convex-{a}"] = lambda legs, a=a: fusion.convex(
            legs[0], legs[1], a, {d: c**4 for d, c in legs[2].items()}
        )
    for a in (0.5, 0.7, 0.9):
        table[f"convex-{a}"] = lambda legs, a=a: fusion.convex(legs[0], legs[1], a)
    return table


def legs_of(searcher: Searcher, index: LoadedIndex, text: str) -> Legs:
    """Both legs at the first page's depth, and each BM25 hit's query coverage."""
    terms = analyze(text)
    lexical = index.lexical.search(terms, MIN_DEPTH)
    semantic = index.vectors.search(searcher.encoder.encode_queries([text])[0], MIN_DEPTH)
    docs = [d for d, _ in lexical]
    return lexical, semantic, dict(zip(docs, index.lexical.coverage(terms, docs).tolist()))


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
    searcher = Searcher(
        args.index, load_encoder(settings.model, settings.cache_dir, settings.dtype)
    )
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
