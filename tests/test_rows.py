"""Row sets as sorted arrays (index/rows.py), against Python's sets."""

import numpy as np
import pytest

from index.rows import best, common, distinct, members


@pytest.mark.parametrize("seed", range(5))
def test_row_sets_agree_with_python_sets(seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.integers(0, 200, rng.integers(0, 80)) for _ in range(3)]
    merged = distinct(arrays)
    assert merged.dtype == np.int64
    assert merged.tolist() == sorted(set().union(*(a.tolist() for a in arrays)))
    first, second = distinct(arrays[:1]), distinct(arrays[1:])
    assert common(first, second).tolist() == sorted(set(first.tolist()) & set(second.tolist()))
    wanted = rng.integers(-5, 210, 50)
    assert members(wanted, merged).tolist() == [w in set(merged.tolist()) for w in wanted]


def test_empty_row_sets():
    empty = np.zeros(0, dtype=np.int64)
    assert distinct([]).tolist() == []
    assert distinct([empty, np.array([3])]).tolist() == [3]
    assert members(np.array([3]), empty).tolist() == [False]
    assert common(empty, np.array([1, 2])).tolist() == []


def test_best_keeps_k_best_first_with_ties_at_the_cut_settled_by_row():
    rows = np.array([9, 2, 7, 4, 5], dtype=np.int64)
    scores = np.array([0.5, 0.9, 0.5, 0.5, 0.1], dtype=np.float32)
    found, values = best(rows, scores, 3)
    assert found.tolist() == [2, 4, 7] and values.tolist() == pytest.approx([0.9, 0.5, 0.5])
    assert best(rows, scores, 10)[0].tolist() == [2, 4, 7, 9, 5]
    assert best(rows, scores, 0)[0].size == 0
