"""What marking the nearest sentence of cross-script hits costs a search (search/sentences.py).

Run: .venv/bin/python -m bench.sentence_marks [--rounds 20]

It indexes the seeds in a temporary folder with the real models (the bundled e5 and USE),
then for English queries over the Russian seeds times, per page of 10 hits, the marking
alone without the sentence cache (one query and one sentence batch, by USE and by e5), and
the whole hybrid search with it: the sentence cache off (every page encodes its sentences),
and on, once the page has been seen (its sentences cached; the query vector cache is on in
both). Figures are medians over the rounds, in milliseconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from search.contract import SearchRequest
from search.sentences import SentenceVectors, across_scripts, nearest_sentences

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ["stipends for NAM students", "climate conferences", "peace with Armenia"]


def _median_ms(action, rounds: int) -> float:
    """The median wall time of `action()` over `rounds` calls, in milliseconds."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def main() -> None:
    """Print, per query, the cross-script hits on the first page, their sentences, and the
    medians of marking them (USE, e5) and of the whole search."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    rounds = parser.parse_args().rounds
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from encoders.crosslingual import CROSS_MODEL_NAME, load_cross_encoder
    from encoders.encoder import load_encoder
    from indexer.build import reindex
    from search.service import Searcher

    with tempfile.TemporaryDirectory() as tmp:
        encoder = load_encoder(None, Path(tmp) / "cache")
        cross = load_cross_encoder(CROSS_MODEL_NAME)
        reindex(
            ROOT / "seeds", Path(tmp) / "index", encoder, Path(tmp) / "cache", cross_encoder=cross
        )
        searcher = Searcher(Path(tmp) / "index", encoder, cross)
        uncached = Searcher(Path(tmp) / "index", encoder, cross, sentence_cache=0)
        use_model, e5_model = SentenceVectors(cross, 0), SentenceVectors(encoder, 0)
        for query in QUERIES:
            request = SearchRequest(q=query, k=10)
            texts = [h.text for h in searcher.search(request).results]
            across = [t for t in texts if across_scripts(query, t)]
            sentences = sum(t.count(". ") + 1 for t in across)
            use = _median_ms(lambda a=across, q=query: nearest_sentences(use_model, q, a), rounds)
            e5 = _median_ms(lambda a=across, q=query: nearest_sentences(e5_model, q, a), rounds)
            whole = _median_ms(lambda r=request: uncached.search(r), rounds)
            cached = _median_ms(lambda r=request: searcher.search(r), rounds)
            print(
                f"{query!r}: {len(across)} cross-script hits, ~{sentences} sentences; "
                f"marking {use} ms (USE), {e5} ms (e5); whole search {whole} ms, "
                f"{cached} ms with its sentences cached"
            )


if __name__ == "__main__":
    main()
