"""Index files are untrusted input: nothing in them is unpickled, damage is a clear 503.

A build folder may be truncated by a full disk, damaged by hardware, or planted by someone
who can write to it. Loading one must never run code from it, and a damaged one must give
a clear error (IndexCorrupt: a 503 naming the build) rather than a crash or a 500, with
the server recovering as soon as a good build is swapped in.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import faiss
import numpy as np
import pytest

from core.errors import IndexCorrupt, SearchError
from index.lexical import LexicalIndex
from index.swap import swap_in
from indexer.build import reindex
from search.contract import SearchRequest
from search.service import Searcher
from tests.audit import recording
from tests.conftest import SEEDS
from tests.fakes import FakeEncoder
from tests.live import Server, get, security_header_problems, serving

# Paths inside a build; SEG stands for its one segment's name (the build's own).
PARTS = [
    "manifest.json",
    "SEG/store.sqlite",
    "SEG/bm25/docs.npy",
    "SEG/bm25/tfs.npy",
    "SEG/bm25/indptr.npy",
    "SEG/bm25/lengths.npy",
    "SEG/bm25/vocab.json",
    "SEG/vectors.faiss",
    "SEG/titles.npy",
    "SEG/title_rows.npy",
    "SEG.rows.npy",
    "SEG.articles.npy",
]
ARRAYS = [part for part in PARTS if part.startswith("SEG/bm25/") and part.endswith(".npy")]
TITLE_ARRAYS = ["SEG/titles.npy", "SEG/title_rows.npy"]


def build(tmp: Path, source: Path = SEEDS) -> Path:
    """A fresh index of `source` at tmp/index; returns its build folder."""
    report = reindex(source, tmp / "index", FakeEncoder(), tmp / "cache")
    assert report.build is not None
    return report.build


def damaged_copy(good: Path, part: str, damage: Callable[[Path], None], into: Path) -> Path:
    """A copy of build `good` in folder `into` with `damage` done to one part."""
    copy = into / f"{good.name}-damaged-{part.replace('/', '-')}"
    shutil.copytree(good, copy)
    damage(copy / part.replace("SEG", good.name))
    return copy


def exercise(searcher: Searcher) -> None:
    """What a server does with an index: every mode, dates, an article and the stats."""
    from datetime import date

    for mode in ("hybrid", "bm25", "semantic"):
        searcher.search(SearchRequest(q="порт Чанкай", mode=mode))
    searcher.search(SearchRequest(q="Перу", fusion="convex", date_from=date(2025, 9, 1), k=100))
    searcher.article("000_f267e610140cff85")
    searcher.stats()


class Payload:
    """Unpickling this creates `marker`: the proof that a file's pickle was run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        import os

        return (os.mkdir, (str(self.marker),))


# --- nothing is unpickled ------------------------------------------------------------------


def test_loading_and_searching_an_index_unpickles_nothing(tmp_path: Path) -> None:
    build(tmp_path)
    with recording("pickle.find_class") as lookups:
        exercise(Searcher(tmp_path / "index", FakeEncoder()))
    assert lookups == []


def plant_pickle(tmp_path: Path, part: str) -> tuple[Path, Path]:
    """A build of the seeds, swapped in, whose array `part` holds a pickled Payload; the
    build and the marker the payload would create if it ran."""
    marker = tmp_path / "pickle-ran"
    array = np.array([Payload(marker)], dtype=object)
    planted = damaged_copy(
        build(tmp_path), part, lambda path: np.save(path, array, allow_pickle=True), tmp_path
    )
    swap_in(tmp_path / "index", planted)
    return planted, marker


@pytest.mark.parametrize("part", ARRAYS)
def test_a_pickle_planted_in_a_bm25_array_is_refused_not_run(tmp_path: Path, part: str) -> None:
    planted, marker = plant_pickle(tmp_path, part)
    searcher = Searcher(tmp_path / "index", FakeEncoder())
    with recording("pickle.find_class") as lookups, pytest.raises(IndexCorrupt):
        searcher.search(SearchRequest(q="порт"))
    with pytest.raises(IndexCorrupt, match="pickle"):
        LexicalIndex.load(
            planted / planted.name.split("-damaged-")[0] / "bm25", mmap=False
        )  # not memory-mapped: still refused
    assert not marker.exists()
    assert lookups == []


