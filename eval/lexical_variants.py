"""Compare analyses of Russian words for the BM25 leg on a labelled query set.

Run: .venv/bin/python -m eval.lexical_variants --queries eval/gimp/queries.jsonl \
         --split tune --index var/gimp-index

The index is built once (`manage.py reindex`); for each variant only the BM25 leg is
rebuilt in memory from the store's paragraphs, with that analysis shared by paragraphs and
queries, and every query runs through the Searcher in BM25 mode and in hybrid (the default
fusion, and plain RRF). The figures are MRR@10 per query kind; the analysis speed is the
corpus's word tokens per second with empty caches.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import pymorphy3
import Stemmer

import index.lexical as lexical_module
import index.text as text
import search.service
import search.snippets
from core.config import Settings
from encoders.crosslingual import load_cross_encoder
from encoders.encoder import load_encoder
from eval.harness import CachedQueryEncoder, Config, evaluate, load_queries
from index.lexical import MIN_SOUNDS, LexicalIndex
from search.service import Searcher

CONFIGS = [
    Config("bm25", "bm25"),
    Config("hybrid", "hybrid", "coverage"),
    Config("rrf", "hybrid", "rrf"),
]
_RU = Stemmer.Stemmer("russian")
_morph = pymorphy3.MorphAnalyzer(lang="ru")


def _snowball(token: str) -> list[str]:
    return [text.stem(token)]


def _lemma(token: str) -> list[str]:
    return [text.lemma(token) if text._CYRILLIC.search(token) else text.stem(token)]


def _lemma_stem(token: str) -> list[str]:
    if not text._CYRILLIC.search(token):
        return [text.stem(token)]
    return [_RU.stemWord(text.lemma(token))]


_NAMES = {"Name", "Surn", "Patr", "Geox", "Orgn", "Trad"}


def _names(token: str) -> list[str]:
    """Snowball, except a proper name is stemmed from its lemma ("мамедова" -> "мамед")."""
    if not text._CYRILLIC.search(token):
        return [text.stem(token)]
    parse = _morph.parse(token)[0]
    return [_RU.stemWord(parse.normal_form if _NAMES & parse.tag.grammemes else token)]


def _stem_and_lemma(token: str) -> list[str]:
    return list(dict.fromkeys([*_snowball(token), *_lemma(token)]))


VARIANTS: dict[str, Callable[[str], list[str]]] = {
    "snowball": _snowball,
    "lemma": _lemma,
    "lemma-stem": _lemma_stem,
    "stem+lemma": _stem_and_lemma,
    "names": _names,
}


def analyzer(word: Callable[[str], list[str]]) -> Callable[[str], list[str]]:
    """analyze() with `word` giving each token's terms."""

    def analyze(value: str) -> list[str]:
        return [t for tok in text.tokenize(value) if tok not in text.STOPWORDS for t in word(tok)]

    return analyze


def use(analyze: Callable[[str], list[str]]) -> None:
    """Make the Searcher (and its snippets) analyse queries with `analyze`."""
    search.service.analyze = analyze
    search.snippets.analyze = analyze


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--split")
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--sounds", default="off,on", help="Latin words matching by sound")
    parser.add_argument("--kinds", help="only these query kinds (comma-separated)")
    parser.add_argument("--configs", default="bm25,hybrid,rrf")
    args = parser.parse_args()
    settings = Settings.from_env()
    encoder = CachedQueryEncoder(load_encoder(settings.model, settings.cache_dir, settings.dtype))
    cross = load_cross_encoder(settings.cross_model)
    searcher = Searcher(args.index, encoder, cross and CachedQueryEncoder(cross))
    index = searcher.current()
    texts = [p.text for _, p in sorted(index.store.paragraphs(range(index.lexical.size)).items())]
    queries = load_queries(args.queries, args.split)
    if args.kinds:
        queries = [q for q in queries if q.kind in args.kinds.split(",")]
    kinds = sorted({q.kind for q in queries})
    header = " | ".join(f"{k} ({n})" for k, n in _counts(queries))
    print(f"| variant | words/s | sounds | config | {header} |")
    print("|---|---|---|---|" + "---|" * len(kinds))
    for name in args.variants.split(","):
        analyze = analyzer(VARIANTS[name])
        text.stem.cache_clear()
        text.lemma.cache_clear()
        started, terms = time.perf_counter(), [analyze(t) for t in texts]
        speed = sum(map(len, terms)) / (time.perf_counter() - started)
        index.lexical = LexicalIndex.build(terms)
        use(analyze)
        for sounds in args.sounds.split(","):
            lexical_module.MIN_SOUNDS = MIN_SOUNDS if sounds == "on" else 1000
            for config in [c for c in CONFIGS if c.name in args.configs.split(",")]:
                cells = [_mrr(searcher, [q for q in queries if q.kind == k], config) for k in kinds]
                row = f"| {name} | {speed:,.0f} | {sounds} | {config.name} | "
                print(row + " | ".join(cells) + " |", flush=True)


def _counts(queries: list) -> list[tuple[str, int]]:
    kinds = sorted({q.kind for q in queries})
    return [(k, sum(q.kind == k for q in queries)) for k in kinds]


def _mrr(searcher: Searcher, queries: list, config: Config) -> str:
    report = evaluate(searcher, queries, [config])
    return f"{report.scores[config.name]['all']['mrr@10']:.3f}"


if __name__ == "__main__":
    main()
