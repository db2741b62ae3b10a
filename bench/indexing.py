"""Indexing speed, model load time and query encoding time with the real default model.

Run: .venv/bin/python -m bench.indexing [--copies 10] [--runs 3]

The corpus is the seed articles copied `--copies` times, each copy's paragraphs made
distinct (so the embedding cache cannot serve them) but of the same length and language.
Model load time is measured in fresh processes (import of torch included), as a server
or `manage.py reindex` pays it. Figures are medians over `--runs`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from encoders.crosslingual import CROSS_MODEL_NAME, load_cross_encoder
from encoders.encoder import load_encoder
from indexer.build import reindex
from indexer.corpus import read_corpus

ROOT = Path(__file__).resolve().parent.parent
LOAD = (
    "import time; t=time.perf_counter(); from encoders.encoder import load_encoder; "
    "load_encoder(None, __import__('pathlib').Path('{cache}')); "
    "print(time.perf_counter()-t)"
)


def make_corpus(folder: Path, copies: int) -> int:
    """Write `copies` variants of each seed article; returns the paragraph count."""
    articles = read_corpus(ROOT / "seeds").articles
    folder.mkdir(parents=True)
    for c in range(copies):
        for a in articles:
            body = "\n\n".join(f"{p} ({c})" for p in a.body.split("\n\n"))
            (folder / f"{a.id}-{c}.txt").write_text(body, encoding="utf-8")
    return sum(len(a.body.split("\n\n")) for a in articles) * copies


def load_seconds(cache: Path) -> float:
    """Seconds to import the encoder module and load the model, in a new process."""
    out = subprocess.run(
        [sys.executable, "-c", LOAD.format(cache=cache)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--cache", type=Path, help="model cache to reuse (default: a new one, converted here)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        cache = args.cache or tmp_path / "cache"
        encoder = load_encoder(None, cache)  # converts the model once, outside the timings
        cross = load_cross_encoder(CROSS_MODEL_NAME)
        n = make_corpus(tmp_path / "corpus", args.copies)
        loads = [load_seconds(cache) for _ in range(args.runs)]
        texts = [p for a in read_corpus(tmp_path / "corpus").articles for p in a.body.split("\n\n")]
        query_ms = []
        for i in range(50):
            t = time.perf_counter()
            encoder.encode_queries([f"stipends for NAM students {i}"])
            cross.encode_queries([f"stipends for NAM students {i}"])
            query_ms.append((time.perf_counter() - t) * 1000)
        raw, full, alone = [], [], []
        for run in range(args.runs):
            t = time.perf_counter()
            encoder.encode_passages(texts)
            alone.append(len(texts) / (time.perf_counter() - t))
            cross.encode_passages(texts)
            raw.append(len(texts) / (time.perf_counter() - t))
            index = tmp_path / f"index{run}"
            report = reindex(
                tmp_path / "corpus", index, encoder, cache, full=True, cross_encoder=cross
            )
            full.append(report.paragraphs / report.seconds)
    print(f"one query's encoding, both models: {statistics.median(query_ms):.1f} ms (median of 50)")
    print(f"paragraphs: {n} ({args.copies} copies of the seeds), runs: {args.runs}")
    print(f"model load (new process, imports included): {statistics.median(loads):.1f} s")
    print(f"encoder: {encoder.name} on {encoder.dtype}")
    print(f"raw passage encoding, e5 alone: {statistics.median(alone):.1f} paragraphs/s")
    print(f"raw passage encoding, both models: {statistics.median(raw):.1f} paragraphs/s")
    print(
        f"reindex --full end to end: {statistics.median(full):.1f} paragraphs/s "
        f"({statistics.median(full) / statistics.median(raw):.0%} of raw encoding)"
    )


if __name__ == "__main__":
    main()
