"""Reprints: one wire story published by several outlets with small edits, found at index time.

Each article's text (title and body) becomes a set of word shingles: SHINGLE words in a row,
as index.text.tokenize writes them (case and ё folded), stop words kept, since they are part
of the wording. MinHash signatures of the sets go into a MinHashLSH index (datasketch) that
returns, for each article, the others whose estimated Jaccard similarity is likely above
THRESHOLD; those whose estimate is at least THRESHOLD are reprints of one another, and the
groups are closed under "reprint of" (union-find). Articles of fewer than MIN_WORDS words are
left alone: short notes share their wording by chance or by template ("Синоптики обещают
дожди") without being one story.

Each group's canonical article is its earliest (by date; undated after every dated one; then
by id), the original as far as the archive knows. How THRESHOLD was chosen:
docs/news-search.md, "Reprints" (eval/reprints.py measures it).
"""

from __future__ import annotations

from collections.abc import Sequence

from datasketch import MinHash, MinHashLSH

from core.records import Article
from index.text import tokenize

SHINGLE = 3  # words a shingle
THRESHOLD = 0.3  # estimated Jaccard similarity of two reprints' shingle sets, at least
NUM_PERM = 128  # MinHash permutations: the estimate's standard error is ~0.04 at J=0.3
MIN_WORDS = 30  # shorter articles are never reprints
SEED = 1  # MinHash's permutations: fixed, so a rebuild finds the same groups


def shingles(article: Article) -> set[str]:
    """The article's word shingles (SHINGLE words in a row, normalised)."""
    words = tokenize(f"{article.title}\n{article.body}")
    return {" ".join(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}


def signature(shingle_set: set[str], permutations: MinHash | None = None) -> MinHash:
    """The MinHash signature of one shingle set; `permutations` lends its permutations (made
    once: drawing them for every article was most of the time taken)."""
    kept = permutations.permutations if permutations is not None else None
    scheme = permutations.scheme if permutations is not None else None
    minhash = MinHash(num_perm=NUM_PERM, seed=SEED, permutations=kept, scheme=scheme)
    minhash.update_batch([s.encode("utf-8") for s in shingle_set])
    return minhash


def reprint_groups(articles: Sequence[Article], threshold: float = THRESHOLD) -> dict[str, str]:
    """Each article that has reprints (or is reprinted), by id, with its group's canonical
    article id; articles without any are left out."""
    template = MinHash(num_perm=NUM_PERM, seed=SEED)
    signatures = {
        a.id: signature(found, template)
        for a in articles
        if len(tokenize(a.body)) >= MIN_WORDS and (found := shingles(a))
    }
    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    for article_id, minhash in signatures.items():
        lsh.insert(article_id, minhash)
    parent = {article_id: article_id for article_id in signatures}
    for article_id, minhash in signatures.items():
        for other in lsh.query(minhash):
            if other != article_id and minhash.jaccard(signatures[other]) >= threshold:
                parent[_root(parent, article_id)] = _root(parent, other)
    return _canonical(articles, parent)


def _root(parent: dict[str, str], article_id: str) -> str:
    """The representative of `article_id`'s group (union-find, with path halving)."""
    while parent[article_id] != article_id:
        parent[article_id] = parent[parent[article_id]]
        article_id = parent[article_id]
    return article_id


def _canonical(articles: Sequence[Article], parent: dict[str, str]) -> dict[str, str]:
    """Each member of a group of two or more, with the group's earliest article."""
    members: dict[str, list[Article]] = {}
    for article in articles:
        if article.id in parent:
            members.setdefault(_root(parent, article.id), []).append(article)
    groups = {}
    for group in members.values():
        if len(group) > 1:
            first = min(group, key=lambda a: (a.date is None, a.date or "", a.id))
            groups |= {a.id: first.id for a in group}
    return groups
