"""Query syntax: "quoted phrases", -excluded words and OR, parsed into a ParsedQuery.

A query is read left to right into parts, each a word or a phrase:

- `"порт Чанкай"`: a phrase. A paragraph must hold its words next to each other, in this
  order, as the lexical leg's analysis sees them (index/text.py: case, word forms and stop
  words do not matter, so `"порт Чанкай"` finds "порта Чанкай"). A quote left open is
  ignored: its words are words (a pasted quotation often opens a quote it never closes).
  Typographic quotes (« » “ ” „) count as quotes too.
- `-word`: excluded. No result holds the word (by its analysed term), whichever leg found it.
  `-` works on a word, not on a phrase; a `-` alone, or inside a word ("COVID-19"), is text.
- `a OR b`: either. OR (upper case only) joins the parts on each side into one group of
  alternatives; without OR every part is its own group, as before.

A group holding a phrase is required: every result satisfies one of its alternatives (a
phrase by adjacency, a word by holding it). A group of plain words ranks as words always have
(BM25 over all of them, nothing required), except that the alternatives of `a OR b` count as
one in the coverage fusion's share of the query (search/fusion.py).

A query with no operator is plain words, run exactly as before the syntax existed; so is any
query sent with `syntax=off` (search/request.py), for text that is not meant as syntax: a
pasted quotation, or the evaluation's questions (eval/harness.py). Parsing needs no index:
the request parses `q` once to refuse a query that is only operators, and the Searcher
parses it again to run it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.text import analyze, tokenize

# The white space a query is trimmed of: JavaScript's (ECMA-262 WhiteSpace and LineTerminator),
# which is what the OpenAPI pattern "\S" for `q` means. Python's str.strip() also drops the
# control characters U+001C-U+001F and U+0085 (a schema-valid "\x1e" query became empty) and
# keeps U+FEFF (a schema-invalid one was searched).
BLANK = (
    "\t\n\v\f\r \u00a0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
OR = "OR"
QUOTES = '"«»“”„'
# A phrase: a quote to the next quote; else a run of anything but space and quotes (a word,
# with its leading '-' if it has one); else a quote left open (ignored: its words are words).
_PART = re.compile(
    rf"[{QUOTES}](?P<phrase>[^{QUOTES}]*)[{QUOTES}]"
    rf"|(?P<word>[^{re.escape(BLANK)}{QUOTES}]+)"
    rf"|[{QUOTES}]"
)


@dataclass(frozen=True)
class Part:
    """One word or phrase of the query, as written, and its analysed terms."""

    text: str
    phrase: bool
    terms: tuple[str, ...]


@dataclass(frozen=True)
class ParsedQuery:
    """A query's parts in groups of alternatives (a one-part group without OR), and the
    analysed terms of its excluded words."""

    groups: tuple[tuple[Part, ...], ...]
    excluded: frozenset[str]

    @property
    def parts(self) -> list[Part]:
        """Every word and phrase, in query order."""
        return [part for group in self.groups for part in group]

    @property
    def text(self) -> str:
        """The query without its operators: the words of its parts, excluded words left out.
        What the dense models encode and what snippets mark."""
        return " ".join(part.text for part in self.parts)

    @property
    def terms(self) -> list[str]:
        """The analysed terms of every part, in order (the lexical leg's query)."""
        return [term for part in self.parts for term in part.terms]

    @property
    def required(self) -> list[tuple[Part, ...]]:
        """The groups a result must satisfy: those holding a phrase with terms."""
        return [g for g in self.groups if any(p.phrase and p.terms for p in g)]

    @property
    def alternatives(self) -> list[list[str]]:
        """The analysed terms of each group, for coverage: `a OR b` is one group, and a group
        without OR is one group a term."""
        found: list[list[str]] = []
        for group in self.groups:
            terms = [t for part in group for t in part.terms]
            if len(group) > 1 and terms:
                found.append(terms)
            else:
                found.extend([t] for t in terms)
        return found

    @property
    def plain(self) -> bool:
        """Whether the query uses no operator (it then runs exactly as it always did)."""
        return not self.excluded and all(len(g) == 1 and not g[0].phrase for g in self.groups)

    @property
    def empty(self) -> bool:
        """Whether the query has nothing to search for: only operators and empty quotes.
        (Text without letters, "!!!", is something: the dense models read it.)"""
        return not self.groups


def words(query: str) -> ParsedQuery:
    """`query` as plain words, operators and all: one part, searched as queries always were."""
    return ParsedQuery(((Part(query, False, tuple(analyze(query))),),), frozenset())


def parse(query: str, operators: bool = True) -> ParsedQuery:
    """The parts, groups and exclusions of `query` (syntax: this module's docstring); a query
    that uses no operator, or any query when `operators` is off, is plain words (words())."""
    groups: list[list[Part]] = []
    excluded: set[str] = set()
    joined = False  # the last part read was OR: the next part joins the last group
    used = False  # an operator was read
    for match in _PART.finditer(query) if operators else ():
        word, phrase = match.group("word"), match.group("phrase")
        if word is None and phrase is None:  # a quote left open: its words stay words
            continue
        used = used or phrase is not None or word == OR
        if word == OR:
            joined = bool(groups)
            continue
        if word is not None and word.startswith("-") and tokenize(word):
            excluded.update(analyze(word[1:]))
            used = True
            continue
        text = phrase if phrase is not None else word
        part = Part(text.strip(BLANK), phrase is not None, tuple(analyze(text)))
        if not part.text:
            continue
        if joined:
            groups[-1].append(part)
        else:
            groups.append([part])
        joined = False
    if not used:
        return words(query)
    return ParsedQuery(tuple(tuple(g) for g in groups), frozenset(excluded))


def adjacent(tokens: list[str], terms: tuple[str, ...]) -> bool:
    """Whether `terms` occur in `tokens` next to each other, in order."""
    width = len(terms)
    return any(tuple(tokens[i : i + width]) == terms for i in range(len(tokens) - width + 1))
