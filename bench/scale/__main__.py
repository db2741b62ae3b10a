"""Scale bench: poisk on synthetic Russian corpora of 10k, 100k and 1M paragraphs.

Run: .venv/bin/python -m bench.scale [--sizes 10000,100000,1000000] [--queries 200]

For each size it builds an index from a seeded synthetic corpus (bench/scale/corpus.py),
then measures: build time and peak memory of BM25 and FAISS, size on disk, the recall@10
of the dense leg against exact search, load time and search latency in a fresh process
through the Searcher (query encoding excluded: precomputed query vectors), and the real
`manage.py serve` with the real model on that index (peak RSS, HTTP latency with
encoding). Then it runs bench/indexing.py for the real model's encoding figures, and
checks the targets at the largest size. Writes bench/out/scale/scale.json and scale.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.scale import report
from bench.scale.build import build_index, model_record
from bench.scale.corpus import SyntheticCorpus
from bench.scale.recall import recall_at_10
from bench.scale.serve import serving_figures

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench" / "out" / "scale"


def run_probe(index_dir: Path, queries_path: Path, repeat: int) -> dict[str, Any]:
    """Load and search timings from a fresh process (bench/scale/probe.py)."""
    args = [str(index_dir), str(queries_path), "--repeat", str(repeat)]
    out = subprocess.run(
        [sys.executable, "-m", "bench.scale.probe", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def bench_size(n: int, args: argparse.Namespace, model: dict[str, Any]) -> dict[str, Any]:
    """Every figure for one corpus size."""
    started = time.perf_counter()
    print(f"{n:,} paragraphs", flush=True)
    folder = args.out / str(n)
    folder.mkdir(parents=True, exist_ok=True)
    corpus = SyntheticCorpus(n, seed=args.seed)
    queries = corpus.queries(args.queries)
    queries_path = folder / "queries.npz"
    np.savez(queries_path, texts=[q.text for q in queries], vectors=[q.vector for q in queries])
    build, vector_index, vectors = build_index(corpus, folder / "index", model)
    result: dict[str, Any] = {"paragraphs": n, "build": build}
    result["recall_at_10"] = recall_at_10(vector_index, vectors, queries)
    print(f"  dense leg recall@10 {result['recall_at_10']}", flush=True)
    vectors_file = Path(vectors.filename)
    del vector_index, vectors
    gc.collect()
    vectors_file.unlink()  # 1.5 GB at 1M; the index holds what search needs
    result["probe"] = run_probe(folder / "index", queries_path, args.repeat)
    print(f"  loaded in {result['probe']['load_s']} s; searched", flush=True)
    if not args.no_serve:
        texts = [q.text for q in queries]
        result["serve"] = serving_figures(folder / "index", args.cache, texts)
        print(f"  served: peak RSS {result['serve']['peak_rss_mb']} MB", flush=True)
    result["total_s"] = round(time.perf_counter() - started, 1)
    print(f"  {n:,} done in {result['total_s']} s", flush=True)
    return result


def model_figures(runs: int) -> dict[str, float]:
    """The real model's figures from bench/indexing.py (run as is, its output parsed)."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.indexing", "--runs", str(runs)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    ).stdout
    return report.parse_indexing(out)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if ln.startswith("model name")), "")
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem_kb = next(int(ln.split()[1]) for ln in meminfo if ln.startswith("MemTotal"))
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 2**20, 1),
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
        "date": time.strftime("%Y-%m-%d"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200, help="distinct queries per size")
    parser.add_argument("--repeat", type=int, default=3, help="times each query is searched")
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument("--model-runs", type=int, default=3, help="bench/indexing.py --runs")
    parser.add_argument("--no-serve", action="store_true", help="skip the real server")
    parser.add_argument("--no-model", action="store_true", help="skip bench/indexing.py")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--cache", type=Path, default=ROOT / "var" / "cache")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"machine": machine(), "seed": args.seed, "sizes": []}
    model = model_record(args.cache)
    for n in (int(s) for s in args.sizes.split(",")):
        results["sizes"].append(bench_size(n, args, model))
    if not args.no_model:
        print("real model: bench/indexing.py", flush=True)
        results["model"] = model_figures(args.model_runs)
    results["targets"] = report.targets(results)
    (args.out / "scale.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    markdown = report.markdown(results)
    (args.out / "scale.md").write_text(markdown)
    print("\n" + markdown)


if __name__ == "__main__":
    main()
