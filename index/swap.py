"""The layout of an index on disk: builds side by side, one link to the current one.

`var/index` is a symbolic link to the current build, `var/index.builds/<generation>/`.
A reindex writes a complete new build beside it and then replaces the link with one
rename, which is atomic: a reader sees the old build or the new one, never half of
either, and a reindex killed at any moment leaves the link on the old build.
"""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from core.errors import (
    REINDEX_HINT,
    IndexNotFound,
    IndexNotWritable,
    ReindexRunning,
    SearchError,
)
from index.manifest import MANIFEST_NAME  # written last: a build folder with one is complete

KEEP_BUILDS = 2  # the current build and the one before it, for readers still on it


def builds_dir(index_dir: Path) -> Path:
    """Folder holding every build of the index at `index_dir`."""
    return index_dir.with_name(index_dir.name + ".builds")


def new_generation(tag: str | None = None) -> str:
    """A unique build name that sorts by time, ending in `tag` or random hex digits."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ-") + (tag or secrets.token_hex(3))


def current_build(index_dir: Path) -> Path:
    """The build folder `index_dir` points at; IndexNotFound when there is none."""
    if not index_dir.exists():
        raise IndexNotFound(f"no index at {index_dir}; {REINDEX_HINT}")
    return index_dir.resolve()


@contextmanager
def reindex_lock(index_dir: Path) -> Iterator[None]:
    """Allow one reindex of `index_dir` at a time (released when the process dies);
    ReindexRunning when another holds it."""
    lock_path = index_dir.with_name(index_dir.name + ".lock")
    try:
        index_dir.parent.mkdir(parents=True, exist_ok=True)
        lock = open(lock_path, "a")  # noqa: SIM115 (closed below, after the block)
    except OSError as exc:
        raise not_writable(index_dir.parent, exc) from exc
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise ReindexRunning(f"another reindex of {index_dir} is running") from exc
        yield


def swap_in(index_dir: Path, build: Path) -> None:
    """Point `index_dir` at `build` atomically, then drop builds no longer needed."""
    if index_dir.exists() and not index_dir.is_symlink():
        if index_dir.is_dir() and not any(index_dir.iterdir()):
            index_dir.rmdir()
        else:
            raise SearchError(
                f"{index_dir} exists and is not an index link made by poisk; "
                "move it away or choose another --index"
            )
    link = index_dir.with_name(f".{index_dir.name}.{build.name}.link")
    link.unlink(missing_ok=True)
    link.symlink_to(os.path.relpath(build, index_dir.parent))
    os.replace(link, index_dir)
    _fsync_dir(index_dir.parent)
    prune_builds(index_dir)


def prune_builds(index_dir: Path, keep: int = KEEP_BUILDS) -> None:
    """Remove old and unfinished builds, keeping the current one and the newest others.

    Only called under the reindex lock, so no build in progress is removed. A server
    still reading a removed build keeps working: open files outlive their names.
    Temporary links left by a reindex killed in the middle of swap_in() go too.
    """
    prefix = f".{index_dir.name}."
    for stale in index_dir.parent.iterdir():
        if stale.name.startswith(prefix) and stale.name.endswith(".link") and stale.is_symlink():
            stale.unlink(missing_ok=True)
    current = index_dir.resolve() if index_dir.exists() else None
    builds = sorted(builds_dir(index_dir).iterdir(), key=lambda p: p.name, reverse=True)
    complete = [b for b in builds if (b / MANIFEST_NAME).is_file() and b != current]
    kept = set(complete[: keep - 1]) | {current}
    for build in builds:
        if build not in kept:
            shutil.rmtree(build, ignore_errors=True)


def fsync_tree(folder: Path) -> None:
    """Flush every file of a finished build to disk before it is swapped in."""
    for path in folder.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in `folder` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def not_writable(folder: Path, exc: OSError) -> IndexNotWritable:
    """The error for an OSError met writing the index in `folder`."""
    why = exc.strerror or str(exc)
    hint = {
        errno.EROFS: "it is on a read-only file system",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.ENOSPC: "the disk is full",
    }.get(exc.errno or 0, why)
    return IndexNotWritable(
        f"cannot write the index in {folder}: {hint}; choose another place with --index "
        "or $POISK_INDEX"
    )
