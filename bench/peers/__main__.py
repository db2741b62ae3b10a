"""Peers, side by side: poisk, LanceDB and txtai on the same corpora, model and queries.

Run: .venv/bin/python -m bench.peers [--corpus news|gimp|both] [--peers lancedb,txtai,poisk]
     [--split test|tune|all] [--queries-limit N] [--seconds 10] [--json] [--reuse]

For each corpus (eval/news, eval/gimp: built by eval/build_news.py, eval/build_gimp.py),
poisk's worker builds a poisk index of the corpus folder and searches it in-process in the
default hybrid mode; its store gives the paragraphs, the units every other peer indexes.
Each peer's worker (bench/peers/*_run.py) runs with the peer's own virtual environment
(made on first use under var/peers/, bench/peers/setup.py), loads the same e5-small
weights from poisk's converted model folder, builds, ranks every query (top 10) and times
it, then counts requests/s from 1, 4 and 16 client threads in its own process. Rankings are
judged here with poisk's harness (eval/harness.py), so MRR@10 is comparable with
`manage.py evaluate`. Every query asks for a page of 10 results, in the ranking pass and in
the throughput pass alike.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.peers.judging import PeerRow, format_tables, peer_row
from bench.peers.setup import ROOT, VENVS, ensure_venv
from bench.peers.units import read_units, write_units
from core.config import Settings
from eval.harness import Query, load_queries

PEERS = ("poisk", "lancedb", "txtai")
CORPORA = ("news", "gimp")
CLIENTS = (1, 4, 16)
DEPTH = 10  # a page of results: all that MRR@10 reads, and what a user asks for


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=(*CORPORA, "both"), default="news")
    parser.add_argument("--peers", default=",".join(PEERS), help="comma-separated")
    parser.add_argument("--split", choices=("test", "tune", "all"), default="test")
    parser.add_argument("--queries-limit", type=int, default=0, help="first N queries (0: all)")
    parser.add_argument("--seconds", type=float, default=10.0, help="per client count")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--reuse", action="store_true", help="reuse a peer's last result for the same job"
    )
    args = parser.parse_args()
    args.peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = set(args.peers) - set(PEERS)
    if unknown:
        parser.error(f"unknown peers: {', '.join(sorted(unknown))} (choose from {PEERS})")
    return args


def corpus_paths(corpus: str) -> tuple[Path, Path]:
    """The corpus folder and queries file of an evaluation set; exits when it is not built."""
    folder = ROOT / "eval" / corpus
    source, queries = folder / "corpus", folder / "queries.jsonl"
    if not source.is_dir() or not queries.is_file():
        raise SystemExit(f"{folder} is not built: run .venv/bin/python -m eval.build_{corpus}")
    return source, queries


def run_worker(
    peer: str, python: Path, job: dict[str, Any], workdir: Path, reuse: bool = False
) -> dict[str, Any]:
    """Run one peer's worker on `job` with `python`; its result JSON. With `reuse`, the
    result of the last run is taken when it was for the same job."""
    workdir.mkdir(parents=True, exist_ok=True)
    job_path, result_path = workdir / "job.json", workdir / "result.json"
    job = {**job, "workdir": str(workdir)}
    if reuse and result_path.exists() and json.loads(job_path.read_text("utf-8")) == job:
        print(f"{peer}: reusing {result_path.relative_to(ROOT)}", file=sys.stderr)
        return json.loads(result_path.read_text(encoding="utf-8"))
    job_path.write_text(json.dumps(job), encoding="utf-8")
    quiet = {"RUST_LOG": "error", "LANCE_LOG": "error"}  # LanceDB warns on every query
    env = {**quiet, **os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    command = [str(python), "-m", f"bench.peers.{peer}_run", str(job_path), str(result_path)]
    print(f"running {peer} ...", file=sys.stderr, flush=True)
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    return json.loads(result_path.read_text(encoding="utf-8"))


def poisk_index(source: Path, index: Path, cache: Path) -> None:
    """Build the poisk index the units are read from, when there is none yet."""
    if (index / "manifest.json").exists():
        return
    print(f"building a poisk index of {source} for the units ...", file=sys.stderr, flush=True)
    env = {**os.environ, "POISK_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    args = ["reindex", "--source", str(source), "--index", str(index)]
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


def run_corpus(corpus: str, args: argparse.Namespace) -> tuple[list[Query], list[PeerRow]]:
    """Every requested peer on one corpus, judged."""
    from encoders.bundled import ensure_bundled_model

    source, queries_path = corpus_paths(corpus)
    queries = load_queries(queries_path, None if args.split == "all" else args.split)
    queries = queries[: args.queries_limit or None]
    out, cache = VENVS / corpus, Settings.from_env().cache_dir.resolve()
    index = out / "poisk-index"
    job: dict[str, Any] = {
        "queries": [q.text for q in queries], "depth": DEPTH, "clients": list(CLIENTS),
        "seconds": args.seconds, "model": str(ensure_bundled_model(cache)), "cache": str(cache),
        "source": str(source.resolve()), "index": str(index),
    }  # fmt: skip
    results = {}
    if "poisk" in args.peers:
        python = Path(sys.executable)
        results["poisk"] = run_worker("poisk", python, job, out / "poisk", args.reuse)
    poisk_index(source, index, cache)
    units = read_units(index)
    write_units(units, out / "units.jsonl")
    job["units"] = str(out / "units.jsonl")
    for peer in (p for p in args.peers if p != "poisk"):
        results[peer] = run_worker(peer, ensure_venv(peer), job, out / peer, args.reuse)
    by_id = {unit.id: unit for unit in units}
    rows = [peer_row(results[p], queries, by_id) for p in args.peers]
    return queries, rows


def machine() -> str:
    """The CPU model, core count and Python version, for the report's header."""
    cpu = platform.processor() or "?"
    info = Path("/proc/cpuinfo")
    for line in info.read_text(encoding="utf-8").splitlines() if info.exists() else []:
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def main() -> None:
    """Run the peers on each corpus asked for; print the tables, or everything as JSON."""
    args = parse_args()
    corpora = CORPORA if args.corpus == "both" else (args.corpus,)
    report: dict[str, Any] = {"machine": machine(), "split": args.split, "corpora": {}}
    for corpus in corpora:
        queries, rows = run_corpus(corpus, args)
        report["corpora"][corpus] = {"queries": len(queries), "rows": [asdict(r) for r in rows]}
        if not args.json:
            print(f"\n{corpus}: {len(queries)} queries ({args.split} split), {machine()}\n")
            print(format_tables(corpus, rows))
            for row in rows:
                print(f"- {row.peer}: {row.info}")
    if args.json:
        print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
