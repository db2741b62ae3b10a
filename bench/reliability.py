"""Reliability figures: requests failed across swaps, kills survived, fuzz cases run.

Run: .venv/bin/python -m bench.reliability [--swaps 20] [--clients 4] [--kills 100]
     [--fuzz-examples 1000] [--seed N]

Three parts, each on loopback and in temporary folders, with the fake encoder (the
figures are about the service's plumbing, not the model's quality):

1. Swaps under load: `manage.py serve` (waitress, 4 threads) over the seeds while
   `--clients` threads send requests one after another (searches in the three modes,
   stats, a results page, an article page); meanwhile `--swaps` reindexes run, each adding
   an article, and after each swap the new article must be found. Reported: requests sent
   and failed, latency while swapping, how soon each new article was found, files of
   swapped-out builds the server still holds.
2. Kills: `--kills` reindexes (--full) of a 300-paragraph corpus SIGKILLed at a random
   moment of a phase (reading, encoding, writing, swapping, in turn). After each, the same
   checks as tests/test_crash_safety.py: the running searcher and a restarted one answer,
   the embedding cache passes PRAGMA integrity_check with every vector whole and right,
   and the next reindex completes. Reported per phase.
3. Fuzzing: tests/test_fuzz_api.py (schemathesis) with `--fuzz-examples` examples per
   operation and generation phase, against the app with and without an index; reported:
   requests sent by operation and status, and the test outcome. Also runs the hostile-input
   and untrusted-index tests and reports their counts.

Prints a Markdown report.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from pathlib import Path

from index.manifest import Manifest
from indexer.build import reindex
from search.service import Searcher
from tests import crash_child
from tests.conftest import ROOT, SEEDS
from tests.fakes import FakeEncoder
from tests.live import Load, get, open_files_of, serving

TARGETS = [
    "/api/search?" + urllib.parse.urlencode({"q": q, "mode": m})
    for q in ("порт Чанкай", "stipends for students", "Антарктида")
    for m in ("hybrid", "bm25", "semantic")
] + ["/?q=%D0%BF%D0%BE%D1%80%D1%82", "/articles/000_f267e610140cff85"]


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `values`, in milliseconds."""
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def swaps_under_load(swaps: int, clients: int, tmp: Path) -> dict:
    """Reindex `swaps` times under load from `clients` threads; count what failed."""
    source = Path(shutil.copytree(SEEDS, tmp / "corpus"))
    index_dir, cache = tmp / "index", tmp / "cache"
    reindex(source, index_dir, FakeEncoder(), cache)
    found_after: list[float] = []
    not_found = 0
    with serving(index_dir, "--threads", "4") as server:

        def send(target: str) -> tuple[int, bytes]:
            answer = get(server.port, target, timeout=10)
            return answer.status, answer.body

        def finds(word: str, article: str) -> bool:
            status, body = send("/api/search?" + urllib.parse.urlencode({"q": word}))
            hits = json.loads(body)["results"] if status == 200 else []
            return any(hit["article_id"] == article for hit in hits)

        started = time.monotonic()
        with Load(send, TARGETS, threads=clients) as load:
            time.sleep(0.5)
            for i in range(swaps):
                word, article = f"пингвин{i}слово", f"new_{i:03d}"
                text = f"# Новость {i}\n\n{word} и пингвины, заметка номер {i}.\n"
                (source / f"{article}.md").write_text(text, encoding="utf-8")
                reindex(source, index_dir, FakeEncoder(), cache)
                swapped = time.monotonic()
                while not finds(word, article) and time.monotonic() - swapped < 10:
                    time.sleep(0.005)
                if finds(word, article):
                    found_after.append(time.monotonic() - swapped)
                else:
                    not_found += 1
                time.sleep(0.2)
        seconds = time.monotonic() - started
        current = index_dir.resolve()
        held = [
            path
            for build in (tmp / "index.builds").iterdir()
            if build != current
            for path in open_files_of(server.process.pid, build)
        ] + [line for line in open_files_of(server.process.pid, tmp) if "(deleted)" in line]
    generations = max(len(seen) for seen in load.generations)
    return {
        "swaps": swaps,
        "clients": clients,
        "seconds": round(seconds, 1),
        "sent": load.sent,
        "failed": len(load.failed),
        "failures": load.failed[:5],
        "p50_ms": round(percentile(load.seconds, 50), 1),
        "p95_ms": round(percentile(load.seconds, 95), 1),
        "max_ms": round(1000 * max(load.seconds), 1),
        "found_median_ms": round(1000 * statistics.median(found_after), 1) if found_after else None,
        "found_max_ms": round(1000 * max(found_after), 1) if found_after else None,
        "not_found": not_found,
        "generations_seen": generations,
        "held_files_of_old_builds": len(held),
    }


