"""One build of the index on disk: its segments, written and read here, side by side.

A build is a folder (index/swap.py: where builds live, how one is swapped in) holding

    <segment>/            one folder a segment (index/segments.py), written once:
        store.sqlite          its articles and paragraphs (index/store.py)
        bm25/                 its BM25 postings (index/lexical.py)
        vectors.faiss         the primary model's paragraph vectors (index/vectors.py)
        vectors-cross.faiss   the cross-lingual model's, when the build has one
        titles*.npy, title_rows.npy   each model's article title vectors (index/titles.py)
        digests.npy           each article's digest, to tell a changed one at reindex
    <segment>.rows.npy, <segment>.articles.npy   the build's deletes of that segment
    manifest.json         written last: the segments, what the build was made from and with

BuildWriter writes them (a reindex, and the scale bench's synthetic builds: the same
code, so the same manifest): one new segment (in a build split into shards, one a shard
at most), and older segments kept from the build before with their new deletes;
load_build() opens them and checks that they agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import numpy as np

from core.errors import REINDEX_HINT, IndexCorrupt
from core.records import Article, Paragraph
from index.composite import RowMap, SegmentedStore, SegmentedTitles, SegmentedVectors
from index.lexical import LexicalIndex, Postings, live_stats
from index.manifest import (
    ANALYZER,
    BM25,
    FORMAT_VERSION,
    Counts,
    Manifest,
    ModelRecord,
    SegmentRecord,
    SourceRecord,
    VectorsRecord,
)
from index.segments import Placement, link_segment, save_digests, save_keys
from index.store import Store, write_store
from index.swap import builds_dir, current_build, fsync_tree, new_generation, swap_in
from index.text import script as script_of
from index.titles import Titles, load_titles, save_titles
from index.vectors import VectorIndex

STORE_NAME = "store.sqlite"
BM25_DIR = "bm25"
VECTORS_NAME = "vectors.faiss"
CROSS_VECTORS_NAME = "vectors-cross.faiss"  # the cross-lingual leg's, when the build has one


@dataclass
class _NewSegment:
    """A segment a BuildWriter writes: its folder, its shard and what of it is written."""

    folder: Path
    shard: int = 0
    articles: int = 0
    paragraphs: int = 0
    placement: Placement | None = None
    written: set[str] = field(default_factory=set)
    kind: str = "flat"  # its vector index's (index/vectors.py)


class BuildWriter:
    """Writes one new build folder: the segments kept from the build before (keep), then
    its new segment a part a call, so that a caller may time each or free memory between
    them; then its manifest (last: a build with a manifest is complete), and swaps it in.
    Every part of the new segment must be written before the manifest; a build may also
    have no new segment (a reindex that only deleted). A build split into `shards` may
    have a new segment a shard: `begin` starts each."""

    def __init__(self, index_dir: Path, generation: str | None = None, shards: int = 1) -> None:
        self.index_dir = index_dir
        self.path = builds_dir(index_dir) / (generation or new_generation())
        self.path.mkdir(parents=True)
        self.shards = shards
        self._kept: list[tuple[SegmentRecord, Placement]] = []
        self._new = [_NewSegment(self.path / self.path.name)]  # shard 0's, named as the build

    @property
    def segment(self) -> Path:
        """The folder of the new segment being written."""
        return self._new[-1].folder

    def begin(self, shard: int) -> None:
        """Start the new segment of `shard` (one a shard): named as the build when the
        build has one shard, `<build>-<shard>` when it has more. Without a call, the build's
        one new segment is shard 0's."""
        if not 0 <= shard < self.shards:
            raise ValueError(f"build {self.path} has {self.shards} shard(s), not shard {shard}")
        if any(s.shard == shard and s.written for s in self._new):
            raise ValueError(f"build {self.path} has a new segment of shard {shard} already")
        name = self.path.name if self.shards == 1 else f"{self.path.name}-{shard}"
        segment = _NewSegment(self.path / name, shard)
        if self._new[-1].written:
            self._new.append(segment)
        else:
            self._new[-1] = segment

    def keep(self, build: Path, record: SegmentRecord, placement: Placement) -> None:
        """Put a segment of `build` into this one (hard links), with its new deletes."""
        link_segment(build / record.name, self.path / record.name)
        self._kept.append((record, placement))

    def store(
        self,
        articles: Sequence[Article],
        paragraphs: Sequence[Paragraph],
        reprints: Mapping[str, str] | None = None,
    ) -> None:
        """The new segment's SQLite store of the articles and their paragraphs, in row
        order, with each reprinted article's group (index/store.py: write_store), and the
        articles' digests."""
        new = self._new[-1]
        new.folder.mkdir()
        write_store(new.folder / STORE_NAME, articles, paragraphs, reprints)
        save_digests(new.folder, articles)
        new.articles, new.paragraphs = len(articles), len(paragraphs)
        new.written.add("store")

    def place(self, placement: Placement) -> None:
        """Where the new segment's paragraphs stand in the build (default: every one
        live, numbered 0..n-1, as a full build has them)."""
        self._new[-1].placement = placement

    def keys(self, passages: Sequence[bytes], titles: Sequence[bytes]) -> None:
        """The new segment's embedding-cache keys (optional: a synthetic build has none)."""
        save_keys(self.segment, passages, titles)

    def lexical(self, index: LexicalIndex) -> None:
        """The BM25 postings of the paragraphs."""
        index.save(self.segment / BM25_DIR)
        self._new[-1].written.add("bm25")

    def vectors(self, index: VectorIndex) -> None:
        """The primary model's paragraph vectors."""
        index.save(self.segment / VECTORS_NAME)
        self._new[-1].kind = index.kind
        self._new[-1].written.add("vectors")

    def cross_vectors(self, index: VectorIndex) -> None:
        """The cross-lingual model's paragraph vectors."""
        index.save(self.segment / CROSS_VECTORS_NAME)
        self._new[-1].written.add("cross vectors")

    def titles(self, rows: np.ndarray, titles: np.ndarray, cross: np.ndarray | None) -> None:
        """Each paragraph's article row, and each model's article title vectors."""
        save_titles(self.segment, rows, titles, cross)
        self._new[-1].written |= {"titles"} if cross is None else {"titles", "cross titles"}

    def manifest(
        self,
        model: ModelRecord,
        cross_model: ModelRecord | None,
        source: SourceRecord,
        passage: str,
        title_weight: float,
        skipped: int = 0,
        reprints: bool = False,
    ) -> Manifest:
        """Write the deletes and manifest.json, marking the build complete; returns it.
        `reprints`: whether the articles' reprint groups were found."""
        segments = self._kept + self._new_segments(cross_model is not None)
        for record, placement in segments:
            placement.save(self.path, record.name)
        live = [p.live for _, p in segments]
        kinds = {record.vectors for record, _ in segments}
        manifest = Manifest(
            generation=self.path.name,
            built_at=datetime.now(UTC).isoformat(timespec="seconds"),
            model=model,
            counts=Counts(
                articles=sum(int(p.articles.sum()) for _, p in segments),
                paragraphs=sum(live),
                skipped=skipped,
            ),
            source=source,
            vectors=VectorsRecord(
                kind="hnsw" if "hnsw" in kinds else "flat",
                count=sum(live),
                passage=passage,
                title_weight=title_weight,
            ),
            analyzer=ANALYZER,
            bm25=BM25,
            cross_model=cross_model,
            segments=[record for record, _ in segments],
            reprints=reprints,
            format_version=FORMAT_VERSION,
            shards=self.shards,
        )
        manifest.write(self.path)
        return manifest

    def _new_segments(self, cross: bool) -> list[tuple[SegmentRecord, Placement]]:
        """The new segments' records and placements, of those written (a build with no
        kept segment must have one); every part each must have is checked to be there."""
        new = [s for s in self._new if s.written] or ([] if self._kept else self._new[-1:])
        parts = {"store", "bm25", "vectors", "titles"}
        if cross:
            parts |= {"cross vectors", "cross titles"}
        for segment in new:
            if segment.written != parts:
                raise ValueError(
                    f"segment {segment.folder} has {sorted(segment.written)}, not {sorted(parts)}"
                )
        return [
            (
                SegmentRecord(
                    name=s.folder.name,
                    articles=s.articles,
                    paragraphs=s.paragraphs,
                    vectors=s.kind,  # type: ignore[arg-type]
                    shard=s.shard,
                ),
                s.placement or Placement.whole(s.paragraphs, s.articles),
            )
            for s in new
        ]

    def flush(self) -> None:
        """Flush every file of the build to disk, before it is swapped in."""
        fsync_tree(self.path)

    def swap_in(self) -> None:
        """Point the index at this build (atomic), then drop builds no longer needed."""
        swap_in(self.index_dir, self.path)


