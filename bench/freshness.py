"""Freshness bench: how long new articles take to become searchable, without a rebuild.

Run: .venv/bin/python -m bench.freshness --paragraphs 100000 --add 5000 [--batches 9]
     [--runs 3] [--hnsw] [--json]

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

--runs N repeats the incremental part N times, each on a fresh copy of the one base build
and its embedding cache (the same new articles, encoded anew each time), against the one
rebuild: the times and p50s printed are medians over the runs, with each run's beside them.

--reuse (with --folder) keeps the base build and the rebuild there and uses them again in a
later run for the same --paragraphs, --add and --hnsw and the same index format: a search-side
change is then measured in minutes at a million paragraphs instead of half an hour of
building. The build times printed are those of the run that built them (built.json).

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
from index.manifest import FORMAT_VERSION
from indexer.build import reindex
from indexer.file_record import COARSE_SETTLE_NS
from search.contract import SearchRequest
from search.service import Searcher

DIM = 384
FILE_ARTICLES = 1000  # articles a JSONL file
MODES = ("bm25", "semantic", "hybrid")
BUILT_NAME = "built.json"  # what --reuse finds in the folder: the builds' settings and times


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
    rows = (first * PARAGRAPHS_PER_ARTICLE, last * PARAGRAPHS_PER_ARTICLE)
    chosen, paragraphs = corpus.articles_and_paragraphs(rows)
    by_article: dict[str, list[str]] = {}
    for p in paragraphs:
        by_article.setdefault(p.article_id, []).append(p.text)
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


def run(
    paragraphs: int, added: int, batches: int, folder: Path, hnsw: bool, runs: int = 1
) -> dict[str, Any]:
    """The bench: build the base once (or find it built), then `runs` times add in batches
    to a copy of it; rebuild once (or find it rebuilt), compare each run's index with the
    rebuild; returns the figures (medians over the runs, and each run's)."""
    if not hnsw:
        vectors_module.build_vector_index = functools.partial(
            vectors_module.build_vector_index, hnsw_threshold=sys.maxsize
        )
    articles = paragraphs // PARAGRAPHS_PER_ARTICLE
    new_articles = added // PARAGRAPHS_PER_ARTICLE
    corpus = SyntheticCorpus((articles + new_articles) * PARAGRAPHS_PER_ARTICLE)
    base, settings = folder / "base", {"paragraphs": paragraphs, "added": added, "hnsw": hnsw}
    built = reusable(folder, settings)
    base_s = built["base_build_s"] if built else build_base(corpus, articles, base)
    edges = np.linspace(articles, articles + new_articles, batches + 1).astype(int)
    queries = [q.text for q in corpus.queries(200)]
    done, full_s = [], built["full_rebuild_s"] if built else 0.0
    single = Searcher(folder / "full", HashEncoder()) if built else None
    for number in range(runs):
        work = folder / f"run{number}"
        steps, searcher = add_in_batches(corpus, base, work, [int(e) for e in edges])
        if single is None:  # the same corpus every run: rebuilt once, from the first
            started = time.perf_counter()
            source, cache = base / "corpus", work / "cache"
            reindex(source, folder / "full", HashEncoder(), cache, incremental=False)
            full_s = time.perf_counter() - started
            single = Searcher(folder / "full", HashEncoder())
            record = {**settings, "base_build_s": base_s, "full_rebuild_s": full_s}
            (folder / BUILT_NAME).write_text(json.dumps({**record, "format": FORMAT_VERSION}))
        figures = compare(searcher, single, queries)
        segments = len(load_index(work / "index").manifest.segments)
        done.append({"steps": steps, "segments": segments, **figures})
        shutil.rmtree(work)
        for added_file in (base / "corpus").glob("new*.jsonl"):  # the next run adds them anew
            added_file.unlink()
    return summary(paragraphs, added, batches, hnsw, base_s, full_s, done)


def reusable(folder: Path, settings: dict[str, Any]) -> dict[str, Any] | None:
    """The record of a base build and rebuild in `folder` made for these settings in this
    index format, None when there is none (the folder is then emptied for new builds).
    Articles a stopped run left added to the base corpus are taken out again."""
    try:
        built = json.loads((folder / BUILT_NAME).read_text())
    except (OSError, ValueError):
        built = None
    if built and built == {**built, **settings, "format": FORMAT_VERSION}:
        for added_file in (folder / "base" / "corpus").glob("new*.jsonl"):
            added_file.unlink()
        for stale in folder.glob("run*"):
            shutil.rmtree(stale)
        return built
    shutil.rmtree(folder, ignore_errors=True)
    return None


def build_base(corpus: SyntheticCorpus, articles: int, base: Path) -> float:
    """Write the corpus's first `articles` as files in base/corpus and index them into
    base/index (embedding cache base/cache); returns the seconds the reindex took."""
    source = base / "corpus"
    source.mkdir(parents=True)
    write_articles(corpus, 0, articles, source, "base")
    # An archive's files were written long before a reindex, not in the very moment it
    # reads them (such a file is read again next time: indexer/file_record.py).
    time.sleep(COARSE_SETTLE_NS / 1e9)
    started = time.perf_counter()
    reindex(source, base / "index", HashEncoder(), base / "cache", incremental=False)
    return time.perf_counter() - started


def add_in_batches(
    corpus: SyntheticCorpus, base: Path, work: Path, edges: list[int]
) -> tuple[list[tuple[float, float, int]], Searcher]:
    """One run: a copy of the base index and embedding cache in `work`, a running
    Searcher over it, and the articles between consecutive `edges` added to base/corpus
    (whose base files stay as they were: the index's record of them holds), each batch
    by an incremental reindex. Returns each batch's (reindex seconds, the Searcher's first
    answer from the new build in seconds, files read) and the Searcher."""
    shutil.copytree(base / "cache", work / "cache")
    shutil.copytree(base / "index.builds", work / "index.builds")
    shutil.copy2(base / "index", work / "index", follow_symlinks=False)  # the relative link
    encoder = HashEncoder()
    searcher = Searcher(work / "index", encoder)  # a running server
    searcher.search(SearchRequest(q="новости"))
    steps = []
    for b, (first, last) in enumerate(itertools.pairwise(edges)):
        write_articles(corpus, first, last, base / "corpus", f"new{b:02d}")
        started = time.perf_counter()
        report = reindex(base / "corpus", work / "index", encoder, work / "cache")
        reindexed = time.perf_counter() - started
        _, first_answer = timed_search(searcher, SearchRequest(q="новости"))
        steps.append((reindexed, first_answer, report.files_read))
    return steps, searcher


def summary(
    paragraphs: int,
    added: int,
    batches: int,
    hnsw: bool,
    base_s: float,
    full_s: float,
    done: list[dict[str, Any]],
) -> dict[str, Any]:
    """The JSON line: medians over the runs of the last batch's times and of the p50s,
    and every run's figures."""

    def median(values: list[float], digits: int = 2) -> float:
        return round(statistics.median(values), digits)

    last = [run["steps"][-1] for run in done]
    return {
        "paragraphs": paragraphs,
        "added": added,
        "incremental_s": median([r for r, _, _ in last]),
        "searchable_s": median([r + f for r, f, _ in last]),
        "full_rebuild_s": round(full_s, 2),
        "segments": done[-1]["segments"],
        "equal": all(run["equal"] for run in done),
        "runs": len(done),
        "batches": batches,
        "batch_s": [[round(r, 2) for r, _, _ in run["steps"]] for run in done],
        "first_answer_s": [[round(f, 3) for _, f, _ in run["steps"]] for run in done],
        "files_read": [[n for _, _, n in run["steps"]] for run in done],
        "base_build_s": round(base_s, 2),
        "p50_ms": {
            name: median([run["p50_ms"][name] for run in done]) for name in ("segmented", "single")
        },
        "p50_ratio": [
            round(run["p50_ms"]["segmented"] / run["p50_ms"]["single"], 3) for run in done
        ],
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
    parser.add_argument(
        "--runs", type=int, default=1, help="runs of the batches on copies of one base build"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="keep the builds in --folder and use them again"
    )
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args(argv)
    if args.reuse and not args.folder:
        parser.error("--reuse needs --folder: where the builds are kept")
    folder = args.folder or Path(tempfile.mkdtemp(prefix="poisk-freshness-"))
    if args.folder and folder.exists() and not args.reuse:
        shutil.rmtree(folder)
    try:
        figures = run(args.paragraphs, args.add, args.batches, folder, args.hnsw, args.runs)
    finally:
        if not args.folder:
            shutil.rmtree(folder, ignore_errors=True)
    if not args.json:
        print(f"{args.paragraphs} paragraphs + {args.add} in {args.batches} batch(es):")
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
