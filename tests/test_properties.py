"""Property tests (hypothesis): text analysis, fusion and the splitter on inputs nobody wrote.

A search box and a corpus deliver any Unicode at all, so these draw from the whole of it
(lone surrogates, NUL and other control characters included) instead of a few examples.
Example counts are bounded and the example database is off, so runs are quick and
leave nothing in the working tree.
"""

from __future__ import annotations

import re
from itertools import permutations

from hypothesis import given, settings
from hypothesis import strategies as st

from core.records import Article
from index.text import STOPWORDS, analyze, normalize, tokenize
from indexer.split import split_article, split_sentences
from search import fusion

FAST = settings(max_examples=300, deadline=None, database=None)

# Characters that have broken text handling elsewhere: NUL, zero-width and direction
# marks, BOM, combining accents, ligatures and letters whose case mapping changes length.
TRICKY = "\x00\x1f\x7f\u0301\u200b\u200d\u200e\u200f\u202e\u2066\ufeff\ufffdёЁİßẞﬁǅΣς😀👩‍👧"
# Any code point: st.characters() leaves out lone surrogates, so they are added.
ANY_CHAR = st.one_of(st.characters(), st.characters(categories=["Cs"]), st.sampled_from(TRICKY))
ANY_TEXT = st.text(ANY_CHAR, max_size=200)
# Text that looks like news in the two scripts poisk stems, with punctuation and odd spaces.
NEWSY = st.text(
    st.one_of(
        st.sampled_from("абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВЁЖЗ"),
        st.sampled_from("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789"),
        st.sampled_from(" \t\n\n\u00a0\u2028.,!?…«»\"'()-–—:;"),
        ANY_CHAR,
    ),
    max_size=400,
)


# --- text analysis -------------------------------------------------------------------


@FAST
@given(ANY_TEXT)
def test_normalize_accepts_any_string_and_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert isinstance(once, str)
    assert normalize(once) == once


@FAST
@given(ANY_TEXT)
def test_tokens_are_non_empty_normalised_words(text: str) -> None:
    tokens = tokenize(text)
    assert all(token and re.fullmatch(r"[^\W_]+", token) for token in tokens)
    assert all(normalize(token) == token for token in tokens)
    assert tokenize(normalize(text)) == tokens  # analysis sees the normalised text only


@FAST
@given(ANY_TEXT)
def test_analyze_accepts_any_string_and_drops_stop_words(text: str) -> None:
    terms = analyze(text)
    assert all(isinstance(term, str) and term for term in terms)
    assert len(terms) == sum(1 for token in tokenize(text) if token not in STOPWORDS)
    assert analyze(text) == terms  # no state carried between calls


# --- fusion --------------------------------------------------------------------------


@st.composite
def rankings(draw: st.DrawFn, max_docs: int = 30) -> list[tuple[int, float]]:
    """A leg's answer: distinct docs, best score first, ties by doc number (as the legs give)."""
    docs = draw(st.lists(st.integers(0, 60), unique=True, max_size=max_docs))
    # Scores on a grid of 1/1024 (ties likely): two scores closer than float64 can tell
    # apart after min-max scaling would tie by doc number, as no real leg's scores do.
    grid = st.integers(-10 * 1024, 10 * 1024).map(lambda n: n / 1024)
    scores = draw(st.lists(grid, min_size=len(docs), max_size=len(docs)))
    return sorted(zip(docs, scores), key=lambda item: (-item[1], item[0]))


ALPHA = st.floats(0, 1)


def is_fused_ranking(
    fused: list[tuple[int, float]], *legs: list[tuple[int, float]], by_rank: bool = False
) -> bool:
    """Each doc of the legs exactly once, best score first, ties by ascending doc number
    (`by_rank`: by the best rank a leg gives the doc first)."""
    best: dict[int, int] = {}
    for leg in legs:
        for rank, (doc, _) in enumerate(leg):
            best[doc] = min(best.get(doc, rank), rank)
    docs = [doc for doc, _ in fused]
    keys = [(-score, best[doc] if by_rank else 0, doc) for doc, score in fused]
    return sorted(docs) == sorted(best) and keys == sorted(keys)


@FAST
@given(st.lists(rankings(), min_size=1, max_size=2))
def test_rrf_of_two_legs_does_not_depend_on_their_order(legs: list) -> None:
    fused = fusion.rrf(legs)
    assert fusion.rrf(legs[::-1]) == fused
    assert fusion.rrf([list(leg) for leg in legs]) == fused  # equal inputs, equal output
    assert is_fused_ranking(fused, *legs)


@FAST
@given(st.lists(rankings(max_docs=12), min_size=3, max_size=4))
def test_rrf_ranks_more_legs_the_same_in_any_order(legs: list) -> None:
    """Sums in another order may differ in the last bit; the ranking must not."""
    expected = [doc for doc, _ in fusion.rrf(legs)]
    for order in permutations(legs):
        assert [doc for doc, _ in fusion.rrf(list(order))] == expected


