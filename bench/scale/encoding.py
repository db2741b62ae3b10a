"""Encoding-speed experiments with the real model: batch size, threads, int8 weights.

Run: .venv/bin/python -m bench.scale.encoding [--copies 20] [--runs 3]

Passage throughput is measured as bench/indexing.py measures it (the seeds copied and
made distinct, encode_passages over all of them, median of --runs). A variant that is
faster is then checked for quality: a labelled set's corpus is indexed with it and its
queries are run through the Searcher (`--sets seeds,gimp`: eval/seeds.jsonl, and the
GIMP manual's test split when eval/gimp has been built), MRR@10 of the semantic leg and
of the default hybrid against the unchanged model's. Variants:

- batch 16 / 64 instead of 32 (sentence-transformers already sorts a batch by length);
- one thread instead of two (throughput per core, for running two encoders side by side);
- int8: torch's dynamic quantisation of every Linear layer (weights int8, activations
  quantised on the fly), no new package needed;
- bfloat16 weights: torch runs them on AMX / AVX512-BF16 where the CPU has them (what
  POISK_DTYPE=auto now picks on such a CPU; every other variant is float32).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.indexing import make_corpus
from encoders.encoder import SentenceTransformerEncoder, load_encoder
from eval import harness as ev
from indexer.build import reindex
from indexer.corpus import read_corpus
from search.service import Searcher

ROOT = Path(__file__).resolve().parents[2]
SETS = {  # name: (corpus folder, labelled queries, split)
    "seeds": (ROOT / "seeds", ROOT / "eval" / "seeds.jsonl", ""),
    "gimp": (ROOT / "eval" / "gimp" / "corpus", ROOT / "eval" / "gimp" / "queries.jsonl", "test"),
}


def throughput(encoder: SentenceTransformerEncoder, texts: list[str], runs: int) -> float:
    """Median paragraphs per second of encode_passages over `texts`."""
    rates = []
    for _ in range(runs):
        started = time.perf_counter()
        encoder.encode_passages(texts)
        rates.append(len(texts) / (time.perf_counter() - started))
    return statistics.median(rates)


def quality(
    encoder: SentenceTransformerEncoder, folder: Path, source: Path, queries_file: Path, split: str
) -> dict[str, float]:
    """MRR@10 of the semantic leg and the default hybrid on labelled queries, with
    `source` indexed by this encoder."""
    index = folder / f"index-{source.name}-{encoder.fingerprint[-12:]}"
    reindex(source, index, encoder, folder / "cache", full=True)
    queries = ev.load_queries(queries_file, split or None)
    configs = [ev.Config("semantic", "semantic"), ev.Config("hybrid", "hybrid")]
    searcher = Searcher(index, ev.CachedQueryEncoder(encoder))
    report = ev.evaluate(searcher, queries, configs, lambda n: None)
    return {c.name: round(report.scores[c.name]["all"]["mrr@10"], 3) for c in configs}


def quantized(encoder: SentenceTransformerEncoder) -> None:
    """Replace the model's Linear layers with int8 dynamically quantised ones, in place."""
    import torch

    model = encoder._model
    model[0].auto_model = torch.ao.quantization.quantize_dynamic(
        model[0].auto_model, {torch.nn.Linear}, dtype=torch.qint8
    )
    encoder.fingerprint += "+int8"  # its vectors differ: never mix them in the cache


def variants() -> list[tuple[str, str, Callable[[SentenceTransformerEncoder], None]]]:
    """(name, dtype, change applied to a freshly loaded encoder) for each experiment."""

    def batch(n: int) -> Callable[[SentenceTransformerEncoder], None]:
        return lambda e: setattr(e, "batch_size", n)

    return [
        ("baseline (float32, batch 32, 2 threads)", "float32", lambda e: None),
        ("batch 16", "float32", batch(16)),
        ("batch 64", "float32", batch(64)),
        ("1 thread", "float32", lambda e: setattr(e, "_threads", 1)),
        ("int8 dynamic quantisation", "float32", quantized),
        ("bfloat16 weights", "bfloat16", lambda e: None),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated name parts to keep")
    parser.add_argument("--sets", default="seeds", help="evaluation sets: seeds,gimp")
    args = parser.parse_args()
    wanted = [w for w in args.only.split(",") if w]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_corpus(folder / "corpus", args.copies)
        texts = [p for a in read_corpus(folder / "corpus").articles for p in a.body.split("\n\n")]
        print(f"{len(texts)} paragraphs, median of {args.runs} runs")
        sets = args.sets.split(",")
        print(
            "| variant | paragraphs/s | speed-up | "
            + " | ".join(f"MRR@10 {s} {leg}" for s in sets for leg in ("semantic", "hybrid"))
            + " |"
        )
        print("|---" * (3 + 2 * len(sets)) + "|")
        base = None
        for name, dtype, change in variants():
            if wanted and not any(w in name for w in [*wanted, "baseline"]):
                continue
            encoder = load_encoder(None, ROOT / "var" / "cache", dtype)
            change(encoder)
            rate = throughput(encoder, texts, args.runs)
            base = base or rate
            mrr = [v for s in sets for v in quality(encoder, folder, *SETS[s]).values()]
            cells = [name, f"{rate:.1f}", f"{rate / base:.2f}x", *mrr]
            print("| " + " | ".join(str(c) for c in cells) + " |", flush=True)


if __name__ == "__main__":
    main()
