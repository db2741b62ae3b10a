"""What `serve` needs around waitress: a port checked before the models load, one-line
messages for a port that cannot be listened on, one server or a supervisor of several
(web/workers.py), and Ctrl+C that stops them cleanly with exit code 130 (and stops the
other long commands: `reindex --watch`, `serve --ray`)."""

from __future__ import annotations

import errno
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click


def check_port(host: str, port: int) -> None:
    """ClickException when nothing can listen on host:port (in use, not allowed, unknown
    host). Bound with SO_REUSEADDR as waitress does, so a port in TIME_WAIT counts as free."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise click.ClickException(port_problem(host, port, exc)) from exc


def port_problem(host: str, port: int, exc: OSError) -> str:
    """A one-line message for a failure to listen on host:port."""
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is already in use (another server?); choose one with --port"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"not allowed to listen on port {port} on {host}; choose one above 1023 with --port"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"


@contextmanager
def interruptible() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt within the block, even in a process started with
    SIGINT ignored (as a shell starts a command run in the background), where Python
    leaves it ignored: `kill -INT` must stop a long command as Ctrl+C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_until_interrupted(server: Any) -> None:
    """Run the waitress server until it stops; KeyboardInterrupt when Ctrl+C stopped it.

    waitress catches the KeyboardInterrupt of Ctrl+C itself and returns as if it had ended
    normally, so SIGINT is noted here and raised again after its clean shutdown.
    """
    interrupted: list[int] = []

    def on_sigint(signum: int, frame: Any) -> None:
        interrupted.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        server.run()
    finally:
        signal.signal(signal.SIGINT, previous)
    if interrupted:
        raise KeyboardInterrupt


def supervise(host: str, port: int, workers: int, where: Path) -> None:
    """Run `workers` copies of this command on the port until SIGTERM/SIGINT; `where` is
    the index they serve (for the message)."""
    from web import workers as pool

    check_port(host, port)
    try:  # held while serving: the port stays ours while every worker is restarting
        reserved = pool.reuseport_socket(host, port, listen=False)
    except OSError as exc:
        raise click.ClickException(port_problem(host, port, exc)) from exc
    click.echo(
        f"poisk serving {where} on http://{host}:{port}/ with {workers} workers (Ctrl+C stops)"
    )
    with reserved:
        supervisor = pool.Supervisor(
            pool.worker_command(), workers, pool.worker_env(workers), log=click.echo
        )
        status = supervisor.run()
    if supervisor.interrupted:
        raise KeyboardInterrupt  # exits 130, as one server stopped by Ctrl+C does
    if status:
        raise click.ClickException("workers kept failing at start; see their messages above")


def serve_app(app: Any, host: str, port: int, threads: int, slot: int | None, where: Path) -> None:
    """Serve `app` with waitress until stopped: on host:port itself, or as worker `slot` on
    the port its supervisor shares (SO_REUSEPORT); `where` is the index it serves."""
    import waitress

    from web import MAX_BODY_BYTES
    from web.workers import reuseport_socket

    logging.basicConfig()  # waitress's warnings (queue depth, errors) on stderr
    options: dict[str, Any] = {
        "threads": threads,
        "ident": "poisk",
        "max_request_body_size": MAX_BODY_BYTES,  # refused by waitress before it reads a body
    }
    try:  # binds now, so that "serving" is only said of a server that listens
        if slot is None:
            server = waitress.create_server(app, host=host, port=port, **options)
        else:
            sockets = [reuseport_socket(host, port)]
            server = waitress.create_server(app, sockets=sockets, **options)
    except OSError as exc:
        raise click.ClickException(port_problem(host, port, exc)) from exc
    if slot is None:
        click.echo(f"poisk serving {where} on http://{host}:{port}/ (Ctrl+C stops)")
    else:
        click.echo(f"worker {slot} (pid {os.getpid()}) serving on http://{host}:{port}/")
        sys.stdout.flush()  # the supervisor's log (or a test) learns at once that it listens
    run_until_interrupted(server)