@FAST
@given(rankings(), rankings(), ALPHA, st.randoms(use_true_random=False))
def test_convex_is_deterministic_and_ignores_the_order_of_pairs(
    lexical: list, semantic: list, alpha: float, rnd: object
) -> None:
    fused = fusion.convex(lexical, semantic, alpha)
    shuffled_lex, shuffled_sem = list(lexical), list(semantic)
    rnd.shuffle(shuffled_lex)  # type: ignore[attr-defined]
    rnd.shuffle(shuffled_sem)  # type: ignore[attr-defined]
    assert fusion.convex(shuffled_lex, shuffled_sem, alpha) == fused
    assert is_fused_ranking(fused, lexical, semantic, by_rank=True)
    assert all(-1e-9 <= score <= 1 + 1e-9 for _, score in fused)


@FAST
@given(rankings())
def test_with_one_leg_empty_rrf_keeps_the_other_legs_order(leg: list) -> None:
    order = [doc for doc, _ in leg]
    assert [doc for doc, _ in fusion.rrf([leg, []])] == order
    assert [doc for doc, _ in fusion.rrf([[], leg])] == order


@FAST
@given(rankings(), st.floats(0.01, 1))
def test_with_bm25_empty_convex_keeps_the_semantic_order(leg: list, alpha: float) -> None:
    assert [doc for doc, _ in fusion.convex([], leg, alpha)] == [doc for doc, _ in leg]
    assert [doc for doc, _ in fusion.convex(leg, [], 1 - alpha)] == [doc for doc, _ in leg]


DEEP = settings(max_examples=60, deadline=None, database=None)


def deep_rankings(n: int) -> st.SearchStrategy[list[tuple[int, float]]]:
    """`n` legs of up to 250 distinct docs each (past fusion.REF_RANK), best first."""
    leg = st.permutations(range(300)).flatmap(
        lambda docs: st.integers(0, 250).map(
            lambda size: [(doc, float(size - i) / 7.0) for i, doc in enumerate(docs[:size])]
        )
    )
    return st.lists(leg, min_size=n, max_size=n)


def prefix_of(shallow: list, deep: list) -> bool:
    return [doc for doc, _ in deep[: len(shallow)]] == [doc for doc, _ in shallow]


@DEEP
@given(deep_rankings(2), st.integers(fusion.REF_RANK, 200), ALPHA)
def test_convex_gives_the_same_order_however_deep_the_legs_searched(
    legs: list, depth: int, alpha: float
) -> None:
    """Page 2 continues page 1: a leg that fetched more adds docs at the end only."""
    shallow = fusion.convex(legs[0][:depth], legs[1][:depth], alpha)
    deep = fusion.convex(legs[0], legs[1], alpha)
    assert prefix_of(shallow, deep)


@DEEP
@given(deep_rankings(2), st.integers(fusion.REF_RANK, 200), st.floats(0, 1), st.floats(0, 1))
def test_semantic_gives_the_same_order_however_deep_the_models_searched(
    legs: list, depth: int, share: float, boost: float
) -> None:
    titles = {doc: (doc % 13) / 13 for doc in range(300)}

    def fused(cut: int) -> list:
        pair = [fusion.DenseLeg(leg[:cut], w, titles) for leg, w in zip(legs, (share, 1 - share))]
        return fusion.semantic(pair, boost)

    assert prefix_of(fused(depth), fused(300))


# --- the splitter --------------------------------------------------------------------


def words(text: str) -> list[str]:
    """The text as whitespace-separated words (what must survive splitting)."""
    return text.split()


@FAST
@given(NEWSY, st.integers(1, 40))
def test_splitting_loses_no_text(body: str, max_tokens: int) -> None:
    """The paragraphs joined again give the body, whitespace and repeated paragraphs aside."""
    paragraphs = split_article(
        Article("a", "t", body), count_tokens=lambda t: len(t.split()), max_tokens=max_tokens
    )
    blocks, seen = [], set()
    for block in re.split(r"\n\s*\n", body):
        key = " ".join(block.split())
        if key and key not in seen:  # a repeated paragraph is kept once, by design
            seen.add(key)
            blocks.append(key)
    assert words(" ".join(p.text for p in paragraphs)) == words(" ".join(blocks))
    assert [p.n for p in paragraphs] == list(range(len(paragraphs)))
    assert all(p.text == " ".join(p.text.split()) and p.text for p in paragraphs)
    assert all(len(p.text.split()) <= max_tokens or len(p.text.split()) == 1 for p in paragraphs)


@FAST
@given(NEWSY)
def test_sentences_joined_again_give_the_text(text: str) -> None:
    assert " ".join(split_sentences(text)).split() == text.split()
