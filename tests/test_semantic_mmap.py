"""Vector indexes load memory-mapped by default and answer exactly as when read."""

import numpy as np
import pytest

from search.semantic import VectorIndex, build_vector_index


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
