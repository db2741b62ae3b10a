"""Process memory from /proc (Linux): resident sizes and the peak of one phase.

VmHWM is the kernel's peak resident size; writing 5 to /proc/self/clear_refs resets it, so a
phase's own peak can be read. It counts file pages that are memory-mapped (RssFile) as well
as the process's own memory (RssAnon), so a sampler also records the peak of RssAnon alone:
mapped file pages are cache the kernel can drop, the anonymous part is what a phase needs.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

FIELDS = ("VmRSS", "VmHWM", "RssAnon", "RssFile")


def status(pid: int | str = "self") -> dict[str, float]:
    """VmRSS, VmHWM, RssAnon and RssFile of a process, in MB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in FIELDS:
                out[name] = int(value.split()[0]) / 1024
    return out


def tree_peak_mb(pid: int) -> float:
    """Peak resident memory (VmHWM, MB) of ``pid`` plus that of each of its children: a
    `serve --workers N` supervisor and its workers. Shared pages count once per process."""
    total = status(pid)["VmHWM"]
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
            if entry.name.isdigit() and int(fields[1]) == pid:
                total += status(entry.name)["VmHWM"]
        except (OSError, IndexError, KeyError, ValueError):
            continue
    return total


def reset_peak(pid: int | str = "self") -> None:
    """Reset the process's VmHWM to its current resident size."""
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


@dataclass
class PeakMemory:
    """Context manager: the peak resident and anonymous memory of the block, in MB.

    `rss_mb` and `anon_mb` are the peaks; `*_delta_mb` are the same minus the value at
    the start of the block (what the block itself added).
    """

    interval: float = 0.05
    start: dict[str, float] = field(default_factory=dict)
    rss_mb: float = 0.0
    anon_mb: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> PeakMemory:
        reset_peak()
        self.start = status()
        self.anon_mb = self.start["RssAnon"]
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.anon_mb = max(self.anon_mb, status()["RssAnon"])

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        now = status()
        self.rss_mb = now["VmHWM"]
        self.anon_mb = max(self.anon_mb, now["RssAnon"])

    @property
    def rss_delta_mb(self) -> float:
        return self.rss_mb - self.start["VmRSS"]

    @property
    def anon_delta_mb(self) -> float:
        return self.anon_mb - self.start["RssAnon"]