def kills(count: int, seed: int, tmp: Path) -> dict:
    """SIGKILL `count` reindexes at random moments; count what survived each check."""
    rng = random.Random(seed)
    source = crash_child.make_corpus(tmp / "corpus")
    index_dir, cache_dir = tmp / "index", tmp / "cache"
    expected = crash_child.expected_vectors(source)
    reindex(source, index_dir, FakeEncoder(), cache_dir)
    server = Searcher(index_dir, FakeEncoder())
    context = crash_child.forkserver()
    landed: Counter[str] = Counter()
    survived: Counter[str] = Counter()
    moved: Counter[str] = Counter()
    problems: list[str] = []
    for i in range(count):
        phase = crash_child.PHASES[i % len(crash_child.PHASES)]
        before = server.current().manifest.generation
        delay = rng.uniform(0, crash_child.WINDOWS[phase])
        kill = crash_child.kill_reindex_during(context, phase, delay, source, index_dir, cache_dir)
        where = kill.last[0] if kill.killed else "finished"
        landed[where] += 1
        if Manifest.read(index_dir.resolve()).generation != before:
            moved[where] += 1  # killed after the link had moved: the new build serves
        found = crash_child.problems_after_kill(
            kill, before, server, source, index_dir, cache_dir, expected
        )
        if found:
            problems += [f"kill {i} ({where}): {p}" for p in found]
        else:
            survived[where] += 1
    return {
        "kills": count,
        "seed": seed,
        "landed": dict(landed),
        "survived": dict(survived),
        "moved": dict(moved),
        "problems": problems[:10],
        "failed": count - sum(survived.values()),
    }


def run_pytest(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, int]]:
    """Run pytest in-process on `args`; its exit code and outcome counts."""
    import pytest

    counts: Counter[str] = Counter()

    class Tally:
        def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
            if report.when == "call" or report.outcome != "passed":
                counts["xfailed" if hasattr(report, "wasxfail") else report.outcome] += 1

    old = dict(os.environ)
    os.environ.update(env or {})
    try:
        code = pytest.main(["-q", "-p", "no:cacheprovider", *args], plugins=[Tally()])
    finally:
        os.environ.clear()
        os.environ.update(old)
    return int(code), dict(counts)


def fuzzing(examples: int) -> dict:
    """schemathesis with `examples` per operation and phase; then the hostile-input tests."""
    started = time.monotonic()
    code, counts = run_pytest(
        str(ROOT / "tests" / "test_fuzz_api.py"),
        env={"POISK_FUZZ_EXAMPLES": str(examples)},
    )
    fuzz = sys.modules["tests.test_fuzz_api"]
    sent: Counter = fuzz.SENT
    by_operation: dict[str, dict[int, int]] = {}
    for (operation, status), n in sorted(sent.items()):
        by_operation.setdefault(operation, {})[status] = n
    fuzz_seconds = time.monotonic() - started
    hostile_code, hostile = run_pytest(
        str(ROOT / "tests" / "test_hostile_input.py"),
        str(ROOT / "tests" / "test_untrusted_index.py"),
        str(ROOT / "tests" / "test_properties.py"),
    )
    return {
        "examples": examples,
        "exit_code": code,
        "tests": counts,
        "requests": sum(sent.values()),
        "server_errors": sum(n for (_, status), n in sent.items() if status == 500),
        "by_operation": by_operation,
        "seconds": round(fuzz_seconds, 1),
        "hostile_exit_code": hostile_code,
        "hostile_tests": hostile,
    }


