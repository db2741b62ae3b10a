"""An incremental reindex's plan: what changed since the current build, which segments
stay, which merge, and where every paragraph stands afterwards.

An article whose digest (index/segments.py `article_digest`) is that of its live copy in
the current build is kept where it is; every other article of the corpus (new or edited)
goes into the one new segment, with the live articles of the segments the merge policy
folds in; the copies of edited and removed articles are marked deleted. Paragraphs are
numbered in corpus order, as a full build numbers them (index/segments.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from core.errors import SearchError
from core.records import Article, Paragraph
from index.format import STORE_NAME, load_build
from index.manifest import Expected, Manifest, SegmentRecord
from index.segments import Placement, article_digest, load_digests, plan_merge
from index.store import Store
from index.swap import current_build
from index.titles import TITLE_ROWS_NAME
from indexer.file_record import Known


@dataclass
class OldSegment:
    """A segment of the current build, as far as a reindex needs to know it."""

    record: SegmentRecord
    ids: list[str]  # article ids, in article-row order
    digests: np.ndarray  # S32 an article
    article_rows: np.ndarray  # each paragraph's article row
    placement: Placement  # in the current build

    @cached_property
    def counts(self) -> np.ndarray:
        """Paragraphs an article row (counted once: the plan asks for every kept article)."""
        return np.bincount(self.article_rows, minlength=len(self.ids))


@dataclass
class Previous:
    """The current build, when a reindex may add to it."""

    path: Path
    manifest: Manifest
    segments: list[OldSegment]


def previous_build(index_dir: Path, expected: Expected) -> Previous | None:
    """The current build, when one exists that fits `expected` (the same models, analysis,
    passages and format) and passes the checks a server makes when it loads it (a damaged
    segment is not carried on); None: the reindex builds in full."""
    try:
        build = current_build(index_dir)
        manifest = Manifest.read(build)
        if manifest.mismatch(expected) is not None:
            return None
        _check_loads(build)
        segments = [_old_segment(build, record) for record in manifest.segments]
    except (SearchError, OSError, ValueError, sqlite3.Error):
        return None
    return Previous(build, manifest, segments)


def _check_loads(build: Path) -> None:
    """Raise SearchError unless `build` loads as a server would load it."""
    try:
        load_build(build).close()
    except SearchError:
        raise
    except Exception as exc:  # a damaged file can fail in ways the readers don't name
        raise SearchError(f"index at {build} is unreadable: {exc}") from exc


def _old_segment(build: Path, record: SegmentRecord) -> OldSegment:
    """Read what a reindex needs of one segment: its articles, digests and deletes."""
    folder = build / record.name
    store = Store(folder / STORE_NAME)
    try:
        ids = store.article_ids()
    finally:
        store.close()
    rows = np.load(folder / TITLE_ROWS_NAME, allow_pickle=False)
    placement = Placement.load(build, record.name, record.paragraphs, record.articles)
    if len(ids) != record.articles or len(rows) != record.paragraphs:
        raise ValueError(f"segment {record.name} does not hold what its record says")
    return OldSegment(record, ids, load_digests(folder, record.articles), rows, placement)


@dataclass
class Plan:
    """What an incremental reindex writes."""

    kept: list[tuple[OldSegment, Placement]]  # segments kept, with their new deletes
    articles: list[Article | Known]  # the new segment's, in corpus order
    paragraphs: list[Paragraph]
    placement: Placement  # the new segment's
    merged: list[str]  # names of the segments folded into the new one
    live: int  # live paragraphs of the build
    changed: int  # articles new or edited
    removed: int  # articles removed or edited (their old copies deleted)


def plan(
    previous: Previous,
    articles: Sequence[Article | Known],
    split: Callable[[Article | Known], list[Paragraph]],
) -> Plan:
    """The plan for reindexing `articles` (the whole corpus, in order) over `previous`;
    `split` cuts an article into paragraphs (called only for articles not kept). A Known
    article (of a file not read again: indexer/changed.py) is its live copy, unchanged;
    one the merge policy moves is in the plan's articles as it is (the caller reads it)."""
    live: dict[str, tuple[int, int]] = {}  # article id -> (segment, article row)
    for i, segment in enumerate(previous.segments):
        for row, (aid, alive) in enumerate(zip(segment.ids, segment.placement.articles)):
            if alive:
                live[aid] = (i, row)
    kept = {
        a.id: live[a.id]
        for a in articles
        if a.id in live and _digest(previous, live[a.id]) == _digest_of(a)
    }
    removed = len(live) - len(kept)
    changed = [a for a in articles if a.id not in kept]
    split_cache = {a.id: split(a) for a in changed}
    merged = _merged(previous, kept, sum(len(p) for p in split_cache.values()))
    moving = {aid for aid, (segment, _) in kept.items() if segment in merged}
    fresh = [a for a in articles if a.id not in kept or a.id in moving]
    for a in fresh:
        if a.id in moving:
            split_cache[a.id] = split(a)
    counts = [_count(previous, kept, split_cache, a.id) for a in articles]
    starts = dict(zip((a.id for a in articles), np.cumsum([0, *counts[:-1]]).tolist()))
    paragraphs = [p for a in fresh for p in split_cache[a.id]]
    rows = np.fromiter(
        (starts[a.id] + n for a in fresh for n in range(len(split_cache[a.id]))),
        np.int64,
        len(paragraphs),
    )
    stay = {aid: place for aid, place in kept.items() if aid not in moving}
    return Plan(
        kept=[
            (segment, _placement(segment, i, stay, starts))
            for i, segment in enumerate(previous.segments)
            if i not in merged
        ],
        articles=fresh,
        paragraphs=paragraphs,
        placement=Placement(rows, np.ones(len(fresh), dtype=bool)),
        merged=[previous.segments[i].record.name for i in sorted(merged)],
        live=sum(counts),
        changed=len(changed),
        removed=removed,
    )


