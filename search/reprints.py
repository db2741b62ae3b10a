"""Reprints in grouped results: one wire story, published by several outlets, listed once.

With group=article each article is one result; an article the index found reprinted
(indexer/reprints.py, the store's reprint_of) is listed at the best-ranked article of its
group, and the result says where else the story was published ("also in").
"""

from __future__ import annotations

from core.records import Article
from index.store import Store
from search.answer import AlsoIn, Hit

Ranking = list[tuple[int, float]]


def collapse(
    store: Store, ranked: Ranking, more: dict[int, Ranking]
) -> tuple[Ranking, dict[int, Ranking], dict[int, list[AlsoIn]]]:
    """`ranked` (one paragraph an article, best first) with each reprint group's first article
    only (the other reprints are the same story: they are dropped with their `more`), and,
    for each kept paragraph of a reprinted article, the group's other articles."""
    paragraphs = store.paragraphs([doc for doc, _ in ranked])
    groups = store.reprint_groups(p.article_id for p in paragraphs.values())
    if not groups:
        return ranked, more, {}
    members = store.reprint_members(groups.values())
    first: dict[str, int] = {}
    kept: Ranking = []
    also: dict[int, list[AlsoIn]] = {}
    for doc, score in ranked:
        article_id = paragraphs[doc].article_id
        group = groups.get(article_id)
        if group is None:
            kept.append((doc, score))
        elif group not in first:
            first[group] = doc
            kept.append((doc, score))
            also[doc] = [_also(a) for a in members.get(group, []) if a.id != article_id]
    return kept, {doc: more[doc] for doc, _ in kept}, also


def article_key(store: Store, article_ids: set[str]) -> set[str]:
    """`article_ids` with each reprinted article counted as its group (for totals)."""
    groups = store.reprint_groups(article_ids)
    return {groups.get(article_id, article_id) for article_id in article_ids}


def _also(article: Article) -> AlsoIn:
    """One other article of a reprint group, as a hit lists it."""
    return AlsoIn(
        article_id=article.id, title=article.title, date=article.date, outlet=article.outlet
    )


def with_also_in(hits: list[Hit], page: Ranking, also: dict[int, list[AlsoIn]]) -> list[Hit]:
    """`hits` (one for each of `page`'s paragraphs), each reprinted story's with its reprints."""
    return [
        hit.model_copy(update={"also_in": also[doc]}) if doc in also else hit
        for hit, (doc, _) in zip(hits, page, strict=True)
    ]
