"""The machine this process runs on: the one count of its usable cores, which worker pools,
encoders' thread counts and a local Ray instance are sized by."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1
