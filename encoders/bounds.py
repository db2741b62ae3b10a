"""Bounds on what a model is given to encode, whatever the corpus or the query holds.

e5 reads at most 512 tokens and drops the rest, but its tokenizer first splits the whole
text; USE (encoders.crosslingual) reads every token, and its memory grows with the square of
a text's token count (a 2 MB "word" of base64 took it past 20 GB). So every text is cut to
MAX_PASSAGE_CHARS characters before any model sees it, and USE's token ids are cut to
MAX_USE_TOKENS on top (a character can expand into several tokens after normalisation).

Neither bound changes the vector of a text poisk makes: a paragraph fits e5's 512-token
window (a few thousand characters), and even a "context" passage (a title and two
paragraphs) stays far below both, so cached vectors stay valid.
"""

from __future__ import annotations

from collections.abc import Sequence

MAX_PASSAGE_CHARS = 16_384
MAX_USE_TOKENS = 4_096


def clip(text: str, limit: int = MAX_PASSAGE_CHARS) -> str:
    """`text`, or its first `limit` characters when it is longer."""
    return text if len(text) <= limit else text[:limit]


def clip_all(texts: Sequence[str], limit: int = MAX_PASSAGE_CHARS) -> list[str]:
    """Each of `texts` clipped to `limit` characters."""
    return [clip(text, limit) for text in texts]


def clip_ids(ids: list[int], limit: int = MAX_USE_TOKENS) -> list[int]:
    """Token ids cut to `limit`, keeping the last one (the end-of-text id) at the end."""
    return ids if len(ids) <= limit else [*ids[: limit - 1], ids[-1]]
