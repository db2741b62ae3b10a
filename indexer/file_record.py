"""The per-file record of a build: what each source file was when it was read and what it
gave, so that the next incremental reindex reads only new and changed files.

`sources.json`, in the build folder beside the manifest, holds for every article file of
the corpus (in corpus order) its identity when it was read (relative path, size,
mtime_ns, ctime_ns, inode), the sha256 of its content (for the source fingerprint), the
article ids it gave (with their .jsonl line, and whether each was the first of its id and
so indexed) and what was skipped or changed in it (the reindex summary). The articles'
digests are not repeated: each segment has them (index/segments.py).

A file is taken as unchanged when its identity is the recorded one. The kernel stamps a
write with a clock that ticks coarsely, so a file written in the very moment it was read
could change again without changing its identity: such a file is recorded as not
`settled` and read again next time (git's "racily clean" entries).

The record is JSON, validated strictly (pydantic, like the manifest) and tied to the
rules that read the files (`reader_fingerprint`): one that is missing, damaged, of
another version or of other reading rules is not used, and the reindex reads every file.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

RECORD_NAME = "sources.json"
RECORD_VERSION = 1
# A file changed this close to the moment it was read is read again next time. Where the
# file system keeps whole seconds only (FAT keeps two), any time within two seconds is.
SETTLE_NS = 100_000_000
COARSE_SETTLE_NS = 2_000_000_000
# The code of these modules is the reading rules: any change to it reads every file anew.
READER_MODULES = ("corpus", "files", "jsonl", "article", "clean", "decode", "limits")

Count = Annotated[int, Field(ge=0)]


@dataclass(frozen=True)
class Known:
    """An article of a file unchanged since the current build: not read again, it stands
    for its live copy there (the incremental plan keeps it where it is)."""

    id: str
    source: str  # its file, as Article.source names it
    path: Path  # the file, to read after all if the article must move (a merge)
    line: int | None  # its .jsonl line; None: a text file
    digest: bytes  # its live copy's digest (b"": not indexed, a later duplicate)


def path_keys(paths: Sequence[Path], root: Path) -> list[str]:
    """How the record names each of `paths`: its POSIX path relative to `root`, or, for a
    name that is not UTF-8 (JSON cannot hold it), NUL and its bytes in hex (no real path
    has a NUL). For paths a scan made by joining root with them, the relative path is cut
    as a string: pathlib's relative_to was most of the time of a poll of 100,000 files
    (`reindex --watch`)."""
    head = os.fspath(root / "_")[:-1]  # root and a separator ("" for ".")
    keys = []
    for path in paths:
        text = os.fspath(path)
        rel = text[len(head) :] if text.startswith(head) else path.relative_to(root).as_posix()
        try:
            rel.encode("utf-8")
        except UnicodeEncodeError:
            rel = "\0" + os.fsencode(rel).hex()
        keys.append(rel)
    return keys


class FileIdentity(NamedTuple):
    """What tells a file changed without reading it (the fields of a stat)."""

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity | None:
        """The identity of the file at `path` (a link: its target's); None when it cannot
        be stat'ed."""
        try:
            info = path.stat()
        except OSError:
            return None
        return cls(info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)

    def settled(self, now_ns: int) -> bool:
        """Whether the file was last changed long enough before `now_ns` that a later
        change must show in its identity."""
        coarse = self.mtime_ns % 1_000_000_000 == 0 and self.ctime_ns % 1_000_000_000 == 0
        window = COARSE_SETTLE_NS if coarse else SETTLE_NS
        return max(self.mtime_ns, self.ctime_ns) < now_ns - window


class _Strict(BaseModel):
    """Strict types, no unknown field, immutable."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class FileRecord(_Strict):
    """One article file as read for a build."""

    path: str  # relative to the source folder, POSIX (undecodable bytes as surrogates)
    size: Count
    mtime_ns: int
    ctime_ns: int
    inode: Count
    settled: bool  # False: changed too close to its reading to be trusted next time
    digest: str | None = Field(pattern=r"^[0-9a-f]{64}$")  # sha256; None: unreadable
    articles: list[tuple[str, int | None, bool]]  # id, .jsonl line, first of its id
    skipped: list[tuple[int | None, str, bool]]  # line, reason, a Note (read with changes)

    @property
    def identity(self) -> FileIdentity:
        """The identity the file had when it was read."""
        return FileIdentity(self.size, self.mtime_ns, self.ctime_ns, self.inode)


class SourceFiles(_Strict):
    """The contents of sources.json."""

    version: Literal[1]
    reader: str  # reader_fingerprint() of the rules the files were read with
    files: list[FileRecord]

    @model_validator(mode="after")
    def _unique(self) -> SourceFiles:
        """A path is recorded once, and an id is indexed (first) from one file only."""
        if len({f.path for f in self.files}) != len(self.files):
            raise ValueError("a file is recorded twice")
        first = [aid for f in self.files for aid, _, is_first in f.articles if is_first]
        if len(set(first)) != len(first):
            raise ValueError("an article id is recorded as indexed twice")
        return self

    def indexed(self) -> set[str]:
        """The ids of the articles the build indexed from these files."""
        return {aid for f in self.files for aid, _, first in f.articles if first}

    def save(self, build: Path) -> None:
        """Write sources.json into the build folder."""
        (build / RECORD_NAME).write_text(self.model_dump_json() + "\n", encoding="utf-8")


def load_record(build: Path) -> SourceFiles | None:
    """The record of `build`, or None when it has none that can be trusted: missing,
    unreadable, malformed, of another version or read by other rules."""
    try:
        record = SourceFiles.model_validate_json((build / RECORD_NAME).read_bytes())
    except (OSError, ValidationError, ValueError):
        return None
    return record if record.reader == reader_fingerprint() else None


@functools.cache
def reader_fingerprint() -> str:
    """sha256 of the code that reads article files (READER_MODULES): files read by other
    rules may give other articles, so a record made by them is not used."""
    digest = hashlib.sha256(f"poisk-reader-{RECORD_VERSION}".encode())
    for name in READER_MODULES:
        path = Path(__file__).with_name(f"{name}.py")
        try:
            digest.update(path.read_bytes())
        except OSError:  # no source to hash: trust no record
            digest.update(os.urandom(16))
    return digest.hexdigest()
