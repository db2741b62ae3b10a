"""Fusion arithmetic on hand-written rankings."""

import math

import pytest

from search.fusion import (
    DEFAULT_ALPHAS,
    FEW_HOLDERS,
    TRUSTED_ALPHA,
    DenseLeg,
    Standard,
    convex,
    coverage_alpha,
    min_max,
    rrf,
    semantic,
)


def test_rrf_sums_reciprocal_ranks_with_k_60():
    fused = dict(rrf([[(1, 9.0), (2, 5.0)], [(2, 0.9), (3, 0.8)]]))
    assert fused[2] == pytest.approx(1 / 62 + 1 / 61)
    assert fused[1] == pytest.approx(1 / 61)
    assert fused[3] == pytest.approx(1 / 62)


def test_rrf_order_and_deterministic_tie_break():
    # docs 1 and 3 tie (1/61 each): the lower doc number comes first
    assert [d for d, _ in rrf([[(3, 1.0)], [(1, 1.0)]])] == [1, 3]
    assert [d for d, _ in rrf([[(1, 2.0), (2, 1.0)], [(2, 0.5), (1, 0.4)]])] == [1, 2]


def test_rrf_is_invariant_to_the_order_of_the_legs():
    a, b = [(5, 3.0), (6, 2.0), (7, 1.0)], [(7, 0.9), (8, 0.8)]
    assert rrf([a, b]) == rrf([b, a])


@pytest.mark.parametrize("empty_first", [True, False])
def test_one_empty_leg_leaves_the_other_legs_order(empty_first):
    leg = [(4, 0.9), (2, 0.7), (9, 0.1)]
    legs = [[], leg] if empty_first else [leg, []]
    assert [d for d, _ in rrf(legs)] == [4, 2, 9]
    assert [d for d, _ in convex(*legs, alpha=0.3)] == [4, 2, 9]


def test_min_max_scales_to_unit_range_and_flat_lists_to_one():
    assert min_max([(1, 10.0), (2, 5.0), (3, 0.0)]) == {1: 1.0, 2: 0.5, 3: 0.0}
    assert min_max([(1, 0.4), (2, 0.4)]) == {1: 1.0, 2: 1.0}
    assert min_max([]) == {}


def test_convex_weights_the_semantic_leg_by_alpha():
    lexical = [(1, 10.0), (2, 0.0)]  # normalised: 1 -> 1.0, 2 -> 0.0
    semantic = [(2, 0.9), (3, 0.5), (1, 0.1)]  # normalised: 2 -> 1.0, 3 -> 0.5, 1 -> 0.0
    fused = dict(convex(lexical, semantic, alpha=0.25))
    assert fused == pytest.approx({1: 0.75, 2: 0.25, 3: 0.125})
    assert [d for d, _ in convex(lexical, semantic, alpha=1.0)] == [2, 3, 1]
    assert [d for d, _ in convex(lexical, semantic, alpha=0.0)] == [1, 2, 3]


def test_convex_refuses_alpha_outside_0_1():
    with pytest.raises(ValueError):
        convex([], [], alpha=1.5)


def test_weighted_rrf_scales_each_docs_contribution():
    lexical, semantic = [(1, 9.0), (2, 1.0)], [(2, 0.9), (1, 0.8)]
    fused = dict(rrf([lexical, semantic], weights=[{1: 0.5, 2: 0.0}, None]))
    assert fused[1] == pytest.approx(0.5 / 61 + 1 / 62)
    assert fused[2] == pytest.approx(1 / 61)
    assert rrf([lexical, semantic], weights=[None, None]) == rrf([lexical, semantic])


def test_min_max_reads_only_the_first_ref_hits():
    ranking = [(1, 10.0), (2, 5.0), (3, 0.0), (4, -5.0)]
    assert min_max(ranking, ref=3) == {1: 1.0, 2: 0.5, 3: 0.0}  # 4 counts as a miss


def test_standard_scores_are_z_scores_over_the_first_ref_hits():
    st = Standard.of([(7, 3.0), (8, 2.0), (9, 1.0), (10, -50.0)], ref=3)
    assert st.scores == pytest.approx({7: 1.2247449, 8: 0.0, 9: -1.2247449})
    assert st.floor == pytest.approx(-1.2247449)  # what doc 10, or a missing doc, counts
    assert st.z(2.5) == pytest.approx(0.6123724)


def test_semantic_weights_each_model_by_its_share():
    a = [(1, 0.9), (2, 0.8), (3, 0.7)]  # z: 1.22, 0, -1.22
    b = [(3, 0.6), (2, 0.5), (1, 0.4)]
    equal = dict(semantic([DenseLeg(a, 0.5, {}), DenseLeg(b, 0.5, {})]))
    assert equal == pytest.approx({1: 0.0, 2: 0.0, 3: 0.0})
    leaning = [d for d, _ in semantic([DenseLeg(a, 0.3, {}), DenseLeg(b, 0.7, {})])]
    assert leaning == [3, 2, 1]


def test_a_title_above_the_paragraphs_lifts_its_paragraphs_and_one_below_does_not():
    ranking = [(1, 0.9), (2, 0.8), (3, 0.7)]
    std = math.sqrt(2 / 3) * 0.1  # mean 0.8
    titles = {1: 0.1, 2: 0.1, 3: 0.95}  # doc 3's article title beats every paragraph
    fused = dict(semantic([DenseLeg(ranking, 1.0, titles)], title_boost=1.0))
    assert fused[3] == pytest.approx(-0.1 / std + (0.95 - 0.8) / std)
    assert fused[1] == pytest.approx(0.1 / std)  # a title below the mean adds nothing
    assert [d for d, _ in semantic([DenseLeg(ranking, 1.0, titles)], 1.0)] == [1, 3, 2]
    assert [d for d, _ in semantic([DenseLeg(ranking, 1.0, titles)], 0.0)] == [1, 2, 3]


def test_coverage_alpha_trusts_bm25_only_on_its_own_evidence() -> None:
    lexical = [(1, 9.0), (2, 5.0), (3, 1.0)]
    whole = {1: 1.0, 2: 0.5, 3: 0.2}
    assert coverage_alpha(lexical, whole, same_script=True) == TRUSTED_ALPHA
    assert coverage_alpha(lexical, whole, same_script=False) == DEFAULT_ALPHAS["coverage"]
    partial = {1: 0.9, 2: 1.0, 3: 0.2}  # the first hit lacks a query word
    assert coverage_alpha(lexical, partial, same_script=True) == DEFAULT_ALPHAS["coverage"]
    assert coverage_alpha([], {}, same_script=True) == DEFAULT_ALPHAS["coverage"]


def test_coverage_alpha_does_not_trust_a_query_many_paragraphs_hold() -> None:
    lexical = [(doc, 10.0 - doc) for doc in range(FEW_HOLDERS + 1)]
    few = {doc: 1.0 if doc < FEW_HOLDERS else 0.5 for doc, _ in lexical}
    many = dict.fromkeys(few, 1.0)
    assert coverage_alpha(lexical, few, same_script=True) == TRUSTED_ALPHA
    assert coverage_alpha(lexical, many, same_script=True) == DEFAULT_ALPHAS["coverage"]
