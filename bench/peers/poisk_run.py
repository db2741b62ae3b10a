"""poisk's worker: the in-process Searcher in its default hybrid mode over an index that
`indexer.build.reindex` builds from the corpus folder (every paragraph encoded anew), with
the configured models (POISK_MODEL, POISK_CROSS_MODEL) in the configured runtime
(POISK_RUNTIME), the query vector cache off, so that every query is encoded (the peers
cache none), and no sentence marked: the peers return ranked ids only, and marking the
sentence of each cross-script hit is a page's extra work that bench/sentence_marks.py
measures on its own (a page never seen costs hundreds of ms of USE here).

Run by the driver with poisk's own python: `python -m bench.peers.poisk_run JOB RESULT`
(bench/peers/worker.py says what the files hold). The driver reads the units every peer
gets from the store of the index built here.
"""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path
from typing import Any

from bench.peers.worker import Search, run_worker


def load(job: dict[str, Any]) -> Any:
    """The configured encoders, as `reindex` (passages) and a server (queries) load them:
    with POISK_RUNTIME=auto the two may run different runtimes (recorded in the result)."""
    from core.config import Settings
    from encoders.crosslingual import load_cross_encoder
    from encoders.encoder import load_encoder

    settings = Settings.from_env()
    cache = Path(job["cache"])
    passages, queries = (
        load_encoder(settings.model, cache, settings.dtype, query_cache=0, role=role)
        for role in ("passages", "queries")
    )
    cross = load_cross_encoder(settings.cross_model, query_cache=0)
    job["info"].update(
        runtime=settings.runtime,
        precision=passages.dtype,
        query_precision=queries.dtype,
        cross=cross.name if cross else "none",
    )
    return passages, queries, cross


def build(models: Any, units: list[dict[str, Any]], job: dict[str, Any]) -> Search:
    """Index the corpus folder into job["index"] and search it in hybrid mode (the default)."""
    from indexer.build import reindex
    from search.contract import SearchRequest
    from search.service import Searcher

    passages, queries, cross = models
    index = Path(job["index"])
    cache = Path(job["cache"])
    reindex(Path(job["source"]), index, passages, cache, full=True, cross_encoder=cross)
    searcher = Searcher(index, queries, cross, sentences=False)
    job["info"].update(sentence_marks="off")
    searcher.current()  # load the build now, not in the first query

    def search(query: str, k: int) -> list[str]:
        return [hit.id for hit in searcher.search(SearchRequest(q=query, k=k)).results]

    return search


if __name__ == "__main__":
    os.environ["POISK_QUERY_CACHE"] = "0"
    run_worker("poisk", importlib.metadata.version("poisk"), load, build)
