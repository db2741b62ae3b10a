"""Freshness bench: how long new articles take to become searchable, without a rebuild.

Run: .venv/bin/python -m bench.freshness --paragraphs 100000 --add 5000 [--batches 9] [--json]

It writes an N-paragraph synthetic corpus (bench/scale/corpus.py: Russian-like news, ten
paragraphs an article) as JSONL files and indexes it with the product's reindex; then adds
M paragraphs in new articles, in --batches incremental reindexes (each a new segment), and
times each: the whole `reindex` (listing the corpus, reading its new files, finding what
changed, encoding the new paragraphs, writing the segment, swapping it in) and a running
Searcher's first answer from the new build. It then rebuilds the same corpus in one segment
(`incremental_s` against `full_rebuild_s`), and compares 200 queries in every mode (lexical,
semantic, hybrid) between the segmented index and the single build: `equal` is true when
every answer has the same ids in the same order with scores within 1e-6. Query p50 of the
hybrid search is measured on both.

The encoder is a hashed bag of words (HashEncoder), not the real model: the bench measures
the index, and encoding costs what bench/indexing.py measures, per paragraph, on top.
Vectors are exact (flat) in every segment unless --hnsw, so that `equal` can hold exactly;
with --hnsw each segment of 100k or more paragraphs gets its own approximate graph.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import index.vectors as vectors_module
from bench.scale.corpus import PARAGRAPHS_PER_ARTICLE, SyntheticCorpus
from index.format import load_index
from indexer.build import reindex
from indexer.file_record import COARSE_SETTLE_NS
from search.contract import SearchRequest
from search.service import Searcher

DIM = 384
FILE_ARTICLES = 1000  # articles a JSONL file
MODES = ("bm25", "semantic", "hybrid")


class HashEncoder:
    """Unit vectors from hashed words (crc32): deterministic, fast, with word overlap
    structure; the encoder interface the reindex and the Searcher use."""

    name = "hash-bench"
    fingerprint = "hash-bench-crc32-384"
    dtype = "float32"
    dimension = DIM
    max_tokens = 512

    def count_tokens(self, text: str) -> int:
        """One token a word."""
        return len(text.split())

    def _vector(self, text: str) -> np.ndarray:
        ids = [zlib.crc32(w.encode()) % DIM for w in text.lower().split()] or [0]
        v = np.bincount(ids, minlength=DIM).astype(np.float32)
        return v / np.linalg.norm(v)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """One vector a text."""
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, DIM))

    encode_queries = encode_passages


def write_articles(corpus: SyntheticCorpus, first: int, last: int, folder: Path, tag: str) -> int:
    """Write articles [first, last) of `corpus` as JSONL files named by `tag`; returns the
    paragraphs written."""
    articles, paragraphs = corpus.articles_and_paragraphs()
    by_article: dict[str, list[str]] = {}
    for p in paragraphs:
        by_article.setdefault(p.article_id, []).append(p.text)
    chosen = articles[first:last]
    for start in range(0, len(chosen), FILE_ARTICLES):
        lines = [
            json.dumps(
                {
                    "id": a.id,
                    "title": a.title,
                    "date": a.date,
                    "text": "\n\n".join(by_article[a.id]),
                },
                ensure_ascii=False,
            )
            for a in chosen[start : start + FILE_ARTICLES]
        ]
        name = f"{tag}-{start // FILE_ARTICLES:04d}.jsonl"
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return sum(len(by_article[a.id]) for a in chosen)


def timed_search(searcher: Searcher, request: SearchRequest) -> tuple[Any, float]:
    """A search's result and its wall time in seconds."""
    started = time.perf_counter()
    result = searcher.search(request)
    return result, time.perf_counter() - started


def compare(segmented: Searcher, single: Searcher, queries: list[str]) -> dict[str, Any]:
    """Whether every query answers alike in every mode, and the hybrid p50 of each."""
    equal, latency = True, {"segmented": [], "single": []}
    for query in queries:
        for mode in MODES:
            request = SearchRequest(q=query, mode=mode, k=20)
            ours, ours_s = timed_search(segmented, request)
            theirs, theirs_s = timed_search(single, request)
            a = [(h.id, h.score) for h in ours.results]
            b = [(h.id, h.score) for h in theirs.results]
            same_ids = [i for i, _ in a] == [i for i, _ in b]
            equal &= same_ids and all(abs(x - y) <= 1e-6 for (_, x), (_, y) in zip(a, b))
            if mode == "hybrid":
                latency["segmented"].append(ours_s)
                latency["single"].append(theirs_s)
    p50 = {name: round(statistics.median(times) * 1000, 2) for name, times in latency.items()}
    return {"equal": equal, "p50_ms": p50}


