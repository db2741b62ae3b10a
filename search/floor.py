"""The relevance floor: a query that no word of which is known answers nothing.

The semantic leg ranks every paragraph for any text, so without a floor "xyzzyqwerty"
lists the paragraphs nearest to it. Nothing in the models' scores tells such a query from
a real one (docs/quality.md, "Relevance floor": cosines, z-scores, agreement of the two
models and hubness-corrected scores all overlap on the tune splits); what tells them apart
is the query's words. A query is nonsense when the lexical leg matched none of them (in the
corpus itself or, across scripts, by sound) and none is a word of a language: a form
pymorphy3 knows, or a word of wordfreq's lists of the languages written in Latin or
Cyrillic letters. Words in other scripts, and numbers, are never judged: a floor must not
drop what it cannot read. On the tune splits of news and GIMP the rule removes no query
whose relevant paragraph is in the first ten, and answers nothing to 95% of generated
letter strings.
"""

from __future__ import annotations

import re
import threading

from index.text import known_form, script

# wordfreq's lists of the languages written in each judged script, the commonest first; each
# is loaded when a word is first looked up in it, so a real query costs one or two lists and
# a nonsense one loads them all (about 1 s, once a process). English, the archive's other
# language, uses the large list (321,000 words: 0.3 s, 48 MB; "toolbox" and "debugging" are
# not in the small one); the others the small lists (about 30,000 words, 0.02 s each).
LANGUAGES = {
    "latin": (
        *("en", "es", "fr", "de", "pt", "it", "tr", "pl", "nl", "id", "vi", "sv", "cs", "ro"),
        *("hu", "fi", "da", "nb", "sk", "ca", "lt", "lv", "sl", "sh", "ms", "fil", "is"),
    ),
    "cyrillic": ("ru", "uk", "bg", "mk"),
}
LARGE = ("en",)
_WORD = re.compile(r"\w+")


class Dictionary:
    """wordfreq's word lists of LANGUAGES, each loaded on first use and kept."""

    def __init__(self) -> None:
        self._lists: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()

    def words(self, lang: str) -> frozenset[str]:
        """The lower-case words of one language's list."""
        with self._lock:
            if lang not in self._lists:
                import wordfreq

                size = "large" if lang in LARGE else "small"
                self._lists[lang] = frozenset(wordfreq.iter_wordlist(lang, size))
            return self._lists[lang]

    def loaded(self) -> list[str]:
        """The languages whose lists are loaded, in the order they were."""
        return list(self._lists)

    def knows_any(self, words: list[str], written_in: str) -> bool:
        """Whether any of `words` (lower case, written in `written_in`, a LANGUAGES key) is
        a word: a form pymorphy3 knows (Cyrillic), or in a list of a language written so.
        Language by language, so that a real query is settled by the commonest lists."""
        if written_in == "cyrillic" and any(known_form(word) for word in words):
            return True
        return any(word in self.words(lang) for lang in LANGUAGES[written_in] for word in words)


DICTIONARY = Dictionary()


def is_nonsense(query: str, lexical_matched: bool, dictionary: Dictionary = DICTIONARY) -> bool:
    """Whether `query` should answer nothing: the lexical leg matched none of its words, and
    each word is letters of a judged script that no dictionary knows. A query with no word
    at all (only punctuation or symbols) is nonsense too."""
    if lexical_matched:
        return False
    judged: dict[str, list[str]] = {}
    for word in _WORD.findall(query):
        written_in = script(word)
        if word.isdigit() or written_in not in LANGUAGES:
            return False  # numbers and other scripts are never judged
        judged.setdefault(written_in, []).append(word.lower())
    return not any(dictionary.knows_any(words, by) for by, words in judged.items())
