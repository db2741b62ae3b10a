"""A generated corpus changed step by step, and the check that an index grown from it
answers as a full rebuild does (tests/test_segments.py, tests/test_shards.py)."""

from __future__ import annotations

import json
import random
from pathlib import Path

from index.manifest import MANIFEST_NAME
from indexer.build import reindex
from search.contract import SearchRequest
from search.service import Searcher
from tests.fakes import FakeEncoder

SYLLABLES = [
    "ка",
    "ли",
    "мо",
    "ра",
    "ну",
    "пе",
    "до",
    "си",
    "то",
    "ве",
    "ла",
    "ми",
    "ко",
    "са",
    "ру",
    "бе",
]
MODES = ("bm25", "semantic", "hybrid")


def words(rng: random.Random, count: int) -> list[str]:
    """A vocabulary of made-up Cyrillic words."""
    return sorted({"".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) for _ in range(count)})


class Corpus:
    """A folder of JSONL files of generated articles, changed step by step."""

    def __init__(self, folder: Path, seed: int = 7) -> None:
        self.folder = folder
        folder.mkdir()
        self.rng = random.Random(seed)
        self.vocab = words(self.rng, 400)
        self.files: dict[str, list[dict[str, str]]] = {}
        self.serial = 0

    def article(self) -> dict[str, str]:
        self.serial += 1
        paragraphs = [
            " ".join(self.rng.choices(self.vocab, k=self.rng.randint(4, 30)))
            for _ in range(self.rng.randint(1, 4))
        ]
        title = " ".join(self.rng.choices(self.vocab, k=3))
        return {"id": f"a{self.serial}", "title": title, "text": "\n\n".join(paragraphs)}

    def add_file(self, articles: int) -> str:
        name = f"f{len(self.files):03d}.jsonl"
        self.files[name] = [self.article() for _ in range(articles)]
        self.write(name)
        return name

    def edit(self, name: str, index: int) -> str:
        """Give an article new text; returns its id."""
        new = self.article()
        new["id"] = self.files[name][index]["id"]
        self.files[name][index] = new
        self.write(name)
        return new["id"]

    def remove(self, name: str, index: int) -> str:
        """Remove one article from a file; returns its id."""
        gone = self.files[name].pop(index)
        self.write(name)
        return gone["id"]

    def write(self, name: str) -> None:
        lines = [json.dumps(a, ensure_ascii=False) for a in self.files[name]]
        (self.folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")

    def queries(self, count: int = 200) -> list[str]:
        rng = random.Random(11)
        return [" ".join(rng.choices(self.vocab, k=rng.randint(1, 3))) for _ in range(count)]


def answers(searcher: Searcher, query: str, mode: str) -> list[tuple[str, float]]:
    """A search's (paragraph id, score) pairs, 20 deep."""
    result = searcher.search(SearchRequest(q=query, mode=mode, k=20))
    return [(hit.id, hit.score) for hit in result.results]


def assert_same_as_full(corpus: Corpus, index_dir: Path, cache: Path, tmp: Path) -> None:
    """200 queries in every mode answer alike from `index_dir` and a full rebuild."""
    full_dir = tmp / f"full{len(list(tmp.glob('full*')))}"
    reindex(corpus.folder, full_dir, FakeEncoder(), cache, full=True)
    segmented, full = Searcher(index_dir, FakeEncoder()), Searcher(full_dir, FakeEncoder())
    compared = 0
    for query in corpus.queries():
        for mode in MODES:
            ours, theirs = answers(segmented, query, mode), answers(full, query, mode)
            assert [i for i, _ in ours] == [i for i, _ in theirs], (query, mode)
            assert all(abs(a - b) <= 1e-6 for (_, a), (_, b) in zip(ours, theirs)), (query, mode)
            compared += bool(ours)
    assert compared > 300  # most queries find something in every mode


def segments_of(index_dir: Path) -> int:
    return len(json.loads((index_dir / MANIFEST_NAME).read_text())["segments"])
