"""What every peer's worker does around its engine: read the job, build, rank each query,
time it, measure throughput and peak RSS, write the result JSON.

Standard library only: it runs in each peer's own virtual environment, not poisk's. A
worker module gives `run_worker` its name, its version and a `build` function that indexes
the units and returns a `search(query, k) -> [unit ids]` function.

Build time is the indexing alone (passage encoding included), not the model load, which
is reported apart: `load` runs first, untimed by the build. Whatever a worker puts under
`job["info"]` (a runtime, a version) comes back in the result.
"""

from __future__ import annotations

import json
import math
import resource
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Search = Callable[[str, int], list[str]]
Load = Callable[[dict[str, Any]], Any]
Build = Callable[[Any, list[dict[str, Any]], dict[str, Any]], Search]


def read_units(path: Path) -> list[dict[str, Any]]:
    """The units ({id, article_id, text, title}) from a JSONL file, in file order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def unit_text(unit: dict[str, Any]) -> str:
    """What a peer indexes for a unit: its article's title, a blank line, the paragraph (the
    title alone carries what a short paragraph is about), as poisk's "title" passage kind."""
    title, text = (unit.get("title") or "").strip(), unit["text"]
    return f"{title}\n\n{text}" if title and title != text.strip() else text


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) of values, nearest rank."""
    ordered = sorted(values)
    index = max(1, math.ceil(q * len(ordered) / 100)) - 1
    return ordered[index]


def rank_all(search: Search, queries: list[str], depth: int) -> tuple[list[list[str]], list[float]]:
    """Each query's ranked unit ids and its wall time in ms, one after another (one client)."""
    ranked, times = [], []
    for query in queries:
        started = time.perf_counter()
        ranked.append(search(query, depth))
        times.append((time.perf_counter() - started) * 1000)
    return ranked, times


def throughput(search: Search, queries: list[str], clients: int, seconds: float) -> float:
    """Requests per second from `clients` threads, each sending the queries (from its own
    offset) one after another for `seconds`, top 10 each."""
    done = [0] * clients
    deadline = time.perf_counter() + seconds

    def client(n: int) -> None:
        i = n * len(queries) // clients
        while time.perf_counter() < deadline:
            search(queries[i % len(queries)], 10)
            done[n] += 1
            i += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - started)


def peak_rss_mb() -> float:
    """This process's peak resident set size in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def log(name: str, text: str) -> None:
    """One progress line on stderr (stdout is left to the engines)."""
    print(f"[{name}] {text}", file=sys.stderr, flush=True)


def run_worker(name: str, version: str, load: Load, build: Build) -> None:
    """Run the job named by argv[1] and write the result JSON to argv[2]."""
    job = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    job.setdefault("info", {})
    units = read_units(Path(job["units"])) if job.get("units") else []
    queries = job["queries"]
    started = time.perf_counter()
    models = load(job)
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    search = build(models, units, job)
    build_s = time.perf_counter() - started
    log(name, f"models loaded in {load_s:.1f} s, index built in {build_s:.1f} s")
    log(name, f"ranking {len(queries)} queries")
    search(queries[0], job["depth"])  # warm-up: lazy loads are not a query's cost
    ranked, times = rank_all(search, queries, job["depth"])
    rps = {}
    for clients in job["clients"]:
        rps[str(clients)] = throughput(search, queries, clients, job["seconds"])
        log(name, f"{clients} clients: {rps[str(clients)]:.1f} requests/s")
    result = {
        "peer": name, "version": version, "load_s": load_s, "build_s": build_s, "ranked": ranked,
        "latency_ms": times, "p50_ms": percentile(times, 50), "p95_ms": percentile(times, 95),
        "rps": rps, "peak_rss_mb": peak_rss_mb(), "info": job["info"],
    }  # fmt: skip
    Path(sys.argv[2]).write_text(json.dumps(result), encoding="utf-8")
