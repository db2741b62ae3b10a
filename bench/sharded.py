"""Sharded serving against one process: the same sharded index served by `manage.py serve`
and by `manage.py serve --ray local --shards N --replicas R`, with the real models.

Run: .venv/bin/python -m bench.sharded [--source seeds] [--shards 2] [--replicas 1]
     [--rounds 5] [--mode hybrid]

It indexes `--source` into a temporary folder in N shards (the embedding cache,
$POISK_CACHE, is reused), then starts each server in turn on this machine and sends the
queries of bench/latency.py one after another, `--rounds` times, after a warm-up round.
It prints one JSON line: each server's p50/p95 milliseconds (HTTP, query encoding
included), the resident memory of its processes (the sharded service: the front and
each shard replica, as Ray Serve runs them), and how many answers were identical (ids,
order, scores, texts: everything but the timing).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from bench.latency import QUERIES, manage

ROOT = Path(__file__).resolve().parent.parent
REPLICA = "ray::ServeReplica:poisk:"  # how Ray names a replica's process


def wait_healthy(base: str, process: subprocess.Popen, timeout: float = 300) -> None:
    """Block until /api/health answers 200 (Serve's proxy answers 404 before the app is up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/api/health", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("the server did not come up")


def ask(base: str, query: str, mode: str) -> tuple[float, dict]:
    """One search: its wall time in ms and its answer without the timing."""
    params = urllib.parse.urlencode({"q": query, "mode": mode, "k": 10})
    started = time.perf_counter()
    with urllib.request.urlopen(f"{base}/api/search?{params}", timeout=60) as answer:
        body = json.load(answer)
    elapsed = (time.perf_counter() - started) * 1000
    body.pop("took_ms")
    return elapsed, body


def rss_mb(pid: int) -> float:
    """Resident memory of a process, MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def replicas() -> dict[str, list[float]]:
    """RSS (MB) of the Serve replicas running here, by deployment."""
    found: dict[str, list[float]] = {}
    for proc in Path("/proc").iterdir():
        try:
            command = (proc / "cmdline").read_bytes().split(b"\0")[0].decode()
        except (OSError, UnicodeDecodeError):
            continue
        if command.startswith(REPLICA) and proc.name.isdigit():
            name = command.removeprefix(REPLICA).split(".")[0]  # busy: "front.<method>"
            found.setdefault(name, []).append(round(rss_mb(int(proc.name)), 1))
    return found


def measure(args: argparse.Namespace, env: dict[str, str], serve: list[str]) -> dict:
    """p50/p95 and answers of one server, and its memory."""
    port = args.port
    server = manage("serve", "--port", str(port), *serve, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, server)
        for query in QUERIES:
            ask(base, query, args.mode)  # warm-up: caches, the first build's load
        times, answers = [], []
        for _ in range(args.rounds):
            for query in QUERIES:
                elapsed, body = ask(base, query, args.mode)
                times.append(elapsed)
                answers.append(body)
        memory = replicas() if "--ray" in serve else {"server": [round(rss_mb(server.pid), 1)]}
    finally:
        server.terminate()
        server.wait()
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(statistics.quantiles(times, n=20)[-1], 1),
        "rss_mb": memory,
        "answers": answers,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=ROOT / "seeds")
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--mode", default="hybrid")
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "POISK_INDEX": str(Path(tmp) / "index")}
        reindex = ("reindex", "--source", str(args.source.resolve()), "--shards", str(args.shards))
        if manage(*reindex, env=env).wait() != 0:
            raise SystemExit("reindex failed")
        one = measure(args, env, ["--workers", "1"])
        layout = ["--shards", str(args.shards), "--replicas", str(args.replicas)]
        sharded = measure(args, env, ["--ray", "local", *layout])
    same = sum(a == b for a, b in zip(one.pop("answers"), sharded.pop("answers"), strict=True))
    report = {
        "source": str(args.source),
        "shards": args.shards,
        "replicas": args.replicas,
        "mode": args.mode,
        "requests": args.rounds * len(QUERIES),
        "identical": same,
        "one_process": one,
        "sharded": sharded,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
