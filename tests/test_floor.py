"""The relevance floor: nonsense answers nothing, in every way in; real queries are untouched."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from core.config import Settings
from search.contract import SearchRequest
from search.floor import Dictionary, is_nonsense
from search.service import Searcher
from tests.corpora import build_searcher
from web import create_app

NONSENSE = ("xyzzyqwerty", "абырвалг", "qzxv kwrtpl", "ab3kd9x", "???")
REAL = ("stipends for NAM students", "порт Чанкай", "Toolbox", "Hafen", "2023", "Ελλάδα", "北京")


@pytest.fixture(scope="module")
def searcher(tmp_path_factory: pytest.TempPathFactory) -> Searcher:
    return build_searcher(tmp_path_factory.mktemp("floor"))


@pytest.fixture(scope="module")
def client(searcher: Searcher) -> FlaskClient:
    return create_app(searcher=searcher).test_client()


@pytest.mark.parametrize("query", NONSENSE)
def test_letters_no_dictionary_knows_are_nonsense(query: str) -> None:
    assert is_nonsense(query, lexical_matched=False)


@pytest.mark.parametrize("query", REAL)
def test_a_word_of_a_language_a_number_or_another_script_is_not(query: str) -> None:
    """English in the large list, German in the small ones, numbers and scripts the floor
    has no list for are never judged nonsense."""
    assert not is_nonsense(query, lexical_matched=False)


def test_a_word_the_corpus_holds_is_never_nonsense() -> None:
    assert not is_nonsense("Чанкай", lexical_matched=True)
    assert is_nonsense("Чанкай", lexical_matched=False)  # a name the corpus lacks


def test_lists_load_only_as_far_as_a_real_query_needs() -> None:
    dictionary = Dictionary()
    assert not is_nonsense("the port", False, dictionary)
    assert dictionary.loaded() == ["en"]
    assert is_nonsense("qzxvkw", False, dictionary)
    assert len(dictionary.loaded()) > 20  # every Latin-script list was asked


@pytest.mark.parametrize("mode", ["hybrid", "semantic", "bm25"])
def test_nonsense_answers_nothing_in_every_mode(client: FlaskClient, mode: str) -> None:
    body = client.get("/api/search", query_string={"q": "xyzzyqwerty", "mode": mode}).get_json()
    assert body["results"] == [] and body["total"] == 0


def test_real_queries_still_answer(client: FlaskClient) -> None:
    for query in ("порт Чанкай", "stipends for NAM students"):
        body = client.get("/api/search", query_string={"q": query}).get_json()
        assert body["total"] > 0 and body["results"], query


def test_the_page_says_nothing_was_found(client: FlaskClient) -> None:
    page = client.get("/", query_string={"q": "xyzzyqwerty"}).get_data(as_text=True)
    assert "Nothing found" in page or "nothing found" in page.lower()


def test_the_floor_can_be_turned_off(searcher: Searcher) -> None:
    off = Searcher(searcher.index_dir, searcher.encoder, floor=False)
    assert off.search(SearchRequest(q="xyzzyqwerty")).results  # the nearest paragraphs
    assert not searcher.search(SearchRequest(q="xyzzyqwerty")).results


def test_the_setting_reads_on_and_off() -> None:
    assert Settings.from_env({}).floor is True
    assert Settings.from_env({"POISK_FLOOR": "off"}).floor is False
    with pytest.raises(ValueError, match="POISK_FLOOR must be on or off"):
        Settings.from_env({"POISK_FLOOR": "maybe"})
