"""The cross-lingual dense leg: the USE encoder, its vectors in the build, and its fusion.

The build and search plumbing runs with two fake encoders (fast); what depends on the model
itself (offline load, an English question finding Russian text) runs on the real USE.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from core.errors import IndexCorrupt, IndexMismatch
from encoders.crosslingual import CrossModelError, load_cross_encoder
from eval.harness import default_configs
from index.format import CROSS_VECTORS_NAME, load_index
from index.manifest import ModelRecord
from index.vectors import VectorIndex
from indexer.build import is_current, reindex
from search import fusion
from search.contract import SearchRequest
from search.service import CROSS_WEIGHTS, Searcher
from tests.conftest import SEEDS
from tests.fakes import FakeEncoder

STIPENDS = "000_f267e610140cff85:5"  # the paragraph on 100 stipends for NAM students


def _cross() -> FakeEncoder:
    return FakeEncoder(name="fake-cross", dimension=24)


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, FakeEncoder, FakeEncoder]:
    """Seeds indexed with a fake model and a fake cross-lingual model."""
    primary, cross = FakeEncoder(), _cross()
    reindex(SEEDS, tmp_path / "index", primary, tmp_path / "cache", cross_encoder=cross)
    return tmp_path / "index", primary, cross


def test_the_build_holds_cross_vectors_recorded_in_its_manifest(built) -> None:
    index_dir, primary, cross = built
    index = load_index(index_dir)
    assert index.manifest.cross_model == ModelRecord(
        name="fake-cross", fingerprint=cross.fingerprint, dimension=24, dtype="float32"
    )
    assert index.cross is not None
    assert (index.cross.size, index.cross.dimension) == (21, 24)
    # the same passage texts (paragraphs and titles) as the primary model's
    assert sorted(cross.passages) == sorted(primary.passages)
    assert len(cross.passages) >= 21


def test_is_current_follows_the_cross_model_setting(built) -> None:
    index_dir, _, _ = built
    assert is_current(index_dir, SEEDS, "fake", "float32", "fake-cross")
    assert not is_current(index_dir, SEEDS, "fake", "float32", "none")


@pytest.mark.parametrize(
    ("query", "share"),
    [("стипендии студентам", "same"), ("stipends for students", "other")],
)
def test_the_semantic_leg_fuses_both_models_by_the_query_script(built, query, share) -> None:
    """The cross model's share is larger for a query not in the corpus's script (Russian)."""
    index_dir, primary, cross = built
    searcher = Searcher(index_dir, primary, cross)
    one = {
        d: [(h.id, h.semantic.score) for h in Searcher(index_dir, primary, cross, dense=d).search(
            SearchRequest(q=query, k=100, mode="semantic")).results]
        for d in ("primary", "cross", "both")
    }  # fmt: skip
    index = searcher.current()
    assert index.script == "cyrillic"
    pairs = [(index.vectors, primary, index.titles), (index.cross, cross, index.cross_titles)]
    found = [(e.encode_queries([query])[0], v, t) for v, e, t in pairs]
    rankings = [v.search(q, 100) for q, v, _ in found]
    docs = sorted({d for ranking in rankings for d, _ in ranking})
    across = CROSS_WEIGHTS[share]
    legs = [
        fusion.DenseLeg(ranking, weight, titles.similarities(docs, q))
        for ranking, weight, (q, _, titles) in zip(rankings, (1 - across, across), found)
    ]
    ids = index.store.paragraphs(range(21))
    expected = [(ids[d].id, s) for d, s in fusion.semantic(legs)]
    assert [i for i, _ in one["both"]] == [i for i, _ in expected]
    assert [s for _, s in one["both"]] == pytest.approx([s for _, s in expected])
    assert one["primary"] != one["cross"]  # two different models, two rankings


def test_an_index_and_a_searcher_must_agree_on_the_cross_model(built, tmp_path) -> None:
    index_dir, primary, cross = built
    with pytest.raises(IndexMismatch, match="cross"):
        Searcher(index_dir, primary).search(SearchRequest(q="порт"))
    with pytest.raises(IndexMismatch, match="cross"):
        Searcher(index_dir, primary, FakeEncoder(name="other", dimension=24)).search(
            SearchRequest(q="порт")
        )
    plain = tmp_path / "plain"
    reindex(SEEDS, plain, primary, tmp_path / "cache")
    with pytest.raises(IndexMismatch, match="no cross-lingual vectors"):
        Searcher(plain, primary, cross).search(SearchRequest(q="порт"))
    with pytest.raises(ValueError, match="no cross-lingual vectors"):
        Searcher(plain, primary, dense="cross").search(SearchRequest(q="порт"))


def test_damaged_cross_vectors_are_refused(built) -> None:
    index_dir, primary, cross = built
    build = index_dir.resolve()
    segment = build / build.name  # its one segment
    VectorIndex.build(np.eye(24, dtype=np.float32)[:5]).save(segment / CROSS_VECTORS_NAME)
    with pytest.raises(IndexCorrupt, match="cross vectors"):
        Searcher(index_dir, primary, cross).search(SearchRequest(q="порт"))


def test_a_malformed_cross_record_is_refused(built) -> None:
    index_dir, primary, cross = built
    manifest = index_dir.resolve() / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["cross_model"] = {"name": "fake-cross", "dimension": "24"}
    manifest.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(IndexCorrupt, match="cross_model"):
        Searcher(index_dir, primary, cross).search(SearchRequest(q="порт"))


def test_cross_model_setting() -> None:
    assert load_cross_encoder("none") is None
    with pytest.raises(CrossModelError, match="unknown cross-lingual model 'labse'"):
        load_cross_encoder("labse")


def test_evaluation_measures_each_dense_model_alone_when_there_are_two() -> None:
    names = [c.name for c in default_configs(cross=True)]
    assert names[:4] == ["bm25", "semantic-primary", "semantic-cross", "semantic"]
    assert "semantic-cross" not in [c.name for c in default_configs()]


def test_a_passage_batch_takes_the_process_share_of_the_cores(real_cross, monkeypatch) -> None:
    """A server worker's OMP_NUM_THREADS bounds USE's passage threads, as ONNX Runtime's:
    two threads per worker on a busy 2-core machine made sentence marks about 2x slower."""
    backend = real_cross._use._model
    seen: list[int] = []
    encode = real_cross._use.encode
    monkeypatch.setattr(
        real_cross._use, "encode", lambda texts: seen.append(backend.threads) or encode(texts)
    )
    for threads in ("1", "3"):
        monkeypatch.setenv("OMP_NUM_THREADS", threads)
        real_cross.encode_passages(["Порт Чанкай открыт."])
    assert seen == [1, 3] and backend.threads == 1  # queries back on one


def test_cores_reads_omp_num_threads_else_the_affinity(monkeypatch) -> None:
    from encoders.base import cores

    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert cores() == 3
    for unset in ("", "0", "many"):
        monkeypatch.setenv("OMP_NUM_THREADS", unset)
        assert cores() == len(os.sched_getaffinity(0))


def test_the_real_cross_model_loads_from_its_package(real_cross) -> None:
    texts = ["Порт Чанкай открыт.", "The port of Chancay is open.", "Students get stipends."]
    vectors = real_cross.encode_passages(texts)
    assert vectors.shape == (3, 512) and vectors.dtype == np.float32
    assert np.linalg.norm(vectors, axis=1) == pytest.approx(1.0, abs=1e-5)
    # a sentence is nearer its translation than another sentence in the translation's language
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2]) + 0.3
    assert real_cross._use._model.threads == 1  # passages on two threads, queries back on one
    assert len(real_cross.fingerprint) == 64
    assert load_cross_encoder(real_cross.name).fingerprint == real_cross.fingerprint


def test_an_english_question_finds_its_russian_paragraph_by_the_cross_model(
    real_searcher,
) -> None:
    for dense in ("cross", "both"):
        searcher = Searcher(
            real_searcher.index_dir, real_searcher.encoder, real_searcher.cross, dense=dense
        )
        hits = searcher.search(SearchRequest(q="stipends for NAM students", mode="semantic"))
        assert hits.results[0].id == STIPENDS, dense


def test_concurrent_queries_get_their_own_vectors(real_cross) -> None:
    """Queries from many threads are batched together; each still gets its own vector."""
    from concurrent.futures import ThreadPoolExecutor

    queries = [f"stipends for students {i}" for i in range(24)] + ["порт Чанкай"] * 8
    alone = real_cross._encode(queries)
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda q: real_cross.encode_queries([q])[0], queries))
    assert np.einsum("ij,ij->i", alone, np.stack(together)) == pytest.approx(1.0, abs=1e-5)
