"""Crash safety: SIGKILL a reindex at 20 random moments of its four phases.

After every kill the index still answers from the previous build (or, if the kill came
after the link moved, from the complete new one), a fresh reader loads it too, the
embedding cache passes SQLite's integrity check with every vector whole and right, and
the next reindex completes. Children fork from a forkserver that has the code imported,
so a kill costs a fraction of a second. POISK_CRASH_SEED replays a run.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from pathlib import Path

from index.manifest import MANIFEST_NAME
from index.swap import builds_dir
from indexer.build import reindex
from search.contract import SearchRequest
from search.service import Searcher
from tests.crash_child import (
    PHASES,
    WINDOWS,
    Kill,
    expected_vectors,
    forkserver,
    kill_reindex_during,
    make_corpus,
    problems_after_kill,
)
from tests.fakes import FakeEncoder

KILLS = 20


def test_twenty_kills_leave_the_index_the_cache_and_the_next_reindex_sound(
    tmp_path: Path,
) -> None:
    seed = int(os.environ.get("POISK_CRASH_SEED", random.randrange(10**6)))
    rng = random.Random(seed)
    source = make_corpus(tmp_path / "corpus")
    index_dir, cache_dir = tmp_path / "index", tmp_path / "cache"
    expected = expected_vectors(source)
    reindex(source, index_dir, FakeEncoder(), cache_dir)
    server = Searcher(index_dir, FakeEncoder())  # stands for a running server
    assert server.search(SearchRequest(q="порт")).total > 0
    context = forkserver()
    kills: list[Kill] = []
    for i in range(KILLS):
        phase = PHASES[i % len(PHASES)]
        before = server.current().manifest.generation
        delay = rng.uniform(0, WINDOWS[phase])
        kill = kill_reindex_during(context, phase, delay, source, index_dir, cache_dir)
        kills.append(kill)
        problems = problems_after_kill(kill, before, server, source, index_dir, cache_dir, expected)
        assert problems == [], f"seed {seed}, kill {i}: {kill}"

    landed = Counter(k.last[0] for k in kills if k.killed)
    print(f"seed {seed}: kills landed in {dict(landed)}")
    assert sum(landed.values()) >= KILLS - 2, (seed, kills)
    assert all(landed[phase] >= 2 for phase in PHASES), (seed, landed)
    builds = list(builds_dir(index_dir).iterdir())
    assert len(builds) <= 2 and all((b / MANIFEST_NAME).is_file() for b in builds)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".link")] == []


def change(source: Path, step: int) -> None:
    """Change the corpus as a newsroom does: a new file each step, and every other step an
    article edited or a file removed."""
    lines = [
        json.dumps({"id": f"new{step}-{a}", "title": f"Новость {step}-{a}",
                    "text": f"Порт {step} принял судно {a}.\n\nNovost {step} {a}."},
                   ensure_ascii=False)
        for a in range(12)
    ]  # fmt: skip
    (source / f"new-{step:02d}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    old = sorted(source.glob("part-*.jsonl"))
    if step % 2 and old:
        old[0].unlink()
    elif old:
        lines = old[-1].read_text(encoding="utf-8").splitlines()
        lines[0] = lines[0].replace("Порт номер", f"Порт (правка {step}) номер")
        old[-1].write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_kills_during_incremental_reindexes_and_merges_leave_the_index_whole(
    tmp_path: Path,
) -> None:
    """Incremental reindexes (new segments, deletes, merges: the twelve steps pass the
    merge policy's limit) killed at random moments: the served index stays whole, and the
    next reindex completes what the killed one started."""
    seed = int(os.environ.get("POISK_CRASH_SEED", random.randrange(10**6)))
    rng = random.Random(seed)
    source = make_corpus(tmp_path / "corpus", files=8, articles=15)
    index_dir, cache_dir = tmp_path / "index", tmp_path / "cache"
    expected = expected_vectors(source)
    reindex(source, index_dir, FakeEncoder(), cache_dir)
    server = Searcher(index_dir, FakeEncoder())
    context = forkserver()
    landed, segments = Counter(), []
    for step in range(12):
        change(source, step)
        expected |= expected_vectors(source)
        phase = PHASES[step % len(PHASES)]
        before = server.current().manifest.generation
        delay = rng.uniform(0, WINDOWS[phase])
        kill = kill_reindex_during(context, phase, delay, source, index_dir, cache_dir, full=False)
        landed[kill.last[0]] += kill.killed
        problems = problems_after_kill(kill, before, server, source, index_dir, cache_dir, expected)
        assert problems == [], f"seed {seed}, step {step}: {kill}"
        segments.append(len(server.current().manifest.segments))
    print(f"seed {seed}: kills landed in {dict(landed)}, segments {segments}")
    assert sum(landed.values()) >= 6, (seed, landed)
    assert max(segments) > 2 and segments[-1] < max(segments)  # grew, then merged
    stats = server.stats()
    assert stats.paragraphs == sum(
        2 * len(f.read_text().splitlines()) for f in source.glob("*.jsonl")
    )


def test_a_kill_between_link_and_rename_leaves_no_stray_link(tmp_path: Path) -> None:
    """swap_in() makes a temporary link and renames it over the index: a kill in between
    leaves the temporary link behind; the next reindex clears it away."""
    source = make_corpus(tmp_path / "corpus", files=2, articles=2)
    reindex(source, tmp_path / "index", FakeEncoder(), tmp_path / "cache")
    stray = tmp_path / ".index.20000101T000000000000Z-dead00.link"
    stray.symlink_to("index.builds/20000101T000000000000Z-dead00")
    reindex(source, tmp_path / "index", FakeEncoder(), tmp_path / "cache")
    assert not stray.is_symlink()
    assert (tmp_path / "index").is_symlink()


def test_the_child_passes_through_every_phase_it_is_killed_in(tmp_path: Path) -> None:
    """Left alone, the instrumented child reports the four phases in order and finishes."""
    source = make_corpus(tmp_path / "corpus", files=2, articles=3)
    run = kill_reindex_during(
        forkserver(), "done", 0, source, tmp_path / "index", tmp_path / "cache"
    )
    assert run.exitcode == 0 and run.seen == (*PHASES, "done")
    assert Searcher(tmp_path / "index", FakeEncoder()).search(SearchRequest(q="порт")).total > 0
