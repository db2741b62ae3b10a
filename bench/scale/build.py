"""Write a synthetic corpus as a poisk index build, with the product's own classes.

The parts are written by the writer a reindex uses (index/format.py BuildWriter, so the
manifest is the same), but straight from the generator: a million-paragraph corpus never
exists as a million files, and the vectors are synthetic (see corpus.py). Each phase is
timed; the two index builds also have their peak memory measured.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from bench.scale.corpus import DIM, SyntheticCorpus
from bench.scale.memory import PeakMemory
from core.fingerprint import with_dtype
from encoders.bundled import DEFAULT_MODEL_NAME, bundled_fingerprint, ensure_bundled_model
from index.format import BM25_DIR, STORE_NAME, VECTORS_NAME, BuildWriter
from index.lexical import LexicalIndex
from index.manifest import ModelRecord, SourceRecord
from index.swap import new_generation
from index.text import analyze
from index.titles import article_rows
from index.vectors import VectorIndex
from indexer.passages import DEFAULT_PASSAGE

Figures = dict[str, Any]


@contextmanager
def timed(figures: Figures, name: str) -> Iterator[None]:
    """Record the block's wall time as figures[name] (seconds)."""
    started = time.perf_counter()
    yield
    figures[name] = round(time.perf_counter() - started, 2)


def model_record(cache_dir: Path, dtype: str = "float32") -> ModelRecord:
    """The default model's manifest record in ``dtype``, so that the real server (running
    the model in that dtype) accepts a bench index; converts the bundled model into
    cache_dir if needed."""
    fingerprint = with_dtype(bundled_fingerprint(ensure_bundled_model(cache_dir)), dtype)
    return ModelRecord(name=DEFAULT_MODEL_NAME, fingerprint=fingerprint, dimension=DIM, dtype=dtype)


def disk_mb(path: Path) -> float:
    """Size of a file or a folder's files, in MB."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return round(sum(p.stat().st_size for p in files) / 2**20, 1)


def write_vectors(corpus: SyntheticCorpus, path: Path) -> np.ndarray:
    """Generate the corpus's vectors into a .npy file; returns it memory-mapped (read-only)."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(corpus.n, DIM))
    for start, stop in corpus.chunks():
        out[start:stop] = corpus.vectors(start, stop)
    out.flush()
    del out
    return np.load(path, mmap_mode="r")


def build_index(
    corpus: SyntheticCorpus,
    index_dir: Path,
    model: ModelRecord,
    log: Callable[[str], None] = print,
) -> tuple[Figures, VectorIndex, np.ndarray]:
    """Build and swap in an index of `corpus` at `index_dir`, as built by `model`.

    Returns the figures, the vector index (still in memory, for the recall check) and the
    memory-mapped vectors.
    """
    f: Figures = {}
    writer = BuildWriter(index_dir, new_generation("scale"))
    build = writer.path
    with timed(f, "text_s"):
        articles, paragraphs = corpus.articles_and_paragraphs()
    log(f"  text generated in {f['text_s']} s")
    with timed(f, "store_s"):
        writer.store(articles, paragraphs)
    texts = [p.text for p in paragraphs]
    rows = article_rows(paragraphs, articles)
    del articles, paragraphs
    log(f"  store written in {f['store_s']} s")
    with timed(f, "analysis_s"):
        terms = [analyze(t) for t in texts]
    del texts
    log(f"  text analysed in {f['analysis_s']} s")
    f.update(_lexical(terms, writer))
    del terms
    gc.collect()
    log(f"  BM25 built in {f['bm25_build_s']} s, peak +{f['bm25_peak_mb']} MB")
    with timed(f, "vectors_s"):
        vectors = write_vectors(corpus, index_dir.parent / "vectors.npy")
    vector_figures, vector_index = _vectors(vectors, writer)
    _titles(writer, rows, vectors)
    f.update(vector_figures)
    kind, seconds, peak = vector_index.kind, f["faiss_build_s"], f["faiss_peak_mb"]
    log(f"  FAISS {kind} built in {seconds} s, peak +{peak} MB")
    writer.manifest(  # as a reindex writes it, marking the build complete
        model,
        None,  # the synthetic builds have no cross-lingual vectors
        SourceRecord(path=f"synthetic:{corpus.n}:{corpus.seed}", fingerprint="synthetic"),
        DEFAULT_PASSAGE,
        0.0,  # synthetic vectors: no title vector mixed in
    )
    with timed(f, "fsync_s"):
        writer.flush()
    writer.swap_in()
    f["store_mb"] = disk_mb(writer.segment / STORE_NAME)
    f["bm25_mb"] = disk_mb(writer.segment / BM25_DIR)
    f["faiss_mb"] = disk_mb(writer.segment / VECTORS_NAME)
    f["disk_mb"] = disk_mb(build)
    return f, vector_index, vectors


def _titles(writer: BuildWriter, rows: np.ndarray, vectors: np.ndarray) -> None:
    """Title vectors for the synthetic articles: each article's first paragraph's vector
    (synthetic titles are that paragraph's first words)."""
    firsts = np.unique(rows, return_index=True)[1]
    writer.titles(rows, np.asarray(vectors[firsts]), None)


def _lexical(terms: list[list[str]], writer: BuildWriter) -> Figures:
    """Build and save the BM25 index; time and peak memory of the build."""
    return _built_and_saved("bm25", lambda: LexicalIndex.build(terms), writer.lexical)[0]


def _vectors(vectors: np.ndarray, writer: BuildWriter) -> tuple[Figures, VectorIndex]:
    """Build and save the FAISS index from memory-mapped vectors; time and peak memory.

    The input is mapped from a file, so its pages count in RSS but not in the anonymous
    peak, which is what the index itself needs (`faiss_peak_mb`).
    """
    f, index = _built_and_saved("faiss", lambda: VectorIndex.build(vectors), writer.vectors)
    f["faiss_kind"] = index.kind
    return f, index


def _built_and_saved(
    name: str, build: Callable[[], Any], save: Callable[[Any], None]
) -> tuple[Figures, Any]:
    """`build()`, then `save()` of what it built: `<name>_build_s`, `<name>_save_s` and the
    build's anonymous and RSS peaks (`<name>_peak_mb`, `<name>_peak_rss_mb`)."""
    f: Figures = {}
    with PeakMemory() as mem, timed(f, f"{name}_build_s"):
        index = build()
    with timed(f, f"{name}_save_s"):
        save(index)
    f[f"{name}_peak_mb"] = round(mem.anon_delta_mb)
    f[f"{name}_peak_rss_mb"] = round(mem.rss_delta_mb)
    return f, index
