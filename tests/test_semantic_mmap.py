"""Vector indexes load memory-mapped by default and answer exactly as when read."""

import numpy as np
import pytest

from index.vectors import VectorIndex, build_vector_index


def unit_vectors(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("threshold", [10_000, 0], ids=["flat", "hnsw"])
def test_mapped_and_read_indexes_answer_alike(tmp_path, threshold):
    vectors = unit_vectors(500)
    built = VectorIndex(build_vector_index(vectors, hnsw_threshold=threshold))
    built.save(tmp_path / "v.faiss")
    mapped = VectorIndex.load(tmp_path / "v.faiss")
    read = VectorIndex.load(tmp_path / "v.faiss", mmap=False)
    assert mapped.kind == read.kind == built.kind
    for q in unit_vectors(20, seed=1):
        assert mapped.search(q, 10) == read.search(q, 10) == built.search(q, 10)
    allowed = np.arange(0, 500, 7)
    assert mapped.search(vectors[14], 5, allowed) == read.search(vectors[14], 5, allowed)


def test_a_mapped_index_survives_its_file_being_removed(tmp_path):
    """A pruned build's file disappears while a server may still search it."""
    vectors = unit_vectors(100)
    VectorIndex.build(vectors).save(tmp_path / "v.faiss")
    mapped = VectorIndex.load(tmp_path / "v.faiss")
    (tmp_path / "v.faiss").unlink()
    assert mapped.search(vectors[42], 1)[0][0] == 42


def test_hnsw_keeps_float16_vectors_with_scores_close_to_exact():
    """Half the memory of float32; the scores move by about 1e-3, the neighbours not."""
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((30, 32))
    x = centres[rng.integers(0, 30, 3000)] + 0.5 * rng.standard_normal((3000, 32))
    vectors = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    hnsw = VectorIndex(build_vector_index(vectors, hnsw_threshold=0))
    exact = VectorIndex(build_vector_index(vectors, hnsw_threshold=10_000))
    assert "SQ" in type(hnsw.index).__name__ and hnsw.kind == "hnsw"
    found = 0
    for q in vectors[rng.integers(0, 3000, 50)]:
        approx, truth = hnsw.search(q, 10), dict(exact.search(q, 10))
        found += len(truth.keys() & {row for row, _ in approx})
        for row, score in approx:
            assert score == pytest.approx(float(vectors[row] @ q), abs=2e-3)
    assert found / 500 >= 0.95
