"""Retrieval evaluation: labelled queries against the Searcher, per configuration and language
(or per query kind).

A query file is JSONL, one `{"query": str, "relevant": [...]}` a line (optional: "lang",
"kind", "split"). A relevant item is a paragraph id ("<article>:<n>"), an article id, or
`{"contains": "substring"}` (case-insensitive, within the paragraph). Each relevant item
counts once: the first hit that satisfies it.

Metrics per query, averaged: hit@1, hit@10, MRR@10 (1 / rank of the first relevant hit in
the top 10), nDCG@10 (binary gains, ideal = the relevant items at the top) and recall@100.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from search.contract import Hit, SearchRequest
from search.service import Searcher

METRICS = ("hit@1", "hit@10", "mrr@10", "ndcg@10", "recall@100")
GROUPS = ("lang", "kind")  # the Query fields a report can be broken down by
DEPTH = 100
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")


@dataclass(frozen=True)
class Query:
    """One labelled query."""

    text: str
    relevant: tuple[Any, ...]
    lang: str
    kind: str = ""
    split: str = ""


@dataclass(frozen=True)
class Config:
    """One way of searching: a mode and, for hybrid, a fusion and its weight."""

    name: str
    mode: str
    fusion: str = "coverage"
    alpha: float | None = None
    group: str = "none"  # "article": one paragraph per article
    dense: str = "both"  # the semantic leg's models (Searcher's `dense`)


@dataclass
class Report:
    """Mean metrics per configuration and query group ("all" and each language, or each
    kind: `by`), and the per-query ranks."""

    by: str = "lang"
    scores: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    first_relevant: dict[str, list[int | None]] = field(default_factory=dict)
    top_hit: dict[str, list[str]] = field(default_factory=dict)  # what ranked first, per query


def query_language(text: str) -> str:
    """'ru' when the query has Cyrillic letters, else 'en'."""
    return "ru" if _CYRILLIC.search(text) else "en"


def load_queries(path: Path, split: str | None = None) -> list[Query]:
    """Queries from a JSONL file (only `split` when given); bad lines raise ValueError."""
    queries = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            query = Query(row["query"], tuple(row["relevant"]),
                          row.get("lang") or query_language(row["query"]),
                          row.get("kind", ""), row.get("split", ""))  # fmt: skip
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{n}: not a labelled query ({exc})") from exc
        if not query.relevant:
            raise ValueError(f"{path}:{n}: no relevant items")
        if split is None or query.split == split:
            queries.append(query)
    return queries


def default_configs(alphas: Sequence[float] = (0.3, 0.5, 0.7), cross: bool = False) -> list[Config]:
    """bm25, semantic (and, with a `cross`-lingual model, each dense model alone), hybrid
    with the default coverage-weighted convex fusion, coverage-weighted RRF, plain RRF, and
    plain convex over a sweep of alpha."""
    single = [Config("semantic-primary", "semantic", dense="primary"),
              Config("semantic-cross", "semantic", dense="cross")] if cross else []  # fmt: skip
    return [
        Config("bm25", "bm25"),
        *single,
        Config("semantic", "semantic"),
        Config("hybrid-coverage", "hybrid", "coverage"),
        Config("hybrid-coverage-rrf", "hybrid", "coverage-rrf"),
        Config("hybrid-rrf", "hybrid", "rrf"),
        *(Config(f"hybrid-convex-{a:.1f}", "hybrid", "convex", a) for a in alphas),
    ]


def _satisfies(hit: Hit, item: Any) -> bool:
    """Whether a hit meets one relevance judgement."""
    if isinstance(item, dict):
        return str(item.get("contains", "")).casefold() in hit.text.casefold()
    return hit.id == item or hit.article_id == item


def judge(hits: Sequence[Hit], relevant: Sequence[Any]) -> list[int]:
    """1-based ranks at which a not-yet-satisfied relevant item is first met."""
    open_items, ranks = list(relevant), []
    for rank, hit in enumerate(hits, start=1):
        met = [item for item in open_items if _satisfies(hit, item)]
        if met:
            ranks.append(rank)
            open_items = [item for item in open_items if item not in met]
    return ranks


def metrics(ranks: Sequence[int], n_relevant: int) -> dict[str, float]:
    """The metrics of one query from the ranks of its relevant hits."""
    top10 = [r for r in ranks if r <= 10]
    dcg = sum(1 / math.log2(r + 1) for r in top10)
    ideal = sum(1 / math.log2(r + 1) for r in range(1, min(n_relevant, 10) + 1))
    return {
        "hit@1": float(bool(ranks) and ranks[0] == 1),
        "hit@10": float(bool(top10)),
        "mrr@10": 1 / top10[0] if top10 else 0.0,
        "ndcg@10": dcg / ideal if ideal else 0.0,
        "recall@100": len([r for r in ranks if r <= 100]) / n_relevant,
    }


def evaluate(
    searcher: Searcher,
    queries: Sequence[Query],
    configs: Iterable[Config],
    progress: Callable[[int], None] = lambda n: None,
    by: str = "lang",
) -> Report:
    """Run every query under every configuration and average the metrics per group of
    `by` (a Query field of GROUPS: "lang" or "kind")."""
    if by not in GROUPS:
        raise ValueError(f"by must be one of {', '.join(GROUPS)}, not {by!r}")
    report = Report(by)
    for group in _groups(queries, by):
        report.counts[group] = sum(1 for q in queries if group in ("all", _group(q, by)))
    for config in configs:
        per_query, firsts, tops = [], [], []
        measured = _with_dense(searcher, config.dense)
        for query in queries:
            # syntax off: a question's quotes are quotations, not phrases to require
            request = SearchRequest(
                q=query.text, k=DEPTH, mode=config.mode, fusion=config.fusion,
                alpha=config.alpha, group=config.group, syntax="off",
            )  # fmt: skip
            hits = measured.search(request).results
            ranks = judge(hits, query.relevant)
            per_query.append(metrics(ranks, len(query.relevant)))
            firsts.append(ranks[0] if ranks else None)
            tops.append(f"{hits[0].id} {hits[0].text[:80]}" if hits else "(nothing)")
            progress(1)
        report.scores[config.name] = _means(queries, per_query, by)
        report.first_relevant[config.name] = firsts
        report.top_hit[config.name] = tops
    return report


def _with_dense(searcher: Searcher, dense: str) -> Searcher:
    """`searcher`, or one over the same index and encoders whose semantic leg is `dense`;
    either marks no sentences (snippets are not measured, and marking costs a model call)."""
    if dense == searcher.dense and not searcher.sentences:
        return searcher
    return Searcher(
        searcher.index_dir,
        searcher.encoder,
        searcher.cross,
        dense=dense,
        floor=searcher.floor,
        sentences=False,
    )


def _group(query: Query, by: str) -> str:
    """The query's group: its language or kind ("-" for a query without a kind)."""
    return getattr(query, by) or "-"


