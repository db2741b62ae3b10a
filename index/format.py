"""One build of the index on disk: its parts, written and read here, side by side.

A build is a folder (index/swap.py: where builds live, how one is swapped in) holding

    store.sqlite          articles and paragraphs (index/store.py)
    bm25/                 the BM25 arrays (index/lexical.py)
    vectors.faiss         the primary model's paragraph vectors (index/vectors.py)
    vectors-cross.faiss   the cross-lingual model's, when the build has one
    titles*.npy, title_rows.npy   each model's article title vectors (index/titles.py)
    manifest.json         written last: what the build was made from and with

BuildWriter writes them (a reindex, and the scale bench's synthetic builds: the same
code, so the same manifest); load_build() opens them and checks that they agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import faiss
import numpy as np

from core.errors import REINDEX_HINT, IndexCorrupt
from core.records import Article, Paragraph
from index.lexical import LexicalIndex
from index.manifest import (
    ANALYZER,
    BM25,
    FORMAT_VERSION,
    Counts,
    Manifest,
    ModelRecord,
    SourceRecord,
    VectorsRecord,
)
from index.store import Store, write_store
from index.swap import builds_dir, current_build, fsync_tree, new_generation, swap_in
from index.text import script as script_of
from index.titles import Titles, load_titles, save_titles
from index.vectors import VectorIndex

STORE_NAME = "store.sqlite"
BM25_DIR = "bm25"
VECTORS_NAME = "vectors.faiss"
CROSS_VECTORS_NAME = "vectors-cross.faiss"  # the cross-lingual leg's, when the build has one


class BuildWriter:
    """Writes one new build folder, a part a call, so that a caller may time each or free
    memory between them; then its manifest (last: a build with a manifest is complete),
    and swaps it in. Every part must be written before the manifest."""

    def __init__(self, index_dir: Path, generation: str | None = None) -> None:
        self.index_dir = index_dir
        self.path = builds_dir(index_dir) / (generation or new_generation())
        self.path.mkdir(parents=True)
        self._counts = (0, 0)  # articles, paragraphs
        self._written: set[str] = set()
        self._vectors: VectorIndex | None = None

    def store(
        self,
        articles: Sequence[Article],
        paragraphs: Sequence[Paragraph],
        reprints: Mapping[str, str] | None = None,
    ) -> None:
        """The SQLite store of the articles and their paragraphs, in row order, with each
        reprinted article's group (index/store.py: write_store)."""
        write_store(self.path / STORE_NAME, articles, paragraphs, reprints)
        self._counts = (len(articles), len(paragraphs))
        self._written.add("store")

    def lexical(self, index: LexicalIndex) -> None:
        """The BM25 index of the paragraphs."""
        index.save(self.path / BM25_DIR)
        self._written.add("bm25")

    def vectors(self, index: VectorIndex) -> None:
        """The primary model's paragraph vectors."""
        index.save(self.path / VECTORS_NAME)
        self._vectors = index
        self._written.add("vectors")

    def cross_vectors(self, index: VectorIndex) -> None:
        """The cross-lingual model's paragraph vectors."""
        index.save(self.path / CROSS_VECTORS_NAME)
        self._written.add("cross vectors")

    def titles(self, rows: np.ndarray, titles: np.ndarray, cross: np.ndarray | None) -> None:
        """Each paragraph's article row, and each model's article title vectors."""
        save_titles(self.path, rows, titles, cross)
        self._written |= {"titles"} if cross is None else {"titles", "cross titles"}

    def manifest(
        self,
        model: ModelRecord,
        cross_model: ModelRecord | None,
        source: SourceRecord,
        passage: str,
        title_weight: float,
        skipped: int = 0,
    ) -> Manifest:
        """Write manifest.json, marking the build complete; returns it."""
        parts = {"store", "bm25", "vectors", "titles"}
        if cross_model is not None:
            parts |= {"cross vectors", "cross titles"}
        if self._written != parts or self._vectors is None:
            raise ValueError(f"build {self.path} has {sorted(self._written)}, not {sorted(parts)}")
        articles, paragraphs = self._counts
        manifest = Manifest(
            generation=self.path.name,
            built_at=datetime.now(UTC).isoformat(timespec="seconds"),
            model=model,
            counts=Counts(articles=articles, paragraphs=paragraphs, skipped=skipped),
            source=source,
            vectors=VectorsRecord(
                kind=self._vectors.kind,  # type: ignore[arg-type]
                count=self._vectors.size,
                passage=passage,
                title_weight=title_weight,
            ),
            analyzer=ANALYZER,
            bm25=BM25,
            cross_model=cross_model,
            format_version=FORMAT_VERSION,
        )
        manifest.write(self.path)
        return manifest

    def flush(self) -> None:
        """Flush every file of the build to disk, before it is swapped in."""
        fsync_tree(self.path)

    def swap_in(self) -> None:
        """Point the index at this build (atomic), then drop builds no longer needed."""
        swap_in(self.index_dir, self.path)


