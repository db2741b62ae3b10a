"""An incremental reindex's plan: what changed since the current build, which segments
stay, which merge, and where every paragraph stands afterwards.

An article whose digest (index/segments.py `article_digest`) is that of its live copy in
the current build is kept where it is; every other article of the corpus (new or edited)
goes into the one new segment of its shard (index/segments.py `shard_of`; an unsharded
build has one), with the live articles of the segments of that shard the merge policy
folds in; the copies of edited and removed articles are marked deleted. Paragraphs are
numbered in corpus order, as a full build numbers them (index/segments.py). A full build
is the plan over no segments: every article new, one segment a shard.
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
from index.segments import Placement, article_digest, load_digests, plan_merge, shard_of
from index.store import Store
from index.swap import current_build
from index.titles import TITLE_ROWS_NAME
from indexer.file_record import Known


@dataclass
class OldSegment:
    """A segment of the current build, as far as a reindex needs to know it."""

    record: SegmentRecord
    ids: list[str]  # article ids, in article-row order
    digests: np.ndarray  # 32 bytes (uint8) an article: index/segments.py load_digests
    article_rows: np.ndarray  # each paragraph's article row
    placement: Placement  # in the current build

    @cached_property
    def counts(self) -> np.ndarray:
        """Paragraphs an article row."""
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
class NewSegment:
    """A segment a reindex writes: one shard's new and edited articles, with the live
    articles of that shard's segments merged into it."""

    shard: int
    articles: list[Article | Known]  # in corpus order (Known: read by the caller, build.py)
    paragraphs: list[Paragraph]
    placement: Placement


@dataclass
class Plan:
    """What a reindex writes."""

    kept: list[tuple[OldSegment, Placement]]  # segments kept, with their new deletes
    new: list[NewSegment]  # by shard, those that have articles
    merged: list[str]  # names of the segments folded into new ones
    live: int  # live paragraphs of the build
    changed: int  # articles new or edited
    removed: int  # articles removed or edited (their old copies deleted)

    @cached_property
    def articles(self) -> list[Article]:
        """The new segments' articles, one segment after another."""
        return [a for segment in self.new for a in segment.articles]

    @cached_property
    def paragraphs(self) -> list[Paragraph]:
        """The new segments' paragraphs, one segment after another."""
        return [p for segment in self.new for p in segment.paragraphs]


def plan(
    segments: Sequence[OldSegment],
    articles: Sequence[Article | Known],
    split: Callable[[Article | Known], list[Paragraph]],
    shards: int = 1,
) -> Plan:
    """The plan for reindexing `articles` (the whole corpus, in order) over the current
    build's `segments` (none: a full build) in `shards` shards (the build's count); `split`
    cuts an article into paragraphs (called only for articles not kept). A Known article
    (of a file not read again: indexer/changed.py) is its live copy, unchanged; one the
    merge policy moves is in the new segments as it is (the caller reads it)."""
    live: dict[str, tuple[int, int]] = {}  # article id -> (segment, article row)
    for i, segment in enumerate(segments):
        for row, (aid, alive) in enumerate(zip(segment.ids, segment.placement.articles)):
            if alive:
                live[aid] = (i, row)
    kept = {
        a.id: live[a.id]
        for a in articles
        if a.id in live and _digest(segments, live[a.id]) == _digest_of(a)
    }
    shard = {a.id: shard_of(a.id, shards) for a in articles}
    changed = [a for a in articles if a.id not in kept]
    split_cache = {a.id: split(a) for a in changed}
    new = [0] * shards  # each shard's new paragraphs
    for a in changed:
        new[shard[a.id]] += len(split_cache[a.id])
    merged = _merged(segments, kept, new)
    moving = {aid for aid, (segment, _) in kept.items() if segment in merged}
    fresh = [a for a in articles if a.id not in kept or a.id in moving]
    for a in fresh:
        if a.id in moving:
            split_cache[a.id] = split(a)
    counts = [_count(segments, kept, split_cache, a.id) for a in articles]
    starts = dict(zip((a.id for a in articles), np.cumsum([0, *counts[:-1]]).tolist()))
    stay = {aid: place for aid, place in kept.items() if aid not in moving}
    return Plan(
        kept=[
            (segment, _placement(segment, i, stay, starts))
            for i, segment in enumerate(segments)
            if i not in merged
        ],
        new=_new_segments(fresh, shard, split_cache, starts),
        merged=[segments[i].record.name for i in sorted(merged)],
        live=sum(counts),
        changed=len(changed),
        removed=len(live) - len(kept),
    )


def _new_segments(
    fresh: Sequence[Article],
    shard: dict[str, int],
    split: dict[str, list[Paragraph]],
    starts: dict[str, int],
) -> list[NewSegment]:
    """The new segments, one a shard that has `fresh` articles, in shard order; each
    paragraph placed at its global row (no longer contiguous in a sharded build)."""
    by_shard: dict[int, list[Article]] = {}
    for a in fresh:
        by_shard.setdefault(shard[a.id], []).append(a)
    new = []
    for number, articles in sorted(by_shard.items()):
        paragraphs = [p for a in articles for p in split[a.id]]
        rows = np.fromiter(
            (starts[a.id] + n for a in articles for n in range(len(split[a.id]))),
            np.int64,
            len(paragraphs),
        )
        placement = Placement(rows, np.ones(len(articles), dtype=bool))
        new.append(NewSegment(number, articles, paragraphs, placement))
    return new


def _digest(segments: Sequence[OldSegment], place: tuple[int, int]) -> bytes:
    """The digest of the article at (segment, article row)."""
    segment, row = place
    return segments[segment].digests[row].tobytes()


def _digest_of(article: Article | Known) -> bytes:
    """An article's digest; a Known one's is its live copy's."""
    return article.digest if isinstance(article, Known) else article_digest(article)


def _count(
    segments: Sequence[OldSegment],
    kept: dict[str, tuple[int, int]],
    split: dict[str, list[Paragraph]],
    article_id: str,
) -> int:
    """How many paragraphs an article has: from the new split, or its kept copy."""
    if article_id in split:
        return len(split[article_id])
    segment, row = kept[article_id]
    return int(segments[segment].counts[row])


def _merged(
    segments: Sequence[OldSegment], kept: dict[str, tuple[int, int]], new: Sequence[int]
) -> set[int]:
    """The segments (positions) the merge policy folds into a new one, shard by shard, so
    that a merge never mixes shards; `new` counts each shard's new paragraphs."""
    live = [0] * len(segments)
    for segment, row in kept.values():
        live[segment] += int(segments[segment].counts[row])
    chosen: set[int] = set()
    for shard, size in enumerate(new):
        ours = {s.record.name: i for i, s in enumerate(segments) if s.record.shard == shard}
        total = {name: segments[i].record.paragraphs for name, i in ours.items()}
        picked = plan_merge({name: live[i] for name, i in ours.items()}, total, size)
        chosen |= {ours[name] for name in picked}
    return chosen


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
