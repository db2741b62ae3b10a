"""The lexical leg: BM25 over analysed terms, from postings, over one or many segments.

Each segment keeps raw postings (Postings: per term the documents holding it and how often,
and each document's length), not precomputed scores, because a score depends on the whole
index's statistics: the number of live documents N, each term's live document frequency n
and the average length. LexicalIndex scores every segment with those global statistics, so
an index of many segments (index/segments.py) scores exactly like one build of the same
paragraphs: the same float operations in the same order. A query reads only its terms'
postings, vectorised (as bm25s did with its precomputed matrix: 2.2 ms against rank_bm25's
88 ms a query at 100k paragraphs); the float arithmetic is bm25s's "lucene" method, step by
step, so scores are those it gave.

Scoring is Lucene's BM25 with k1=1.5, b=0.75: IDF log(1 + (N - n + 0.5)/(n + 0.5)), which
stays positive for a word in more than half of the paragraphs (Robertson's IDF, clamped at
0 there, made "Азербайджан" in 12 of 21 seed paragraphs find nothing), and the term
frequency part without the constant (k1 + 1) factor. The tests hold it to the formula
computed over rank_bm25's corpus statistics. Postings are saved as .npy arrays written and
read with allow_pickle=False, and the vocabulary as JSON.
"""

from __future__ import annotations

import json
import math
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.errors import IndexCorrupt
from index.rows import best, distinct, members
from index.text import script, sound_key

K1 = 1.5
B = 0.75
METHOD = "lucene"
# A Latin query word also matches the Cyrillic index terms that sound like it (text.sound_key)
# when its key has this many sounds at least: shorter keys match too many unrelated words.
MIN_SOUNDS = 3
BM25_SETTINGS = {"engine": "poisk postings 1", "method": METHOD, "k1": K1, "b": B}
# Segments smaller than this (documents) are searched as one part (LexicalIndex.over).
SMALL_SEGMENT = 5_000
VOCAB_NAME = "vocab.json"
ARRAYS = ("indptr", "docs", "tfs", "lengths")


def lucene_idf(frequency: int, documents: int) -> float:
    """IDF of a term in `frequency` of `documents` paragraphs, as bm25s's "lucene" method
    scores it: always above 0, so no query word is ever ignored."""
    return float(np.log1p((documents - frequency + 0.5) / (frequency + 0.5)))


