"""Read a folder of news articles into Article records.

Supported files (found recursively, read in sorted order):

* ``.txt`` / ``.md`` -- one article each; the id is the relative path without suffix.
* ``.jsonl`` -- one article a line (indexer/jsonl.py).

Text is cleaned with general rules, never per file (indexer/clean.py). A file or line that
cannot be read is reported as ``Skipped`` and the rest of the corpus is still read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.records import Article
from indexer.article import (
    Entries,
    Note,
    Skipped,
    make_article,
    nothing_to_index,
    safe_id,
    sanitise,
)
from indexer.clean import normalise_newlines, parse_text
from indexer.decode import NotText, decode
from indexer.files import NotRegular, Scan, display_name, read_head, scan
from indexer.jsonl import read_jsonl
from indexer.limits import MAX_FILE_BYTES

JSONL_SUFFIX = ".jsonl"


@dataclass
class CorpusReport:
    """Everything read from a corpus folder, everything that was not, and what was changed."""

    articles: list[Article] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)


def _read_text_file(path: Path, rel: Path) -> tuple[Entries, list[Skipped]]:
    """One article from a .txt/.md file, of which at most MAX_FILE_BYTES are read."""
    source, escaped = display_name(rel)
    data, size = read_head(path, MAX_FILE_BYTES)
    complete = size <= len(data)
    try:
        decoded = decode(data, complete)
    except NotText as error:
        return [], [Skipped(source, None, str(error))]
    del data  # the text is all that is needed from here on
    text, notes = sanitise(decoded.text, source, None, 0 if complete else size)
    if not text.strip():
        problems = [n for n in notes if not isinstance(n, Note)]
        return [], problems or [Skipped(source, None, "empty file")]
    parsed = parse_text(normalise_newlines(text), markdown=rel.suffix.lower() == ".md")
    if reason := nothing_to_index(parsed):
        return [], [Skipped(source, None, reason)]
    article_id = safe_id(display_name(rel.with_suffix(""))[0])
    if decoded.detected:
        notes.append(Note(source, None, f"not UTF-8: read as {decoded.encoding} (detected)"))
    if escaped:
        notes.append(Note(source, None, f"file name is not UTF-8: indexed as {article_id!r}"))
    return [(make_article(parsed, article_id, source), None)], notes


def read_entries(path: Path, root: Path) -> tuple[Entries, list[Skipped]]:
    """Articles from one file (with their .jsonl line), and what was skipped or changed
    (Note) in it; duplicate ids are not checked here (add_file does, across files)."""
    rel = path.relative_to(root)
    try:
        if rel.suffix.lower() == JSONL_SUFFIX:
            return read_jsonl(path, rel)
        return _read_text_file(path, rel)
    except NotRegular as error:
        return [], [Skipped(display_name(rel)[0], None, str(error))]
    except OSError as error:
        reason = f"cannot read: {error.strerror or error}"
        return [], [Skipped(display_name(rel)[0], None, reason)]


# --- public API ---------------------------------------------------------------------------


def scan_corpus(root: Path, follow_symlinks: bool = False) -> Scan:
    """The article files under root (see list_files), and those found but refused (broken
    links, FIFOs, links out of the folder) with their reason."""
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"corpus folder does not exist: {root}")
    if not root.is_dir():
        raise NotADirectoryError(f"corpus path is not a folder: {root}")
    return scan(root, follow_symlinks)


def list_files(root: Path, follow_symlinks: bool = False) -> list[Path]:
    """Article files under root (recursively), sorted by relative POSIX path.

    Only .txt, .md and .jsonl files count; hidden files and folders (".git",
    editor backups) are ignored; so are links leading out of root (indexer.files).
    """
    return scan_corpus(root, follow_symlinks).files


def read_file(path: Path, root: Path) -> tuple[list[Article], list[Skipped]]:
    """Read one corpus file (path under root) into articles and skip reports.

    Duplicate ids are not checked here; read_corpus does that across files.
    """
    entries, skipped = read_entries(Path(path), Path(root))
    return [article for article, _ in entries], [s for s in skipped if not isinstance(s, Note)]


def read_corpus(
    root: Path, on_file: Callable[[Path], None] | None = None, follow_symlinks: bool = False
) -> CorpusReport:
    """Read every article file under root; on_file(path) is called after each file.

    Of articles sharing an id the first (in file order) is kept; each later one is
    reported as Skipped, naming where the first came from. Files found but not readable
    as files (broken links, FIFOs, links out of root) are reported as Skipped first.
    """
    root = Path(root)
    found = scan_corpus(root, follow_symlinks)
    report = refused_report(root, found)
    first: dict[str, str] = {}
    for path in found.files:
        add_file(report, first, *read_entries(path, root))
        if on_file is not None:
            on_file(path)
    return report


def refused_report(root: Path, found: Scan) -> CorpusReport:
    """A report holding, as Skipped, the files `found` refused to read."""
    report = CorpusReport()
    for path, reason in found.refused:
        report.skipped.append(Skipped(display_name(path.relative_to(root))[0], None, reason))
    return report


def add_file(
    report: CorpusReport, first: dict[str, str], entries: Entries, skipped: list[Skipped]
) -> None:
    """Add one file's articles, skips and notes to `report`, files in corpus order. An
    article whose id came before (`first`: id -> where it came from, updated here) is
    reported as Skipped; its `id` and `source` are all that is read of an article."""
    report.notes.extend(s for s in skipped if isinstance(s, Note))
    report.skipped.extend(s for s in skipped if not isinstance(s, Note))
    for article, line in entries:
        where = origin(article.source, line)
        if article.id in first:
            reason = f"duplicate article id {article.id!r}, first read from {first[article.id]}"
            report.skipped.append(Skipped(article.source, line, reason))
        else:
            first[article.id] = where
            report.articles.append(article)


def origin(source: str, line: int | None) -> str:
    """Where an article came from, as a duplicate's report names it."""
    return source if line is None else f"{source} line {line}"
