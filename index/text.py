"""Text analysis for the lexical leg: one `analyze()` shared by indexing and querying.

A word is reduced by the script it is written in (its pymorphy3 lemma for Cyrillic,
English Snowball for Latin), so a mixed Russian/English archive needs no language
detection per document. Anything else (digits, other scripts) is kept as written. Lemmas
rather than Russian Snowball stems: Snowball gives a surname's forms different stems
("мамедов" -> "мамед", "мамедова" -> "мамедов"), and a whole lemma transliterates
better (sound_key). Measured in docs/analysis.md.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

import pymorphy3
import pymorphy3_dicts_ru
import Stemmer
from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_RUSSIAN

# Recorded in the index manifest: an index analysed differently must be rebuilt.
ANALYZER_VERSION = 2
ANALYZER_SETTINGS = {
    "version": ANALYZER_VERSION,
    "normalize": "NFKC, lower case, e for yo, combining accents removed",
    "tokens": "unicode letter/digit runs",
    "stemmers": {
        "cyrillic": f"pymorphy3 {pymorphy3.__version__} lemma, likeliest parse, "
        f"dictionary {pymorphy3_dicts_ru.__version__}",
        "latin": "snowball english",
    },
    "stopwords": "russian (nltk) + english (lucene), from bm25s",
}

_WORD = re.compile(r"[^\W_]+")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[a-z\u00c0-\u024f]")
_CYRILLIC_RUNS = re.compile(r"[\u0400-\u04ff]+")
_LATIN_RUNS = re.compile(r"[a-z\u00c0-\u024f]+")
# Stress marks and other combining accents that survive NFKC ("ви\u0301за" is "виза").
_COMBINING = re.compile(r"[\u0300-\u036f]")

STOPWORDS: frozenset[str] = frozenset(
    w.replace("ё", "е") for w in (*STOPWORDS_RUSSIAN, *STOPWORDS_EN)
)

# PyStemmer objects must not be shared between threads (the web server runs several).
_local = threading.local()
# One morphological analyser (its dictionary takes 0.2 s and ~15 MB to open), made on first
# use; parses go through the lock, which costs nothing next to lemma()'s cache.
_morph: pymorphy3.MorphAnalyzer | None = None
_morph_lock = threading.Lock()


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


@lru_cache(maxsize=200_000)
def lemma(token: str) -> str:
    """The dictionary form of a normalised Cyrillic token by pymorphy3's likeliest parse
    ("мамедовым" -> "мамедов"); other tokens stay as they are."""
    if not _CYRILLIC.search(token):
        return token
    with _morph_lock:
        return _analyser().parse(token)[0].normal_form.replace("ё", "е")


def known_form(token: str) -> bool:
    """Whether pymorphy3's dictionary holds `token` (a lower-case Russian word form) as it
    is, rather than guessing its parse from the ending."""
    with _morph_lock:
        return bool(_analyser().word_is_known(token))


def _analyser() -> pymorphy3.MorphAnalyzer:
    """The one Russian analyser (loaded on first use: about a second); hold _morph_lock."""
    global _morph
    if _morph is None:
        _morph = pymorphy3.MorphAnalyzer(lang="ru")
    return _morph


# Phonetic keys: how a name sounds, coarsely enough that its Latin and Cyrillic spellings
# meet ("Chancay" and "Чанкай" are both "snk"). Vowels, й, ь, ъ and doubled letters are
# dropped; sibilants and affricates (с з ц ш щ ж ч; s z sh ch zh ts j) are one sound, as are
# г/х and g/h/kh (Russian writes English h as х or г); w is v, q and hard c are k, x is ks.
_CYRILLIC_SOUNDS = str.maketrans(
    {**dict.fromkeys("аеиоуыэюяйьъ", ""), **dict.fromkeys("сзцшщжч", "s"),
     **dict.fromkeys("гх", "g"), "б": "b", "в": "v", "д": "d", "к": "k", "л": "l",
     "м": "m", "н": "n", "п": "p", "р": "r", "т": "t", "ф": "f"}
)  # fmt: skip
_CYRILLIC_CLUSTERS = (("дж", "s"), ("тс", "s"), ("кс", "x"))
_LATIN_CLUSTERS = (
    ("sch", "s"), ("tch", "s"), ("sh", "s"), ("ch", "s"), ("zh", "s"), ("ts", "s"), ("tz", "s"),
    ("kh", "g"), ("ph", "f"), ("th", "t"), ("ck", "k"), ("dj", "s"),
)  # fmt: skip
_SOFT_C = re.compile(r"c(?=[eiy])")
_SILENT_H = re.compile(r"(?<=[aeiouy])h(?![aeiouy])")  # "john", "sarah": джон, сара
_LATIN_SOUNDS = str.maketrans(
    {**dict.fromkeys("aeiouy", ""), **dict.fromkeys("szj", "s"), **dict.fromkeys("gh", "g"),
     "c": "k", "q": "k", "w": "v"}
)  # fmt: skip
_DOUBLED = re.compile(r"(.)\1+")
_LETTERS = re.compile(r"[a-z]+|[\u0430-\u044f]+")


def sound_key(token: str) -> str:
    """The coarse phonetic key of a normalised word in either script ("" for one that is not
    all Latin or all Cyrillic letters): Latin and Cyrillic spellings of one name share it
    ("weigeldt", "вайгельдт" -> "vgldt"), so an English query can reach a Russian text."""
    if not _LETTERS.fullmatch(token):
        return ""
    if _CYRILLIC.match(token):
        for cluster, sound in _CYRILLIC_CLUSTERS:
            token = token.replace(cluster, sound)
        key = token.translate(_CYRILLIC_SOUNDS)
    else:
        for cluster, sound in _LATIN_CLUSTERS:
            token = token.replace(cluster, sound)
        key = _SOFT_C.sub("s", _SILENT_H.sub("", token)).translate(_LATIN_SOUNDS)
    return _DOUBLED.sub(r"\1", key.replace("x", "ks"))


def script(text: str, normalized: bool = False) -> str | None:
    """ "cyrillic" or "latin", whichever writes more of `text`'s letters; None for neither.
    `normalized` says `text` has been through normalize() already (index terms have)."""
    folded = text if normalized else normalize(text)
    # letters counted by runs: half the time of matching them one by one
    cyrillic = sum(map(len, _CYRILLIC_RUNS.findall(folded)))
    latin = sum(map(len, _LATIN_RUNS.findall(folded)))
    if not cyrillic and not latin:
        return None
    return "cyrillic" if cyrillic >= latin else "latin"


def term(token: str) -> str:
    """The index term of one normalised token: a Cyrillic word's lemma, a Latin word's
    English Snowball stem, anything else as it is."""
    return lemma(token) if _CYRILLIC.search(token) else stem(token)


def analyze(text: str) -> list[str]:
    """Index/query terms of `text`: normalised tokens, stop words removed, lemmatised or
    stemmed (term)."""
    return [term(t) for t in tokenize(text) if t not in STOPWORDS]
