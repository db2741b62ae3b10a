"""A synthetic Russian news corpus with matching synthetic vectors, fully determined by a seed.

Text: ~40 words a paragraph, drawn by real frequency from wordfreq's Russian list (its data
ships inside the wheel), a quarter of them from the paragraph's topic's 30 content words,
so BM25 has topical terms to find. Ten paragraphs an article, two articles a story, stories
spread over TOPICS topics.

Vectors have neighbour structure like sentence embeddings (i.i.d. noise would make HNSW look
broken): v = a·topic + b·story + c·noise, unit length, so a paragraph's cosine is about 0.75
with its story's other 19 paragraphs, 0.4 with its topic and 0 elsewhere. A query is a few
words of one paragraph, with a vector at cosine ~0.92 to that paragraph's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property

import numpy as np

from core.records import Article, Paragraph
from index.text import STOPWORDS, tokenize

DIM = 384
WORDS_PER_PARAGRAPH = 40
PARAGRAPHS_PER_ARTICLE = 10
ARTICLES_PER_STORY = 2
TOPICS = 1000
TOPIC_WORDS = 30
TOPIC_SHARE = 0.25  # of a paragraph's words come from its topic's list
VOCABULARY = 200_000  # most frequent single-token Cyrillic words kept
# Squared weights of topic, story and noise in a paragraph vector (they sum to 1).
TOPIC_W2, STORY_W2, NOISE_W2 = 0.40, 0.35, 0.25
QUERY_NOISE_W2 = 0.15
CHUNK = 50_000  # rows generated at a time
FIRST_DATE = date(2015, 1, 1)
DAYS = 3650

_CYRILLIC_WORD = re.compile(r"^[а-я]+$")


def vocabulary() -> tuple[np.ndarray, np.ndarray]:
    """Words and their cumulative probabilities, most frequent first."""
    from wordfreq import get_frequency_dict

    freqs = get_frequency_dict("ru", "large")
    kept = sorted(
        ((w, f) for w, f in freqs.items() if _CYRILLIC_WORD.match(w) and tokenize(w) == [w]),
        key=lambda item: -item[1],
    )[:VOCABULARY]
    words = np.array([w for w, _ in kept], dtype=object)
    p = np.array([f for _, f in kept], dtype=np.float64)
    return words, np.cumsum(p / p.sum())


def _unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1, float32."""
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@dataclass
class Query:
    """One benchmark query: its text, the paragraph it was taken from, its vector."""

    text: str
    row: int
    vector: np.ndarray


