"""Bytes to text: UTF-8, the encoding a byte order mark names, or one charset-normalizer is
sure of; and no control characters in what is indexed.

Archives collected over years hold Windows-1251, KOI8-R and UTF-16 files beside UTF-8 ones.
A single-byte encoding decodes any bytes at all, so a guess is taken only when it reads as a
language with no mess in it (charset-normalizer's coherence and chaos); a short text the
guesser cannot be sure of is skipped with the reason rather than indexed as mojibake.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Any

# A guess must read at least this much like a language (charset-normalizer's coherence,
# 0..1; Russian or English prose scores 0.4-0.75, mojibake of a short text 0) ...
MIN_COHERENCE = 0.2
# ... and show at most this much mess (odd symbols, mixed scripts: chaos, 0..1).
MAX_CHAOS = 0.1
# A text with more control characters than this share is binary data, not text.
MAX_CONTROL_SHARE = 0.05
# Another reading with at most this much mess, reading as a language too, makes a guess
# ambiguous when its letters differ.
RIVAL_CHAOS = 0.2

WIDE = ("utf_16", "utf_32")  # charset-normalizer's names of the encodings NULs are part of
_WIDE_BOMS = (  # UTF-32 first: its little-endian mark begins with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)
# C0 and C1 controls and DEL, but tab, line feed and carriage return; two non-characters.
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
_PAGE_BREAKS = {0x0B: "\n", 0x0C: "\n"}  # vertical tab and form feed end a line


class NotText(ValueError):
    """The bytes are not text poisk can read for sure; the message says why (one line)."""


@dataclass(frozen=True)
class Decoded:
    """Text decoded from a file, and how."""

    text: str
    encoding: str  # a Python codec name
    detected: bool = False  # guessed by charset-normalizer (neither UTF-8 nor a BOM's)


def wide_bom(data: bytes) -> str | None:
    """ "UTF-16" or "UTF-32" when `data` starts with that byte order mark, else None."""
    return next((name for bom, _, name in _WIDE_BOMS if data.startswith(bom)), None)


def decode(data: bytes, complete: bool = True) -> Decoded:
    """The text of a file's bytes; NotText when no encoding fits for sure.

    `complete` False: `data` is the head of a longer file, so a character cut at its end is
    dropped rather than reported as an error.
    """
    start = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    for bom, codec, name in () if start else _WIDE_BOMS:
        if data.startswith(bom):
            try:
                return Decoded(_decode(data, codec, complete), codec)
            except UnicodeDecodeError as error:
                reason = f"starts with a {name} byte order mark but is not valid {name}"
                raise NotText(f"{reason} at byte {error.start}: save it as UTF-8") from error
    try:
        text = _decode(data[start:], "utf-8", complete)
    except UnicodeDecodeError as error:
        return _detect(data, complete, _utf8_problem(data, start + error.start))
    if "\x00" in text:  # valid UTF-8, but so is UTF-16 of Latin text without a BOM
        wide = [m for m in _matches(data) if _is_sure(m) and m.encoding.startswith(WIDE)]
        return (wide and _decoded_as(data, wide[0], complete)) or Decoded(text, "utf-8")
    return Decoded(text, "utf-8")


def strip_controls(text: str) -> tuple[str, int]:
    """`text` without control characters (page breaks become line breaks), and how many
    were removed. NUL, escape sequences and the like are never indexed."""
    return _CONTROL.subn("", text.translate(_PAGE_BREAKS))


def control_problem(text: str, removed: int) -> str | None:
    """Why a text that had `removed` control characters is binary data, or None."""
    total = len(text) + removed
    if removed and (not text.strip() or removed > MAX_CONTROL_SHARE * total):
        return f"not text: {removed:,} of {total:,} characters are control characters"
    return None


def _decode(data: bytes, codec: str, complete: bool) -> str:
    """Strict decoding; with `complete` False a character cut at the end is left out."""
    return codecs.getincrementaldecoder(codec)("strict").decode(data, final=complete)


def _utf8_problem(data: bytes, offset: int) -> str:
    line = data.count(b"\n", 0, offset) + 1
    return f"not valid UTF-8 at byte {offset} (line {line})"


def _matches(data: bytes) -> list[Any]:
    """charset-normalizer's readings of `data`, best first. Imported here: only files that
    are not plain UTF-8 need it."""
    from charset_normalizer import from_bytes

    return list(from_bytes(data))


def _is_sure(match: Any) -> bool:
    return match.chaos <= MAX_CHAOS and match.coherence >= MIN_COHERENCE


def _rival(best: Any, matches: list[Any]) -> Any:
    """Another reading that reads as a language with little more mess than `best` and gives
    other letters, or None: Latin texts in cp1250 and cp1252 differ only in their accented
    letters, which the scores barely see."""
    return next(
        (
            m
            for m in matches
            if m is not best
            and m.chaos <= RIVAL_CHAOS
            and m.coherence >= MIN_COHERENCE
            and str(m) != str(best)
        ),
        None,
    )


def _decoded_as(data: bytes, match: Any, complete: bool) -> Decoded | None:
    """`data` decoded in a guessed encoding, or None when that fails."""
    try:
        return Decoded(_decode(data, match.encoding, complete), match.encoding, detected=True)
    except (UnicodeDecodeError, LookupError):
        return None


def _detect(data: bytes, complete: bool, problem: str) -> Decoded:
    """Bytes that are not UTF-8, in the one encoding charset-normalizer is sure of."""
    matches = _matches(data)
    sure = [m for m in matches if _is_sure(m)]
    if not sure:
        raise NotText(
            f"{problem}; no text encoding reads as a language for sure (binary data, or too "
            "short to tell): save it as UTF-8"
        )
    if rival := _rival(sure[0], matches):
        raise NotText(
            f"{problem}; it reads as {sure[0].encoding} or as {rival.encoding} with other "
            "letters: save it as UTF-8"
        )
    decoded = _decoded_as(data, sure[0], complete)
    if decoded is None:
        raise NotText(f"{problem}; no text encoding fits: save it as UTF-8")
    return decoded
