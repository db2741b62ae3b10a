"""The real serving process on a bench index: `manage.py serve` with the real model.

Starts the server on 127.0.0.1, waits until it has loaded the model and the index, sends
the bench's queries (hybrid, so the model encodes each one), then reads the server's peak
resident memory from /proc and stops it. This is the figure the "serving RSS" target is
about: model, index and request handling together.
"""

from __future__ import annotations

import os
import socket
import statistics
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.latency import manage, wait_ready
from bench.scale.memory import status
from index.manifest import Manifest


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(
    index_dir: Path, cache_dir: Path, threads: int = 16, workers: int = 1
) -> Iterator[tuple[str, int, float]]:
    """A running `manage.py serve` on index_dir: (base URL, pid, seconds until ready).

    With several workers the pid is the supervisor's (bench.scale.memory.tree_peak_mb sums
    its workers' peaks) and "ready" is the first worker's answer."""
    port = free_port()
    cross = Manifest.read(index_dir.resolve()).cross_model  # the synthetic indexes have none
    env = {
        **os.environ,
        "POISK_CACHE": str(cache_dir),
        "HF_HUB_OFFLINE": "1",
        "POISK_CROSS_MODEL": cross.name if cross else "none",
    }
    args = ("serve", "--index", str(index_dir), "--port", str(port), "--threads", str(threads))
    args += ("--workers", str(workers))
    started = time.perf_counter()
    proc = manage(*args, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, timeout=300)
        yield base, proc.pid, time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def search_url(base: str, query: str, mode: str = "hybrid") -> str:
    """The /api/search URL for one query."""
    return f"{base}/api/search?" + urllib.parse.urlencode({"q": query, "mode": mode})


def serving_figures(index_dir: Path, cache_dir: Path, queries: list[str]) -> dict[str, Any]:
    """Ready time, request latency (encoding included) and peak memory of the server."""
    with server(index_dir, cache_dir) as (base, pid, ready_s):
        times, failed = [], 0
        for q in queries:
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(search_url(base, q), timeout=60) as r:
                    r.read()
            except OSError:
                failed += 1
            times.append((time.perf_counter() - started) * 1000)
        memory = status(pid)
    return {
        "ready_s": round(ready_s, 1),
        "hybrid_http_ms": {
            "p50": round(statistics.median(times), 1),
            "p95": round(statistics.quantiles(times, n=20)[-1], 1),
        },
        "requests": len(queries),
        "failed": failed,
        "peak_rss_mb": round(memory["VmHWM"]),
        "rss_anon_mb": round(memory["RssAnon"]),
        "rss_file_mb": round(memory["RssFile"]),
    }
