"""Compare fusion rules on labelled query sets of several domains, from one run of each leg.

Run: .venv/bin/python -m eval.tune_fusion --split tune \
         --set gimp=eval/gimp/queries.jsonl:var/gimp-index \
         --set news=eval/news/queries.jsonl:var/news-index

Each query's BM25 leg and both dense rankings (the model's and the cross-lingual model's)
are fetched once (depth 100, as the Searcher does for a first page) and kept in a JSON file
under bench/out/legs/, so a sweep costs one encoding per query and model, once. Every rule
is applied to the same rankings. The figures are MRR@10 per domain, query kind and
language; `--choose` picks, within each family of rules, the member with the best mean over
the domains' kinds (every kind of every domain weighing the same), and reports
leave-one-domain-out: chosen on one domain, measured on the other. The chosen rule is then
confirmed with `manage.py evaluate`, which runs the real Searcher.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.config import Settings
from eval.harness import Query, load_queries
from index.format import LoadedIndex, load_build
from index.text import analyze
from search import fusion
from search.service import MIN_DEPTH, Searcher

Ranking = list[tuple[int, float]]
LEGS_DIR = Path("bench/out/legs")


@dataclass(frozen=True)
class Legs:
    """One query's legs as the Searcher makes them: the BM25 ranking, each BM25 hit's query
    coverage, the two models' legs (rankings, title similarities), whether the query is in
    the corpus's main script; and the ids of every doc they name, for judging."""

    lexical: Ranking
    coverage: dict[int, float]
    models: list[fusion.DenseLeg]
    same_script: bool
    ids: dict[int, tuple[str, str]]  # doc -> (paragraph id, article id)

    def dense(self, boost: float = fusion.TITLE_BOOST) -> Ranking:
        """The semantic leg, as the Searcher fuses it."""
        return fusion.semantic(self.models, boost)

    def weights(self, power: int = 4) -> dict[int, float]:
        """BM25 hit weights: coverage ** power."""
        return {d: c**power for d, c in self.coverage.items()}


def lexical_legs(index: LoadedIndex, text: str) -> tuple[Ranking, dict[int, float]]:
    """The BM25 ranking at the first page's depth and each hit's query coverage."""
    terms = analyze(text)
    lexical = index.lexical.search(terms, MIN_DEPTH)
    docs = [d for d, _ in lexical]
    return lexical, dict(zip(docs, index.lexical.coverage(terms, docs).tolist()))


def dense_legs(index_dir: Path, texts: list[str]) -> list[dict[str, Any]]:
    """Each query's two model legs and script, as JSON (the models are loaded: seconds)."""
    from encoders.crosslingual import load_cross_encoder
    from encoders.encoder import load_encoder

    settings = Settings.from_env()
    encoder = load_encoder(settings.model, settings.cache_dir, settings.dtype)
    searcher = Searcher(index_dir, encoder, load_cross_encoder(settings.cross_model))
    index = searcher.current()
    if index.cross is None or searcher.cross is None:
        raise SystemExit("the index has no cross-lingual vectors: reindex with the default")
    rows = []
    for text in texts:
        models = searcher.dense_legs(index, text, MIN_DEPTH)
        rows.append(
            {
                "models": [
                    {"ranking": m.ranking, "share": m.share, "titles": list(m.titles.items())}
                    for m in models
                ],
                "same_script": index.in_main_script(text),
            }
        )
    return rows