@dataclass
class SyntheticCorpus:
    """n paragraphs of synthetic Russian news, their vectors and queries (seeded)."""

    n: int
    seed: int = 20261121
    _centre_cache: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    def rng(self, *stream: int) -> np.random.Generator:
        """An independent random stream for one part of the corpus."""
        return np.random.default_rng([self.seed, self.n, *stream])

    @cached_property
    def words(self) -> tuple[np.ndarray, np.ndarray]:
        """The vocabulary (see vocabulary())."""
        return vocabulary()

    @property
    def articles_count(self) -> int:
        return -(-self.n // PARAGRAPHS_PER_ARTICLE)

    @cached_property
    def story_topic(self) -> np.ndarray:
        """Topic number of each story."""
        stories = -(-self.articles_count // ARTICLES_PER_STORY)
        return self.rng(1).integers(0, TOPICS, stories)

    @cached_property
    def topic_words(self) -> np.ndarray:
        """TOPICS x TOPIC_WORDS word numbers: mid-frequency content words."""
        return self.rng(2).integers(2_000, 60_000, (TOPICS, TOPIC_WORDS))

    def story(self, rows: np.ndarray) -> np.ndarray:
        """Story number of paragraph rows."""
        return rows // (PARAGRAPHS_PER_ARTICLE * ARTICLES_PER_STORY)

    def word_ids(self, start: int, stop: int) -> np.ndarray:
        """(stop-start) x WORDS_PER_PARAGRAPH word numbers of rows [start, stop)."""
        words, cum = self.words
        rng = self.rng(3, start)
        shape = (stop - start, WORDS_PER_PARAGRAPH)
        ids = np.searchsorted(cum, rng.random(shape)).clip(max=len(words) - 1)
        topics = self.story_topic[self.story(np.arange(start, stop))]
        picks = self.topic_words[topics[:, None], rng.integers(0, TOPIC_WORDS, shape)]
        return np.where(rng.random(shape) < TOPIC_SHARE, picks, ids)

    def texts(self, start: int, stop: int) -> list[str]:
        """Paragraph texts of rows [start, stop): a capitalised sentence of words."""
        out = []
        for row in self.words[0][self.word_ids(start, stop)]:
            text = " ".join(row)
            out.append(text[0].upper() + text[1:] + ".")
        return out

    def chunks(self) -> Iterator[tuple[int, int]]:
        """[start, stop) row ranges of CHUNK rows."""
        for start in range(0, self.n, CHUNK):
            yield start, min(start + CHUNK, self.n)

    def articles_and_paragraphs(
        self, rows: tuple[int, int] | None = None
    ) -> tuple[list[Article], list[Paragraph]]:
        """Every article (title, date) and paragraph, in row order; with `rows` (start,
        stop: article boundaries), those of the paragraph rows [start, stop) alone, made
        without the rest (the chunks holding them only)."""
        first, last = rows or (0, self.n)
        articles, paragraphs = [], []
        for start, stop in self.chunks():
            if stop <= first or start >= last:
                continue
            for row, text in zip(range(start, stop), self.texts(start, stop)):
                if not first <= row < last:
                    continue
                a, n = divmod(row, PARAGRAPHS_PER_ARTICLE)
                aid = f"synth-{a:07d}"
                if n == 0:
                    day = FIRST_DATE + timedelta(days=a * DAYS // self.articles_count)
                    title = " ".join(text.split()[:8]).rstrip(".")
                    articles.append(Article(aid, title, "", day.isoformat(), None, None, "synth"))
                paragraphs.append(Paragraph(f"{aid}:{n}", aid, n, text))
        return articles, paragraphs

    def vectors(self, start: int, stop: int) -> np.ndarray:
        """Unit vectors of rows [start, stop), clustered by topic and story."""
        rng = self.rng(4, start)
        rows = np.arange(start, stop)
        stories = self.story(rows)
        noise = rng.standard_normal((stop - start, DIM), dtype=np.float32)
        topic = self._centres(5, TOPICS)[self.story_topic[stories]]
        story = self._story_centres(stories)
        mixed = (
            np.sqrt(TOPIC_W2) * topic + np.sqrt(STORY_W2) * story + np.sqrt(NOISE_W2) * _unit(noise)
        )
        return _unit(mixed)

    def _centres(self, stream: int, count: int) -> np.ndarray:
        """count random unit vectors of one stream (cached per stream)."""
        if stream not in self._centre_cache:
            self._centre_cache[stream] = _unit(self.rng(stream).standard_normal((count, DIM)))
        return self._centre_cache[stream]

    def _story_centres(self, stories: np.ndarray) -> np.ndarray:
        """Unit centres of the given stories."""
        return self._centres(6, len(self.story_topic))[stories]

    def queries(self, count: int) -> list[Query]:
        """`count` distinct queries: 2-3 content words of a random paragraph, and a vector
        near that paragraph's (cosine about 0.92)."""
        rng = self.rng(7)
        rows = np.sort(rng.choice(self.n, size=min(self.n, 2 * count), replace=False))
        out: dict[str, Query] = {}
        for start, stop in self.chunks():
            mine = rows[(rows >= start) & (rows < stop)]
            if not len(mine):
                continue
            words = self.words[0][self.word_ids(start, stop)[mine - start]]
            vectors = self.vectors(start, stop)[mine - start]
            for row, row_words, v in zip(mine, words, vectors):
                content = list(dict.fromkeys(w for w in row_words if w not in STOPWORDS))
                size = min(len(content), int(rng.integers(2, 4)))
                text = " ".join(rng.choice(content, size=size, replace=False))
                noise = _unit(rng.standard_normal((1, DIM)))[0]
                q = np.sqrt(1 - QUERY_NOISE_W2) * v + np.sqrt(QUERY_NOISE_W2) * noise
                out.setdefault(text, Query(text, int(row), (q / np.linalg.norm(q)).astype("f4")))
        picked = rng.permutation(len(out))[:count]
        queries = list(out.values())
        return [queries[i] for i in picked]
