"""Segments: the immutable parts a build is made of, where their paragraphs stand, and
when they are merged.

A build (index/format.py) is a list of segments, each a folder written once and never
changed (its store, BM25 postings, vectors and title vectors), plus, for each segment, two
small files of the build's own that say which of its paragraphs and articles are still
live. A reindex that finds new or changed articles writes one new segment holding them,
hard-links the older segments into the new build, and marks their replaced or removed
paragraphs deleted; the manifest, written last, lists the live segments, and the build is
swapped in atomically as a whole (index/swap.py). See docs/segments.md.

`<segment>.rows.npy` (int64, one entry a paragraph of the segment) is the deletes file:
-1 marks a deleted paragraph, any other value is the paragraph's global row. Global rows
number the live paragraphs 0..N-1 in corpus order, the very rows a single full build of
the same corpus gives them, so that a segmented index breaks ties and reads like one.
`<segment>.articles.npy` (uint8, one an article of the segment) is 1 for a live article.

A build may be split into shards (Manifest.shards): an article belongs to the shard
`shard_of` its id, each segment holds the articles of one shard, and merges stay within a
shard, so that a server may load one shard's segments only.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import REINDEX_HINT, IndexCorrupt
from core.records import Article

ROWS_SUFFIX = ".rows.npy"
ARTICLES_SUFFIX = ".articles.npy"
DIGESTS_NAME = "digests.npy"  # in a segment: each article's digest (article_digest)
# In a segment: the embedding cache's key of each paragraph's passage text and of each
# article's title (zeros: none), so that a build records which cached vectors it uses.
PASSAGE_KEYS_NAME = "passage_keys.npy"
TITLE_KEYS_NAME = "title_keys.npy"

MAX_SEGMENTS = 10  # more than this after a reindex: the smallest are merged
SEGMENTS_PER_TIER = 10  # this many segments of one size tier: merged into one
TIER_FACTOR = 10  # a tier spans sizes within this factor
TIER_FLOOR = 1000  # segments below this many live paragraphs share the lowest tier
MAX_DELETED_SHARE = 0.5  # a segment with more of its paragraphs deleted is rewritten


def shard_of(article_id: str, shards: int) -> int:
    """The shard of an article, 0..shards-1: the first 8 bytes of the sha256 of its id, so
    that every process and every run assigns it alike (Python's hash() is salted)."""
    return int.from_bytes(hashlib.sha256(article_id.encode()).digest()[:8], "big") % shards


def article_digest(article: Article) -> bytes:
    """sha256 of everything an article's indexed form is made from: unchanged digest,
    unchanged paragraphs, vectors and metadata (with the same models and settings)."""
    fields = [
        article.id,
        article.title,
        article.body,
        article.date,
        article.url,
        article.rubric,
        article.source,
        article.outlet,
    ]
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode()).digest()


def save_digests(segment: Path, articles: Sequence[Article]) -> None:
    """Write each article's digest into the segment folder, in article order."""
    digests = np.array([article_digest(a) for a in articles], dtype="S32")
    np.save(segment / DIGESTS_NAME, digests, allow_pickle=False)


