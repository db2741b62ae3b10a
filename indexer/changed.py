"""Reading the source folder for a reindex: only the files new or changed since the
current build are read; the articles of the others are taken from it unread.

Every file is stat'ed (indexer/file_record.py: its identity). A file whose identity is
the one the current build's record holds (and was settled then) is not opened: its
articles are `Known` (standing for their live copies, kept where they are), its skips and
notes are the recorded ones, and its content digest is the recorded one for the source
fingerprint. Every other file is hashed and read as `read_corpus` reads it. Duplicate ids
are resolved across all files in corpus order exactly as `read_corpus` does; an unchanged
file with an article that was a later duplicate and is now the first of its id (the
earlier one went) is read after all, since that article is in no segment. The result is
what reading every file gives, article for article, skip for skip.

A record is trusted only whole: one whose indexed ids are not exactly the build's live
articles is not used (every file is read).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import CorpusError
from core.records import Article
from index.segments import article_digest
from indexer.article import Note, Skipped
from indexer.corpus import CorpusReport, add_file, origin, read_entries, refused_report, scan_corpus
from indexer.file_record import (
    RECORD_VERSION,
    FileIdentity,
    FileRecord,
    Known,
    SourceFiles,
    load_record,
    path_keys,
    reader_fingerprint,
)
from indexer.files import Scan, display_name, file_digest
from indexer.progress import Progress

if TYPE_CHECKING:  # indexer.build imports this module
    from indexer.incremental import Previous


@dataclass
class _File:
    """One article file as this reindex sees it."""

    root: Path
    path: Path
    key: str  # how the record names it (file_record.path_keys)
    identity: FileIdentity | None  # None: it could not be stat'ed
    recorded: FileRecord | None  # the current build's record, when the file is unchanged
    entries: list[tuple[Article | Known, int | None]] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    digest: bytes | None = None  # sha256 of its content; None: unreadable

    @property
    def rel(self) -> Path:
        """The file's path relative to the source folder."""
        return self.path.relative_to(self.root)

    @property
    def source(self) -> str:
        """The file as articles and reports name it."""
        return display_name(self.rel)[0]

    def hash(self) -> None:
        """The digest of the file's content: the recorded one when it is unchanged."""
        if self.recorded is not None:
            digest = self.recorded.digest
            self.digest = None if digest is None else bytes.fromhex(digest)
            return
        try:
            self.digest = file_digest(self.path)
        except OSError:
            self.digest = None

    def read(self) -> None:
        """Hash and read the file (hashed first: an edit in between shows next time)."""
        self.recorded = None
        self.hash()
        entries, self.skipped = read_entries(self.path, self.root)
        self.entries = list(entries)

    def replay(self, live: dict[str, bytes]) -> None:
        """Take the file's articles, skips and digest from its record, unread."""
        record = self.recorded
        assert record is not None
        source = self.source
        self.entries = [
            (Known(aid, source, self.path, line, live[aid] if first else b""), line)
            for aid, line, first in record.articles
        ]
        self.skipped = [
            (Note if note else Skipped)(source, line, reason)
            for line, reason, note in record.skipped
        ]
        self.hash()

    def promoted(self, first: dict[str, str]) -> bool:
        """Whether an article recorded as a later duplicate is now the first of its id."""
        assert self.recorded is not None
        return any(
            not was_first and first.get(aid) == origin(self.source, line)
            for aid, line, was_first in self.recorded.articles
        )


def _files(root: Path, found: Scan, record: SourceFiles | None) -> list[_File]:
    """The scanned files, stat'ed; those whose identity is the one `record` holds (and
    was settled when recorded) carry their record: they need not be read."""
    recorded = {f.path: f for f in record.files} if record is not None else {}
    files = []
    for path, key in zip(found.files, path_keys(found.files, root), strict=True):
        identity = FileIdentity.of(path)
        entry = recorded.get(key)
        unchanged = entry is not None and entry.settled and entry.identity == identity
        files.append(_File(root, path, key, identity, entry if unchanged else None))
    return files


def source_fingerprint(root: Path, follow_symlinks: bool = False, build: Path | None = None) -> str:
    """sha256 over the names and content digests of the corpus files, to tell a stale
    index; the files unchanged since `build` was made count by the digests it recorded."""
    found = scan_corpus(root, follow_symlinks)
    files = _files(root, found, load_record(build) if build is not None else None)
    for f in files:
        f.hash()
    return fingerprint(files)


