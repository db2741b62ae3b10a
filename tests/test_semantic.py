"""The FAISS leg: exact below the threshold, HNSW above, same answers for clear cases."""

import numpy as np
import pytest

from core.errors import IndexCorrupt
from index.vectors import VectorIndex, build_vector_index, inner_products


def unit_vectors(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_nearest_vector_is_itself_with_cosine_one():
    vectors = unit_vectors(50)
    index = VectorIndex.build(vectors)
    row, score = index.search(vectors[17], 3)[0]
    assert row == 17
    assert score == pytest.approx(1.0, abs=1e-5)


def test_small_index_is_exact_and_large_is_hnsw():
    vectors = unit_vectors(300)
    assert VectorIndex(build_vector_index(vectors, hnsw_threshold=301)).kind == "flat"
    hnsw = VectorIndex(build_vector_index(vectors, hnsw_threshold=300))
    assert hnsw.kind == "hnsw"
    exact = VectorIndex(build_vector_index(vectors, hnsw_threshold=301))
    for q in vectors[:20]:
        assert hnsw.search(q, 1)[0][0] == exact.search(q, 1)[0][0]


def test_results_are_sorted_and_capped_at_the_index_size():
    index = VectorIndex.build(unit_vectors(5))
    hits = index.search(unit_vectors(1, seed=9)[0], 10)
    assert len(hits) == 5
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


def test_save_load_round_trip_and_corrupt_file(tmp_path):
    vectors = unit_vectors(40)
    VectorIndex.build(vectors).save(tmp_path / "v.faiss")
    loaded = VectorIndex.load(tmp_path / "v.faiss")
    assert loaded.size == 40 and loaded.dimension == 16
    assert loaded.search(vectors[3], 1)[0][0] == 3
    data = (tmp_path / "v.faiss").read_bytes()
    (tmp_path / "broken.faiss").write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexCorrupt, match="broken.faiss"):
        VectorIndex.load(tmp_path / "broken.faiss")


def test_exact_scores_of_a_row_do_not_depend_on_the_rows_scored_with_it():
    # what makes a segmented exact index score exactly like one build (index/segments.py)
    rng = np.random.default_rng(3)
    matrix = rng.standard_normal((1000, 384)).astype(np.float32)
    query = rng.standard_normal(384).astype(np.float32)
    whole = inner_products(matrix, query)
    for start, end in [(0, 1), (1, 10), (123, 679), (997, 1000)]:
        assert np.array_equal(inner_products(matrix[start:end], query), whole[start:end])
    assert np.allclose(whole, matrix.astype(np.float64) @ query.astype(np.float64), atol=1e-4)
    assert inner_products(matrix[:0], query).shape == (0,)


def test_segments_cut_together_answer_as_one_index_with_ties_by_global_row():
    # flat segments, one with deletes and rows out of order, hold the rows of one index;
    # duplicated vectors tie, and the tie at the cut goes to the lower global row
    from index.composite import RowMap, SegmentedVectors
    from index.segments import Placement

    vectors = unit_vectors(60, seed=5)
    vectors[40] = vectors[7]  # ties across segments
    vectors[41] = vectors[7]
    order = np.random.default_rng(1).permutation(60)  # global row of each stored vector
    pieces, placements = [], []
    for start, end in [(0, 25), (25, 31), (31, 60)]:
        rows = order[start:end].astype(np.int64)
        stored = vectors[rows]
        if start == 25:  # a deleted paragraph, its vector still stored
            stored = np.vstack([stored, unit_vectors(1, seed=99)])
            rows = np.append(rows, -1)
        pieces.append(VectorIndex(build_vector_index(stored, hnsw_threshold=10**6)))
        placements.append(Placement(rows, np.ones(1, dtype=bool)))
    segmented = SegmentedVectors(pieces, RowMap.of(placements, "test"))
    whole = VectorIndex(build_vector_index(vectors, hnsw_threshold=10**6))
    for query in [vectors[7], *unit_vectors(5, seed=11)]:
        for k in (1, 2, 3, 10, 60):
            assert segmented.search(query, k) == whole.search(query, k)
        allowed = np.array([41, 40, 3, 55], dtype=np.int64)
        assert segmented.search(query, 2, allowed) == whole.search(query, 2, allowed)
    assert [row for row, _ in segmented.search(vectors[7], 2)] == [7, 40]