def _groups(queries: Sequence[Query], by: str) -> list[str]:
    """The group "all", then each group of `by` that the queries have, sorted."""
    return ["all", *sorted({_group(q, by) for q in queries})]


def _means(queries: Sequence[Query], per_query: Sequence[dict[str, float]], by: str) -> dict:
    """Mean of each metric over all queries and over each group of `by`."""
    means = {}
    for group in _groups(queries, by):
        rows = [m for q, m in zip(queries, per_query) if group in ("all", _group(q, by))]
        means[group] = {name: float(np.mean([r[name] for r in rows])) for name in METRICS}
    return means


class CachedQueryEncoder:
    """Wraps an encoder so each distinct query is encoded once across configurations."""

    def __init__(self, encoder: Any) -> None:
        self._encoder = encoder
        self._one = lru_cache(maxsize=None)(lambda text: encoder.encode_queries([text])[0])

    def __getattr__(self, name: str) -> Any:
        """Everything else (name, fingerprint, dimension, passages) is the encoder's own."""
        return getattr(self._encoder, name)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._one(t) for t in texts])


def worst(report: Report, queries: Sequence[Query], config: str, n: int = 10) -> str:
    """The n queries whose first relevant hit ranked lowest, with what ranked first."""
    firsts = report.first_relevant[config]
    order = sorted(range(len(queries)), key=lambda i: -(firsts[i] or DEPTH + 1))[:n]
    lines = [f"| query | lang | first relevant at | ranked first ({config}) |", "|---|---|---|---|"]
    for i in order:
        q = queries[i]
        rank = firsts[i] if firsts[i] else f"> {DEPTH}"
        lines.append(f"| {q.text[:70]} | {q.lang} | {rank} | {report.top_hit[config][i]} |")
    return "\n".join(lines)


def format_table(report: Report) -> str:
    """A Markdown table: a row per configuration and group (language or kind)."""
    lines = [
        f"| config | {report.by} | n | " + " | ".join(METRICS) + " |",
        "|---|---|---|" + "---|" * len(METRICS),
    ]
    for name, by_lang in report.scores.items():
        for group, values in by_lang.items():
            cells = " | ".join(f"{values[m]:.3f}" for m in METRICS)
            lines.append(f"| {name} | {group} | {report.counts[group]} | {cells} |")
    return "\n".join(lines)
