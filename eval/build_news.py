"""Build a Russian news evaluation set from the WMT21 news test set (newstest2021 ru-en).

The WMT file holds 107 Russian news stories, split into numbered segments (sentences;
segment 1 is the headline), each with two independent human English translations (A and
B). From it this builds:

* ``corpus/news-ru.jsonl``: one poisk article a story: title = the Russian headline,
  text = the other segments grouped into paragraphs (see :func:`layout`), ``source`` =
  the outlet (the id without its trailing number: ``kp``, ``lenta.ru``);
* ``queries.jsonl``: labelled queries of six kinds (:data:`KINDS`), each answered by a
  paragraph id ``<story>:<n>`` as poisk numbers it, or by the story's article id, and
  each with a ``split`` (``tune`` / ``test``) by a hash of the story id.

Paragraph ids are never computed here: the written corpus is read back with poisk's
own reader and splitter (``indexer.corpus.read_file``, ``indexer.split.split_article``)
and each segment is looked up in the paragraphs poisk makes. Run from the repository
root::

    .venv/bin/python -m eval.build_news --out eval/news

WMT test sets are for research and evaluation; see eval/news/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from eval.build_gimp import write_jsonl
from index.text import STOPWORDS, normalize
from indexer.corpus import read_file
from indexer.split import split_article

DEFAULT_SOURCE = Path("../shared/data/news-wmt21/newstest2021.ru-en.xml")
CORPUS_FILE = "corpus/news-ru.jsonl"
QUERIES_FILE = "queries.jsonl"
KINDS = ("ru-keywords", "ru-paraphrase", "en-sentence", "en-sentence-b", "en-keywords",
         "en-headline")  # fmt: skip
SKIP_PREFIX = "tsuite-"  # TED-talk test suites, not news
MIN_WORDS = 5  # a sentence or headline query needs this many words
HEADLINE_WORDS = 20  # a longer segment 1 is a lead sentence, not a headline
PARAGRAPH_SEGMENTS = 3  # a paragraph holds at most this many segments (sentences) ...
PARAGRAPH_WORDS = 60  # ... and stops growing once it has this many words
KEYWORDS = 3  # words in a keyword query
MIN_KEYWORD_LETTERS = 3  # shorter words are not keywords
NAME_WEIGHT = 0.5  # a capitalised name counts as this fraction of its document frequency

_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")  # letters, hyphenated parts kept together


@dataclass(frozen=True)
class Story:
    """One news document: its id, outlet and aligned segments (index 0 is the headline)."""

    id: str
    outlet: str
    ru: tuple[str, ...]
    en_a: tuple[str, ...]
    en_b: tuple[str, ...]


# --- reading the WMT file ---------------------------------------------------------------


def clean(text: str | None) -> str:
    """Collapse whitespace."""
    return " ".join((text or "").split())


def outlet_of(story_id: str) -> str:
    """The outlet in a WMT document id: the id without its trailing number."""
    head, _, tail = story_id.rpartition(".")
    return head if head and tail.isdigit() else story_id


def _segments(element: ET.Element | None) -> dict[str, str]:
    """Segment id -> whitespace-collapsed text, for one <src> or <ref>."""
    if element is None:
        return {}
    return {seg.get("id", ""): clean(seg.text) for seg in element.iter("seg")}


def parse_story(doc: ET.Element) -> Story:
    """A Story from one <doc>, its translations aligned by segment id ('' where missing)."""
    ru = _segments(doc.find("src"))
    refs = {ref.get("translator"): _segments(ref) for ref in doc.findall("ref")}
    a, b = refs.get("A", {}), refs.get("B", {})
    ids = list(ru)
    story_id = doc.get("id", "")
    return Story(story_id, outlet_of(story_id), tuple(ru[i] for i in ids),
                 tuple(a.get(i, "") for i in ids), tuple(b.get(i, "") for i in ids))  # fmt: skip


def read_stories(path: Path) -> list[Story]:
    """The news stories of a WMT ru-en file: Russian originals, test suites left out."""
    stories = []
    for doc in ET.parse(path).getroot().iter("doc"):
        if doc.get("origlang") != "ru" or doc.get("id", "").startswith(SKIP_PREFIX):
            continue
        story = parse_story(doc)
        if len(story.ru) >= 2 and all(story.ru):
            stories.append(story)
    return stories


# --- corpus -----------------------------------------------------------------------------


def words(text: str) -> int:
    """Number of whitespace-separated words."""
    return len(text.split())


def has_headline(segments: Sequence[str]) -> bool:
    """Whether segment 1 is a headline: it is in every story of the file but one, whose
    segment 1 is a 25-word lead sentence."""
    return words(segments[0]) <= HEADLINE_WORDS


def body_indexes(segments: Sequence[str]) -> list[int]:
    """Indexes of the segments that make the article's text: all but the headline."""
    return list(range(1 if has_headline(segments) else 0, len(segments)))