def _digest(previous: Previous, place: tuple[int, int]) -> bytes:
    """The digest of the article at (segment, article row)."""
    segment, row = place
    return bytes(previous.segments[segment].digests[row])


def _digest_of(article: Article | Known) -> bytes:
    """An article's digest; a Known one's is its live copy's."""
    return article.digest if isinstance(article, Known) else article_digest(article)


def _count(
    previous: Previous,
    kept: dict[str, tuple[int, int]],
    split: dict[str, list[Paragraph]],
    article_id: str,
) -> int:
    """How many paragraphs an article has: from the new split, or its kept copy."""
    if article_id in split:
        return len(split[article_id])
    segment, row = kept[article_id]
    return int(previous.segments[segment].counts[row])


def _merged(previous: Previous, kept: dict[str, tuple[int, int]], new: int) -> set[int]:
    """The segments (positions) the merge policy folds into the new one."""
    names = [s.record.name for s in previous.segments]
    live = dict.fromkeys(names, 0)
    for segment, row in kept.values():
        live[names[segment]] += int(previous.segments[segment].counts[row])
    total = {s.record.name: s.record.paragraphs for s in previous.segments}
    chosen = plan_merge(live, total, new)
    return {i for i, name in enumerate(names) if name in chosen}


def _placement(
    segment: OldSegment, index: int, stay: dict[str, tuple[int, int]], starts: dict[str, int]
) -> Placement:
    """A kept segment's new deletes: its articles still in `stay` live, at their rows."""
    start = np.full(len(segment.ids), -1, dtype=np.int64)
    for aid, (i, row) in stay.items():
        if i == index:
            start[row] = starts[aid]
    owners = segment.article_rows.astype(np.int64)
    first = np.searchsorted(owners, np.arange(len(segment.ids)), side="left")
    offset = np.arange(len(owners), dtype=np.int64) - first[owners]
    rows = np.where(start[owners] >= 0, start[owners] + offset, -1)
    articles = np.zeros(len(segment.ids), dtype=bool)
    articles[[row for i, row in stay.values() if i == index]] = True
    return Placement(rows.astype(np.int64), articles)
