"""Build an index from a folder of articles: read, split, encode, index, swap in.

Everything is written into a fresh build folder; only when it is complete and flushed to
disk does the index link move to it (index/swap.py `swap_in`). A reindex killed at any
moment therefore leaves the previous index as it was.
"""

from __future__ import annotations

import itertools
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.errors import CorpusError, SearchError
from core.records import Article, Paragraph
from encoders.bounds import clip_all
from index.format import BuildWriter
from index.lexical import LexicalIndex
from index.manifest import Expected, Manifest, ModelRecord, SourceRecord, Wanted
from index.segments import live_keys
from index.swap import current_build, not_writable, reindex_lock
from index.text import analyze
from index.titles import article_rows
from index.vectors import VectorIndex
from indexer.cache import EmbeddingCache, text_key
from indexer.changed import SourceRead, read_source, source_fingerprint
from indexer.corpus import Skipped
from indexer.incremental import NewSegment, Plan, Previous, plan, previous_build
from indexer.passages import (
    DEFAULT_PASSAGE,
    TITLE_WEIGHT,
    article_titles,
    mix_titles,
    passage_texts,
)
from indexer.progress import Progress, silent
from indexer.reprints import reprint_groups
from indexer.split import split_article

if TYPE_CHECKING:  # importing the encoder module would pull in torch for a type
    from encoders.base import Encoder

# prefill(passages, titles, encoders, cache_dir, full, progress) encodes elsewhere (on Ray:
# indexer/distributed.py) what the embedding cache lacks (everything with `full`), puts it
# there, and returns how many distinct passages it encoded; the build then reads the cache.
Prefill = Callable[[Sequence[str], Sequence[str], Sequence["Encoder"], Path, bool, Progress], int]
Vectors = tuple[np.ndarray, np.ndarray]  # a model's paragraph and title vectors
ENCODE_CHUNK = 64  # paragraphs encoded (and cached) between two progress updates


@dataclass
class BuildReport:
    """What a reindex did, for the summary line."""

    articles: int = 0
    paragraphs: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[Skipped] = field(default_factory=list)  # files read, but cut or changed
    encoded: int = 0
    cached: int = 0  # paragraphs not encoded now: from the cache or an older segment
    seconds: float = 0.0
    build: Path | None = None
    segments: int = 1  # segments of the new build
    merged: int = 0  # older segments merged into its new ones
    shards: int = 1  # shards the build is split into
    files_read: int = 0  # source files read
    files_unchanged: int = 0  # source files not read: unchanged since the build before
    changed: int = 0  # articles indexed anew: new or edited (all of them in a full build)
    removed: int = 0  # articles whose old copy was deleted: removed or edited


def is_current(
    index_dir: Path,
    source: Path,
    model_name: str,
    dtype: str,
    cross_model: str = "none",
    follow_symlinks: bool = False,
    reprints: bool = True,
    shards: int | None = None,
) -> bool:
    """True when the index was built from these very files with this model in this dtype,
    this cross-lingual model ("none": without one), today's passage settings, reprint
    grouping on or off (`reprints`) and in `shards` shards (None: any count): when the
    build fits (the Searcher's check, Manifest.mismatch) and its source is unchanged."""
    if not source.is_dir():  # reindex says why, without the models
        return False
    build = index_dir.resolve()
    try:
        manifest = Manifest.read(build)
    except SearchError:
        return False
    expected = Expected(
        Wanted(model_name, dtype=dtype),
        None if cross_model == "none" else Wanted(cross_model),
        passage=DEFAULT_PASSAGE,
        title_weight=TITLE_WEIGHT,
        reprints=reprints,
        shards=shards,
    )
    return manifest.mismatch(
        expected
    ) is None and manifest.source.fingerprint == source_fingerprint(source, follow_symlinks, build)


