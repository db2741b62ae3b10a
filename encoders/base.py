"""What every encoder shares: the Encoder protocol the indexer and the searcher use, the
error of a model that cannot load, unit-length rows, the fingerprint of vectors in a
precision, the cores a batch may use, and quiet loading of transformers' files. The
implementations (torch in encoder.py, ONNX Runtime in onnx_encoder.py, USE in
crosslingual.py) build on this module; it imports none of them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol, runtime_checkable

import numpy as np

from core.errors import ModelError
from core.machine import usable_cores


def cores() -> int:
    """Cores a batch of passages may use in this process: OMP_NUM_THREADS when set (a
    worker of `serve --workers` gets its share of the cores; Ray sets it for its workers),
    else the cores the process may run on."""
    threads = os.environ.get("OMP_NUM_THREADS", "")
    if threads.isdigit() and int(threads) > 0:
        return int(threads)
    return usable_cores()


class ModelLoadError(ModelError, RuntimeError):
    """The embedding model cannot be loaded; the message is one line naming the model."""


@runtime_checkable
class Encoder(Protocol):
    """What poisk needs from an embedding model."""

    name: str  # model name as given by the user (recorded in the index manifest)
    fingerprint: str  # stable hash identifying the weights and dtype (recorded in the manifest)
    # what computed the vectors: torch in "float32" or "bfloat16", or ONNX Runtime in
    # "onnx-fp32", "onnx-int8" or "onnx-mixed" (recorded in the manifest; part of the fingerprint)
    dtype: str
    dimension: int
    max_tokens: int  # passage tokens that fit one window (max length - prompt - specials)

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` alone (no prompt, no special tokens)."""
        ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dimension) float32, L2-normalised query embeddings."""
        ...

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dimension) float32, L2-normalised passage embeddings."""
        ...


def unit_rows(vectors: np.ndarray) -> None:
    """Scale each row to length 1, in place (an all-zero row stays zero): the index scores
    by inner product, which is cosine only for unit vectors."""
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


@contextmanager
def quiet_loading() -> Iterator[None]:
    """Hide transformers' "Loading weights" progress bar (restored after)."""
    from transformers.utils import logging as hf_logging

    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()
