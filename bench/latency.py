"""Latency of GET /api/search per mode on the seeds, idle and while a reindex runs.

Run: .venv/bin/python -m bench.latency [--requests 200] [--port 8765]

It builds a seeds index in a temporary folder with the real default model, starts
`manage.py serve` on it (waitress), and sends requests one after another from this
process over loopback, cycling through Russian and English queries. Then it does the
same while `manage.py reindex --full` rebuilds the served index, one rebuild after
another, from the seeds copied 20 times (420 paragraphs, so the encoder keeps both cores
busy and the server picks up each new build as it is swapped in). Figures are the median
and 95th percentile of each request's wall time, in milliseconds. The server keeps no
whole answers (POISK_RESULT_CACHE=0 unless set), so every request is searched.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.indexing import make_corpus

ROOT = Path(__file__).resolve().parent.parent
QUERIES = [
    "порт Чанкай",
    "stipends for NAM students",
    "посольство Перу в Баку",
    "climate conferences",
    "Движение неприсоединения",
    "peace with Armenia",
    "редкие металлы",
    "first round of political consultations",
]
MODES = ("bm25", "semantic", "hybrid")


def manage(*args: str, env: dict[str, str]) -> subprocess.Popen:
    """Start `manage.py` with these arguments."""
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_ready(base: str, timeout: float = 120) -> None:
    """Block until the server answers /api/health."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/api/health", timeout=2) as r:
                if json.load(r).get("index"):
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("the server did not come up")


def measure(base: str, mode: str, n: int) -> tuple[float, float, int]:
    """Median and p95 milliseconds of n requests in one mode, and how many failed."""
    times, failed = [], 0
    for i in range(n):
        query = urllib.parse.urlencode({"q": QUERIES[i % len(QUERIES)], "mode": mode})
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(f"{base}/api/search?{query}", timeout=30) as r:
                r.read()
        except OSError:
            failed += 1
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), statistics.quantiles(times, n=20)[-1], failed


@contextmanager
def reindexing(source: Path, index: Path, env: dict[str, str]) -> Iterator[list[int]]:
    """Keep `manage.py reindex --full` running, one after another, until the block ends."""
    exit_codes: list[int] = []
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            args = ("reindex", "--source", str(source), "--index", str(index), "--full")
            exit_codes.append(manage(*args, env=env).wait())

    worker = threading.Thread(target=loop)
    worker.start()
    try:
        yield exit_codes
    finally:
        stop.set()
        worker.join()


def run(base: str, n: int, label: str) -> None:
    """Print one table row per mode."""
    for mode in MODES:
        median, p95, failed = measure(base, mode, n)
        print(f"| {label} | {mode} | {median:.1f} | {p95:.1f} | {failed} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per mode")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument("--idle-only", action="store_true", help="skip the reindex half")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "index"
        env = {"POISK_RESULT_CACHE": "0", **os.environ, "POISK_INDEX": str(index)}
        if manage("reindex", env=env).wait() != 0:
            raise SystemExit("reindex failed")
        server = manage("serve", "--port", str(args.port), "--workers", str(args.workers), env=env)
        base = f"http://127.0.0.1:{args.port}"
        try:
            wait_ready(base)
            print("| while | mode | median ms | p95 ms | failed |\n|---|---|---|---|---|")
            run(base, args.requests, "idle")
            if args.idle_only:
                return
            make_corpus(Path(tmp) / "corpus", copies=20)
            with reindexing(Path(tmp) / "corpus", index, env) as finished:
                run(base, args.requests, "reindex running")
            print(
                f"\nreindexes during the second run: {len(finished)}, "
                f"exit codes {sorted(set(finished))}"
            )
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
