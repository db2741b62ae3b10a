"""Finding and opening a corpus's files without surprises.

A folder a user points `reindex` at may hold broken symbolic links, named pipes (opening one
blocks forever), links to files elsewhere on the machine and file names that are not UTF-8.
Every article file (by suffix) is either read or reported with the reason it was not:

* a link to a file outside the source folder is not followed unless asked
  (`--follow-symlinks`): pointing poisk at a folder must not publish what it links to;
* links to folders are not followed unless asked either (they may loop);
* anything but a regular file (a FIFO, a socket, a device) is never opened for reading.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

ARTICLE_SUFFIXES = frozenset({".txt", ".md", ".jsonl"})
FOLLOW_HINT = "--follow-symlinks reads it"
_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISDIR, "a folder"),
)


class NotRegular(OSError):
    """The path is not a regular file (any more); the message says what it is."""


@dataclass
class Scan:
    """The article files of a folder, and those found but not to be read (path, reason)."""

    files: list[Path] = field(default_factory=list)
    refused: list[tuple[Path, str]] = field(default_factory=list)


def display_name(rel: Path) -> tuple[str, bool]:
    """A relative path as text for ids and messages, and whether it had to be escaped: a name
    that is not UTF-8 ("caf\\xe9.txt" written by an old system) cannot be stored or shown as
    is, so its undecodable bytes are written as \\xNN."""
    text = rel.as_posix()
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(text).decode("utf-8", "backslashreplace"), True
    return text, False


def scan(root: Path, follow_symlinks: bool = False) -> Scan:
    """Article files under `root` (recursively; hidden files and folders are ignored), sorted
    by relative path, and the ones refused with their reason."""
    found = Scan()
    real_root = root.resolve()
    for path in _walk(root, follow_symlinks, found):
        reason = refusal(path, real_root, follow_symlinks)
        if reason is None:
            found.files.append(path)
        else:
            found.refused.append((path, reason))
    # Every path is root joined with its relative path, so the whole paths sort as the
    # relative ones do, without pathlib's relative_to (most of a scan of 100,000 files).
    found.files.sort(key=os.fsencode)
    found.refused.sort(key=lambda item: os.fsencode(item[0]))
    return found


def _walk(root: Path, follow_symlinks: bool, found: Scan) -> Iterator[Path]:
    """Candidate article files (by suffix, not hidden); a link to a folder that is not
    followed is refused into `found`, and a folder seen before is not walked again."""
    seen: set[Path] = set()

    def unreadable(error: OSError) -> None:
        found.refused.append((Path(error.filename), f"cannot read folder: {error.strerror}"))

    for folder, dirs, names in os.walk(root, onerror=unreadable, followlinks=follow_symlinks):
        here = Path(folder)
        if follow_symlinks and here.resolve() in seen:
            dirs.clear()
            continue
        seen.add(here.resolve())
        for name in list(dirs):
            if name.startswith("."):
                dirs.remove(name)
            elif not follow_symlinks and (here / name).is_symlink():
                reason = f"link to a folder, not followed ({FOLLOW_HINT})"
                found.refused.append((here / name, reason))
        for name in names:
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in ARTICLE_SUFFIXES:
                yield here / name


def refusal(path: Path, real_root: Path, follow_symlinks: bool) -> str | None:
    """Why `path` is not read, or None for a file to read."""
    try:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            target = path.resolve(strict=True)
            if not follow_symlinks and not target.is_relative_to(real_root):
                return f"link to a file outside the source folder, not followed ({FOLLOW_HINT})"
            info = target.stat()
    except FileNotFoundError:
        return "broken link: its target does not exist"
    except (OSError, RuntimeError) as error:  # a link loop is a RuntimeError
        return f"cannot read: {getattr(error, 'strerror', None) or error}"
    return None if stat.S_ISREG(info.st_mode) else f"not a regular file: {kind(info.st_mode)}"


def kind(mode: int) -> str:
    """What a file mode is, in words."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


@contextmanager
def open_regular(path: Path) -> Iterator[BinaryIO]:
    """`path` opened for reading in binary, once it is known to be a regular file.

    Opened without blocking (a FIFO swapped in after the scan would block a plain open
    forever) and checked on the descriptor itself, so no race can slip another kind in.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegular(f"not a regular file: {kind(mode)}")
        file = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with file:
        yield file


def read_head(path: Path, limit: int) -> tuple[bytes, int]:
    """At most `limit` bytes from the start of a regular file, and the file's size."""
    with open_regular(path) as file:
        return file.read(limit), os.fstat(file.fileno()).st_size


def file_digest(path: Path) -> bytes:
    """sha256 of a regular file's content, read in blocks (a big file is never held whole)."""
    with open_regular(path) as file:
        return hashlib.file_digest(file, "sha256").digest()
