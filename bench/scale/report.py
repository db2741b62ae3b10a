"""The scale bench's targets and its Markdown tables."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

Result = dict[str, Any]

INDEXING_PATTERNS = {
    "query_encode_ms": r"one query's encoding: ([\d.]+) ms",
    "model_load_s": r"model load .*?: ([\d.]+) s",
    "raw_paragraphs_per_s": r"raw passage encoding: ([\d.]+) paragraphs/s",
    "reindex_paragraphs_per_s": r"reindex --full end to end: ([\d.]+) paragraphs/s",
    "paragraphs": r"paragraphs: (\d+)",
}


def parse_indexing(text: str) -> dict[str, float]:
    """The figures bench/indexing.py prints."""
    out = {}
    for name, pattern in INDEXING_PATTERNS.items():
        match = re.search(pattern, text)
        if match is None:
            raise ValueError(f"bench/indexing.py printed no {name}:\n{text}")
        out[name] = float(match.group(1))
    out["reindex_share_of_raw"] = round(
        out["reindex_paragraphs_per_s"] / out["raw_paragraphs_per_s"], 3
    )
    return out


def non_encoding_seconds(size: Result) -> float:
    """What a reindex of this size spends besides encoding: store, analysis, both indexes."""
    b = size["build"]
    keys = ("store_s", "analysis_s", "bm25_build_s", "bm25_save_s")
    return sum(b[k] for k in (*keys, "faiss_build_s", "faiss_save_s", "fsync_s"))


def projected_share(size: Result, raw_per_s: float) -> float:
    """Indexing throughput as a share of raw encoding, if this size were encoded for real:
    reindex encodes, then builds the store and indexes, one after the other."""
    encode_s = size["paragraphs"] / raw_per_s
    return round(encode_s / (encode_s + non_encoding_seconds(size)), 4)


# name, unit, comparison, target, how to read the figure from (size result, model figures)
Target = tuple[str, str, str, float, Callable[[Result, Result], float | None]]
TARGETS: list[Target] = [
    ("fused query p50, encoding excluded", "ms", "<=", 50, lambda s, m: _lat(s, "hybrid", "p50")),
    ("fused query p95, encoding excluded", "ms", "<=", 100, lambda s, m: _lat(s, "hybrid", "p95")),
    ("dense leg recall@10 against exact", "", ">=", 0.95, lambda s, m: s["recall_at_10"]),
    ("index load (fresh process)", "s", "<=", 10, lambda s, m: s["probe"]["load_s"]),
    (
        "serving process peak RSS (model + index)",
        "MB",
        "<=",
        3072,
        lambda s, m: s.get("serve", {}).get("peak_rss_mb"),
    ),
    (
        "indexing / raw encoding, measured (bench/indexing.py)",
        "",
        ">=",
        0.90,
        lambda s, m: m.get("reindex_share_of_raw"),
    ),
    (
        "indexing / raw encoding, projected at this size",
        "",
        ">=",
        0.90,
        lambda s, m: projected_share(s, m["raw_paragraphs_per_s"]) if m else None,
    ),
    ("bench wall time for this size", "s", "<=", 600, lambda s, m: s["total_s"]),
]
_OPS = {"<=": operator.le, ">=": operator.ge}


def _lat(size: Result, key: str, which: str) -> float:
    return size["probe"]["latency_ms"][key][which]


def targets(results: Result) -> list[dict[str, Any]]:
    """Each target checked at the largest size measured."""
    size = max(results["sizes"], key=lambda s: s["paragraphs"])
    model = results.get("model", {})
    out = []
    for name, unit, op, goal, read in TARGETS:
        value = read(size, model)
        met = None if value is None else _OPS[op](value, goal)
        out.append(
            {
                "target": name,
                "paragraphs": size["paragraphs"],
                "value": value,
                "unit": unit,
                "goal": f"{op} {goal:g}",
                "met": met,
            }
        )
    return out


def _row(cells: list[Any]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _table(head: list[str], rows: list[list[Any]]) -> str:
    lines = [_row(head), _row(["---"] * len(head)), *(_row(r) for r in rows)]
    return "\n".join(lines)


def _pair(d: Result) -> str:
    return f"{d['p50']:.1f} / {d['p95']:.1f}"


def build_table(results: Result) -> str:
    """Build time, memory and size on disk per corpus size."""
    rows = []
    for s in results["sizes"]:
        b = s["build"]
        rows.append(
            [
                f"{s['paragraphs']:,}",
                b["analysis_s"],
                f"{b['bm25_build_s']} + {b['bm25_save_s']}",
                b["bm25_peak_mb"],
                f"{b['faiss_kind']}",
                f"{b['faiss_build_s']} + {b['faiss_save_s']}",
                b["faiss_peak_mb"],
                b["store_s"],
                f"{b['store_mb']:,.0f} / {b['bm25_mb']:,.0f} / {b['faiss_mb']:,.0f}",
                s["probe"]["load_s"],
                s["recall_at_10"],
            ]
        )
    head = [
        "paragraphs",
        "analysis s",
        "BM25 build + save s",
        "BM25 peak MB",
        "FAISS",
        "FAISS build + save s",
        "FAISS peak MB",
        "store s",
        "disk MB store / BM25 / FAISS",
        "load s",
        "recall@10",
    ]
    return _table(head, rows)


def latency_table(results: Result) -> str:
    """Search latency per corpus size: each leg alone and each Searcher mode."""
    rows = []
    for s in results["sizes"]:
        lat = s["probe"]["latency_ms"]
        keys = ("bm25_leg", "dense_leg", "bm25", "semantic", "hybrid")
        rows.append([f"{s['paragraphs']:,}", *(_pair(lat[k]) for k in keys)])
    head = [
        "paragraphs",
        "BM25 leg",
        "dense leg",
        "search bm25",
        "search semantic",
        "search hybrid (fused)",
    ]
    return _table(head, rows)


def serving_table(results: Result) -> str:
    """The real server (real model) per corpus size."""
    rows = []
    for s in results["sizes"]:
        v = s.get("serve")
        if v:
            rows.append(
                [
                    f"{s['paragraphs']:,}",
                    v["ready_s"],
                    f"{v['peak_rss_mb']:,}",
                    f"{v['rss_anon_mb']:,} / {v['rss_file_mb']:,}",
                    _pair(v["hybrid_http_ms"]),
                    v["failed"],
                ]
            )
    head = [
        "paragraphs",
        "ready s",
        "peak RSS MB",
        "RSS anon / file MB",
        "hybrid HTTP p50 / p95 ms",
        "failed",
    ]
    return _table(head, rows)


def model_table(results: Result) -> str:
    """The real model's figures (bench/indexing.py) and the projection to each size."""
    m = results.get("model")
    if not m:
        return "(real model not measured: --no-model)"
    rows = [
        ["one query's encoding (one thread)", f"{m['query_encode_ms']} ms"],
        ["model load in a new process", f"{m['model_load_s']} s"],
        ["passage encoding, the model alone", f"{m['raw_paragraphs_per_s']} paragraphs/s"],
        ["reindex --full, end to end", f"{m['reindex_paragraphs_per_s']} paragraphs/s"],
        ["reindex / raw encoding, measured", f"{m['reindex_share_of_raw']:.0%}"],
    ]
    for s in results["sizes"]:
        n = s["paragraphs"]
        hours = n / m["raw_paragraphs_per_s"] / 3600
        rest = non_encoding_seconds(s)
        share = projected_share(s, m["raw_paragraphs_per_s"])
        rows.append([f"at {n:,}: encoding {hours:.1f} h, the rest {rest:.0f} s", f"{share:.1%}"])
    return _table(["real model", "figure"], rows)


def targets_table(results: Result) -> str:
    """Each target with its figure and met / missed."""
    rows = []
    for t in results["targets"]:
        value = "not measured" if t["value"] is None else f"{t['value']:g} {t['unit']}".strip()
        verdict = {True: "met", False: "**missed**", None: "not measured"}[t["met"]]
        rows.append([t["target"], f"{t['paragraphs']:,}", value, t["goal"], verdict])
    return _table(["target", "paragraphs", "figure", "goal", "verdict"], rows)


def markdown(results: Result) -> str:
    """All tables, ready for docs/performance.md."""
    m = results["machine"]
    parts = [
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, no GPU; "
        f"Python {m['python']}; load average at start {m['load_average_at_start'][0]:.1f}; "
        f"{m['date']}.",
        "### Targets (at the largest size)\n\n" + targets_table(results),
        "### Build, size on disk, load\n\n" + build_table(results),
        "### Search latency, ms p50 / p95 (query encoding excluded)\n\n" + latency_table(results),
        "### The real server (`manage.py serve`, real model)\n\n" + serving_table(results),
        "### The real model\n\n" + model_table(results),
    ]
    return "\n\n".join(parts) + "\n"