@dataclass
class LoadedIndex:
    """Everything a search needs from one build, opened and checked: each part over all
    of the build's segments, by global paragraph row (index/composite.py)."""

    path: Path
    manifest: Manifest
    store: SegmentedStore
    lexical: LexicalIndex
    vectors: SegmentedVectors
    cross: SegmentedVectors | None = None
    titles: SegmentedTitles | None = None  # the model's title vectors (index.titles)
    cross_titles: SegmentedTitles | None = None  # the cross-lingual model's

    @cached_property
    def script(self) -> str | None:
        """The corpus's main script (LexicalIndex.main_script): a pass over the vocabulary
        (79 ms at a million paragraphs), so only when a search first needs it."""
        return self.lexical.main_script()

    def in_main_script(self, text: str) -> bool:
        """Whether `text` is written in the corpus's main script (True when either has none)."""
        return self.script is None or script_of(text) in (None, self.script)

    def dense(
        self,
        queries: Sequence[tuple[str, np.ndarray]],
        k: int,
        allowed: np.ndarray | None,
        ref: int,
    ) -> list[tuple[list[tuple[int, float]], dict[int, float]]]:
        """For each (model, query vector), "primary" or "cross": the model's top k rows, and
        the title similarity under that model of every row among any model's first `ref`
        (what the semantic leg weighs, search/fusion.py). One question for all models, so
        that a sharded index (index/sharded.py) asks its shards once."""
        found = [self.models[model][0].search(vector, k, allowed) for model, vector in queries]
        return with_titles(found, queries, ref, self.titles_of)

    @property
    def models(self) -> dict[str, tuple[SegmentedVectors, SegmentedTitles | None]]:
        """Each dense model's vectors and title vectors, by name."""
        models = {"primary": (self.vectors, self.titles)}
        if self.cross is not None:
            models["cross"] = (self.cross, self.cross_titles)
        return models

    def titles_of(self, model: str, rows: Sequence[int], vector: np.ndarray) -> dict[int, float]:
        """Title similarities of `rows` under `model` (none when it has no title vectors)."""
        titles = self.models[model][1]
        return titles.similarities(rows, vector) if titles is not None else {}

    def close(self) -> None:
        """Release the stores' file handles."""
        self.store.close()


