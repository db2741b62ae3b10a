"""Text analysis for the lexical leg: one `analyze()` shared by indexing and querying.

A word is stemmed by the script it is written in (Russian Snowball for Cyrillic, English
Snowball for Latin), so a mixed Russian/English archive needs no language detection per
document. Anything else (digits, other scripts) is kept as written.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

import Stemmer
from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_RUSSIAN

# Recorded in the index manifest: an index analysed differently must be rebuilt.
ANALYZER_VERSION = 1
ANALYZER_SETTINGS = {
    "version": ANALYZER_VERSION,
    "normalize": "NFKC, lower case, e for yo, combining accents removed",
    "tokens": "unicode letter/digit runs",
    "stemmers": {"cyrillic": "snowball russian", "latin": "snowball english"},
    "stopwords": "russian (nltk) + english (lucene), from bm25s",
}

_WORD = re.compile(r"[^\W_]+")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[a-z\u00c0-\u024f]")
# Stress marks and other combining accents that survive NFKC ("ви\u0301за" is "виза").
_COMBINING = re.compile(r"[\u0300-\u036f]")

STOPWORDS: frozenset[str] = frozenset(
    w.replace("ё", "е") for w in (*STOPWORDS_RUSSIAN, *STOPWORDS_EN)
)

# PyStemmer objects must not be shared between threads (the web server runs several).
_local = threading.local()


def normalize(text: str) -> str:
    """Fold case and spelling variants: NFKC, lower case, ё→е, accents dropped.

    Applying it twice gives the same string (NFKC is re-applied after lower-casing,
    which can produce non-normalised sequences for a few characters).
    """
    text = unicodedata.normalize("NFKC", text).lower().replace("ё", "е")
    text = _COMBINING.sub("", text)
    return unicodedata.normalize("NFKC", text)


def tokenize(text: str) -> list[str]:
    """Normalised word tokens, stop words included (used for highlighting, too)."""
    return _WORD.findall(normalize(text))


def _stemmers() -> tuple[Stemmer.Stemmer, Stemmer.Stemmer]:
    """This thread's Russian and English stemmers."""
    if not hasattr(_local, "ru"):
        _local.ru = Stemmer.Stemmer("russian")
        _local.en = Stemmer.Stemmer("english")
    return _local.ru, _local.en


@lru_cache(maxsize=200_000)
def stem(token: str) -> str:
    """Stem one normalised token by its script; digits and other scripts stay as they are."""
    ru, en = _stemmers()
    if _CYRILLIC.search(token):
        return ru.stemWord(token)
    if _LATIN.search(token):
        return en.stemWord(token)
    return token


def script(text: str, normalized: bool = False) -> str | None:
    """ "cyrillic" or "latin", whichever writes more of `text`'s letters; None for neither.
    `normalized` says `text` has been through normalize() already (index terms have)."""
    folded = text if normalized else normalize(text)
    cyrillic, latin = len(_CYRILLIC.findall(folded)), len(_LATIN.findall(folded))
    if not cyrillic and not latin:
        return None
    return "cyrillic" if cyrillic >= latin else "latin"


def analyze(text: str) -> list[str]:
    """Index/query terms of `text`: normalised tokens, stop words removed, stemmed."""
    return [stem(t) for t in tokenize(text) if t not in STOPWORDS]