@pytest.mark.parametrize("part", TITLE_ARRAYS)
def test_a_pickle_planted_in_a_title_array_is_refused_not_run(tmp_path: Path, part: str) -> None:
    _, marker = plant_pickle(tmp_path, part)
    with recording("pickle.find_class") as lookups, pytest.raises(IndexCorrupt, match="title"):
        Searcher(tmp_path / "index", FakeEncoder()).search(SearchRequest(q="порт"))
    assert not marker.exists()
    assert lookups == []


def test_the_planted_pickle_would_run_if_unpickled(tmp_path: Path) -> None:
    """The payload above is live: it is the refusal that keeps it from running."""
    path = tmp_path / "payload.npy"
    np.save(path, np.array([Payload(tmp_path / "ran")], dtype=object), allow_pickle=True)
    np.load(path, allow_pickle=True)
    assert (tmp_path / "ran").is_dir()


# --- damaged files are a clear error --------------------------------------------------------


def truncate_to_half(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def empty(path: Path) -> None:
    path.write_bytes(b"")


def garbage(path: Path) -> None:
    path.write_bytes(bytes((i * 7 + 13) % 256 for i in range(path.stat().st_size)))


DAMAGE = {"truncated": truncate_to_half, "empty": empty, "garbage": garbage}


@pytest.fixture(scope="module")
def good_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("good"))


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
@pytest.mark.parametrize("part", PARTS)
def test_a_damaged_file_is_a_clear_error(
    tmp_path: Path, good_build: Path, part: str, damage: Callable[[Path], None]
) -> None:
    broken = damaged_copy(good_build, part, damage, tmp_path)
    (tmp_path / "index").symlink_to(broken)
    searcher = Searcher(tmp_path / "index", FakeEncoder())
    for _ in range(2):  # and again: the same clear error, not a different failure
        with pytest.raises(IndexCorrupt) as error:
            exercise(searcher)
        assert broken.name in str(error.value)


def edit_json(change: Callable[[dict], object]) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        path.write_text(json.dumps(change(json.loads(path.read_text()))))

    return damage


def edit_array(change: Callable[[np.ndarray], np.ndarray]) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        np.save(path, change(np.load(path)))

    return damage


def edit_store(statement: str) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        with sqlite3.connect(path) as db:
            db.execute(statement)
        db.close()

    return damage


def other_vectors(path: Path) -> None:
    index = faiss.IndexFlatIP(16)  # the manifest says 32 dimensions
    index.add(np.eye(21, 16, dtype=np.float32))
    faiss.write_index(index, str(path))


# Files that parse but do not fit together: each used to fail inside a search (a 500).
VOCAB, MANIFEST, STORE = "SEG/bm25/vocab.json", "manifest.json", "SEG/store.sqlite"
DOCS, ROWS = "SEG/bm25/docs.npy", "SEG.rows.npy"
INCONSISTENT = {
    "vocab not a list": (VOCAB, edit_json(lambda d: dict.fromkeys(d, 10**6))),
    "vocab with a term twice": (VOCAB, edit_json(lambda d: d + d[:1])),
    "doc ids past the store": (DOCS, edit_array(lambda a: a + 1000)),
    "doc ids as floats": (DOCS, edit_array(lambda a: a.astype(float))),
    "term pointers cut": ("SEG/bm25/indptr.npy", edit_array(lambda a: a[:3])),
    "term counts as text": ("SEG/bm25/tfs.npy", edit_array(lambda a: a.astype(str))),
    "lengths cut": ("SEG/bm25/lengths.npy", edit_array(lambda a: a[:5])),
    "rows past the paragraphs": (ROWS, edit_array(lambda a: a + 100)),
    "rows twice": (ROWS, edit_array(lambda a: a * 0)),
    "rows cut": (ROWS, edit_array(lambda a: a[:5])),
    "articles flags of another type": ("SEG.articles.npy", edit_array(lambda a: a.astype(float))),
    "vectors of another size": ("SEG/vectors.faiss", other_vectors),
    "title rows past the articles": ("SEG/title_rows.npy", edit_array(lambda a: a + 2)),
    "title rows cut": ("SEG/title_rows.npy", edit_array(lambda a: a[:5])),
    "title rows as floats": ("SEG/title_rows.npy", edit_array(lambda a: a.astype(float))),
    "title vectors of another size": ("SEG/titles.npy", edit_array(lambda a: a[:, :16])),
    "title vectors of too few articles": ("SEG/titles.npy", edit_array(lambda a: a[:1])),
    "manifest section of a wrong type": (MANIFEST, edit_json(lambda d: {**d, "vectors": "x"})),
    "rows renumbered": (STORE, edit_store("UPDATE paragraphs SET row = row + 100")),
    "articles gone": (STORE, edit_store("DELETE FROM articles")),
    "text as bytes": (STORE, edit_store("UPDATE paragraphs SET text = x'00ff'")),
    "text not UTF-8": (STORE, edit_store("UPDATE paragraphs SET text = CAST(x'ff' AS TEXT)")),
}


