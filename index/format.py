"""The index on disk: its layout, the atomic swap of a new build, and loading it back.

`var/index` is a symbolic link to the current build, `var/index.builds/<generation>/`.
A reindex writes a complete new build beside it and then replaces the link with one
rename, which is atomic: a reader sees the old build or the new one, never half of
either, and a reindex killed at any moment leaves the link on the old build.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import faiss
import numpy as np

from core.errors import REINDEX_HINT, IndexCorrupt, IndexNotFound, SearchError
from index.lexical import LexicalIndex
from index.manifest import MANIFEST_NAME, Manifest
from index.store import Store
from index.text import script as script_of
from index.titles import Titles, load_titles
from index.vectors import VectorIndex

STORE_NAME = "store.sqlite"
BM25_DIR = "bm25"
VECTORS_NAME = "vectors.faiss"
CROSS_VECTORS_NAME = "vectors-cross.faiss"  # the cross-lingual leg's, when the build has one
KEEP_BUILDS = 2  # the current build and the one before it, for readers still on it


def builds_dir(index_dir: Path) -> Path:
    """Folder holding every build of the index at `index_dir`."""
    return index_dir.with_name(index_dir.name + ".builds")


def current_build(index_dir: Path) -> Path:
    """The build folder `index_dir` points at; IndexNotFound when there is none."""
    if not index_dir.exists():
        raise IndexNotFound(f"no index at {index_dir}; {REINDEX_HINT}")
    return index_dir.resolve()


def swap_in(index_dir: Path, build: Path) -> None:
    """Point `index_dir` at `build` atomically, then drop builds no longer needed."""
    if index_dir.exists() and not index_dir.is_symlink():
        if index_dir.is_dir() and not any(index_dir.iterdir()):
            index_dir.rmdir()
        else:
            raise SearchError(
                f"{index_dir} exists and is not an index link made by poisk; "
                "move it away or choose another --index"
            )
    link = index_dir.with_name(f".{index_dir.name}.{build.name}.link")
    link.unlink(missing_ok=True)
    link.symlink_to(os.path.relpath(build, index_dir.parent))
    os.replace(link, index_dir)
    _fsync_dir(index_dir.parent)
    prune_builds(index_dir)


def prune_builds(index_dir: Path, keep: int = KEEP_BUILDS) -> None:
    """Remove old and unfinished builds, keeping the current one and the newest others.

    Only called under the reindex lock, so no build in progress is removed. A server
    still reading a removed build keeps working: open files outlive their names.
    Temporary links left by a reindex killed in the middle of swap_in() go too.
    """
    prefix = f".{index_dir.name}."
    for stale in index_dir.parent.iterdir():
        if stale.name.startswith(prefix) and stale.name.endswith(".link") and stale.is_symlink():
            stale.unlink(missing_ok=True)
    current = index_dir.resolve() if index_dir.exists() else None
    builds = sorted(builds_dir(index_dir).iterdir(), key=lambda p: p.name, reverse=True)
    complete = [b for b in builds if (b / MANIFEST_NAME).is_file() and b != current]
    kept = set(complete[: keep - 1]) | {current}
    for build in builds:
        if build not in kept:
            shutil.rmtree(build, ignore_errors=True)


def fsync_tree(folder: Path) -> None:
    """Flush every file of a finished build to disk before it is swapped in."""
    for path in folder.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in `folder` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
    """Open the current build; the caller checks the model with manifest.check()."""
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
    dimensions = [manifest.model["dimension"]]
    if manifest.cross_model is not None:
        dimensions.append(manifest.cross_model["dimension"])
    titles = load_titles(
        index.path, manifest.counts["paragraphs"], manifest.counts["articles"], dimensions
    )
    index.titles = titles[0]
    index.cross_titles = titles[1] if len(titles) > 1 else None


def _check_sizes(index: LoadedIndex) -> None:
    """The three parts must describe the same paragraphs."""
    expected = index.manifest.counts.get("paragraphs")
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
    legs = [(index.vectors, index.manifest.model["dimension"])]
    if index.cross is not None and index.manifest.cross_model is not None:
        legs.append((index.cross, index.manifest.cross_model["dimension"]))
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