def run(paragraphs: int, added: int, batches: int, folder: Path, hnsw: bool) -> dict[str, Any]:
    """The bench: build, add in batches, rebuild, compare; returns the figures."""
    if not hnsw:
        vectors_module.build_vector_index = functools.partial(
            vectors_module.build_vector_index, hnsw_threshold=sys.maxsize
        )
    articles = paragraphs // PARAGRAPHS_PER_ARTICLE
    new_articles = added // PARAGRAPHS_PER_ARTICLE
    corpus = SyntheticCorpus((articles + new_articles) * PARAGRAPHS_PER_ARTICLE)
    source, cache, index_dir = folder / "corpus", folder / "cache", folder / "index"
    source.mkdir(parents=True)
    encoder = HashEncoder()
    write_articles(corpus, 0, articles, source, "base")
    # An archive's files were written long before a reindex, not in the very moment it
    # reads them (such a file is read again next time: indexer/file_record.py).
    time.sleep(COARSE_SETTLE_NS / 1e9)
    started = time.perf_counter()
    reindex(source, index_dir, encoder, cache, incremental=False)
    base_s = time.perf_counter() - started
    searcher = Searcher(index_dir, encoder)  # a running server
    searcher.search(SearchRequest(q="новости"))
    steps = []
    edges = np.linspace(articles, articles + new_articles, batches + 1).astype(int)
    for b, (first, last) in enumerate(itertools.pairwise(edges)):
        write_articles(corpus, int(first), int(last), source, f"new{b:02d}")
        started = time.perf_counter()
        report = reindex(source, index_dir, encoder, cache)
        reindexed = time.perf_counter() - started
        _, first_answer = timed_search(searcher, SearchRequest(q="новости"))
        steps.append((reindexed, first_answer, report.files_read))
    started = time.perf_counter()
    reindex(source, folder / "full", encoder, cache, incremental=False)
    full_s = time.perf_counter() - started
    single = Searcher(folder / "full", encoder)
    queries = [q.text for q in corpus.queries(200)]
    figures = compare(searcher, single, queries)
    return {
        "paragraphs": paragraphs,
        "added": added,
        "incremental_s": round(steps[-1][0], 2),
        "searchable_s": round(steps[-1][0] + steps[-1][1], 2),
        "full_rebuild_s": round(full_s, 2),
        "segments": len(load_index(index_dir).manifest.segments),
        "equal": figures["equal"],
        "batches": batches,
        "batch_s": [round(r, 2) for r, _, _ in steps],
        "first_answer_s": [round(f, 3) for _, f, _ in steps],
        "files_read": [n for _, _, n in steps],  # of the corpus's files, by each batch
        "base_build_s": round(base_s, 2),
        "p50_ms": figures["p50_ms"],
        "vectors": "hnsw" if hnsw else "flat",
        "machine": machine(),
    }


def machine() -> str:
    """The CPU model and count, for the record."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} CPUs"


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the arguments, run the bench, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paragraphs", type=int, default=100_000)
    parser.add_argument("--add", type=int, default=5000)
    parser.add_argument("--batches", type=int, default=1, help="incremental reindexes")
    parser.add_argument("--folder", type=Path, help="work folder (default: a temporary one)")
    parser.add_argument("--hnsw", action="store_true", help="approximate vectors, by size")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args(argv)
    folder = args.folder or Path(tempfile.mkdtemp(prefix="poisk-freshness-"))
    if args.folder and folder.exists():
        shutil.rmtree(folder)
    try:
        figures = run(args.paragraphs, args.add, args.batches, folder, args.hnsw)
    finally:
        if not args.folder:
            shutil.rmtree(folder, ignore_errors=True)
    if not args.json:
        print(f"{args.paragraphs} paragraphs + {args.add} in {args.batches} batch(es):")
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