@dataclass
class LoadedIndex:
    """Everything a search needs from one build, opened and checked."""

    path: Path
    manifest: Manifest
    store: Store
    lexical: LexicalIndex
    vectors: VectorIndex
    cross: VectorIndex | None = None
    titles: Titles | None = None  # the model's title vectors (index.titles)
    cross_titles: Titles | None = None  # the cross-lingual model's

    @cached_property
    def script(self) -> str | None:
        """The corpus's main script (LexicalIndex.main_script): a pass over the vocabulary
        (79 ms at a million paragraphs), so only when a search first needs it."""
        return self.lexical.main_script()

    def in_main_script(self, text: str) -> bool:
        """Whether `text` is written in the corpus's main script (True when either has none)."""
        return self.script is None or script_of(text) in (None, self.script)

    def close(self) -> None:
        """Release the store's file handle."""
        self.store.close()


def load_index(index_dir: Path) -> LoadedIndex:
    """Open the current build; the caller checks its models with manifest.check()."""
    return load_build(current_build(index_dir))


def load_build(build: Path) -> LoadedIndex:
    """Open one build folder and check that its parts agree.

    A build is data from disk, possibly damaged or planted: anything found wrong is
    IndexCorrupt here, at load, rather than an odd exception in the middle of a search.
    """
    manifest = Manifest.read(build)
    store = Store(build / STORE_NAME)
    try:
        loaded = LoadedIndex(
            build,
            manifest,
            store,
            LexicalIndex.load(build / BM25_DIR),
            VectorIndex.load(build / VECTORS_NAME),
            VectorIndex.load(build / CROSS_VECTORS_NAME) if manifest.cross_model else None,
        )
        _check_sizes(loaded)
        _check_vectors(loaded)
        _check_lexical(loaded)
        _load_titles(loaded)
    except Exception:
        store.close()
        raise
    return loaded


def _load_titles(index: LoadedIndex) -> None:
    """Attach each model's title vectors, checked against the counts and dimensions."""
    manifest = index.manifest
    dimensions = [manifest.model.dimension]
    if manifest.cross_model is not None:
        dimensions.append(manifest.cross_model.dimension)
    titles = load_titles(
        index.path, manifest.counts.paragraphs, manifest.counts.articles, dimensions
    )
    index.titles = titles[0]
    index.cross_titles = titles[1] if len(titles) > 1 else None


def _check_sizes(index: LoadedIndex) -> None:
    """The three parts must describe the same paragraphs."""
    expected = index.manifest.counts.paragraphs
    sizes = {
        "store": index.store.count("paragraphs"),
        "bm25": index.lexical.size,
        "vectors": index.vectors.size,
    }
    if index.cross is not None:
        sizes["cross vectors"] = index.cross.size
    if any(size != expected for size in sizes.values()):
        raise IndexCorrupt(
            f"index at {index.path} is inconsistent (manifest says {expected} paragraphs, "
            f"found {sizes}); {REINDEX_HINT}"
        )


def _check_vectors(index: LoadedIndex) -> None:
    """Vectors of the manifest's dimensions, scored by inner product as search expects."""
    legs = [(index.vectors, index.manifest.model.dimension)]
    if index.cross is not None and index.manifest.cross_model is not None:
        legs.append((index.cross, index.manifest.cross_model.dimension))
    for vectors, dimension in legs:
        metric = vectors.index.metric_type
        if vectors.dimension != dimension or metric != faiss.METRIC_INNER_PRODUCT:
            raise IndexCorrupt(
                f"vector index in {index.path} holds {vectors.dimension}-d vectors with metric "
                f"{metric}, not {dimension}-d inner product; {REINDEX_HINT}"
            )


def _check_lexical(index: LoadedIndex) -> None:
    """The BM25 arrays form a valid sparse matrix over the store's paragraphs.

    bm25s trusts its files: a term id past the matrix or a document number past the
    paragraphs would fail every search that meets it. Reads each array once (vectorised).
    """
    bm25 = index.lexical.bm25
    data, indices, indptr = (np.asarray(bm25.scores[k]) for k in ("data", "indices", "indptr"))
    vocab = bm25.vocab_dict
    # bm25s gives the empty token the id one past the last column; analyze() never yields it.
    ids = np.array([v for k, v in vocab.items() if k != ""]) if isinstance(vocab, dict) else None
    columns = len(indptr) - 1
    shapes_ok = (
        data.ndim == indices.ndim == indptr.ndim == 1
        and data.dtype.kind == "f"
        and indices.dtype.kind in "iu"
        and indptr.dtype.kind in "iu"
        and columns >= 0
    )
    ok = (
        shapes_ok
        and indptr[0] == 0
        and indptr[-1] == len(data) == len(indices)
        and bool(np.all(np.diff(indptr) >= 0))
        and (indices.size == 0 or (indices.min() >= 0 and indices.max() < index.lexical.size))
        and ids is not None
        and (ids.size == 0 or (ids.dtype.kind in "iu" and ids.min() >= 0 and ids.max() < columns))
    )
    if not ok:
        raise IndexCorrupt(
            f"BM25 index in {index.path / BM25_DIR} is inconsistent (its arrays or vocabulary "
            f"do not form a matrix over {index.lexical.size} paragraphs); {REINDEX_HINT}"
        )
