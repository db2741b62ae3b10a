"""`serve --workers N`: N server processes on one port, and a supervisor that keeps them up.

One process answers on one encoder, and Python runs one thread at a time, so one process
cannot use a second core for the request work around the model. Each worker is a whole
`manage.py serve` of its own: it loads its models (no fork after torch or ONNX Runtime
started threads), opens the memory-mapped index (the page cache shares its pages between
workers), follows swaps on its own as a single server does, micro-batches its own queries,
and listens on the port with SO_REUSEPORT, so the kernel spreads new connections over the
workers that are listening.

The supervisor starts the workers by running this very command line again with
POISK_SERVE_WORKER set (whatever set up the parent, the CLI or a test's hooks, sets up each
worker too), restarts a worker that dies, and passes SIGTERM and SIGINT on to the workers
before it exits. A worker that keeps dying at once (a port taken, a model that cannot load)
stops the whole server instead of restarting forever. Workers die with the supervisor
(PR_SET_PDEATHSIG), even when it is killed outright.

What a killed worker costs: the requests it was answering, and the connections waiting in
its own accept queue or racing into it in the moment it dies (each SO_REUSEPORT socket has
its own queue): those are reset, and a client retries. New connections go to the others.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from core.machine import usable_cores

WORKER_ENV = "POISK_SERVE_WORKER"  # set in each worker's environment: its slot number
QUICK_EXIT_S = 10.0  # a worker that dies sooner than this after its start "died at once"
MAX_QUICK_EXITS = 5  # in a row, for one slot: then the server stops
STOP_GRACE_S = 10.0  # after SIGTERM, workers still running are killed
POLL_S = 0.1
_PR_SET_PDEATHSIG = 1


def default_workers() -> int:
    """One worker per core this process may run on."""
    return usable_cores()


def worker_slot() -> int | None:
    """This process's slot if a supervisor started it as a worker, else None."""
    value = os.environ.get(WORKER_ENV, "")
    return int(value) if value.isdigit() else None


def reuseport_socket(host: str, port: int, *, listen: bool = True) -> socket.socket:
    """A TCP socket bound to host:port with SO_REUSEPORT, listening unless told not to."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        if listen:
            sock.listen(1024)
    except OSError:
        sock.close()
        raise
    return sock


@dataclass
class _Slot:
    """One worker place: its process, when it started, how often in a row it died at once."""

    number: int
    process: subprocess.Popen | None = None
    started: float = 0.0
    quick_exits: int = 0


@dataclass
class Supervisor:
    """Runs ``workers`` copies of ``command`` and keeps them running until told to stop."""

    command: list[str]
    workers: int
    env: dict[str, str]
    log: Callable[[str], None] = print
    _slots: list[_Slot] = field(default_factory=list)
    _stopping: int = 0  # the signal that asked to stop, 0 while running

    def run(self) -> int:
        """Start the workers, restart dead ones, stop on SIGTERM/SIGINT; the exit status."""
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            self._slots = [_Slot(n) for n in range(self.workers)]
            for slot in self._slots:
                self._start(slot)
            status = self._watch()
        finally:
            self._stop_all()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return status

    @property
    def interrupted(self) -> bool:
        """Whether Ctrl+C (SIGINT) stopped the workers."""
        return self._stopping == signal.SIGINT

    def pids(self) -> list[int]:
        """The running workers' process ids."""
        return [s.process.pid for s in self._slots if s.process and s.process.poll() is None]

    def _on_signal(self, signum: int, frame: object) -> None:
        self._stopping = signum

    def _watch(self) -> int:
        """Restart workers as they die; 0 once asked to stop, 1 if a slot keeps failing."""
        while not self._stopping:
            for slot in self._slots:
                if slot.process is None or slot.process.poll() is None:
                    continue
                if not self._restartable(slot):
                    return 1
                self._start(slot)
            time.sleep(POLL_S)
        return 0

    def _restartable(self, slot: _Slot) -> bool:
        """Note a worker's death; False when its slot died at once too often in a row."""
        assert slot.process is not None
        lived = time.monotonic() - slot.started
        slot.quick_exits = slot.quick_exits + 1 if lived < QUICK_EXIT_S else 0
        self.log(
            f"worker {slot.number} (pid {slot.process.pid}) exited with "
            f"{slot.process.returncode} after {lived:.1f} s; restarting"
        )
        if slot.quick_exits >= MAX_QUICK_EXITS:
            self.log(f"worker {slot.number} died {slot.quick_exits} times at start: stopping")
            return False
        time.sleep(min(0.1 * 2**slot.quick_exits, 5.0))  # back off while it keeps failing
        return True

    def _start(self, slot: _Slot) -> None:
        """Start (or restart) the worker of ``slot``."""
        env = {**self.env, WORKER_ENV: str(slot.number)}
        parent = os.getpid()
        slot.process = subprocess.Popen(
            self.command, env=env, preexec_fn=lambda: _die_with_parent(parent)
        )
        slot.started = time.monotonic()

    def _stop_all(self) -> None:
        """SIGTERM to every worker (the signal received, for SIGINT), SIGKILL after a grace."""
        signum = self._stopping or signal.SIGTERM
        running = [s.process for s in self._slots if s.process and s.process.poll() is None]
        for process in running:
            process.send_signal(signum)
        deadline = time.monotonic() + STOP_GRACE_S
        for process in running:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def worker_command() -> list[str]:
    """This process's command line (interpreter options and ``-m`` included), to re-run."""
    return [sys.executable, *sys.orig_argv[1:]]


def worker_env(workers: int) -> dict[str, str]:
    """The workers' environment: ours, with the cores shared out among the workers' thread
    pools unless OMP_NUM_THREADS is set already."""
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, default_workers() // workers)))
    return env


def _die_with_parent(parent: int) -> None:
    """In the worker, before it runs: get SIGTERM when the supervisor dies (Linux); exit at
    once if it died already."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os._exit(1)