def load_digests(segment: Path, articles: int) -> np.ndarray:
    """The segment's article digests, checked against its article count: 32 bytes a row
    (uint8), so that bytes(row) is the whole digest (whole32)."""
    try:
        digests = np.load(segment / DIGESTS_NAME, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(
            f"article digests in {segment} are unreadable ({exc}); {REINDEX_HINT}"
        ) from exc
    if digests.dtype != np.dtype("S32") or digests.shape != (articles,):
        raise IndexCorrupt(f"article digests in {segment} do not fit its {articles} articles")
    return whole32(digests)


def whole32(array: np.ndarray) -> np.ndarray:
    """An S32 array as rows of 32 uint8. numpy's bytes items drop trailing NUL bytes, and
    one sha256 in 256 ends in one: read as items, such a digest would never match its
    article again (found at a million articles, where merges met 2 of them)."""
    return np.ascontiguousarray(array).view(np.uint8).reshape(len(array), 32)


def save_keys(segment: Path, passages: Sequence[bytes], titles: Sequence[bytes]) -> None:
    """Write the segment's cache keys: one a paragraph, one an article (b"": no title)."""
    for name, keys in ((PASSAGE_KEYS_NAME, passages), (TITLE_KEYS_NAME, titles)):
        np.save(segment / name, np.array(list(keys), dtype="S32"), allow_pickle=False)


def live_keys(segment: Path, placement: Placement) -> list[bytes]:
    """The cache keys of a segment's live paragraphs and articles ([] when it has none
    recorded, or they do not fit)."""
    try:
        passages = np.load(segment / PASSAGE_KEYS_NAME, allow_pickle=False)
        titles = np.load(segment / TITLE_KEYS_NAME, allow_pickle=False)
    except (OSError, ValueError):
        return []
    if passages.shape != placement.rows.shape or titles.shape != placement.articles.shape:
        return []
    keys = whole32(np.concatenate([passages[placement.rows >= 0], titles[placement.articles]]))
    return [key.tobytes() for key in keys if key.any()]


@dataclass(frozen=True)
class Placement:
    """Where one segment's paragraphs and articles stand in a build: each paragraph's
    global row (-1: deleted) and whether each article is live."""

    rows: np.ndarray  # int64
    articles: np.ndarray  # bool

    @classmethod
    def whole(cls, paragraphs: int, articles: int, first_row: int = 0) -> Placement:
        """Every paragraph and article live, rows numbered on from `first_row`."""
        rows = np.arange(first_row, first_row + paragraphs, dtype=np.int64)
        return cls(rows, np.ones(articles, dtype=bool))

    @property
    def live(self) -> int:
        """Live paragraphs."""
        return int(np.count_nonzero(self.rows >= 0))

    def save(self, build: Path, name: str) -> None:
        """Write the segment's deletes files into `build`."""
        np.save(build / (name + ROWS_SUFFIX), self.rows.astype(np.int64), allow_pickle=False)
        flags = self.articles.astype(np.uint8)
        np.save(build / (name + ARTICLES_SUFFIX), flags, allow_pickle=False)

    @classmethod
    def load(cls, build: Path, name: str, paragraphs: int, articles: int) -> Placement:
        """Read a segment's deletes files from `build`, checked against its counts."""
        try:
            rows = np.load(build / (name + ROWS_SUFFIX), allow_pickle=False)
            flags = np.load(build / (name + ARTICLES_SUFFIX), allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise IndexCorrupt(
                f"deletes of segment {name} in {build} are unreadable ({exc}); {REINDEX_HINT}"
            ) from exc
        ok = (
            rows.dtype == np.int64
            and rows.shape == (paragraphs,)
            and flags.dtype == np.uint8
            and flags.shape == (articles,)
            and (rows.size == 0 or int(rows.min()) >= -1)
        )
        if not ok:
            raise IndexCorrupt(
                f"deletes of segment {name} in {build} do not fit its {paragraphs} paragraphs "
                f"and {articles} articles; {REINDEX_HINT}"
            )
        return cls(rows, flags.astype(bool))


def link_segment(source: Path, target: Path) -> None:
    """Put an existing segment folder into a new build: hard links (no copy; the segment
    is never written again), or a copy where the file system has no hard links."""
    shutil.copytree(source, target, copy_function=_link_or_copy)


def _link_or_copy(source: str, target: str) -> None:
    """Hard-link one file, copying it where linking fails."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def tier(size: int) -> int:
    """A segment's size tier: 0 below TIER_FLOOR live paragraphs, one more a TIER_FACTOR."""
    return 0 if size < TIER_FLOOR else 1 + int(math.log(size / TIER_FLOOR, TIER_FACTOR))


def plan_merge(live: Mapping[str, int], total: Mapping[str, int], new: int) -> set[str]:
    """The existing segments a reindex folds into the segment it writes (holding `new`
    paragraphs), by a tiered policy like Lucene's: a segment mostly deleted is rewritten;
    once SEGMENTS_PER_TIER segments share the new one's tier or a lower one, they merge
    into it (the merged one may reach the next tier and merge again); and while more than
    MAX_SEGMENTS would remain, the smallest are merged. `live` and `total` count each
    segment's live and all paragraphs."""
    merged = {s for s in live if total[s] and (total[s] - live[s]) > MAX_DELETED_SHARE * total[s]}
    while True:
        size = new + sum(live[s] for s in merged)
        rest = sorted((s for s in live if s not in merged), key=lambda s: (live[s], s))
        lower = [s for s in rest if tier(live[s]) <= tier(size)]
        if len(lower) + 1 >= SEGMENTS_PER_TIER:
            merged |= set(lower)
        elif len(rest) + 1 > MAX_SEGMENTS:
            merged |= set(rest[: len(rest) + 1 - MAX_SEGMENTS])
        else:
            return merged
