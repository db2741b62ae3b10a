"""Server throughput: wrk against `manage.py serve` with 1, 4 and 16 concurrent clients.

Run: .venv/bin/python -m bench.load [--duration 30] [--clients 1,4,16] [--mode hybrid]

Two indexes, both served by the real `manage.py serve` (waitress, 4 threads, the real
model encoding every query): the seeds, and a synthetic 100,000-paragraph index built by
bench/scale (text and vectors synthetic, see bench/scale/corpus.py): the one
`python -m bench.scale` left in bench/out/scale/, else one built into bench/out/load/;
`--synthetic N` changes its size, 0 skips it. Each client count runs for `--duration` seconds over
loopback (127.0.0.1 only) with wrk's keep-alive connections, cycling through a list of
queries. wrk is Debian's (`apt-get install wrk`); it is installed when missing and we are
root. wrk runs on the same two cores as the server, so it takes a little of their time.
The server runs in this environment: with the product's default it keeps the answers of
repeated requests (POISK_RESULT_CACHE, printed in the header), so after the first pass
the cycled queries are answered from it; POISK_RESULT_CACHE=0 measures every request
searched.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench.latency import QUERIES as SEED_QUERIES
from bench.scale.build import build_index, model_record
from bench.scale.corpus import SyntheticCorpus
from bench.scale.memory import tree_peak_mb
from bench.scale.serve import server
from core.config import Settings
from core.errors import SearchError
from encoders.encoder import resolve_precision
from index.manifest import Manifest

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "load"
SCALE_OUT = ROOT / "bench" / "out" / "scale"
SYNTHETIC = 100_000  # paragraphs of the synthetic index
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def ensure_wrk() -> str:
    """Path of wrk, installing Debian's package when it is missing and we are root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SystemExit("wrk is not installed: apt-get install wrk")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env)
    return shutil.which("wrk") or "wrk"


def seeds_index(folder: Path, cache: Path) -> Path:
    """The seeds indexed with the real model into `folder` (manage.py reindex)."""
    index = folder / "seeds-index"
    env = {**os.environ, "POISK_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    args = [sys.executable, "manage.py", "reindex", "--index", str(index), "--if-stale"]
    subprocess.run(args, cwd=ROOT, env=env, check=True, capture_output=True)
    return index


def synthetic_index(folder: Path, cache: Path, corpus: SyntheticCorpus) -> Path:
    """The synthetic index: the one `python -m bench.scale` left, or one built here, recorded
    as made by the model in the runtime and dtype the server will run it in."""
    source = f"synthetic:{corpus.n}:{corpus.seed}"
    settings = Settings.from_env()
    model = model_record(cache, resolve_precision(settings.runtime, settings.dtype))
    for index in (SCALE_OUT / str(corpus.n) / "index", folder / f"synthetic-{corpus.n}" / "index"):
        try:
            manifest = Manifest.read(index.resolve())
            if manifest.source.path == source and manifest.model == model:
                return index
        except SearchError:
            pass
    vectors = build_index(corpus, index, model)[2]
    Path(vectors.filename).unlink()
    return index


def lua_script(path: Path, queries: list[str], mode: str) -> None:
    """A wrk script that cycles through GET /api/search for each query."""
    urls = [
        "/api/search?" + urllib.parse.urlencode({"q": q, "mode": mode}, quote_via=quote)
        for q in queries
    ]
    body = ",\n".join(f'  "{u}"' for u in urls)
    path.write_text(
        f"local paths = {{\n{body}\n}}\nlocal i = 0\n"
        "request = function()\n  i = i % #paths + 1\n"
        '  return wrk.format("GET", paths[i])\nend\n'
    )


def parse_wrk(text: str) -> dict[str, Any]:
    """Requests/s, p50 and p99 (ms), requests and errors from wrk's --latency output."""

    def ms(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
        if match is None:
            raise ValueError(f"no {label}% line in wrk's output:\n{text}")
        return round(float(match.group(1)) * UNITS[match.group(2)], 1)

    socket = re.search(r"connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = sum(int(g) for g in socket.groups()) if socket else 0
    errors += int(non_2xx.group(1)) if non_2xx else 0
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    total = re.search(r"(\d+) requests in", text)
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "p50_ms": ms("50"),
        "p99_ms": ms("99"),
        "requests": int(total.group(1)) if total else 0,
        "errors": errors,
    }


def run_wrk(wrk: str, url: str, script: Path, clients: int, seconds: int) -> dict[str, Any]:
    """One wrk run over loopback; bounded by `seconds` (and a hard timeout)."""
    args = [wrk, f"-t{min(clients, 2)}", f"-c{clients}", f"-d{seconds}s", "--timeout", "30s"]
    args += ["--latency", "-s", str(script), url]
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=seconds + 60)
    return parse_wrk(out.stdout)


def load_index(
    wrk: str, label: str, index: Path, queries: list[str], args: argparse.Namespace
) -> list[dict[str, Any]]:
    """Every client count against one served index."""
    rows = []
    served = server(index, args.cache, args.threads, args.workers)
    with served as (base, pid, _), tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "queries.lua"
        lua_script(script, queries, args.mode)
        for clients in (int(c) for c in args.clients.split(",")):
            row = {"index": label, "clients": clients}
            row.update(run_wrk(wrk, base + "/", script, clients, args.duration))
            row["server_peak_rss_mb"] = round(tree_peak_mb(pid))
            print(_line(row), flush=True)
            rows.append(row)
    return rows


def _line(r: dict[str, Any]) -> str:
    return (
        f"| {r['index']} | {r['clients']} | {r['rps']:.1f} | {r['p50_ms']:.1f} | "
        f"{r['p99_ms']:.1f} | {r['requests']:,} | {r['errors']} | {r['server_peak_rss_mb']:,} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=30, help="seconds per client count")
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--mode", default="hybrid", choices=["hybrid", "bm25", "semantic"])
    parser.add_argument("--synthetic", type=int, default=SYNTHETIC, help="paragraphs; 0: skip")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--cache", type=Path, default=ROOT / "var" / "cache")
    parser.add_argument("--threads", type=int, default=16, help="the server's threads")
    parser.add_argument("--workers", type=int, default=1, help="server processes (serve --workers)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    wrk = ensure_wrk()
    indexes = [("seeds", seeds_index(args.out, args.cache), SEED_QUERIES)]
    if args.synthetic:
        corpus = SyntheticCorpus(args.synthetic)
        index = synthetic_index(args.out, args.cache, corpus)
        indexes.append((f"synthetic {corpus.n:,}", index, [q.text for q in corpus.queries(50)]))
    settings = Settings.from_env()  # the server's: it runs in this environment
    print(
        f"mode {args.mode}, {args.duration} s per run, server: waitress, {args.workers} "
        f"worker(s) of {args.threads} threads, runtime {settings.runtime}, answers kept "
        f"{settings.result_cache} (POISK_RESULT_CACHE)"
    )
    head = "| index | clients | requests/s | p50 ms | p99 ms | requests | errors | server RSS MB |"
    print(head + "\n|---|---|---|---|---|---|---|---|", flush=True)
    rows = [row for label, index, q in indexes for row in load_index(wrk, label, index, q, args)]
    result = {"mode": args.mode, "duration_s": args.duration, "threads": args.threads}
    result |= {"result_cache": settings.result_cache}
    result |= {"load": os.getloadavg(), "runs": rows}
    (args.out / "load.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
