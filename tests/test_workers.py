"""`serve --workers 2` for real: requests keep succeeding while a worker is killed, the
supervisor restarts it, and stopping the supervisor stops every worker."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest

from tests.corpora import build_searcher
from tests.live import get, serving

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="Linux only")


def children(pid: int) -> set[int]:
    """Live (not zombie) processes whose parent is ``pid``."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        state, ppid = stat.rpartition(")")[2].split()[:2]
        if int(ppid) == pid and state != "Z":
            found.add(int(entry))
    return found


def listening(log: Path) -> set[int]:
    """Workers that said they listen, by pid."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return {int(pid) for pid in re.findall(r"worker \d+ \(pid (\d+)\) serving", text)}


def wait_for(condition, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def ok_requests(port: int, n: int) -> list[int]:
    """Statuses of `n` searches sent one after another, each on a new connection."""
    return [get(port, f"/api/search?q=port+{i}").status for i in range(n)]


def test_a_killed_worker_is_replaced_and_requests_keep_succeeding(tmp_path: Path) -> None:
    build_searcher(tmp_path)
    log = tmp_path / "serve.log"
    with serving(tmp_path / "index", "--workers", "2", "--threads", "4", log=log) as server:
        supervisor = server.process.pid
        wait_for(lambda: len(listening(log) & children(supervisor)) == 2, what="two workers")
        first = children(supervisor)
        assert ok_requests(server.port, 20) == [200] * 20

        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: victim not in children(supervisor), what="the kill")
        # Connections queued on (or racing into) the dead worker's socket are reset: with
        # SO_REUSEPORT each worker has its own queue. Within a moment the kernel sends
        # every new connection to the other one.
        time.sleep(0.2)
        assert ok_requests(server.port, 30) == [200] * 30  # the other worker answers

        def replaced() -> bool:
            now = children(supervisor)
            return len(now) == 2 and victim not in now and len(listening(log) & now) == 2

        wait_for(replaced, what="a new worker")
        assert ok_requests(server.port, 30) == [200] * 30
        assert "exited with -9" in log.read_text()
        workers = children(supervisor)
    for pid in workers:  # SIGTERM to the supervisor reached every worker
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
