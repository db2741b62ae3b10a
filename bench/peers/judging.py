"""Judging the peers' rankings with poisk's own evaluation harness, and the table of results.

A worker returns, per query, the ranked unit ids; here each id becomes its unit (id,
article id, text) so that eval.harness.judge and eval.harness.metrics score it exactly as
`manage.py evaluate` scores poisk's hits: MRR@10 by paragraph or article id (or a
"contains" substring), per query kind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from statistics import mean
from typing import Any

from bench.peers.units import Unit
from eval.harness import Query, judge, metrics

METRIC = "mrr@10"


@dataclass
class PeerRow:
    """One peer's line of the table: MRR@10 over all queries and per kind, and its costs."""

    peer: str
    version: str
    mrr: dict[str, float]
    build_s: float
    load_s: float
    p50_ms: float
    p95_ms: float
    rps: dict[str, float]
    peak_rss_mb: float
    info: dict[str, Any] = field(default_factory=dict)


def mrr_by_kind(
    ranked: Sequence[Sequence[str]], queries: Sequence[Query], units: Mapping[str, Unit]
) -> dict[str, float]:
    """Mean MRR@10 over all queries ("all") and per query kind. An id that is not a unit
    (a peer that made one up) is judged as a hit that satisfies nothing."""
    if len(ranked) != len(queries):
        raise ValueError(f"{len(ranked)} rankings for {len(queries)} queries")
    scores: dict[str, list[float]] = {"all": []}
    for ids, query in zip(ranked, queries):
        hits = [units.get(uid) or Unit(uid, "", "") for uid in ids]
        value = metrics(judge(hits, query.relevant), len(query.relevant))[METRIC]  # type: ignore[arg-type]
        scores["all"].append(value)
        scores.setdefault(query.kind or "-", []).append(value)
    return {kind: mean(values) for kind, values in sorted(scores.items())}


def peer_row(
    result: Mapping[str, Any], queries: Sequence[Query], units: Mapping[str, Unit]
) -> PeerRow:
    """A worker's result judged and summarised."""
    return PeerRow(
        peer=result["peer"], version=result["version"],
        mrr=mrr_by_kind(result["ranked"], queries, units), build_s=result["build_s"],
        load_s=result["load_s"], p50_ms=result["p50_ms"], p95_ms=result["p95_ms"],
        rps=dict(result["rps"]), peak_rss_mb=result["peak_rss_mb"], info=dict(result["info"]),
    )  # fmt: skip


def format_tables(corpus: str, rows: Sequence[PeerRow]) -> str:
    """Two Markdown tables for one corpus: MRR@10 per query kind, then the costs."""
    kinds = sorted({k for row in rows for k in row.mrr} - {"all"})
    clients = sorted({c for row in rows for c in row.rps}, key=int)
    quality = [
        f"| {corpus} | MRR@10 all | " + " | ".join(kinds) + " |",
        "|---|---|" + "---|" * len(kinds),
        *(f"| {r.peer} {r.version} | {r.mrr['all']:.3f} | "
          + " | ".join(f"{r.mrr.get(k, 0.0):.3f}" for k in kinds) + " |" for r in rows),
    ]  # fmt: skip
    costs = [
        "| peer | build s | model load s | p50 ms | p95 ms | "
        + " | ".join(f"req/s {c}" for c in clients) + " | peak RSS MiB |",
        "|---|---|---|---|---|" + "---|" * len(clients) + "---|",
        *(f"| {r.peer} | {r.build_s:.1f} | {r.load_s:.1f} | {r.p50_ms:.1f} | {r.p95_ms:.1f} | "
          + " | ".join(f"{r.rps.get(c, 0.0):.1f}" for c in clients)
          + f" | {r.peak_rss_mb:.0f} |" for r in rows),
    ]  # fmt: skip
    return "\n".join(quality) + "\n\n" + "\n".join(costs)
