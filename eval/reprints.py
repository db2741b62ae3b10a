"""How alike reprints are, and where indexer/reprints.py's THRESHOLD separates them.

Run: .venv/bin/python -m eval.reprints [--source ../shared/data/news-wmt21/newstest2021.ru-en.xml]

The WMT21 Russian news stories (eval/news/README.md), each of MIN_WORDS words or more, are
the originals: 107 different stories, many on the same few subjects, so that their pairs are
the hard non-reprints. Each original gets the reprints an outlet makes of a wire story
(make_reprints): retitled with a lead-in ("Как сообщает …"), cut to its first 70%, reworded
(one word in 20 replaced, a sentence dropped), and all of these at once (cut to 60%). The
script prints the Jaccard similarity of the shingle sets (indexer/reprints.py: shingles) of
each kind of reprint to its original, the highest of any two different stories, and how
reprint_groups() groups the corpus at each threshold: reprints found (recall) and articles
wrongly joined to another story.
"""

from __future__ import annotations

import argparse
import random
import statistics
from itertools import combinations
from pathlib import Path

from core.records import Article
from eval.build_news import DEFAULT_SOURCE, article_record, read_stories
from index.text import tokenize
from indexer.reprints import MIN_WORDS, reprint_groups, shingles

KINDS = ("retitled", "cut", "reworded", "all")
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def make_reprints(original: Article, rng: random.Random) -> dict[str, Article]:
    """The edited copies of `original` another outlet might publish, by kind of edit."""
    words = original.body.split(" ")

    def cut(share: float) -> str:
        return " ".join(words[: int(len(words) * share)])

    def reword(text: str) -> str:
        parts = text.split(" ")
        for i in rng.sample(range(len(parts)), len(parts) // 20):
            parts[i] = rng.choice(words)
        sentences = " ".join(parts).split(". ")
        if len(sentences) > 2:
            del sentences[rng.randrange(1, len(sentences))]
        return ". ".join(sentences)

    lead = "Как сообщает агентство, "
    bodies = {
        "retitled": lead + original.body,
        "cut": cut(0.7),
        "reworded": reword(original.body),
        "all": lead + reword(cut(0.6)),
    }
    return {
        kind: Article(f"{original.id}~{kind}", f"{original.title} ({kind})", body)
        for kind, body in bodies.items()
    }


def jaccard(a: set[str], b: set[str]) -> float:
    """|a ∩ b| / |a ∪ b| (0 for two empty sets)."""
    return len(a & b) / len(a | b) if a | b else 0.0


def originals(source: Path) -> list[Article]:
    """The WMT stories long enough to be reprints, as articles."""
    found = []
    for story in read_stories(source):
        record = article_record(story)
        article = Article(str(record["id"]), str(record.get("title", "")), str(record["text"]))
        if len(tokenize(article.body)) >= MIN_WORDS:
            found.append(article)
    return found


def main() -> None:
    """Print the similarities and the grouping at each threshold."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    source = parser.parse_args().source
    rng = random.Random(16)
    stories = originals(source)
    copies = {a.id: make_reprints(a, rng) for a in stories}
    sets = {a.id: shingles(a) for a in stories}
    print(f"{len(stories)} originals, {len(stories) * len(KINDS)} reprints")
    for kind in KINDS:
        values = [jaccard(sets[a.id], shingles(copies[a.id][kind])) for a in stories]
        print(f"  {kind:<9} Jaccard to the original: min {min(values):.2f}, "
              f"median {statistics.median(values):.2f}")  # fmt: skip
    apart = max(jaccard(sets[a], sets[b]) for a, b in combinations(sets, 2))
    print(f"  two different stories: at most {apart:.2f}")
    corpus = stories + [c for a in stories for c in copies[a.id].values()]
    for threshold in THRESHOLDS:
        groups = reprint_groups(corpus, threshold)
        story = {a.id: a.id.split("~")[0] for a in corpus}
        found = sum(1 for a in corpus if "~" in a.id and a.id in groups)
        wrong = sum(1 for member, first in groups.items() if story[member] != story[first])
        print(f"  threshold {threshold}: {found}/{len(corpus) - len(stories)} reprints grouped, "
              f"{wrong} articles joined to another story")  # fmt: skip


if __name__ == "__main__":
    main()