@dataclass(frozen=True)
class Postings:
    """One segment's raw BM25 postings: for term id t (`vocab`), the documents
    docs[indptr[t]:indptr[t+1]] (ascending) hold it tfs[...] times; `lengths` is each
    document's number of terms. Documents are numbered 0..n-1 within the segment."""

    vocab: dict[str, int]
    indptr: np.ndarray  # int64, one more than the terms
    docs: np.ndarray  # int32
    tfs: np.ndarray  # int32
    lengths: np.ndarray  # int32, one a document

    @classmethod
    def build(cls, documents: Sequence[list[str]]) -> Postings:
        """The postings of analysed documents (lists of terms, see index.text.analyze).

        One dictionary look-up a term occurrence, in a flat comprehension; the counting,
        sorting and grouping by term are numpy's (no Python loop a document)."""
        vocab: dict[str, int] = {}
        ids = [vocab.setdefault(term, len(vocab)) for terms in documents for term in terms]
        lengths = np.fromiter((len(d) for d in documents), np.int32, len(documents))
        occurrences = np.asarray(ids, dtype=np.int64)
        owners = np.repeat(np.arange(len(documents), dtype=np.int64), lengths)
        # one key a (term, document) pair, sorted by term, then document
        keys, tfs = np.unique(occurrences * max(len(documents), 1) + owners, return_counts=True)
        terms = keys // max(len(documents), 1)
        indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(np.bincount(terms, minlength=len(vocab)), out=indptr[1:])
        docs = (keys - terms * max(len(documents), 1)).astype(np.int32)
        return cls(vocab, indptr, docs, tfs.astype(np.int32), lengths)

    @classmethod
    def joined(cls, parts: Sequence[Postings]) -> Postings:
        """Several segments' postings as one, each one's documents numbered on after the
        one before's (the second's first document is the first's size), in memory.
        Within a term the documents stay ascending: parts in order, each ascending."""
        vocab: dict[str, int] = {}
        ids = []
        for part in parts:
            terms = sorted(part.vocab, key=part.vocab.__getitem__)  # by term id
            found = (vocab.setdefault(term, len(vocab)) for term in terms)
            ids.append(np.repeat(np.fromiter(found, np.int64, len(terms)), np.diff(part.indptr)))
        offsets = np.cumsum([0, *(part.size for part in parts[:-1])])
        term_ids = np.concatenate(ids)  # each posting's term id in the joined vocabulary
        order = np.argsort(term_ids, kind="stable")  # by term, then part, then document
        docs = np.concatenate([p.docs.astype(np.int64) + o for p, o in zip(parts, offsets)])
        indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(np.bincount(term_ids, minlength=len(vocab)), out=indptr[1:])
        tfs = np.concatenate([part.tfs for part in parts])[order]
        lengths = np.concatenate([part.lengths for part in parts])
        return cls(vocab, indptr, docs[order].astype(np.int32), tfs, lengths)

    @property
    def size(self) -> int:
        """Number of documents."""
        return len(self.lengths)

    def term(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """The documents holding `term` and how often (empty for an unknown term)."""
        tid = self.vocab.get(term)
        if tid is None:
            return self.docs[:0], self.tfs[:0]
        start, end = int(self.indptr[tid]), int(self.indptr[tid + 1])
        return self.docs[start:end], self.tfs[start:end]

    def save(self, folder: Path) -> None:
        """Write the postings into `folder` (created if missing): .npy arrays and JSON."""
        folder.mkdir(parents=True, exist_ok=True)
        terms = sorted(self.vocab, key=self.vocab.__getitem__)
        (folder / VOCAB_NAME).write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")
        for name in ARRAYS:
            np.save(folder / f"{name}.npy", getattr(self, name), allow_pickle=False)

    @classmethod
    def load(cls, folder: Path, mmap: bool = True) -> Postings:
        """Read postings written by save(), checked; arrays memory-mapped by default."""
        try:
            terms = json.loads((folder / VOCAB_NAME).read_text(encoding="utf-8"))
            mode = "r" if mmap else None
            # plain arrays over the mapping: numpy's memmap subclass costs a few
            # microseconds of Python on every slice, and a query slices each term's postings
            arrays = [
                np.asarray(np.load(folder / f"{n}.npy", mmap_mode=mode, allow_pickle=False))
                for n in ARRAYS
            ]
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise IndexCorrupt(f"BM25 postings in {folder} are unreadable: {exc}") from exc
        if not (isinstance(terms, list) and all(isinstance(t, str) for t in terms)):
            raise IndexCorrupt(f"BM25 vocabulary in {folder} is not a list of terms")
        postings = cls({t: i for i, t in enumerate(terms)}, *arrays)
        if len(postings.vocab) != len(terms) or not postings._consistent():
            raise IndexCorrupt(
                f"BM25 postings in {folder} are inconsistent (their arrays and vocabulary "
                "do not form postings over the documents)"
            )
        return postings

    @staticmethod
    def lengths_of(folder: Path) -> np.ndarray:
        """The document lengths of postings written by save(), memory-mapped (the BM25
        statistics a shard reads of the segments it does not load)."""
        try:
            lengths = np.load(folder / "lengths.npy", mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise IndexCorrupt(f"BM25 postings in {folder} are unreadable: {exc}") from exc
        if lengths.ndim != 1 or lengths.dtype != np.int32:
            raise IndexCorrupt(f"BM25 document lengths in {folder} are malformed")
        return lengths

    def _consistent(self) -> bool:
        """Whether the arrays form postings: types, shapes, bounds (vectorised, one pass)."""
        indptr, docs, tfs, lengths = self.indptr, self.docs, self.tfs, self.lengths
        if not all(a.ndim == 1 and a.dtype.kind in "iu" for a in (indptr, docs, tfs, lengths)):
            return False
        return bool(
            len(indptr) == len(self.vocab) + 1
            and indptr[0] == 0
            and indptr[-1] == len(docs) == len(tfs)
            and np.all(np.diff(indptr) >= 0)
            and (docs.size == 0 or (docs.min() >= 0 and docs.max() < len(lengths)))
            and (tfs.size == 0 or tfs.min() > 0)
            and (lengths.size == 0 or lengths.min() >= 0)
        )


@dataclass(frozen=True)
class Part:
    """One segment's postings in the index: `rows` gives each of its documents' global
    number, -1 for a deleted one (index/segments.py); `live` is rows >= 0. `first` is set
    when the rows are first, first + 1, ... (a segment with no deletes, in order: every
    segment of a fresh build), so that a query reads no row or deletion of them: at a
    million paragraphs those look-ups were a third of the lexical leg."""

    postings: Postings
    rows: np.ndarray
    live: np.ndarray
    norm: np.ndarray  # k1 * (1 - b + b * length / avgdl) a document, float64
    first: int | None = None

    def holding(self, term: str) -> np.ndarray:
        """Global numbers of the live documents holding `term` (int64; ascending when
        `first` is set)."""
        docs = self.postings.term(term)[0]
        if self.first is not None:
            return docs + np.int64(self.first)
        return self.rows[docs[self.live[docs]]]

    def frequency(self, term: str) -> int:
        """How many live documents hold `term`."""
        docs = self.postings.term(term)[0]
        return docs.size if self.first is not None else int(np.count_nonzero(self.live[docs]))

    def scored(self, term: str, idf: np.float32) -> tuple[np.ndarray, np.ndarray]:
        """Global numbers and float32 BM25 scores of the live documents holding `term`,
        computed as bm25s's "lucene" method does (float64 term part, float32 result)."""
        docs, tfs = self.postings.term(term)
        if docs.size == 0:  # a term this segment lacks (often so in a small one): no arithmetic
            return docs.astype(np.int64), np.zeros(0, dtype=np.float32)
        if self.first is None:
            keep = self.live[docs]
            docs, tfs = docs[keep], tfs[keep]
        tf = tfs.astype(np.float32)
        tfc = tf / (self.norm[docs] + tf)
        rows = docs + np.int64(self.first) if self.first is not None else self.rows[docs]
        return rows, (idf * tfc).astype(np.float32)


@dataclass
class LexicalIndex:
    """A BM25 index over documents numbered 0..size-1 (the store's global paragraph rows),
    held in one or more segments' postings, scored with the statistics of all of them."""

    parts: list[Part]
    size: int  # live documents
    _sounds: dict[str, list[str]] | None = field(default=None, repr=False)
    _sounds_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def build(cls, documents: Sequence[list[str]]) -> LexicalIndex:
        """Index analysed documents (lists of terms, see index.text.analyze): one segment."""
        postings = Postings.build(documents)
        return cls.over([(postings, np.arange(postings.size, dtype=np.int64))])

    @classmethod
    def over(
        cls,
        segments: Sequence[tuple[Postings, np.ndarray]],
        stats: tuple[int, int] | None = None,
        join_below: int = SMALL_SEGMENT,
    ) -> LexicalIndex:
        """The index of segments' postings, each with its documents' global rows (-1:
        deleted); the rows of all segments together number the live documents 0..N-1.

        `stats` (live documents, their total length) are the whole index's when these
        segments are only a shard of it (index/shard.py): scores then use the statistics
        of the whole collection; None: these segments are the whole index.

        Segments of fewer than `join_below` documents are joined into one part (in
        memory, when loaded): each segment costs every query term a look-up and a few
        array operations, which for the small new segments of an incremental reindex
        cost more than their postings. Scores do not change: a document's terms are
        summed in the same order, whatever part holds it."""
        if stats is None:
            stats = live_stats([(p.lengths, rows) for p, rows in segments])
        segments = _small_joined(segments, join_below)
        lives = [np.asarray(rows) >= 0 for _, rows in segments]
        size, total = stats
        avgdl = np.float64(total) / size if size else np.float64(1.0)
        parts = [
            Part(
                p,
                np.asarray(rows, dtype=np.int64),
                live,
                K1 * ((1 - B) + B * p.lengths.astype(np.float64) / avgdl),
                _first(np.asarray(rows, dtype=np.int64)),
            )
            for (p, rows), live in zip(segments, lives, strict=True)
        ]
        return cls(parts, size)

    @property
    def vocabulary(self) -> set[str]:
        """Every term of any segment."""
        return set().union(*(part.postings.vocab for part in self.parts))

    def frequency(self, term: str) -> int:
        """How many live documents hold `term`."""
        return sum(p.frequency(term) for p in self.parts)

    def sounds(self) -> dict[str, list[str]]:
        """The index's Cyrillic terms by phonetic key (keys of MIN_SOUNDS sounds or more),
        made on the first Latin query: one pass over the vocabulary."""
        with self._sounds_lock:
            if self._sounds is None:
                groups: dict[str, list[str]] = defaultdict(list)
                for term in sorted(self.vocabulary):
                    key = sound_key(term) if script(term, normalized=True) == "cyrillic" else ""
                    if len(key) >= MIN_SOUNDS:
                        groups[key].append(term)
                self._sounds = dict(groups)
            return self._sounds

    def expand(self, terms: Sequence[str]) -> list[list[str]]:
        """Each distinct query term with the index terms it also matches: a Latin word
        ("chancay") matches the Cyrillic terms that sound like it ("чанкай"), so an English
        query naming a person or place reaches a Russian text."""
        groups = []
        for term in dict.fromkeys(terms):
            key = sound_key(term) if script(term, normalized=True) == "latin" else ""
            found = self.sounds().get(key, []) if len(key) >= MIN_SOUNDS else []
            groups.append([term, *found])
        return groups

    def weighted(self, terms: Sequence[str]) -> list[tuple[str, float]]:
        """The terms a query scores with, in order: each query term and the Cyrillic terms
        that sound like its Latin ones (expand), once each, with its IDF (float32 values);
        terms no live document holds are left out."""
        expanded = dict.fromkeys(t for group in self.expand(terms) for t in group)
        frequencies = {term: self.frequency(term) for term in expanded}
        return weigh(frequencies, self.size)

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """BM25 score of every document for the query terms (weighted), float32."""
        return self.scores_weighted(self.weighted(terms))

    def scores_weighted(self, weighted: Sequence[tuple[str, float]]) -> np.ndarray:
        """BM25 score of every document for (term, IDF) pairs, summed term by term in their
        order: the same float sums whatever segments, or shards, hold the documents."""
        return self._accumulated(weighted)[0]

    def _accumulated(
        self, weighted: Sequence[tuple[str, float]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """scores_weighted, and the documents each term scored in each segment."""
        scores = np.zeros(self.size, dtype=np.float32)
        scored = []
        for term, idf in weighted:
            for part in self.parts:
                rows, values = part.scored(term, np.float32(idf))
                if rows.size:
                    scores[rows] += values
                    scored.append(rows)
        return scores, scored

    def top_weighted(
        self, weighted: Sequence[tuple[str, float]], k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (document, score) pairs for (term, IDF) pairs (top), looking only at the
        documents the terms scored rather than at every document."""
        scores, scored = self._accumulated(weighted)
        return top(scores, distinct(scored), k, allowed)

    def search(
        self, terms: Sequence[str], k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (document, score) pairs, best first; only documents scoring above 0.

        `allowed` (sorted document numbers) restricts the search before the cut.
        """
        return self.top_weighted(self.weighted(terms), k, allowed)

    def scores_of(self, terms: Sequence[str], docs: np.ndarray) -> np.ndarray:
        """The BM25 scores of `docs` alone for the query terms."""
        return self.scores(terms)[docs]

    def coverage(self, terms: Sequence[str | Sequence[str]], docs: Sequence[int]) -> np.ndarray:
        """Share of the query's IDF mass that each of `docs` contains, 0..1.

        A paragraph matching only a common or incidental query word (a number, a Latin
        name in a Russian text) covers little of the query; one holding its rare words
        covers most. Terms unknown to the index weigh as the rarest possible term. The IDF
        is the one the scores use (lucene_idf); a query term and the terms it matches
        (expand) count as one, held by a document holding any of them; so do the terms of
        an item that is itself a sequence (the alternatives of `a OR b`: search/syntax.py).
        """
        groups = self.groups(terms)
        return coverage_of(self.holders(groups, docs), self.size, len(docs))

    def groups(self, terms: Sequence[str | Sequence[str]]) -> list[list[str]]:
        """The term groups coverage weighs: each distinct item with the terms it matches."""
        items = dict.fromkeys((t,) if isinstance(t, str) else tuple(t) for t in terms)
        return [[found for g in self.expand(item) for found in g] for item in items]

    def holders(
        self, groups: Sequence[Sequence[str]], docs: Sequence[int]
    ) -> list[tuple[int, np.ndarray]]:
        """For each group: how many live documents hold any of its terms, and which of
        `docs` do (a boolean a doc)."""
        wanted = np.asarray(docs, dtype=np.int64)
        found = []
        for group in groups:
            holding = self._holding(group)
            found.append((holding.size, members(wanted, holding)))
        return found

    def holding(self, term: str) -> np.ndarray:
        """The documents holding one analysed term as it is (no sound-alikes), sorted."""
        return self._holding([term])

    def _holding(self, terms: Sequence[str]) -> np.ndarray:
        """The live documents holding any of `terms`, ascending, once each (global numbers).

        Merged from each segment's postings rather than marked in an array of every
        document: a common word's postings run to hundreds of thousands at a million
        paragraphs, yet a sort of already sorted runs is one pass."""
        return distinct([part.holding(term) for part in self.parts for term in terms])

    def main_script(self) -> str | None:
        """The script ("cyrillic" or "latin") of most of the corpus's word occurrences, counted
        as live document frequencies over the vocabulary; None for a corpus with neither."""
        return most_written(self.script_totals())

    def script_totals(self) -> dict[str, int]:
        """Live document frequencies summed over the vocabulary's terms of each script."""
        totals = {"cyrillic": 0, "latin": 0}
        for part in self.parts:
            postings = part.postings
            if part.live.all():  # no deletes: each term's number of postings
                frequencies = np.diff(np.asarray(postings.indptr))
            else:
                held = np.concatenate([[0], np.cumsum(part.live[postings.docs], dtype=np.int64)])
                frequencies = held[postings.indptr[1:]] - held[postings.indptr[:-1]]
            for term, tid in postings.vocab.items():
                written = script(term, normalized=True)
                if written:
                    totals[written] += int(frequencies[tid])
        return totals

    def save(self, folder: Path) -> None:
        """Write a one-segment index (as build() makes) into `folder`."""
        if len(self.parts) != 1:
            raise ValueError("only a one-segment lexical index is saved whole")
        self.parts[0].postings.save(folder)

    @classmethod
    def load(cls, folder: Path, mmap: bool = True) -> LexicalIndex:
        """Read a one-segment index written by save(), every document live."""
        postings = Postings.load(folder, mmap)
        return cls.over([(postings, np.arange(postings.size, dtype=np.int64))])


def _small_joined(
    segments: Sequence[tuple[Postings, np.ndarray]], below: int
) -> list[tuple[Postings, np.ndarray]]:
    """`segments` with those of fewer than `below` documents joined into one, last (the
    order of parts changes no score or tie: ties go by global row)."""
    small = [(p, rows) for p, rows in segments if p.size < below]
    if len(small) < 2:
        return list(segments)
    joined = Postings.joined([p for p, _ in small])
    rows = np.concatenate([np.asarray(rows, dtype=np.int64) for _, rows in small])
    return [(p, rows) for p, rows in segments if p.size >= below] + [(joined, rows)]


def live_stats(segments: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[int, int]:
    """Live documents of segments, given as (each document's length, its global row or -1
    when deleted), and their total length."""
    size = total = 0
    for lengths, rows in segments:
        live = np.asarray(rows) >= 0
        size += int(live.sum())
        total += int(np.asarray(lengths)[live].astype(np.int64).sum())
    return size, total


def weigh(frequencies: dict[str, int], documents: int) -> list[tuple[str, float]]:
    """(term, IDF) for the terms held by any of `documents`, in the order given; the IDF
    is computed as bm25s's "lucene" method does, rounded to float32."""
    return [
        (term, float(np.float32(math.log(1 + (documents - n + 0.5) / (n + 0.5)))))
        for term, n in frequencies.items()
        if n > 0
    ]


def top(
    scores: np.ndarray, candidates: np.ndarray, k: int, allowed: np.ndarray | None = None
) -> list[tuple[int, float]]:
    """The k best (document, score) pairs of a score a document, best first, ties by
    document; only documents scoring above 0, and only `allowed` ones when given.
    `candidates` (ascending, once each) are the only documents that may score: the ones
    looked at, instead of every document."""
    positive = candidates[scores[candidates] > 0]
    if allowed is not None:
        mask = np.zeros(scores.shape, dtype=bool)
        mask[allowed] = True
        positive = positive[mask[positive]]
    # Ties are broken by document order, so the first k are the same at any depth.
    docs, values = best(positive, scores[positive], k)
    return list(zip(docs.tolist(), values.tolist(), strict=True))


def _first(rows: np.ndarray) -> int | None:
    """rows[0] when rows are rows[0], rows[0] + 1, ... (none deleted); else None."""
    if rows.size == 0 or rows[0] < 0 or rows[-1] - rows[0] != rows.size - 1:
        return None
    return int(rows[0]) if bool(np.all(np.diff(rows) == 1)) else None


def coverage_of(holders: Sequence[tuple[int, np.ndarray]], documents: int, n: int) -> np.ndarray:
    """Each of n docs' share of the query's IDF mass (LexicalIndex.coverage), from each
    term group's holder count and which of the docs hold it (LexicalIndex.holders)."""
    if not holders:
        return np.zeros(n)
    covered, total = np.zeros(n), 0.0
    for count, held in holders:
        idf = lucene_idf(count, documents)
        total += idf
        covered += idf * held
    return covered / total


def most_written(totals: dict[str, int]) -> str | None:
    """The script with the larger total (Cyrillic on a tie), None when both are 0."""
    if not any(totals.values()):
        return None
    return max(totals, key=lambda s: totals[s])
