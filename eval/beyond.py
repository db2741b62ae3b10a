"""Ideas beyond the reference engines, measured on a labelled set: what each paragraph is
encoded from, its article title's vector mixed in (indexer/passages.py), and one result
per article.

Run: .venv/bin/python -m eval.beyond --source eval/gimp/corpus \
         --queries eval/gimp/queries.jsonl [--kinds paragraph,title,context]

For each passage kind and title weight (`--title-weights 0,0.2,...`) the corpus is
indexed (under var/beyond/, vectors from the embedding cache where the text was encoded
before) and every query of both splits runs through the
Searcher: the semantic leg and the default hybrid, each with and without collapsing the
ranking to the best paragraph of each article. Prints MRR@10 per split and query kind
(the kind is the query's "kind" field, else its language) and writes the rows as JSON.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from core.config import Settings
from encoders.encoder import load_encoder
from eval import harness as ev
from indexer.build import reindex
from indexer.passages import PASSAGE_KINDS
from search.service import Searcher

CONFIGS = (
    ev.Config("semantic", "semantic"),
    ev.Config("hybrid", "hybrid"),
    ev.Config("semantic collapsed", "semantic", group="article"),
    ev.Config("hybrid collapsed", "hybrid", group="article"),
)


def kind_of(query: ev.Query) -> str:
    """The query's kind label, else its language."""
    return query.kind or query.lang


def measure(searcher: Searcher, queries: Sequence[ev.Query]) -> dict[str, dict[str, float]]:
    """MRR@10 per configuration and query kind ("all" included)."""
    kinds = sorted({kind_of(q) for q in queries})
    table: dict[str, dict[str, float]] = {c.name: {} for c in CONFIGS}
    for kind in ("all", *kinds):
        subset = [q for q in queries if kind in ("all", kind_of(q))]
        report = ev.evaluate(searcher, subset, CONFIGS)
        for config in CONFIGS:
            table[config.name][kind] = round(report.scores[config.name]["all"]["mrr@10"], 3)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--kinds", default=",".join(PASSAGE_KINDS))
    parser.add_argument("--title-weights", default="0", help="comma-separated weights")
    parser.add_argument("--work", type=Path, default=Path("var/beyond"))
    parser.add_argument("--out", type=Path, default=Path("bench/out/beyond.json"))
    args = parser.parse_args()
    settings = Settings.from_env()
    encoder = load_encoder(settings.model, settings.cache_dir, settings.dtype)
    splits = sorted({q.split for q in ev.load_queries(args.queries)})
    rows = []
    print("| passage | title weight | split | config | " + "MRR@10 by query kind |")
    variants = [(k, float(w)) for k in args.kinds.split(",") for w in args.title_weights.split(",")]
    for kind, weight in variants:
        index = args.work / f"{args.source.name}-{kind}-{weight}" / "index"
        reindex(args.source, index, encoder, settings.cache_dir, passage=kind, title_weight=weight)
        searcher = Searcher(index, ev.CachedQueryEncoder(encoder))
        for split in splits:
            table = measure(searcher, ev.load_queries(args.queries, split or None))
            for config, by_kind in table.items():
                rows.append({"passage": kind, "title_weight": weight, "split": split,
                             "config": config, **by_kind})  # fmt: skip
                cells = ", ".join(f"{k} {v:.3f}" for k, v in by_kind.items())
                print(f"| {kind} | {weight} | {split or '-'} | {config} | {cells} |", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