def cached_legs(name: str, queries: list[Query], index_dir: Path, split: str | None) -> list[Legs]:
    """Each query's legs. The dense legs are kept in bench/out/legs/<name>-<split>.json for as
    long as the corpus and the models are the same (they cost an encoding per query); the BM25
    leg is computed afresh, so a change of text analysis needs no re-encoding."""
    index = load_build(index_dir.resolve())
    m = index.manifest
    key = [m.source.fingerprint, m.model.fingerprint, m.cross_model and m.cross_model.fingerprint]
    texts = [q.text for q in queries]
    path = LEGS_DIR / f"{name}-{split or 'all'}.json"
    saved = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    if saved.get("key") != key or saved.get("queries") != texts:
        saved = {"key": key, "queries": texts, "dense": dense_legs(index_dir, texts)}
        LEGS_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(saved), encoding="utf-8")
    legs = []
    for text, row in zip(texts, saved["dense"], strict=True):
        lexical, coverage = lexical_legs(index, text)
        models = [
            fusion.DenseLeg(_pairs(m["ranking"]), m["share"], dict(_pairs(m["titles"])))
            for m in row["models"]
        ]
        named = sorted({d for d, _ in lexical} | {d for m in models for d, _ in m.ranking})
        paragraphs = index.store.paragraphs(named)
        ids = {d: (paragraphs[d].id, paragraphs[d].article_id) for d in named}
        legs.append(Legs(lexical, coverage, models, row["same_script"], ids))
    index.close()
    return legs


def _pairs(rows: list[list[Any]]) -> Ranking:
    return [(int(d), float(s)) for d, s in rows]


Rule = Callable[[Legs], Ranking]


def rules() -> dict[str, Rule]:
    """The rules compared, named `family:member`: each leg alone; today's default (convex,
    BM25 x coverage^4); plain and weighted RRF; convex whose semantic weight follows the
    query's script; and convex that trusts BM25 more when its first hit holds the query."""
    table: dict[str, Rule] = {
        "leg:bm25": lambda legs: legs.lexical,
        "leg:semantic": lambda legs: legs.dense(),
        "rrf:plain": lambda legs: fusion.rrf([legs.lexical, legs.dense()]),
        "rrf:coverage4": lambda legs: fusion.rrf(
            [legs.lexical, legs.dense()], weights=[legs.weights(), None]
        ),
    }
    for a in (0.5, 0.6, 0.7, 0.8, 0.9):
        table[f"convex:{a}"] = lambda legs, a=a: fusion.convex(
            legs.lexical, legs.dense(), a, legs.weights()
        )
    for same in (0.3, 0.4, 0.5, 0.6, 0.7):
        table[f"script:{same}"] = lambda legs, s=same: fusion.convex(
            legs.lexical, legs.dense(), s if legs.same_script else 0.8, legs.weights()
        )
    for trusted in (0.2, 0.3, 0.4, 0.5):
        table[f"evidence:{trusted}"] = lambda legs, t=trusted: fusion.convex(
            legs.lexical, legs.dense(), t if _holds_query(legs) else 0.8, legs.weights()
        )
    for base in (0.6, 0.7, 0.8):
        for trusted in (0.2, 0.3, 0.4):
            table[f"unique:{base}/{trusted}"] = lambda legs, b=base, t=trusted: fusion.convex(
                legs.lexical, legs.dense(), t if _holds_alone(legs) else b, legs.weights()
            )
    for base in (0.6, 0.7):
        for most in (2, 3, 5, 10):
            table[f"few:{base}/{most}"] = lambda legs, b=base, n=most: fusion.convex(
                legs.lexical, legs.dense(), 0.3 if _held_by_few(legs, n) else b, legs.weights()
            )
    for base in (0.6, 0.7, 0.8):
        for z in (3.0, 5.0, 8.0):
            table[f"margin:{base}/{z}"] = lambda legs, b=base, z=z: fusion.convex(
                legs.lexical, legs.dense(), 0.3 if _stands_out(legs, z) else b, legs.weights()
            )
    return table


def _holds_alone(legs: Legs) -> bool:
    """Only BM25's first hit holds the whole query, written in the corpus's script."""
    if not _holds_query(legs):
        return False
    return sum(1 for d, _ in legs.lexical if legs.coverage[d] >= 0.999) == 1


