"""`manage.py reindex --ray local` with one encoding actor against the local reindex.

Run: .venv/bin/python -m bench.ray_encode [--source eval/news/corpus] [--runs 3]

Each run is a `manage.py reindex` child process with both default models, into a fresh
index, with an empty embedding cache (the converted model is kept: it is made once, before
the runs), so every paragraph and title is encoded: locally in the build's process, or by
one Ray actor on a Ray instance started for the run. The two kinds alternate, so that a
load from elsewhere on the machine falls on both. Reported: the median wall time of the
whole command and of the build (the "indexed ... in X s" line: everything after the models
load) for each kind, and their ratios (docs/distributed.md has the recorded figures). The
model runs as POISK_RUNTIME and POISK_DTYPE say, in both kinds alike.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KINDS = {"local": [], "ray": ["--ray", "local", "--ray-actors", "1"]}


def run_once(source: Path, work: Path, extra: list[str]) -> tuple[float, float]:
    """(wall seconds of the command, seconds of its build) of one reindex."""
    for stale in work.glob("cache/embeddings.sqlite*"):
        stale.unlink()
    shutil.rmtree(work / "index.builds", ignore_errors=True)
    (work / "index").unlink(missing_ok=True)
    env = {**os.environ, "POISK_CACHE": str(work / "cache"), "POISK_INDEX": str(work / "index")}
    command = [sys.executable, "manage.py", "reindex", "--source", str(source), *extra]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    built = re.search(r"^indexed .* in ([\d.]+) s$", done.stdout, re.MULTILINE)
    assert built, done.stdout
    print(f"  {' '.join(extra) or 'local':<28} {wall:6.1f} s, build {built[1]} s", flush=True)
    return wall, float(built[1])


def _cpu_name() -> str:
    """The CPU's model name (/proc/cpuinfo), else the machine type."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.machine()
    found = re.search(r"^model name\s*:\s*(.+)$", info, re.MULTILINE)
    return found[1].strip() if found else platform.machine()


def main() -> None:
    """Alternate local and Ray reindexes; print each kind's medians and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=ROOT / "eval/news/corpus")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from encoders.encoder import load_encoder

    with tempfile.TemporaryDirectory(prefix="poisk-ray-bench-") as tmp:
        work = Path(tmp)
        load_encoder(None, work / "cache")  # converted (and exported) once, not timed
        times: dict[str, list[tuple[float, float]]] = {kind: [] for kind in KINDS}
        print(f"{_cpu_name()}, {os.cpu_count()} CPUs")
        for _ in range(args.runs):
            for kind, extra in KINDS.items():
                times[kind].append(run_once(args.source.resolve(), work, extra))
    medians = {k: [statistics.median(t[i] for t in v) for i in (0, 1)] for k, v in times.items()}
    for kind, (wall, build) in medians.items():
        print(f"{kind:<6} median of {args.runs}: command {wall:.1f} s, build {build:.1f} s")
    ratios = [medians["ray"][i] / medians["local"][i] for i in (0, 1)]
    print(f"ray / local: command {ratios[0]:.2f}x, build {ratios[1]:.2f}x")


if __name__ == "__main__":
    main()
