"""Sets of row numbers as sorted numpy arrays: merged, looked up, and cut to the best k.

numpy's own `unique` is not used for them: in numpy 2.4 its plain form (no counts or
indices asked) takes seconds on a million numbers (1.6 s here), where a stable sort of
them, already sorted or not, takes milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def distinct(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """The numbers in any of `arrays`, ascending, once each (int64). A stable sort merges
    already sorted arrays in one pass."""
    if not arrays:
        return np.zeros(0, dtype=np.int64)
    merged = np.sort(np.concatenate(arrays).astype(np.int64, copy=False), kind="stable")
    if merged.size < 2:
        return merged
    return merged[np.concatenate(([True], merged[1:] != merged[:-1]))]


def members(wanted: np.ndarray, sorted_rows: np.ndarray) -> np.ndarray:
    """A boolean for each of `wanted`: is it in `sorted_rows` (ascending)."""
    if sorted_rows.size == 0:
        return np.zeros(wanted.shape, dtype=bool)
    at = np.minimum(np.searchsorted(sorted_rows, wanted), sorted_rows.size - 1)
    return sorted_rows[at] == wanted


def common(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The numbers in both of two ascending arrays of distinct numbers (int64): each of
    the shorter looked up in the longer."""
    shorter, longer = sorted((first, second), key=len)
    return shorter[members(shorter, longer)].astype(np.int64, copy=False)


def best(rows: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best of scored rows, best first, ties by row: every row scoring at least the
    k-th is kept before the order, so that a tie at the cut is settled by row, not by
    where np.partition left it."""
    if k <= 0:
        return rows[:0], scores[:0]
    if len(scores) > k:
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        keep = np.flatnonzero(scores >= kth)
        rows, scores = rows[keep], scores[keep]
    order = np.lexsort((rows, -scores))[:k]
    return rows[order], scores[order]