Hits = list[tuple[int, float]]


def with_titles(
    found: Sequence[Hits],
    queries: Sequence[tuple[str, np.ndarray]],
    ref: int,
    titles_of: Callable[[str, Sequence[int], np.ndarray], dict[int, float]],
) -> list[tuple[Hits, dict[int, float]]]:
    """Each model's hits with the title similarities, under that model, of every row among
    any model's first `ref` hits."""
    tops = sorted({doc for hits in found for doc, _ in hits[:ref]})
    return [
        (hits, titles_of(model, tops, vector))
        for hits, (model, vector) in zip(found, queries, strict=True)
    ]


@dataclass
class Segment:
    """One segment's parts, opened and checked against its record."""

    store: Store
    postings: Postings
    vectors: VectorIndex
    cross: VectorIndex | None
    titles: list[Titles]


def load_index(index_dir: Path) -> LoadedIndex:
    """Open the current build; the caller checks its models with manifest.check()."""
    return load_build(current_build(index_dir))


def load_build(build: Path, shard: int | None = None) -> LoadedIndex:
    """Open one build folder and check that its segments and their parts agree; only the
    segments of `shard` when one is given (index/shard.py).

    A build is data from disk, possibly damaged or planted: anything found wrong is
    IndexCorrupt here, at load, rather than an odd exception in the middle of a search.
    """
    manifest = Manifest.read(build)
    records = [r for r in manifest.segments if shard is None or r.shard == shard]
    segments: list[Segment] = []
    try:
        for record in records:
            segments.append(_load_segment(build, record, manifest))
        placements = [Placement.load(build, r.name, r.paragraphs, r.articles) for r in records]
        if shard is not None:
            return _assemble_shard(build, manifest, segments, placements)
        return _assemble(build, manifest, segments, placements)
    except Exception:
        for segment in segments:
            segment.store.close()
        raise