def reindex(
    source: Path,
    index_dir: Path,
    encoder: Encoder,
    cache_dir: Path,
    *,
    full: bool = False,
    incremental: bool = True,
    progress: Progress = silent,
    passage: str = DEFAULT_PASSAGE,
    title_weight: float = TITLE_WEIGHT,
    cross_encoder: Encoder | None = None,
    follow_symlinks: bool = False,
    reprints: bool = True,
    prefill: Prefill | None = None,
    shards: int | None = None,
) -> BuildReport:
    """Index `source` and swap the new build in at `index_dir`. `passage` is the kind of
    text each paragraph's vector is computed from, `title_weight` how much of its article's
    title vector is mixed in (indexer/passages.py); `cross_encoder` computes the second,
    cross-lingual set of vectors from the same texts (None: the build has none);
    `follow_symlinks` reads links that lead out of `source` (indexer/files.py); `reprints`
    finds the articles that reprint one story (indexer/reprints.py); `prefill` encodes
    what the cache lacks before the build reads it (None: the build encodes here);
    `shards` splits the build into that many shards (None: as many as the current build,
    one for a new index), each segment holding one shard's articles.

    When the current build fits these models and settings (the shard count included), the
    reindex is incremental (indexer/incremental.py): new and edited articles go into one
    new segment (one a shard), the older segments stay, their replaced paragraphs marked
    deleted, and the merge policy may fold some of a shard's into its new one.
    `incremental` False builds one segment of everything (one a shard); `full` does too,
    and encodes every paragraph anew, ignoring the embedding cache.

    A failed run leaves no build behind; the index stays as it was."""
    started = time.perf_counter()
    if not source.is_dir():
        raise CorpusError(f"source folder {source} does not exist or is not a folder")
    with reindex_lock(index_dir):
        shards = _shards(index_dir, shards)
        expected = Expected(
            Wanted.of(encoder),
            Wanted.of(cross_encoder) if cross_encoder else None,
            passage=passage,
            title_weight=title_weight,
            reprints=reprints,
            shards=shards,
        )
        previous = previous_build(index_dir, expected) if incremental and not full else None
        sources = read_source(source, progress, follow_symlinks, previous)  # new, changed files
        corpus = sources.corpus
        work = _work(source, sources, encoder, previous, shards)
        texts = passage_texts(work.articles, work.paragraphs, passage, encoder.count_tokens)
        sent = 0  # passages `prefill` encoded into the cache that the build then reads
        if prefill is not None and work.paragraphs:
            models = [m for m in (encoder, cross_encoder) if m is not None]
            titles = article_titles(work.articles)
            sent = prefill(texts, titles, models, cache_dir, full, progress)
            full = False  # the cache now holds what prefill encoded, with `full` too
        dense = _Dense(
            work.articles, work.paragraphs, texts, title_weight, cache_dir, full, progress
        )
        vectors, titles, encoded, cross = _encode(dense, encoder, cross_encoder)
        encoded += sent
        report = BuildReport(
            len(corpus.articles), work.live, corpus.skipped, corpus.notes, encoded,
            work.live - encoded, segments=len(work.kept) + len(work.new),
            merged=len(work.merged), shards=shards, files_read=sources.read,
            files_unchanged=sources.unchanged, changed=work.changed, removed=work.removed,
        )  # fmt: skip
        with _no_partial_build(index_dir, shards) as writer:
            report.build = writer.path
            for segment, placement in work.kept:
                writer.keep(previous.path, segment.record, placement)  # type: ignore[union-attr]
            if vectors is not None and titles is not None:
                groups = reprint_groups(work.articles) if reprints else {}
                for new, dense_part, cross_part in _by_segment(work.new, (vectors, titles), cross):
                    writer.begin(new.shard)
                    writer.place(new.placement)
                    _write_parts(
                        writer, new.articles, new.paragraphs, dense_part, cross_part, progress,
                        groups,
                    )  # fmt: skip
            sources.record.save(writer.path)  # what the next reindex need not read
            writer.manifest(  # last: a build with a manifest is complete
                ModelRecord.of(encoder),
                ModelRecord.of(cross_encoder) if cross_encoder else None,
                SourceRecord(path=str(source.resolve()), fingerprint=sources.fingerprint),
                passage,
                title_weight,
                skipped=len(corpus.skipped),
                reprints=reprints,
            )
            writer.flush()
            writer.swap_in()
        kept = [key for s, p in work.kept for key in live_keys(report.build / s.record.name, p)]
        for model in filter(None, (encoder, cross_encoder)):
            dense.record_uses(model, report.build, kept)
    report.seconds = time.perf_counter() - started
    return report


def _encode(
    dense: _Dense, encoder: Encoder, cross_encoder: Encoder | None
) -> tuple[np.ndarray | None, np.ndarray | None, int, tuple[np.ndarray, np.ndarray] | None]:
    """The new segment's paragraph and title vectors, how many passages were encoded, and
    the cross-lingual model's vectors (None where the build has none); no vectors at all
    when the reindex writes no new segment."""
    if not dense.paragraphs:
        return None, None, 0, None
    vectors, titles, encoded = dense.vectors(encoder, "")
    cross = dense.vectors(cross_encoder, "cross ")[:2] if cross_encoder else None
    return vectors, titles, encoded, cross


