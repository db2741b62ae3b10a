"""LanceDB's worker: a hybrid query (vector + native full-text index with Russian stemming,
fused by LanceDB's RRFReranker) over the units, the e5-small vectors computed by
sentence-transformers from poisk's converted model folder.

Run by the driver with var/peers/venv-lancedb's python: `python -m bench.peers.lancedb_run
JOB RESULT` (bench/peers/worker.py says what the files hold).
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

from bench.peers.worker import Search, run_worker, unit_text

BATCH = 32


def load(job: dict[str, Any]) -> Any:
    """The e5-small model from the local folder (no hub access), on the CPU."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(job["model"], device="cpu")


def build(model: Any, units: list[dict[str, Any]], job: dict[str, Any]) -> Search:
    """A LanceDB table of id, text and vector, with a full-text index on text; returns a
    search function that runs LanceDB's hybrid query with RRF."""
    import lancedb
    import pyarrow as pa
    from lancedb.query import MatchQuery
    from lancedb.rerankers import RRFReranker

    texts = [unit_text(u) for u in units]
    passages = [f"passage: {t}" for t in texts]
    vectors = model.encode(passages, batch_size=BATCH, normalize_embeddings=True)
    flat = pa.array(vectors.reshape(-1), type=pa.float32())
    data = pa.table(
        {
            "id": pa.array([u["id"] for u in units]),
            "text": pa.array(texts),
            "vector": pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1]),
        }
    )
    db = lancedb.connect(str(Path(job["workdir"]) / "lancedb"))
    table = db.create_table("units", data=data, mode="overwrite")
    table.create_fts_index(
        "text", use_tantivy=False, language="Russian", stem=True, remove_stop_words=True,
        ascii_folding=True, replace=True,
    )  # fmt: skip
    # Opened anew: the handle create_table returned answered new queries far slower.
    table = db.open_table("units")
    reranker = RRFReranker()
    job["info"]["fts"] = "native, Russian stemmer, stop words removed, ascii folding"
    job["info"]["fusion"] = "RRFReranker (k=60)"

    def search(query: str, k: int) -> list[str]:
        vector = model.encode([f"query: {query}"], normalize_embeddings=True)[0]
        found = (
            table.search(query_type="hybrid")
            .vector(vector)
            # The text as a match query, not as a query string, which LanceDB parses: a
            # query wholly in double quotes (a quoted sentence, in the news set) became a
            # phrase query, which an index without positions refuses.
            .text(MatchQuery(query, "text"))
            .limit(k)
            .rerank(reranker)
            .select(["id"])
            .to_arrow()
        )
        return found.column("id").to_pylist()[:k]

    return search


if __name__ == "__main__":
    run_worker("lancedb", importlib.metadata.version("lancedb"), load, build)
