"""The lexical leg on the seed news: common words, word forms and names across scripts."""

from __future__ import annotations

import json

import pytest

from core.errors import IndexMismatch
from index.format import current_build
from index.manifest import MANIFEST_NAME
from indexer.build import reindex
from search.service import Searcher
from tests.conftest import SEEDS
from tests.fakes import FakeEncoder


@pytest.fixture(scope="module")
def searcher(tmp_path_factory) -> Searcher:
    tmp = tmp_path_factory.mktemp("lex")
    encoder = FakeEncoder()
    reindex(SEEDS, tmp / "index", encoder, tmp / "cache")
    return Searcher(tmp / "index", encoder)


def found(searcher: Searcher, query: str) -> set[str]:
    """Every paragraph BM25 finds for `query`."""
    return {h.id for h in searcher.search(query, mode="bm25", k=100).results}


def test_a_word_in_most_paragraphs_is_still_found(searcher):
    # "Азербайджан" is in 12 of the 21 seed paragraphs: Robertson's IDF made it 0.
    assert len(found(searcher, "Азербайджан")) >= 12


def test_the_forms_of_a_surname_find_the_same_paragraphs(searcher):
    forms = [found(searcher, q) for q in ("Мамедов", "Мамедова", "Мамедовым")]
    assert forms[0] == forms[1] == forms[2]
    assert len(forms[0]) >= 10


@pytest.mark.parametrize(
    ("query", "cyrillic"),
    [("Chancay", "Чанкай"), ("Denegri", "Денегри"), ("Mammadov", "Мамедов"), ("Elnur", "Эльнур")],
)
def test_a_latin_name_finds_its_cyrillic_spelling(searcher, query, cyrillic):
    assert found(searcher, query) == found(searcher, cyrillic) != set()


def test_an_english_query_naming_a_place_ranks_it_first(searcher):
    top = searcher.search("Chancay port", mode="bm25").results[0]
    assert top.id == "000_f267e610140cff85:7"


@pytest.mark.parametrize(
    ("part", "old"),
    [("bm25", {"method": "robertson"}), ("analyzer", {"version": 1, "stemmers": {}})],
)
def test_an_index_with_the_old_scoring_or_analysis_is_refused(tmp_path, part, old):
    encoder = FakeEncoder()
    reindex(SEEDS, tmp_path / "index", encoder, tmp_path / "cache")
    manifest = current_build(tmp_path / "index") / MANIFEST_NAME
    recorded = json.loads(manifest.read_text(encoding="utf-8"))
    recorded[part].update(old)
    manifest.write_text(json.dumps(recorded), encoding="utf-8")
    with pytest.raises(IndexMismatch, match="manage.py reindex"):
        Searcher(tmp_path / "index", encoder).search("порт")