def _assemble(
    build: Path, manifest: Manifest, segments: list[Segment], placements: list[Placement]
) -> LoadedIndex:
    """The LoadedIndex of a build's opened segments and their deletes."""
    rows = RowMap.of(placements, build)
    if rows.size != manifest.counts.paragraphs:
        raise IndexCorrupt(
            f"index at {build} is inconsistent (manifest says {manifest.counts.paragraphs} "
            f"paragraphs, its segments hold {rows.size} live); {REINDEX_HINT}"
        )
    postings = [(s.postings, p.rows) for s, p in zip(segments, placements, strict=True)]
    return _loaded(build, manifest, segments, rows, LexicalIndex.over(postings))


def _assemble_shard(
    build: Path, manifest: Manifest, segments: list[Segment], placements: list[Placement]
) -> LoadedIndex:
    """The LoadedIndex of one shard's segments: rows and BM25 statistics are the whole
    build's, the statistics read from every segment's lengths and deletes."""
    rows = RowMap.of(placements, build, size=manifest.counts.paragraphs)
    stats = live_stats(
        [
            (
                Postings.lengths_of(build / r.name / BM25_DIR),
                Placement.load(build, r.name, r.paragraphs, r.articles).rows,
            )
            for r in manifest.segments
        ]
    )
    if stats[0] != manifest.counts.paragraphs:
        raise IndexCorrupt(f"segments of {build} disagree with its manifest; {REINDEX_HINT}")
    postings = [(s.postings, p.rows) for s, p in zip(segments, placements, strict=True)]
    return _loaded(build, manifest, segments, rows, LexicalIndex.over(postings, stats))


def _loaded(
    build: Path, manifest: Manifest, segments: list[Segment], rows: RowMap, lexical: LexicalIndex
) -> LoadedIndex:
    """The LoadedIndex of opened segments, their row map and their lexical index."""
    cross = [s.cross for s in segments if s.cross is not None]
    loaded = LoadedIndex(
        build,
        manifest,
        SegmentedStore([s.store for s in segments], rows),
        lexical,
        SegmentedVectors([s.vectors for s in segments], rows),
        SegmentedVectors(cross, rows) if manifest.cross_model else None,
        SegmentedTitles([s.titles[0] for s in segments], rows),
        SegmentedTitles([s.titles[1] for s in segments], rows) if manifest.cross_model else None,
    )
    loaded.vectors.check(manifest.model.dimension, build)
    if loaded.cross is not None and manifest.cross_model is not None:
        loaded.cross.check(manifest.cross_model.dimension, build)
    return loaded


def _load_segment(build: Path, record: SegmentRecord, manifest: Manifest) -> Segment:
    """Open one segment folder of `build` and check its parts against its record."""
    folder = build / record.name
    store = Store(folder / STORE_NAME)
    try:
        crossed = manifest.cross_model is not None
        segment = Segment(
            store,
            Postings.load(folder / BM25_DIR),
            VectorIndex.load(folder / VECTORS_NAME),
            VectorIndex.load(folder / CROSS_VECTORS_NAME) if crossed else None,
            [],
        )
        _check_sizes(folder, record, segment)
        dimensions = [manifest.model.dimension]
        if manifest.cross_model is not None:
            dimensions.append(manifest.cross_model.dimension)
        segment.titles = load_titles(folder, record.paragraphs, record.articles, dimensions)
    except Exception:
        store.close()
        raise
    return segment


def _check_sizes(folder: Path, record: SegmentRecord, segment: Segment) -> None:
    """The segment's parts must describe the same paragraphs."""
    expected = record.paragraphs
    sizes = {
        "store": segment.store.count("paragraphs"),
        "bm25": segment.postings.size,
        "vectors": segment.vectors.size,
    }
    if segment.cross is not None:
        sizes["cross vectors"] = segment.cross.size
    if any(size != expected for size in sizes.values()):
        raise IndexCorrupt(
            f"index segment at {folder} is inconsistent (manifest says {expected} paragraphs, "
            f"found {sizes}); {REINDEX_HINT}"
        )