def _held_by_few(legs: Legs, most: int) -> bool:
    """BM25's first hit holds the whole query, and at most `most` of its hits do."""
    if not _holds_query(legs):
        return False
    return sum(1 for d, _ in legs.lexical if legs.coverage[d] >= 0.999) <= most


def _stands_out(legs: Legs, z: float) -> bool:
    """BM25's first hit holds the whole query and scores `z` standard deviations above the
    mean of BM25's first hits."""
    if not _holds_query(legs) or len(legs.lexical) < 2:
        return False
    return fusion.Standard.of(legs.lexical).scores[legs.lexical[0][0]] >= z


def _holds_query(legs: Legs) -> bool:
    """BM25's first hit holds every query word the index knows, and the query is written in
    the corpus's script: the query's own evidence that its words are what it asks for."""
    if not legs.lexical or not legs.same_script:
        return False
    return legs.coverage[legs.lexical[0][0]] >= 0.999


def mrr(legs: Legs, ranking: Ranking, relevant: tuple[Any, ...]) -> float:
    """Reciprocal rank of the first relevant hit in the top 10 (0 beyond)."""
    for rank, (doc, _) in enumerate(ranking[:10], start=1):
        pid, aid = legs.ids[doc]
        if pid in relevant or aid in relevant:
            return 1 / rank
    return 0.0


Table = dict[tuple[str, str, str], dict[str, float]]  # (domain, kind, lang) -> rule -> MRR


def measure(sets: dict[str, tuple[list[Query], list[Legs]]], table: dict[str, Rule]) -> Table:
    """Mean MRR@10 of every rule per (domain, kind, language)."""
    sums: Table = defaultdict(lambda: defaultdict(float))
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    for domain, (queries, legs) in sets.items():
        for q, leg in zip(queries, legs, strict=True):
            group = (domain, q.kind or "all", q.lang)
            counts[group] += 1
            for name, rule in table.items():
                sums[group][name] += mrr(leg, rule(leg), q.relevant)
    return {g: {n: sums[g][n] / counts[g] for n in table} for g in sorted(counts)}


def choose(scores: Table, domains: set[str], family: str) -> str:
    """The member of `family` with the best mean over the groups of `domains`."""
    groups = [g for g in scores if g[0] in domains]
    members = [n for n in next(iter(scores.values())) if n.startswith(family + ":")]
    return max(members, key=lambda n: sum(scores[g][n] for g in groups) / len(groups))


def report(scores: Table, names: list[str]) -> str:
    """A Markdown table: a row per (domain, kind, language), a column per rule."""
    lines = ["| domain | kind | lang | " + " | ".join(names) + " |"]
    lines.append("|---|---|---|" + "---|" * len(names))
    for (domain, kind, lang), row in scores.items():
        lines.append(
            f"| {domain} | {kind} | {lang} | " + " | ".join(f"{row[n]:.3f}" for n in names) + " |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", required=True, help="NAME=QUERIES:INDEX")
    parser.add_argument("--split")
    parser.add_argument("--choose", action="store_true", help="pick per family; LODO")
    args = parser.parse_args()
    sets = {}
    for spec in args.set:
        name, _, paths = spec.partition("=")
        queries_path, _, index = paths.partition(":")
        queries = load_queries(Path(queries_path), args.split)
        sets[name] = (queries, cached_legs(name, queries, Path(index), args.split))
    table = rules()
    scores = measure(sets, table)
    print(report(scores, list(table)))
    if args.choose:
        domains = set(sets)
        families = sorted({n.split(":")[0] for n in table} - {"leg"})
        print(
            "\n| family | chosen on all | "
            + " | ".join(f"chosen on {d}" for d in sorted(domains))
            + " |"
        )
        print("|---|---|" + "---|" * len(domains))
        for family in families:
            cells = [choose(scores, {d}, family) for d in sorted(domains)]
            print(f"| {family} | {choose(scores, domains, family)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
