"""txtai's worker: `Embeddings(hybrid=True)` (dense vectors and txtai's BM25 term index,
scores combined by txtai) over the units, the e5-small model loaded by sentence-transformers
from poisk's converted model folder, with e5's "query: " / "passage: " instructions.

Run by the driver with var/peers/venv-txtai's python: `python -m bench.peers.txtai_run
JOB RESULT` (bench/peers/worker.py says what the files hold).
"""

from __future__ import annotations

import importlib.metadata
from typing import Any

from bench.peers.worker import Search, run_worker, unit_text


def load(job: dict[str, Any]) -> Any:
    """txtai Embeddings over the local model folder (no hub access); the model loads here."""
    from txtai import Embeddings

    return Embeddings(
        path=job["model"],
        method="sentence-transformers",
        hybrid=True,
        content=False,
        instructions={"query": "query: ", "data": "passage: "},
    )


def build(embeddings: Any, units: list[dict[str, Any]], job: dict[str, Any]) -> Search:
    """Index (id, text) pairs; returns a search function over the hybrid index."""
    embeddings.index([(u["id"], unit_text(u), None) for u in units])
    job["info"]["scoring"] = str(embeddings.config.get("scoring"))

    def search(query: str, k: int) -> list[str]:
        return [str(uid) for uid, _ in embeddings.search(query, k)]

    return search


if __name__ == "__main__":
    run_worker("txtai", importlib.metadata.version("txtai"), load, build)
