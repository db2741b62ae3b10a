"""The scale bench's own parts: the seeded corpus, a small build searched end to end, and
the parsing of wrk's and bench/indexing.py's output."""

import json
from pathlib import Path

import numpy as np
import pytest

from bench.load import parse_wrk
from bench.scale.build import build_index
from bench.scale.corpus import CHUNK, SyntheticCorpus
from bench.scale.probe import probe
from bench.scale.report import parse_indexing
from index.manifest import Manifest, ModelRecord
from indexer.build import reindex
from tests.conftest import SEEDS
from tests.fakes import FakeEncoder

WRK = """Running 30s test @ http://127.0.0.1:8000/
  Latency Distribution
     50%   29.80ms
     75%   33.10ms
     90%   37.00ms
     99%    1.20s
  1005 requests in 30.02s, 9.81MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 3
Requests/sec:     33.48
"""


def test_wrk_output_is_parsed():
    assert parse_wrk(WRK) == {
        "rps": 33.48,
        "p50_ms": 29.8,
        "p99_ms": 1200.0,
        "requests": 1005,
        "errors": 6,
    }


def test_indexing_output_is_parsed():
    text = (
        "one query's encoding: 21.2 ms (median of 50)\nparagraphs: 210 (10 copies), runs: 3\n"
        "model load (new process, torch import included): 6.9 s\n"
        "raw passage encoding: 66.0 paragraphs/s\n"
        "reindex --full end to end: 63.4 paragraphs/s (96% of raw encoding)\n"
    )
    figures = parse_indexing(text)
    assert figures["raw_paragraphs_per_s"] == 66.0
    assert figures["reindex_share_of_raw"] == pytest.approx(63.4 / 66.0, abs=1e-3)


def test_the_corpus_is_seeded_and_its_vectors_cluster_by_story():
    a, b = SyntheticCorpus(400), SyntheticCorpus(400)
    assert a.texts(0, 400) == b.texts(0, 400)
    assert SyntheticCorpus(400, seed=1).texts(0, 5) != a.texts(0, 5)
    v = a.vectors(0, 400)
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    same_story, other = float(v[0] @ v[1]), float(v[0] @ v[25])  # stories are 20 rows
    assert same_story > 0.6 and abs(other) < 0.3


def test_a_range_of_the_corpus_is_made_alike_without_the_rest():
    # the freshness bench writes each batch's articles without making the whole corpus
    corpus = SyntheticCorpus(2 * CHUNK + 500)  # made CHUNK rows at a time
    articles, paragraphs = corpus.articles_and_paragraphs()
    for first, last in [(0, 7), (4_990, 5_010), (1_234, 10_050)]:  # within, across, to the end
        some = corpus.articles_and_paragraphs((first * 10, last * 10))
        assert some == (articles[first:last], paragraphs[first * 10 : last * 10])


def test_a_small_bench_index_is_built_and_searched(tmp_path: Path):
    corpus = SyntheticCorpus(300)
    queries = corpus.queries(5)
    model = ModelRecord(name="fake", fingerprint="f" * 64, dimension=384, dtype="float32")
    figures, _, _ = build_index(corpus, tmp_path / "index", model, log=lambda s: None)
    assert figures["faiss_kind"] == "flat" and figures["disk_mb"] > 0
    result = probe(
        tmp_path / "index", [q.text for q in queries], np.stack([q.vector for q in queries]), 1
    )
    assert set(result["latency_ms"]) == {"bm25_leg", "dense_leg", "bm25", "semantic", "hybrid"}
    assert result["searches_per_mode"] == 5


def fields(data: dict, prefix: str = "") -> set[str]:
    """Every field of a manifest's JSON, nested ones as `section.field`."""
    out = set()
    for key, value in data.items():
        out.add(prefix + key)
        if isinstance(value, dict) and key not in ("stemmers",):
            out |= fields(value, f"{prefix}{key}.")
    return out


def test_a_bench_build_records_every_field_a_reindex_does(tmp_path: Path):
    model = ModelRecord.of(FakeEncoder(dimension=384))
    build_index(SyntheticCorpus(100), tmp_path / "bench", model, log=lambda s: None)
    reindex(SEEDS, tmp_path / "real", FakeEncoder(dimension=384), tmp_path / "cache")
    bench, real = (
        json.loads((tmp_path / name / "manifest.json").read_text()) for name in ("bench", "real")
    )
    assert fields(bench) == fields(real)
    assert "vectors.passage" in fields(bench) and "model.dtype" in fields(bench)
    assert Manifest.read((tmp_path / "bench").resolve()).model == model
