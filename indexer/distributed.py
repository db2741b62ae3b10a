"""Distributed encoding for a reindex (`manage.py reindex --ray`).

The passages the embedding cache lacks (every one with --full) go through a Ray Data
pipeline: map_batches over a fixed pool of encoding actors (indexer/ray_actor.py), each
loading the build's models once. The vectors stream back to this process, which puts them
into the embedding cache batch by batch (a killed run keeps its work, as a local one does);
the build then goes on as it does locally and finds every vector in the cache
(indexer/build.py `Prefill`). Only this process writes the cache and the index: the
cluster's nodes need the models' packages, not the corpus or the index folder.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import SearchError
from indexer.cache import EmbeddingCache, text_key
from indexer.ray_actor import EncodeActor, Expected, Loader
from indexer.ray_cluster import ClusterInfo, RayUnavailable

if TYPE_CHECKING:
    from encoders.encoder import Encoder
    from indexer.progress import Progress

BATCH = 64  # passages per actor call: one cache commit and one progress step (ENCODE_CHUNK)
# What a CPU actor reserves. Scheduling only: its torch still runs on its node's cores (its
# share of them, EncodeActor's threads). A whole CPU each would leave Ray Data's own tasks
# no CPU on a 2-core machine, and the pipeline would wait forever.
ACTOR_CPUS = 0.5


class RayEncodingFailed(SearchError):
    """The cluster could not encode (an actor or a node failed); the message is one line."""


@dataclass(frozen=True)
class ActorPlan:
    """How many encoding actors, with what resources."""

    actors: int
    gpus: bool  # each actor takes one GPU and runs the model there (CUDA)
    nodes: int  # alive nodes the actors spread over

    @property
    def per_node(self) -> int:
        """Actors a node runs at most (evenly spread), to share its cores among."""
        return math.ceil(self.actors / max(self.nodes, 1))

    @classmethod
    def for_cluster(
        cls, info: ClusterInfo, actors: int | None = None, gpus: bool | None = None
    ) -> ActorPlan:
        """One actor per GPU when the cluster has GPUs (or `gpus` says so), else one per
        node; `actors` overrides the count. RayUnavailable for GPUs the cluster lacks."""
        use_gpus = info.gpus >= 1 if gpus is None else gpus
        if use_gpus and info.gpus < 1:
            raise RayUnavailable(f"--ray-gpus: the Ray cluster at {info.address!r} has no GPU")
        count = max(1, actors or (int(info.gpus) if use_gpus else info.nodes))
        return cls(count, use_gpus, info.nodes)

    def at_most(self, actors: int) -> ActorPlan:
        """This plan with no more than `actors` actors (an idle one would load models in
        vain)."""
        return dataclasses.replace(self, actors=max(1, min(self.actors, actors)))

    def describe(self) -> str:
        """For the terminal: "2 actors (CPU)", "4 actors (GPU)"."""
        return f"{self.actors} actor{'s' * (self.actors != 1)} ({'GPU' if self.gpus else 'CPU'})"

    def remote_args(self) -> dict[str, Any]:
        """map_batches' resources of each actor."""
        return {"num_gpus": 1, "num_cpus": 1} if self.gpus else {"num_cpus": ACTOR_CPUS}