def _shards(index_dir: Path, shards: int | None) -> int:
    """This reindex's shard count: `shards`, or the current build's (None: one for a new
    index or one that cannot be read), so that a plain reindex keeps the count."""
    if shards is not None:
        if shards < 1:
            raise ValueError(f"a build has one shard or more, not {shards}")
        return shards
    try:
        return Manifest.read(current_build(index_dir)).shards
    except (SearchError, OSError):
        return 1


def _work(
    source: Path, sources: SourceRead, encoder: Encoder, previous: Previous | None, shards: int
) -> Plan:
    """What this reindex writes in `shards` shards: everything in one segment a shard (no
    `previous` build to add to), or the incremental plan over `previous` (the articles of
    files not read that it moves into a new segment are read then); CorpusError before
    anything is written when that gives no index."""
    corpus = sources.corpus
    segments = previous.segments if previous is not None else []
    work = plan(segments, corpus.articles, lambda a: _split([sources.resolve(a)], encoder), shards)
    for new in work.new:
        new.articles = [sources.resolve(article) for article in new.articles]
    if work.live == 0:
        _check_indexable(source, [], corpus.skipped)
    if not work.kept:
        _check_indexable(source, work.paragraphs, corpus.skipped)
    return work


def _by_segment(
    new: Sequence[NewSegment], dense: Vectors, cross: Vectors | None
) -> Iterator[tuple[NewSegment, Vectors, Vectors | None]]:
    """Each new segment with its share of the (paragraph, title) vectors of each model,
    which are computed for all new segments at once, one segment's rows after another's."""
    paragraphs = articles = 0
    for segment in new:
        rows = slice(paragraphs, paragraphs + len(segment.paragraphs))
        titles = slice(articles, articles + len(segment.articles))
        paragraphs, articles = rows.stop, titles.stop
        ours = (dense[0][rows], dense[1][titles])
        yield segment, ours, None if cross is None else (cross[0][rows], cross[1][titles])


@contextmanager
def _no_partial_build(index_dir: Path, shards: int = 1) -> Iterator[BuildWriter]:
    """A writer of a new build in `shards` shards, removed if the block fails before the
    index points at it (a full disk, a read-only folder, Ctrl+C); an OSError becomes
    IndexNotWritable."""
    try:
        writer = BuildWriter(index_dir, shards=shards)
    except OSError as exc:
        raise not_writable(index_dir.parent, exc) from exc
    try:
        yield writer
    except BaseException as exc:
        if not (index_dir.exists() and index_dir.resolve() == writer.path.resolve()):
            shutil.rmtree(writer.path, ignore_errors=True)
        if isinstance(exc, OSError):
            raise not_writable(writer.path.parent, exc) from exc
        raise


def _check_indexable(source: Path, paragraphs: Sequence[Paragraph], skipped: list[Skipped]):
    """CorpusError, before anything is written, for a corpus that gives no index: no
    article at all, or not one word for BM25 (only punctuation, symbols, stop words)."""
    if not paragraphs:
        raise CorpusError(f"no readable articles in {source}; nothing to index{_why(skipped)}")
    if not any(analyze(p.text) for p in paragraphs):
        raise CorpusError(
            f"no words to index in {source}: its {len(paragraphs)} paragraph(s) hold only "
            f"punctuation, symbols or stop words{_why(skipped)}"
        )


def _why(skipped: list[Skipped], shown: int = 3) -> str:
    """The first skipped files and their reasons, for an error message."""
    if not skipped:
        return ""
    first = "; ".join(f"{s.source}: {s.reason}" for s in skipped[:shown])
    more = f"; and {len(skipped) - shown} more" if len(skipped) > shown else ""
    return f" (skipped {first}{more})"


def _split(articles: Sequence[Article], encoder: Encoder) -> list[Paragraph]:
    """All paragraphs, each within the model's token window."""
    return [
        p
        for a in articles
        for p in split_article(a, count_tokens=encoder.count_tokens, max_tokens=encoder.max_tokens)
    ]


