"""The Ray Serve application of a sharded index: a deployment a shard (its replicas each
holding that shard of the current build) and a front that serves the web app (pages and
API) over them, encoding each query once (index/sharded.py, cluster/shards.py)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from ray import serve

from cluster.shards import CALL_TIMEOUT_S
from core.config import Settings
from index.shard import ShardHost
from index.sharded import load_sharded, shards_of

CPUS_PER_REPLICA = 0.25  # fractional: on a small machine the replicas share its cores


class Shard:
    """One shard of the index, answering the front's questions (index/shard.py)."""

    def __init__(self, index_dir: str, shard: int) -> None:
        self.host = ShardHost(Path(index_dir), shard)

    def call(self, build: str, method: str, args: tuple) -> Any:
        """ShardIndex.`method`(*args) over `build`."""
        return self.host.call(build, method, args)

    def pid(self) -> int:
        """This replica's process (for operators and the fault tests)."""
        return os.getpid()


class Front:
    """The web app over all shards: one Searcher whose index is the shards' answers."""

    def __init__(
        self,
        settings: Settings,
        shards: list[Any],
        timeout_s: float,
        loaders: dict[str, Callable[..., Any]] | None = None,
    ) -> None:
        from cluster.shards import RayShards
        from search.service import Searcher

        asked = RayShards(shards, timeout_s)
        self.searcher = Searcher.open(
            settings,
            load_encoder=(loaders or {}).get("load_encoder"),
            load_cross=(loaders or {}).get("load_cross_encoder"),
            loader=partial(load_sharded, shards=asked),
        )
        self.settings = settings

    def __serve_build_asgi_app__(self) -> Any:
        """The Flask app, as ASGI for Serve's HTTP proxy."""
        from a2wsgi import WSGIMiddleware

        from web import create_app

        return WSGIMiddleware(create_app(self.settings, self.searcher))


def application(
    settings: Settings,
    shards: int,
    replicas: int,
    timeout_s: float,
    loaders: dict[str, Callable[..., Any]] | None = None,
) -> Any:
    """The bound application: `shards` shard deployments of `replicas` each, and the front.
    Folders are made absolute (replicas do not run in this folder), the index's link kept
    a link: resolved, it would name one build forever."""
    settings = dataclasses.replace(
        settings, index_dir=settings.index_dir.absolute(), cache_dir=settings.cache_dir.absolute()
    )
    options = {"num_replicas": replicas, "ray_actor_options": {"num_cpus": CPUS_PER_REPLICA}}
    parts = [
        serve.deployment(Shard, name=f"shard-{i}", **options).bind(str(settings.index_dir), i)
        for i in range(shards)
    ]
    front = serve.deployment(
        serve.ingress()(Front), name="front", ray_actor_options={"num_cpus": CPUS_PER_REPLICA}
    )
    return front.bind(settings, parts, timeout_s, loaders)


def build(args: dict[str, str]) -> Any:
    """The application for Ray Serve's own tools (`serve run`, `serve deploy`, a KubeRay
    RayService): `serve run cluster.deployments:build index=/data/index shards=4
    replicas=2 [timeout=10]`; everything else from the POISK_* environment (core/config.py)."""
    settings = Settings.from_env()
    if "index" in args:
        settings = dataclasses.replace(settings, index_dir=Path(args["index"]))
    shards = int(args["shards"]) if "shards" in args else shards_of(settings.index_dir)
    timeout_s = float(args.get("timeout", CALL_TIMEOUT_S))
    return application(settings, shards, int(args.get("replicas", 1)), timeout_s)