class RayPrefill:
    """The reindex hook that encodes on Ray (indexer/build.py `Prefill`)."""

    def __init__(self, info: ClusterInfo, plan: ActorPlan, loaders: Sequence[Loader]) -> None:
        self.info = info
        self.plan = plan
        self.loaders = list(loaders)

    def __call__(
        self,
        texts: Sequence[str],
        titles: Sequence[str],
        encoders: Sequence[Encoder],
        cache_dir: Path,
        full: bool,
        progress: Progress,
    ) -> int:
        """Encode on Ray what the cache of any of `encoders` lacks (all with `full`), into the
        cache; the number of distinct passages among `texts` encoded."""
        if len(encoders) != len(self.loaders):
            raise ValueError(f"{len(encoders)} models to fill, {len(self.loaders)} loaders")
        caches = [
            EmbeddingCache(cache_dir / "embeddings.sqlite", e.fingerprint, e.dimension)
            for e in encoders
        ]
        try:
            todo = _missing([*texts, *titles], caches, full)
            if todo:
                self._encode(todo, encoders, caches, progress)
        finally:
            for cache in caches:
                cache.close()
        return len({text_key(text) for text in texts}.intersection(key for key, _ in todo))

    def _encode(
        self,
        todo: list[tuple[bytes, str]],
        encoders: Sequence[Encoder],
        caches: Sequence[EmbeddingCache],
        progress: Progress,
    ) -> None:
        """Stream `todo` through the actors, each batch's vectors into every cache."""
        import ray

        plan = self.plan.at_most(math.ceil(len(todo) / BATCH))  # an actor per batch at most
        try:
            with progress(f"ray encoding, {plan.describe()}", len(todo)) as advance:
                for rows, vectors in self._batches(todo, encoders, plan):
                    keys = [todo[i][0] for i in rows]
                    for cache, block in zip(caches, vectors, strict=True):
                        cache.put(zip(keys, block, strict=True))
                    advance(len(keys))
        except ray.exceptions.RayError as exc:
            raise RayEncodingFailed(
                f"encoding on Ray at {self.info.address!r} failed: {_cause(exc)}"
            ) from exc

    def _batches(
        self, todo: list[tuple[bytes, str]], encoders: Sequence[Encoder], plan: ActorPlan
    ) -> Iterator[tuple[Sequence[int], list[Any]]]:
        """(rows of `todo`, one vector block per model) as the actors finish batches: one
        block of rows a batch, so that the batches spread over the actors."""
        import ray.data

        _quiet(ray.data)
        items = [{"i": i, "text": text} for i, (_, text) in enumerate(todo)]
        blocks = ray.data.from_items(items, override_num_blocks=math.ceil(len(items) / BATCH))
        expected = [Expected(e.name, e.fingerprint, e.dimension) for e in encoders]
        vectors = blocks.map_batches(
            EncodeActor,
            fn_constructor_args=(self.loaders, expected, "cuda" if plan.gpus else "cpu"),
            fn_constructor_kwargs={"per_node": plan.per_node},
            batch_size=BATCH,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=plan.actors),
            **plan.remote_args(),
        )
        for batch in vectors.iter_batches(batch_size=None, batch_format="numpy"):
            yield batch["i"].tolist(), [batch[f"m{j}"] for j in range(len(encoders))]


def _quiet(data: Any) -> None:
    """Ray Data without its progress bars and INFO lines: the build's bar shows progress."""
    context = data.DataContext.get_current()
    context.enable_progress_bars = False
    context.enable_auto_log_stats = False
    for handler in logging.getLogger("ray.data").handlers:
        if handler.name == "console":  # its file handler keeps everything, in the session logs
            handler.setLevel(logging.CRITICAL)  # a failure is RayEncodingFailed's one line
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)  # "bars disabled"


def _missing(
    texts: Sequence[str], caches: Sequence[EmbeddingCache], full: bool
) -> list[tuple[bytes, str]]:
    """(key, text) of each distinct text some cache lacks (every one with `full`), shortest
    first: texts of like length batch together with less padding, as the local build does."""
    unique = {text_key(text): text for text in texts}
    keys = list(unique)
    lacking = set(keys) if full else set()
    for cache in [] if full else caches:
        present = {key for key, _ in cache.get(keys)}
        lacking.update(key for key in keys if key not in present)
    return sorted(((k, unique[k]) for k in keys if k in lacking), key=lambda kt: len(kt[1]))


def _cause(exc: BaseException) -> str:
    """What failed on the cluster, in one line: the last line of Ray's report, which ends
    with the remote error ("indexer.ray_actor.ModelMismatch: ..." becomes "ModelMismatch:
    ..."); the error's type and first line when that is not of this form."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    last = re.fullmatch(
        r"(?:\w+\.)*(\w+(?:Error|Mismatch|Exception)): (.+)", lines[-1] if lines else ""
    )
    if last:
        return f"{last[1]}: {last[2]}"[:300]
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:300]
