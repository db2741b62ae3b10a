"""`manage.py reindex --ray`: encoding on a real two-node Ray cluster gives the index a local
build gives, and a wrong address is a clear error.

One cluster (tests/conftest.py `ray_cluster`: a head node and a second node, one CPU each,
on this machine) serves every Ray test of the session; the encoding actors reserve half a
CPU each (indexer/distributed.py ACTOR_CPUS).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from core.config import Settings
from index.format import load_index
from indexer.build import reindex
from indexer.cache import EmbeddingCache, text_key
from indexer.distributed import ActorPlan, _cause, _missing
from indexer.ray_cluster import ClusterInfo, RayUnavailable
from manage import cli
from search.contract import SearchRequest
from search.service import Searcher
from tests.conftest import SEEDS
from tests.fakes import FakeEncoder, fake_cli_context

pytest.importorskip("ray", reason="reindex --ray needs ray[data] (requirements.txt)")

QUERIES = ("порт Чанкай", "stipends for NAM students", "посольство Перу в Баку")


def _settings(tmp_path: Path, cache: Path) -> Settings:
    return Settings(index_dir=tmp_path / "ray-index", source_dir=SEEDS, cache_dir=cache)


def _vectors(index_dir: Path) -> list[np.ndarray]:
    """Every vector of the current build: paragraphs and titles, of both models."""
    index = load_index(index_dir)
    try:
        models = [m for m in (index.vectors, index.cross) if m is not None]
        out = [p.index.reconstruct_n(0, p.size) for m in models for p in m.parts]
        titles = [t for t in (index.titles, index.cross_titles) if t is not None]
        out += [part.vectors for t in titles for part in t.parts]
        return [np.asarray(v, dtype=np.float32) for v in out]
    finally:
        index.close()


def _hits(searcher: Searcher) -> list[list[str]]:
    """The ids each of QUERIES finds, in order, in hybrid mode."""
    pages = [searcher.search(SearchRequest(q=q, k=10)) for q in QUERIES]
    return [[hit.id for hit in page.results] for page in pages]


@pytest.mark.model
def test_an_index_encoded_on_ray_equals_the_local_build(
    ray_cluster, real_encoder, real_cross, model_cache, tmp_path
):
    local = tmp_path / "local-index"
    reindex(SEEDS, local, real_encoder, tmp_path / "local-cache", cross_encoder=real_cross)
    cache = tmp_path / "ray-cache"  # no embeddings: everything is encoded on the cluster
    cache.mkdir()
    (cache / "models").symlink_to(model_cache / "models")  # the converted model, not again
    settings = _settings(tmp_path, cache)
    obj = {
        "settings": settings,  # the driver reuses the loaded models; the actors load theirs
        "load_encoder": lambda name, cache_dir, dtype: real_encoder,
        "load_cross_encoder": lambda name: real_cross,
    }
    result = CliRunner().invoke(
        cli, ["reindex", "--ray", ray_cluster.address], obj=obj, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "2 node(s)" in result.output
    assert "encoded 21 paragraphs, 0 taken from the cache" in result.output
    built, wanted = load_index(settings.index_dir), load_index(local)
    assert built.manifest.model == wanted.manifest.model  # name, fingerprint, dtype
    assert built.manifest.cross_model == wanted.manifest.cross_model
    # float32 sums come out the same on any thread count; bfloat16 activations round each
    # layer's output, so an actor's share of the cores moves its vectors by up to ~1e-3
    atol = 3e-3 if built.manifest.model.dtype == "bfloat16" else 1e-5
    built.close(), wanted.close()
    for ours, theirs in zip(_vectors(settings.index_dir), _vectors(local), strict=True):
        np.testing.assert_allclose(ours, theirs, atol=atol)
    ray_hits = _hits(Searcher(settings.index_dir, real_encoder, real_cross))
    assert ray_hits == _hits(Searcher(local, real_encoder, real_cross))


def test_a_node_with_another_model_fails_the_reindex_by_name(ray_cluster, tmp_path):
    settings = _settings(tmp_path, tmp_path / "cache")
    obj = {
        **fake_cli_context(settings),
        "ray_loaders": [lambda device, threads: FakeEncoder(name="other")],
    }
    args = ["reindex", "--ray", ray_cluster.address, "--ray-actors", "1"]
    result = CliRunner().invoke(cli, args, obj=obj)
    assert result.exit_code == 1
    assert "ModelMismatch" in result.output and "'multilingual-e5-small'" in result.output
    assert not settings.index_dir.exists()


@pytest.mark.parametrize(
    ("address", "says"),
    [("127.0.0.1:1", "no Ray cluster answers at '127.0.0.1:1'"), ("::", "not a Ray address")],
)
def test_an_address_without_a_cluster_is_a_clear_error(tmp_path, address, says):
    settings = _settings(tmp_path, tmp_path / "cache")
    result = CliRunner().invoke(cli, ["reindex", "--ray", address], obj=fake_cli_context(settings))
    assert result.exit_code == 1
    assert says in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("nodes", "gpus", "actors", "use_gpus", "want"),
    [
        (2, 0, None, None, (2, False, 1)),  # one CPU actor a node
        (2, 4, None, None, (4, True, 2)),  # one GPU actor a GPU
        (2, 4, None, False, (2, False, 1)),  # --no-ray-gpus
        (1, 0, 3, None, (3, False, 3)),  # --ray-actors 3 on one node: they share its cores
    ],
)
def test_the_actor_plan_follows_the_cluster(nodes, gpus, actors, use_gpus, want):
    plan = ActorPlan.for_cluster(ClusterInfo("x", nodes, 4.0, gpus), actors, use_gpus)
    assert (plan.actors, plan.gpus, plan.per_node) == want
    assert plan.at_most(1).actors == 1 and plan.at_most(100).actors == plan.actors


def test_gpus_the_cluster_lacks_are_refused_by_address():
    with pytest.raises(RayUnavailable, match="'head:6379' has no GPU"):
        ActorPlan.for_cluster(ClusterInfo("head:6379", 2, 4.0, 0.0), None, True)


def test_only_what_some_cache_lacks_is_sent_shortest_first(tmp_path):
    one, two = (EmbeddingCache(tmp_path / "e.sqlite", name, 2) for name in ("one", "two"))
    one.put([(text_key("bb"), np.ones(2)), (text_key("ccc"), np.ones(2))])
    two.put([(text_key("bb"), np.ones(2))])
    texts = ["ccc", "a", "bb", "a"]
    assert [text for _, text in _missing(texts, [one, two], full=False)] == ["a", "ccc"]
    assert [text for _, text in _missing(texts, [one, two], full=True)] == ["a", "bb", "ccc"]


def test_a_remote_error_is_told_by_its_last_line():
    report = "The actor died in its creation task\n  ...\nindexer.ray_actor.ModelMismatch: no"
    assert _cause(RuntimeError(report)) == "ModelMismatch: no"
    assert _cause(RuntimeError("lost\nmore")) == "RuntimeError: lost"
