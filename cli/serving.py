"""What `serve` needs around waitress: a port checked before the models load, one-line
messages for a port that cannot be listened on, and Ctrl+C that stops it cleanly."""

from __future__ import annotations

import errno
import signal
import socket
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