@pytest.mark.parametrize(("part", "damage"), INCONSISTENT.values(), ids=INCONSISTENT.keys())
def test_files_that_parse_but_do_not_fit_are_a_clear_error(
    tmp_path: Path, good_build: Path, part: str, damage: Callable[[Path], None]
) -> None:
    broken = damaged_copy(good_build, part, damage, tmp_path)
    (tmp_path / "index").symlink_to(broken)
    with pytest.raises(IndexCorrupt) as error:
        exercise(Searcher(tmp_path / "index", FakeEncoder()))
    assert broken.name in str(error.value)


def test_a_failed_build_is_not_read_again_on_every_request(tmp_path: Path) -> None:
    good = build(tmp_path)
    broken = damaged_copy(good, "SEG/vectors.faiss", truncate_to_half, tmp_path)
    swap_in(tmp_path / "index", broken)
    searcher = Searcher(tmp_path / "index", FakeEncoder())
    with pytest.raises(IndexCorrupt):
        searcher.search(SearchRequest(q="порт"))
    with recording("open") as opened, pytest.raises(IndexCorrupt):
        searcher.search(SearchRequest(q="порт"))
    assert [path for _, path in opened if str(broken) in str(path)] == []


# --- the server: 503 while damaged, back when a good build arrives ---------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    tmp = tmp_path_factory.mktemp("served")
    build(tmp)
    with serving(tmp / "index") as server:
        yield server, tmp


@pytest.mark.parametrize("part", PARTS)
def test_the_server_answers_503_for_a_damaged_build_and_recovers(
    served: tuple[Server, Path], part: str
) -> None:
    server, tmp = served
    good = (tmp / "index").resolve()
    swap_in(tmp / "index", damaged_copy(good, part, truncate_to_half, good.parent))
    for _ in range(3):
        answer = get(server.port, "/api/search?q=%D0%BF%D0%BE%D1%80%D1%82")
        assert answer.status == 503
        error = json.loads(answer.body)["error"]
        assert error["code"] == "index_unavailable" and "reindex" in error["message"]
        assert "index.builds" not in error["message"]  # no server path goes to the public
        assert security_header_problems(answer.headers) == []
    page = get(server.port, "/?q=%D0%BF%D0%BE%D1%80%D1%82")
    assert page.status == 503 and "manage.py reindex" in page.text
    health = json.loads(get(server.port, "/api/health").body)
    assert health["index"] is False and health["message"]
    assert server.process.poll() is None  # still the same process: no crash, no restart

    build(tmp)  # a good build swapped in by reindex
    assert get(server.port, "/api/search?q=%D0%BF%D0%BE%D1%80%D1%82").status == 200
    assert json.loads(get(server.port, "/api/health").body)["index"] is True


def test_an_index_error_is_a_search_error() -> None:
    """The web layer maps SearchError subclasses to 503; IndexCorrupt must be one."""
    assert issubclass(IndexCorrupt, SearchError)
