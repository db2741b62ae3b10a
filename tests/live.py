"""A live `manage.py serve` (waitress) over the fake encoder, and a raw HTTP client for it.

Shared by the reliability tests (hostile input, untrusted index files, swaps under load)
and bench/reliability.py. Traffic goes to 127.0.0.1 only; every request has a timeout.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import ROOT

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Answer:
    """One HTTP response, read whole."""

    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Server:
    """A running server: where it listens and its process."""

    port: int
    process: subprocess.Popen

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"


def security_header_problems(headers: Mapping[str, str]) -> list[str]:
    """What is missing from the headers every response must carry (empty when all is well).

    `headers` is looked up case-insensitively if it supports that (werkzeug's Headers),
    else by lower-case name (Answer.headers).
    """

    def header(name: str) -> str:
        return headers.get(name) or headers.get(name.lower()) or ""

    csp = header("Content-Security-Policy")
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    problems = []
    script = directives.get("script-src", directives.get("default-src"))
    if script is None or any(s in ("'unsafe-inline'", "'unsafe-eval'", "*") for s in script):
        problems.append(f"CSP allows inline or foreign script: {csp!r}")
    if directives.get("frame-ancestors") != ["'none'"]:
        problems.append(f"CSP lacks frame-ancestors 'none': {csp!r}")
    if header("X-Content-Type-Options") != "nosniff":
        problems.append("no X-Content-Type-Options: nosniff")
    if not header("Referrer-Policy"):
        problems.append("no Referrer-Policy")
    return problems


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def get(port: int, target: str, method: str = "GET", timeout: float = 10, **kw: object) -> Answer:
    """Send one request with `target` exactly as given (no normalisation) and read the answer."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, target, **kw)  # type: ignore[arg-type]
        response = conn.getresponse()
        body = response.read()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return Answer(response.status, headers, body)
    finally:
        conn.close()


def raw(port: int, request: bytes, timeout: float = 10) -> bytes:
    """Send raw bytes, return everything the server answers until it closes or goes quiet."""
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        # The server may answer and close before the whole request is sent.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
        return b"".join(chunks)


def wait_until_up(server: Server, timeout: float = 60) -> None:
    """Block until /api/health answers; fail if the process dies first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited with {server.process.returncode}")
        try:
            get(server.port, "/api/health", timeout=2)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not answer within {timeout} s")


@contextmanager
def serving(
    index_dir: Path,
    *options: str,
    log: Path | None = None,
    up_within: float = 60,
    env: dict[str, str] | None = None,
) -> Iterator[Server]:
    """`manage.py serve --index index_dir` with the fake encoder, stopped on exit; `env`
    adds to the environment (POISK_* settings).

    One process unless `options` name `--workers`: these tests look into the server's own
    process (its open files, its memory); tests/test_workers.py runs several.
    """
    if "--workers" not in options:
        options = ("--workers", "1", *options)
    port = free_port()
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    command = [sys.executable, "-m", "tests.serve_child", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--index", str(index_dir), *options],
        cwd=ROOT,
        env={**os.environ, **(env or {}), "PYTHONPATH": str(ROOT)},
        stdout=out,
        stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
    )
    server = Server(port, process)
    try:
        wait_until_up(server, up_within)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log:
            out.close()  # type: ignore[union-attr]


@dataclass
class Load:
    """Clients that send requests one after another until stopped, counting failures."""

    send: Callable[[str], tuple[int, bytes]]
    targets: list[str]  # cycled through; /api/stats answers are read for the generation
    threads: int = 3
    sent: int = 0
    failed: list[str] = field(default_factory=list)
    generations: list[list[str]] = field(default_factory=list)  # as each client saw them
    seconds: list[float] = field(default_factory=list)  # each request's wall time
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _client(self, number: int) -> None:
        """Send requests until stopped; note each build generation /api/stats reports."""
        seen: list[str] = []
        self.generations.append(seen)
        targets = ["/api/stats", *self.targets[number:], *self.targets[:number]]  # stats first
        i = 0
        while not self._stop.is_set():
            target = targets[i % len(targets)]
            i += 1
            started = time.perf_counter()
            try:
                status, body = self.send(target)
            except Exception as exc:  # a dropped connection is a failure too
                status, body = 0, repr(exc).encode()
            with self._lock:
                self.sent += 1
                self.seconds.append(time.perf_counter() - started)
                if status != 200:
                    self.failed.append(f"{target} -> {status} {body[:200]!r}")
            if target == "/api/stats" and status == 200:
                generation = json.loads(body)["generation"]
                if not seen or seen[-1] != generation:
                    seen.append(generation)

    def __enter__(self) -> Load:
        self._workers = [
            threading.Thread(target=self._client, args=(n,), daemon=True)
            for n in range(self.threads)
        ]
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(30)


def open_files_of(pid: int, folder: Path) -> list[str]:
    """Files under `folder` that process `pid` holds open or memory-mapped."""
    prefix = str(folder)
    held = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue
        if target.startswith(prefix):
            held.append(target)
    with open(f"/proc/{pid}/maps") as maps:
        held += [line.split()[-1] for line in maps if prefix in line]
    return held