@dataclass
class SourceRead:
    """The corpus as read for a reindex, and what the new build records of it."""

    corpus: CorpusReport  # articles of unchanged files are Known
    fingerprint: str  # the source fingerprint of the files as read
    record: SourceFiles
    read: int  # files read
    unchanged: int  # files not read: unchanged since the current build
    root: Path
    _read: dict[Path, dict[tuple[str, int | None], Article]] = field(default_factory=dict)

    def resolve(self, article: Article | Known) -> Article:
        """The article itself: a Known one read from its file after all (the merge policy
        moves it into the new segment). CorpusError when the file no longer holds it as it
        was: it changed during the reindex, which then fails and leaves the index as is."""
        if isinstance(article, Article):
            return article
        if article.path not in self._read:
            entries = read_entries(article.path, self.root)[0]
            self._read[article.path] = {(a.id, line): a for a, line in entries}
            self.read, self.unchanged = self.read + 1, self.unchanged - 1
        found = self._read[article.path].get((article.id, article.line))
        if found is not None and article_digest(found) == article.digest:
            return found
        raise CorpusError(
            f"{article.source} changed while it was being indexed; run the reindex again"
        )


def read_source(
    root: Path, progress: Progress, follow_symlinks: bool = False, previous: Previous | None = None
) -> SourceRead:
    """Read the corpus under `root`: every file, or with `previous` (the current build,
    when the reindex adds to it) only those new or changed since it was built."""
    now = time.time_ns()  # before any stat: a file changed after it is not settled
    found = scan_corpus(root, follow_symlinks)
    record, live = _trusted(previous)
    files = _files(root, found, record)
    with progress("reading", sum(f.recorded is None for f in files)) as advance:
        for f in files:
            if f.recorded is None:
                f.read()
                advance(1)
            else:
                f.replay(live)
    corpus, first = _gather(root, found, files)
    read = sum(f.recorded is None for f in files)
    record = _record(files, first, now)
    return SourceRead(corpus, fingerprint(files), record, read, len(files) - read, root)


def _trusted(previous: Previous | None) -> tuple[SourceFiles | None, dict[str, bytes]]:
    """The current build's record and its live articles' digests by id; none when there
    is no build to add to, no usable record, or one that disagrees with the build's live
    articles."""
    if previous is None or (record := load_record(previous.path)) is None:
        return None, {}
    live = {
        aid: segment.digests[row].tobytes()
        for segment in previous.segments
        for row, (aid, alive) in enumerate(zip(segment.ids, segment.placement.articles))
        if alive
    }
    if record.indexed() != live.keys():
        return None, {}
    return record, live


def _gather(root: Path, found: Scan, files: list[_File]) -> tuple[CorpusReport, dict[str, str]]:
    """The corpus report of `files` (duplicates resolved in corpus order) and where the
    first article of each id came from; an unchanged file whose later duplicate became
    the first of its id is read first."""
    while True:
        report, first = refused_report(root, found), {}
        for f in files:
            add_file(report, first, f.entries, f.skipped)
        promoted = [f for f in files if f.recorded is not None and f.promoted(first)]
        if not promoted:
            return report, first
        for f in promoted:
            f.read()


def fingerprint(files: Iterable[_File]) -> str:
    """sha256 over the names and content digests of the corpus files (an unreadable file
    counts by its name alone), in corpus order: the manifest's source fingerprint."""
    digest = hashlib.sha256()
    for f in files:
        digest.update(os.fsencode(f.rel.as_posix()) + b"\0")
        digest.update(b"unreadable\0" if f.digest is None else f.digest)
    return digest.hexdigest()


def _record(files: list[_File], first: dict[str, str], now: int) -> SourceFiles:
    """What the new build records of the files: their identities as stat'ed before they
    were read, digests, articles (each marked when it is the first of its id) and skips."""
    records = []
    for f in files:
        identity = f.identity or FileIdentity(0, 0, 0, 0)
        source = f.source
        records.append(
            FileRecord(
                path=f.key,
                size=identity.size,
                mtime_ns=identity.mtime_ns,
                ctime_ns=identity.ctime_ns,
                inode=identity.inode,
                settled=f.identity is not None and identity.settled(now),
                digest=None if f.digest is None else f.digest.hex(),
                articles=[
                    (a.id, line, first.get(a.id) == origin(source, line)) for a, line in f.entries
                ],
                skipped=[(s.line, s.reason, isinstance(s, Note)) for s in f.skipped],
            )
        )
    return SourceFiles(version=RECORD_VERSION, reader=reader_fingerprint(), files=records)
