"""The fingerprint of a model's vectors: a hash of its weights, and the runtime that ran them.

Two vectors are interchangeable only when both halves match, so the embedding cache and a
build's manifest key on the whole fingerprint; a query encoded by another runtime of the same
weights can still search a build (search.service), so a server compares weights alone.
"""

from __future__ import annotations


def with_dtype(weights_fingerprint: str, dtype: str) -> str:
    """The fingerprint of vectors computed with these weights in ``dtype``.

    float32 keeps the bare weights hash (indexes and caches from before dtypes stay valid).
    """
    return weights_fingerprint if dtype == "float32" else f"{weights_fingerprint}+{dtype}"


def weights_of(fingerprint: str) -> str:
    """The weights half of a fingerprint made by :func:`with_dtype`."""
    return fingerprint.partition("+")[0]