@dataclass
class _Dense:
    """What the dense vectors of a build are computed from, for one encoder or another."""

    articles: Sequence[Article]
    paragraphs: Sequence[Paragraph]
    texts: Sequence[str]  # one passage text per paragraph
    title_weight: float
    cache_dir: Path
    full: bool
    progress: Progress

    def vectors(self, encoder: Encoder, label: str) -> tuple[np.ndarray, np.ndarray, int]:
        """Each paragraph's vector (its article title's mixed in), each article title's
        vector, and how many passages were encoded (the rest come from the embedding
        cache, opened once for both). `label` prefixes the progress bars."""
        cache = EmbeddingCache(
            self.cache_dir / "embeddings.sqlite", encoder.fingerprint, encoder.dimension
        )
        try:
            bar = self._bar(label + "encoding")
            vectors, encoded = _embed_missing(self.texts, encoder, cache, self.full, bar)
            titles = self._titles(encoder, cache, label + "titles")
        finally:
            cache.close()
        if self.title_weight:
            mix_titles(vectors, self.paragraphs, self.articles, titles, self.title_weight)
        return vectors, titles, encoded

    def keys(self) -> tuple[list[bytes], list[bytes]]:
        """The embedding cache's key of each passage text and each article title (b""
        for an article without one)."""
        titles = article_titles(self.articles)
        return [text_key(t) for t in self.texts], [text_key(t) if t else b"" for t in titles]

    def record_uses(self, encoder: Encoder, build: Path, kept: Sequence[bytes] = ()) -> None:
        """Note in the embedding cache which of its vectors `build` is made of (its new
        segment's, and `kept`: the keys of the live paragraphs of the segments it kept),
        so that `manage.py cache prune` keeps them. The index is already in place: a
        failure here only means a later prune drops these vectors (and a later reindex
        re-encodes)."""
        passages, titles = self.keys()
        keys = itertools.chain(passages, filter(None, titles), kept)
        try:
            cache = EmbeddingCache(
                self.cache_dir / "embeddings.sqlite", encoder.fingerprint, encoder.dimension
            )
            try:
                cache.record_use(build, keys)
            finally:
                cache.close()
        except (sqlite3.Error, OSError):
            pass

    def _titles(self, encoder: Encoder, cache: EmbeddingCache, label: str) -> np.ndarray:
        """A passage vector per article title; zero rows for articles without one."""
        titles = article_titles(self.articles)
        vectors, _ = _embed_missing(titles, encoder, cache, self.full, self._bar(label))
        vectors[[i for i, title in enumerate(titles) if not title]] = 0.0
        return vectors

    def _bar(self, label: str) -> Progress:
        """self.progress, with every bar it opens named `label`."""
        return lambda _label, total: self.progress(label, total)


def _embed_missing(
    texts: Sequence[str],
    encoder: Encoder,
    cache: EmbeddingCache,
    full: bool,
    progress: Progress,
) -> tuple[np.ndarray, int]:
    """Encode the texts the cache lacks (all of them with `full`), caching as it goes.

    Vectors go straight into one preallocated matrix (a text's row is its position):
    collecting them first and stacking after would hold every vector twice.
    """
    rows: dict[bytes, list[int]] = {}  # text hash -> rows of that text
    for row, text in enumerate(texts):
        rows.setdefault(text_key(text), []).append(row)
    matrix = np.empty((len(texts), encoder.dimension), dtype=np.float32)
    missing = set(rows)
    for key, vector in () if full else cache.get(list(rows)):
        matrix[rows[key]] = vector
        missing.discard(key)
    todo = sorted(  # in corpus order, then by length: similar lengths batch with less padding
        (k for k in rows if k in missing), key=lambda k: len(texts[rows[k][0]])
    )
    with progress("encoding", len(todo)) as advance:
        for start in range(0, len(todo), ENCODE_CHUNK):
            chunk = todo[start : start + ENCODE_CHUNK]
            vectors = encoder.encode_passages(clip_all([texts[rows[k][0]] for k in chunk]))
            cache.put(zip(chunk, vectors))  # committed per chunk: a killed reindex keeps its work
            for key, vector in zip(chunk, vectors, strict=True):
                matrix[rows[key]] = vector
            advance(len(chunk))
    return matrix, len(todo)


def _write_parts(
    writer: BuildWriter,
    articles: Sequence[Article],
    paragraphs: Sequence[Paragraph],
    dense: tuple[np.ndarray, np.ndarray],
    cross: tuple[np.ndarray, np.ndarray] | None,
    progress: Progress,
    reprints: Mapping[str, str],
) -> None:
    """Write the store, the BM25 index, the vector indexes and the title vectors into the
    new build. `dense` and `cross` are each model's (paragraph, title) vectors."""
    with progress("indexing", 3 if cross is None else 4) as advance:
        writer.store(articles, paragraphs, reprints)
        advance(1)
        writer.lexical(LexicalIndex.build([analyze(p.text) for p in paragraphs]))
        advance(1)
        writer.vectors(VectorIndex.build(dense[0]))
        advance(1)
        if cross is not None:
            writer.cross_vectors(VectorIndex.build(cross[0]))
            advance(1)
        rows = article_rows(paragraphs, articles)
        writer.titles(rows, dense[1], cross[1] if cross is not None else None)