def layout(segments: Sequence[str]) -> list[list[int]]:
    """Group a story's body segments (their indexes) into paragraphs.

    The way news sites set a story: the lead (the first body segment) is a paragraph of
    its own; then consecutive segments are packed into paragraphs of at most
    PARAGRAPH_SEGMENTS segments, a paragraph closing once it reaches PARAGRAPH_WORDS words.
    """
    body = body_indexes(segments)
    groups = [body[:1]] if body else []
    current: list[int] = []
    for i in body[1:]:
        current.append(i)
        size = sum(words(segments[j]) for j in current)
        if len(current) == PARAGRAPH_SEGMENTS or size >= PARAGRAPH_WORDS:
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    return groups


def article_record(story: Story) -> dict[str, object]:
    """One poisk .jsonl article: headline as title, paragraphs separated by blank lines.

    A story without a headline gets no title (poisk then takes the first sentence)."""
    paragraphs = [" ".join(story.ru[i] for i in group) for group in layout(story.ru)]
    record = {"id": story.id, "title": story.ru[0], "source": story.outlet,
              "text": "\n\n".join(paragraphs)}  # fmt: skip
    if not has_headline(story.ru):
        del record["title"]
    return record


def poisk_paragraphs(corpus: Path) -> dict[str, list[str]]:
    """Article id -> paragraph texts, as poisk's reader and splitter make them."""
    articles, skipped = read_file(corpus, corpus.parent)
    if skipped:
        raise ValueError(f"poisk skipped lines of {corpus}: {skipped[:3]}")
    return {article.id: [p.text for p in split_article(article)] for article in articles}


def locate(segments: Sequence[str], paragraphs: Sequence[str]) -> dict[int, int]:
    """Body segment index -> number of the poisk paragraph holding it.

    Segments are looked up in order, each from the paragraph the previous one was found
    in; a segment poisk dropped or cut through is left out (its queries are skipped).
    """
    found, n = {}, 0
    for i in body_indexes(segments):
        for m in range(n, len(paragraphs)):
            if segments[i] in paragraphs[m]:
                found[i], n = m, m
                break
    return found


# --- queries ----------------------------------------------------------------------------


def split_of(story_id: str) -> str:
    """'tune' or 'test', from a hash of the story id: stable, one split per story."""
    digest = hashlib.sha256(f"wmt21-news:{story_id}".encode()).digest()
    return "tune" if digest[0] % 2 == 0 else "test"


def query(text: str, lang: str, kind: str, source: str, relevant: str, story: str) -> dict:
    """A labelled query; `source` says which part of the story it was made from."""
    return {"query": text, "lang": lang, "kind": kind, "source": source,
            "split": split_of(story), "relevant": [relevant]}  # fmt: skip


def content_words(sentence: str) -> list[tuple[str, bool]]:
    """(surface form, is a name) of a sentence's words that are not stop words.

    A name is a capitalised word that does not open the sentence (or an all-capital one
    such as "США" anywhere).
    """
    found = []
    for position, match in enumerate(_WORD.finditer(sentence)):
        word = match.group()
        if normalize(word) in STOPWORDS or sum(c.isalpha() for c in word) < MIN_KEYWORD_LETTERS:
            continue
        name = word[0].isupper() and (position > 0 or (len(word) > 1 and word.isupper()))
        found.append((word, name))
    return found


def document_frequency(texts: Iterable[Iterable[str]]) -> Counter[str]:
    """Number of stories whose texts contain each normalised word."""
    counts: Counter[str] = Counter()
    for story_texts in texts:
        counts.update({normalize(w) for text in story_texts for w in _WORD.findall(text)})
    return counts


def keywords(sentences: Sequence[str], df: Counter[str]) -> str | None:
    """The KEYWORDS rarest content words of the sentences, in text order, or None.

    Rarity is the number of stories a word occurs in, a name counting NAME_WEIGHT of it
    (so names are preferred); ties go to the longer word (short words are the common
    ones), then the earlier. Surface forms are kept.
    """
    seen, candidates = set(), []
    for sentence in sentences:
        for word, name in content_words(sentence):
            if normalize(word) not in seen:
                seen.add(normalize(word))
                weight = df[normalize(word)] * (NAME_WEIGHT if name else 1.0)
                candidates.append((weight, -len(word), len(candidates), word))
    if len(candidates) < KEYWORDS:
        return None
    chosen = sorted(sorted(candidates)[:KEYWORDS], key=lambda c: c[2])
    return " ".join(c[3] for c in chosen)


def reword(sentence: str) -> str:
    """A deterministic rewording: stop words and every third content word dropped, and
    the two halves of what is left swapped ("a b c d e f" -> "a b d e" -> "d e a b")."""
    kept = [w for n, (w, _) in enumerate(content_words(sentence)) if n % 3 != 2]
    half = len(kept) // 2
    return " ".join(kept[half:] + kept[:half])


