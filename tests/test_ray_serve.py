"""`manage.py serve --ray`: a sharded index on Ray Serve, on the two-node test cluster
(tests/conftest.py `ray_cluster`), answers over HTTP what one process answers; a killed
shard replica fails no query, and a shard with no replica left answers 503 naming it.

The server is the real command (tests/serve_child.py: manage.py with the fake encoder),
started once for this module: 2 shards x 2 replicas and the front, a quarter CPU each.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from index.manifest import MANIFEST_NAME
from index.swap import current_build
from indexer.build import reindex
from search.contract import SearchRequest
from search.service import Searcher
from tests.fakes import FakeEncoder
from tests.growing import MODES, Corpus
from tests.live import Server, get, serving

pytest.importorskip("ray.serve", reason="serve --ray needs ray[serve] (requirements.txt)")

SHARDS, REPLICAS = 2, 2


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Corpus, Path]:
    """A corpus indexed in two shards, then added to (two segments a shard at most)."""
    tmp = tmp_path_factory.mktemp("ray-serve")
    corpus = Corpus(tmp / "corpus")
    corpus.add_file(40)
    reindex(corpus.folder, tmp / "index", FakeEncoder(), tmp / "cache", shards=SHARDS)
    corpus.add_file(10)
    reindex(corpus.folder, tmp / "index", FakeEncoder(), tmp / "cache")
    return corpus, tmp / "index"


@pytest.fixture(scope="module")
def server(ray_cluster: Any, corpus: tuple[Corpus, Path], tmp_path_factory) -> Iterator[Server]:
    """`serve --ray <the test cluster>` over the sharded index, until the module ends."""
    log = tmp_path_factory.mktemp("ray-serve-log") / "serve.log"
    options = ("--ray", ray_cluster.address, "--replicas", str(REPLICAS), "--shard-timeout", "4")
    try:
        # no answers kept: each search must reach the shards, whose replicas these tests kill
        keep_none = {"POISK_RESULT_CACHE": "0"}
        with serving(corpus[1], *options, log=log, up_within=180, env=keep_none) as running:
            deadline = time.monotonic() + 180  # Serve's proxy answers 404 until the app is up
            while not healthy(running):
                assert time.monotonic() < deadline and running.process.poll() is None
                time.sleep(0.5)
            yield running
    finally:
        print(log.read_text(errors="replace")[-3000:])


def healthy(server: Server) -> bool:
    """Whether the application answers its health check."""
    try:
        return get(server.port, "/api/health", timeout=5).status == 200
    except OSError:
        return False


def search(server: Server, **params: object) -> tuple[int, dict]:
    """GET /api/search with `params`: the status and the JSON body."""
    answer = get(server.port, "/api/search?" + urllib.parse.urlencode(params), timeout=30)
    return answer.status, json.loads(answer.body)


def test_the_sharded_service_answers_as_one_process(server: Server, corpus) -> None:
    texts, index_dir = corpus
    one = Searcher(index_dir, FakeEncoder())
    found = 0
    for query in texts.queries():
        for mode in MODES:
            status, body = search(server, q=query, mode=mode, k=10)
            expected = one.search(SearchRequest(q=query, mode=mode, k=10)).to_dict()
            assert status == 200
            body.pop("took_ms"), expected.pop("took_ms")
            assert body == expected, (query, mode)
            found += bool(body["results"])
    assert found > 300
    page = get(server.port, "/?q=" + urllib.parse.quote(texts.queries(1)[0]))
    assert page.status == 200 and "<mark>" in page.text


def test_a_reindex_is_served_by_every_shard_at_once(server: Server, corpus) -> None:
    texts, index_dir = corpus
    texts.add_file(6)
    reindex(texts.folder, index_dir, FakeEncoder(), index_dir.parent / "cache")
    one = Searcher(index_dir, FakeEncoder())
    for query in texts.queries(30):
        status, body = search(server, q=query, k=10)
        expected = one.search(SearchRequest(q=query, k=10)).to_dict()
        body.pop("took_ms"), expected.pop("took_ms")
        if body != expected:
            for a, b in zip(body["results"], expected["results"]):
                print({k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)})
        assert status == 200 and body == expected, query
    stats = json.loads(get(server.port, "/api/stats").body)
    assert stats["generation"] == current_build(index_dir).name and stats["shards"] == SHARDS


def replica_pids(deployment: str) -> set[int]:
    """The processes of a shard deployment's replicas, asked of the replicas."""
    from ray import serve

    handle = serve.get_deployment_handle(deployment, app_name="poisk")
    pids: set[int] = set()
    deadline = time.monotonic() + 30
    while len(pids) < REPLICAS and time.monotonic() < deadline:
        pids.add(handle.pid.remote().result(timeout_s=10))
    return pids


def running_replicas(deployment: str) -> int:
    from ray import serve

    states = serve.status().applications["poisk"].deployments[deployment].replica_states
    return states.get("RUNNING", 0)


@pytest.fixture(scope="module")
def connected(ray_cluster: Any, server: Server) -> Iterator[None]:
    """This process joined to the cluster, to find and kill replicas."""
    import ray

    ray.init(address=ray_cluster.address, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def test_a_killed_replica_fails_no_query(server: Server, corpus, connected) -> None:
    queries = corpus[0].queries(40)
    failures: list[str] = []
    answered = [0]
    stop = threading.Event()

    def stream() -> None:
        while not stop.is_set():
            for query in queries:
                status, body = search(server, q=query, k=10)
                if status != 200:
                    failures.append(f"{status}: {body}")
                answered[0] += 1

    victim = sorted(replica_pids("shard-0"))[0]
    thread = threading.Thread(target=stream)
    thread.start()
    try:
        time.sleep(1)
        os.kill(victim, signal.SIGKILL)
        time.sleep(6)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert failures == [] and answered[0] > 20
    deadline = time.monotonic() + 90
    while running_replicas("shard-0") < REPLICAS and time.monotonic() < deadline:
        time.sleep(1)
    assert running_replicas("shard-0") == REPLICAS and victim not in replica_pids("shard-0")


def test_a_shard_with_no_replica_left_answers_503_naming_it(
    server: Server, corpus, connected
) -> None:
    _, index_dir = corpus
    build = current_build(index_dir)
    manifest = json.loads((build / MANIFEST_NAME).read_text())
    lost = [s["name"] for s in manifest["segments"] if s["shard"] == 1]
    for name in lost:  # its node's disk is gone: no replica of shard 1 can start again
        shutil.move(build / name, build.parent / f"{name}.lost")
    try:
        for pid in replica_pids("shard-1"):
            os.kill(pid, signal.SIGKILL)
        status, body = search(server, q=corpus[0].queries(1)[0], k=10)
        assert status == 503, body
        assert body["error"]["code"] == "shard_unavailable"
        assert "shard 1 of 2" in body["error"]["message"]
    finally:
        for name in lost:
            shutil.move(build.parent / f"{name}.lost", build / name)


def test_serve_tools_build_the_application_from_the_index(corpus) -> None:
    from cluster.deployments import build

    app = build({"index": str(corpus[1]), "replicas": "2"})
    front = app._bound_deployment
    parts = front.init_args[1]
    assert [p._bound_deployment.name for p in parts] == ["shard-0", "shard-1"]  # the index's 2
    assert all(p._bound_deployment.num_replicas == 2 for p in parts)
    assert front.init_args[0].index_dir == corpus[1].absolute()