def report(swap: dict, kill: dict, fuzz: dict, command: str) -> str:
    """The figures as Markdown."""
    lines = [
        f"`{command}` ({os.cpu_count()} cores, {time.strftime('%Y-%m-%d')})",
        "",
        "Swaps under load (waitress, 4 threads, fake encoder):",
        "",
        "| swaps | clients | requests sent | failed | p50 ms | p95 ms | max ms "
        "| new article found after (median / max ms) | not found | old-build files held |",
        "|---|---|---|---|---|---|---|---|---|---|",
        f"| {swap['swaps']} | {swap['clients']} | {swap['sent']} | {swap['failed']} "
        f"| {swap['p50_ms']} | {swap['p95_ms']} | {swap['max_ms']} "
        f"| {swap['found_median_ms']} / {swap['found_max_ms']} | {swap['not_found']} "
        f"| {swap['held_files_of_old_builds']} |",
        "",
        f"Kills (SIGKILL at a random moment of each phase in turn, seed {kill['seed']}):",
        "",
        "| phase the kill landed in | kills | survived | new build already swapped in |",
        "|---|---|---|---|",
    ]
    for phase in (*crash_child.PHASES, "finished"):
        if phase in kill["landed"]:
            lines.append(
                f"| {phase} | {kill['landed'][phase]} | {kill['survived'].get(phase, 0)} "
                f"| {kill['moved'].get(phase, 0)} |"
            )
    lines += [
        f"| **all** | {kill['kills']} | {kill['kills'] - kill['failed']} "
        f"| {sum(kill['moved'].values())} |",
        "",
        f"Fuzzing (schemathesis, {fuzz['examples']} examples per operation and phase, "
        f"positive and negative, with and without an index; {fuzz['seconds']} s):",
        "",
        "| operation | requests | by status |",
        "|---|---|---|",
    ]
    for operation, statuses in fuzz["by_operation"].items():
        spread = ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items()))
        lines.append(f"| {operation} | {sum(statuses.values())} | {spread} |")
    lines += [
        f"| **all** | {fuzz['requests']} | 500s: {fuzz['server_errors']} |",
        "",
        f"schemathesis tests: {fuzz['tests']} (exit code {fuzz['exit_code']}); hostile input, "
        f"untrusted index and property tests: {fuzz['hostile_tests']} "
        f"(exit code {fuzz['hostile_exit_code']}).",
    ]
    if swap["failures"] or kill["problems"]:
        lines += ["", "Problems:", *(f"- {p}" for p in swap["failures"] + kill["problems"])]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--swaps", type=int, default=20)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--fuzz-examples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=random.randrange(10**6))
    args = parser.parse_args()
    command = " ".join([".venv/bin/python -m bench.reliability", *sys.argv[1:]])
    with tempfile.TemporaryDirectory() as swap_tmp:
        print(f"swaps under load: {args.swaps} ...", file=sys.stderr)
        swap = swaps_under_load(args.swaps, args.clients, Path(swap_tmp))
    with tempfile.TemporaryDirectory() as kill_tmp:
        print(f"kills: {args.kills} ...", file=sys.stderr)
        kill = kills(args.kills, args.seed, Path(kill_tmp))
    print(f"fuzzing: {args.fuzz_examples} examples ...", file=sys.stderr)
    fuzz = fuzzing(args.fuzz_examples)
    print(report(swap, kill, fuzz, command))
    ok = swap["failed"] == 0 and kill["failed"] == 0 and fuzz["exit_code"] == 0
    sys.exit(0 if ok and fuzz["hostile_exit_code"] == 0 else 1)


if __name__ == "__main__":
    main()