def long_enough(text: str) -> bool:
    """Whether a text is a real sentence for a query (MIN_WORDS words or more)."""
    return words(text) >= MIN_WORDS


@dataclass
class Frequencies:
    """Document frequencies of the Russian stories and of their English A translations."""

    ru: Counter[str]
    en: Counter[str]


def story_queries(story: Story, where: dict[int, int], df: Frequencies) -> list[dict]:
    """Every query of one story (where: body segment index -> poisk paragraph number)."""
    sid, out = story.id, []
    pid = {i: f"{sid}:{n}" for i, n in where.items()}
    headline = has_headline(story.ru)
    if headline and long_enough(story.ru[0]):
        out.append(query(story.ru[0], "ru", "ru-paraphrase", "headline", sid, sid))
    if headline and long_enough(story.en_a[0]):
        out.append(query(story.en_a[0], "en", "en-headline", "headline A", sid, sid))
    for group in layout(story.ru):
        out += paragraph_queries(story, group, pid, df)
    for i in sorted(pid):
        out += segment_queries(story, i, pid[i], df)
    return out


def paragraph_queries(story: Story, group: list[int], pid: dict[int, str], df: Frequencies):
    """ru-keywords and the reworded ru-paraphrase of one paragraph (its segment indexes)."""
    targets = {pid[i] for i in group if i in pid}
    if len(targets) != 1:  # poisk dropped or cut the paragraph: no single answer
        return []
    target, out = targets.pop(), []
    if found := keywords([story.ru[i] for i in group], df.ru):
        out.append(query(found, "ru", "ru-keywords", "paragraph", target, story.id))
    longest = max(group, key=lambda i: (words(story.ru[i]), -i))
    reworded = reword(story.ru[longest])
    if long_enough(story.ru[longest]) and words(reworded) >= KEYWORDS:
        out.append(query(reworded, "ru", "ru-paraphrase", "reworded", target, story.id))
    return out


def segment_queries(story: Story, i: int, target: str, df: Frequencies) -> list[dict]:
    """en-sentence, en-sentence-b and en-keywords of body segment i."""
    out = []
    a, b = story.en_a[i], story.en_b[i]
    if long_enough(a):
        out.append(query(a, "en", "en-sentence", "segment A", target, story.id))
        if found := keywords([a], df.en):
            out.append(query(found, "en", "en-keywords", "segment A", target, story.id))
    if long_enough(b):
        out.append(query(b, "en", "en-sentence-b", "segment B", target, story.id))
    return out


def deduplicate(queries: list[dict]) -> list[dict]:
    """Queries with a unique text (any case): a repeat with the same answer is dropped,
    a text with different answers is dropped altogether (it has no single answer)."""
    answers: dict[str, set[str]] = {}
    for q in queries:
        answers.setdefault(q["query"].casefold(), set()).update(q["relevant"])
    seen, kept = set(), []
    for q in queries:
        key = q["query"].casefold()
        if key not in seen and len(answers[key]) == 1:
            kept.append(q)
        seen.add(key)
    return kept


def build_queries(stories: Sequence[Story], paragraphs: dict[str, list[str]]) -> list[dict]:
    """All labelled queries, story by story, against poisk's paragraphs of the corpus."""
    df = Frequencies(document_frequency(s.ru for s in stories),
                     document_frequency(s.en_a for s in stories))  # fmt: skip
    queries = []
    for story in stories:
        where = locate(story.ru, paragraphs.get(story.id, []))
        queries += story_queries(story, where, df)
    return deduplicate(queries)


def counts(paragraphs: dict[str, list[str]], queries: list[dict]) -> dict[str, object]:
    """Articles, paragraphs, and queries per kind and split."""
    per_kind = {kind: Counter() for kind in KINDS}
    for q in queries:
        per_kind[q["kind"]][q["split"]] += 1
    return {
        "articles": len(paragraphs),
        "paragraphs": sum(len(texts) for texts in paragraphs.values()),
        "queries": {kind: {s: c[s] for s in ("tune", "test")} for kind, c in per_kind.items()},
    }


def run(source: Path, out: Path) -> dict[str, object]:
    """Read the WMT file, write the corpus, read it back with poisk, write the queries."""
    stories = read_stories(source)
    corpus = out / CORPUS_FILE
    write_jsonl(corpus, (article_record(story) for story in stories))
    paragraphs = poisk_paragraphs(corpus)
    queries = build_queries(stories, paragraphs)
    write_jsonl(out / QUERIES_FILE, queries)
    return counts(paragraphs, queries)


def main(argv: list[str] | None = None) -> int:
    """Command line: build the corpus and queries into --out, print the counts."""
    parser = argparse.ArgumentParser(
        prog="python -m eval.build_news",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE,
                        help="the WMT21 newstest2021.ru-en.xml (default: %(default)s)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("eval/news"))
    args = parser.parse_args(argv)
    if not args.source.is_file():
        parser.error(f"no WMT file at {args.source}")
    print(json.dumps(run(args.source, args.out), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
